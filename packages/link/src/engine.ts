import {
  type BcastProtocolMessage,
  type BundlerMessage,
  canBundle,
  type DataMessage,
  decodeMessage,
  encodeMessage,
  type FragmenterMessage,
  type GapAckBlock,
  INT_H_SIZE,
  type LinkConfigMessage,
  type LinkConfigType,
  type LinkProtocolMessage,
  type LinkProtocolType,
  less,
  lessEq,
  MAX_MSG_SIZE,
  mod16,
  more,
  parseIpv6,
  Reassembler,
  seqDiff,
  TIPC_BCAST_STATE_NACK,
  TIPC_BCAST_SYNCH,
  TIPC_DEF_LINK_TOL,
  TIPC_DEF_LINK_WIN,
  TIPC_DEFAULT_NET_ID,
  TIPC_DISC_FAST,
  TIPC_DISC_INIT,
  TIPC_DISC_SLOW,
  TIPC_GAP_ACK_BLOCK,
  TIPC_LINK_PROTO_SEQNO,
  TIPC_MAX_LINK_TOL,
  TIPC_MAX_LINK_WIN,
  TIPC_MIN_LINK_TOL,
  TIPC_MIN_LINK_WIN,
  TIPC_NAMED_BCAST,
  TIPC_NODE_ID128,
  TIPC_TRIAL_PERIOD,
  TIPC_TUNNEL_ENHANCED,
  TipcDecodeError,
  type TipcMessage,
  type TunnelMessage,
} from "@tipcjs/codec";
import type { LinkEngine } from "./api.js";
import { hash128to32, nodeIdString, padId } from "./identity.js";
import {
  type BearerInfo,
  type LinkDownReason,
  type LinkDropCause,
  LinkEngineError,
  type LinkEngineOptions,
  type LinkInfo,
  type LinkOutput,
  type LinkState,
  type LinkStats,
  MAX_BEARERS,
  type MediaAddress,
  type MessageCodec,
  type NodeInfo,
} from "./types.js";
import {
  align4,
  bcAckInvalid,
  type PeekedHeader,
  packetFingerprint,
  peekHeader,
  RecentPackets,
  restampAcks,
  stampHeader,
  USER_LINK_CONFIG,
  USER_LINK_PROTOCOL,
  USER_MSG_BUNDLER,
  USER_MSG_FRAGMENTER,
  userOf,
} from "./wire.js";

/**
 * What this engine implements and therefore advertises by default: the broadcast synch
 * message (BCAST_SYNCH), broadcast NACKs in STATE (BCAST_STATE_NACK), 128-bit ids, STATE
 * counters (LINK_PROTO_SEQNO), broadcast-link name updates (NAMED_BCAST) and fragmented
 * FAILOVER tunnels with a header-only SYNCH (TUNNEL_ENHANCED).
 * Gap-ACK blocks are understood only as plain seq_gap/bc_gap, so they are not advertised.
 */
export const DEFAULT_CAPABILITIES =
  TIPC_BCAST_SYNCH |
  TIPC_BCAST_STATE_NACK |
  TIPC_NODE_ID128 |
  TIPC_LINK_PROTO_SEQNO |
  TIPC_NAMED_BCAST |
  TIPC_TUNNEL_ENHANCED;

const INVALID_NODE_SIG = 0x10000;
/** Unicast and broadcast retransmission spacing per packet (ms), §7.4. */
const UC_RETRANSMIT_SPACING = 1;
const BC_RETRANSMIT_SPACING = 10;
const NODE_CLEANUP_AFTER = 300_000;
/**
 * A receive gap (unicast or broadcast) that has not closed, with no packet delivered in order,
 * for this many link tolerances resets the peer (a "resync", see stall). A real gap closes in
 * a few round trips (a NACK goes out every NACK_RETRY ms while one is open); twice the
 * tolerance is longer than the silence timeout, so a partition is still reported as
 * "tolerance", and shorter than the 10 x tolerance after which the sender gives up on a packet.
 * What stalls for that long cannot be repaired: packets the peer never sent (forged, or from an
 * old incarnation) hold the place of its real ones, and every later update would wait forever.
 */
const RESYNC_TOLERANCES = 2;
/**
 * Nodes known from discovery that have never come up are capped (a stranger's datagrams must
 * not grow the peer table): room for the largest cluster coming up at once, far below what a
 * flood of fake identities would make. A node past the cap is a counted drop; its next
 * discovery message tries again once one has linked or expired.
 */
const MAX_UNLINKED_PEERS = 256;
/**
 * A node that never came up and has not been heard from (discovery or link protocol) for this
 * long is forgotten (ms): a real peer answers our RESET within round trips and keeps sending
 * discovery at least every TIPC_DISC_FAST while it has no link, or is re-learnt from its next.
 */
const UNLINKED_EXPIRY = 10_000;
/**
 * Token bucket for what we send to nodes that never came up (discovery replies, trial
 * failures, RESET and ACTIVATE): their media address is whatever a datagram claimed, so an
 * unlimited answer would reflect a flood onto a victim. UNLINKED_RATE per second, bursts of
 * UNLINKED_BURST: a cluster of 100 nodes coming up at once still links within seconds.
 */
const UNLINKED_RATE = 50;
const UNLINKED_BURST = 100;
/** Repeat a NACK for a gap still open after this long (ms); see armNack. */
const NACK_RETRY = 20;
/**
 * Early packets held per link. The kernel's receive window is 8191 packets, but no sender's
 * send window is above a few hundred (50 on UDP); the cap bounds memory against a bad peer.
 */
const MAX_DEFERRED = 1024;
const SYSTEM_IMPORTANCE = 4;
/** TIPC_ERR_NO_PORT, the error code of the kernel's dummy tunnel packet */
const TIPC_ERR_NO_PORT = 2;

interface TxEntry {
  seqno: number;
  bytes: Uint8Array;
  lastRetransmit: number;
  firstRetransmit: number;
}

interface BacklogEntry {
  msgs: Uint8Array[];
  /** sum of align4(size) of the messages */
  size: number;
  bundleable: boolean;
}

interface BcEntry {
  seqno: number;
  bytes: Uint8Array;
  sentAt: number;
  /** peers that have not acked it yet */
  pending: Set<number>;
  lastRetransmit: Map<number, number>;
}

/** Receive side of a failover: the failed link's delivery point, kept while its tunnel drains. */
interface FailoverRcv {
  /** inner packets below this seqno were delivered on the failed link already */
  dropPoint: number | undefined;
  /** tunnel packets still to come (the sender's msgcnt), undefined until the first arrives */
  remaining: number | undefined;
  /** the failed link's message being reassembled, carried on by the tunnel */
  reasm: Reassembler;
  /** a fragmented tunnel packet being put together (bounded as any reassembly) */
  tnlReasm: Reassembler;
  /** when the last tunnel packet came: a tunnel that stops short is given up after the tolerance */
  lastAt: number;
}

interface Link {
  /** index of our bearer this link runs on */
  bearer: number;
  /** the peer's media address on that bearer */
  mediaAddress: MediaAddress;
  /** the peer's index of its bearer (told in RESET/ACTIVATE), named in FAILOVER tunnels */
  peerBearerId: number;
  state: LinkState;
  name: string;
  peerIfName: string;
  session: number;
  peerSession: number;
  inSession: boolean;
  mtu: number;
  tolerance: number;
  interval: number;
  abortLimit: number;
  nextTimer: number;
  sndNxt: number;
  rcvNxt: number;
  transmq: TxEntry[];
  backlog: BacklogEntry[];
  deferred: Map<number, Uint8Array>;
  /** fingerprints of recently delivered packets, to tell a forged first copy (see conflict) */
  recent: RecentPackets;
  /** when the link last came up */
  upAt: number;
  rcvUnacked: number;
  checkpoint: number;
  silentIntvCnt: number;
  rstCnt: number;
  sndNxtState: number;
  rcvNxtState: number;
  /** at most one message of at most MAX_MSG_SIZE bytes being reassembled (as the kernel) */
  reasm: Reassembler;
  /** last_bcast seen in the peer's RESET/ACTIVATE (synch for peers without BCAST_SYNCH) */
  peerLastBcast: number;
  /** when to repeat a NACK for a gap that is still open (see NACK_RETRY) */
  nackAt: number | undefined;
  /** the peer's snd_nxt as its last STATE told (undefined until one arrives) */
  peerSndNxt: number | undefined;
  /** since when a receive gap has stayed open without progress (see RESYNC_TOLERANCES) */
  stallSince: number | undefined;
  /** set while the peer's FAILOVER tunnel for this link's last session is being received */
  fo: FailoverRcv | undefined;
}

interface BcRcv {
  synched: boolean;
  rcvNxt: number;
  deferred: Map<number, Uint8Array>;
  recent: RecentPackets;
  /** when the peer came up (this receive state's start) */
  since: number;
  unacked: number;
  defCnt: number;
  /** the sender's broadcast snd_nxt as told in its STATE (last_bcast + 1) */
  peerSndNxt: number;
  /** since when a broadcast receive gap has stayed open without progress */
  stallSince: number | undefined;
  reasm: Reassembler;
}

interface Peer {
  address: number;
  nodeId: Uint8Array;
  capabilities: number;
  signature: number;
  /** one link per bearer that has seen the peer (index = bearer) */
  links: (Link | undefined)[];
  /** the link that carries our traffic to the peer while it is up (the others are standby) */
  active: Link | undefined;
  up: boolean;
  /** the node has been up at least once (unlinked nodes are capped and expire sooner) */
  wasUp: boolean;
  /** when we last heard from it (discovery or link protocol), for UNLINKED_EXPIRY */
  lastHeard: number;
  downSince: number;
  bc: BcRcv;
  /** broadcast acker state: last broadcast seqno the peer acked */
  bcAcked: number;
  /**
   * The broadcast synch point the peer was given at node-up, while our snd_nxt has not passed
   * it: packets up to it (those in the backlog then) are not for the peer (see linkUp).
   */
  bcSynch: number | undefined;
  /** the peer has acked our unicast packet #1 (the broadcast init), so its bcast acks count */
  bcPeerUp: boolean;
}

const DEFAULT_CODEC: MessageCodec = { encode: encodeMessage, decode: decodeMessage };

function mediaKey(a: MediaAddress): string {
  return `${a.family}/${a.address}/${a.port}`;
}

function mediaEq(a: MediaAddress | undefined, b: MediaAddress | undefined): boolean {
  return !!a && !!b && a.family === b.family && a.address === b.address && a.port === b.port;
}

/**
 * Whether a datagram's source is the peer's media address (ipv6 compared as bytes: a transport
 * may spell an address otherwise than the peer's discovery message does).
 */
function sameSource(from: MediaAddress, known: MediaAddress): boolean {
  if (mediaEq(from, known)) return true;
  if (from?.family !== "ipv6" || known.family !== "ipv6" || from.port !== known.port) return false;
  const a = parseIpv6(from.address);
  const b = parseIpv6(known.address);
  return !!a && !!b && idEq(a, b);
}

function idEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isMulticast(a: MediaAddress): boolean {
  if (a.family === "ipv4") {
    const first = Number(a.address.split(".")[0]);
    return first >= 224 && first <= 239;
  }
  return a.address.toLowerCase().startsWith("ff");
}

function hasLinks(p: Peer): boolean {
  for (const l of p.links) if (l) return true;
  return false;
}

/** The drop cause for a fragment the Reassembler refused. */
function reassemblyDrop(e: unknown): LinkDropCause {
  if (!(e instanceof TipcDecodeError)) throw e;
  if (e.code === "REASSEMBLY_TOO_LARGE") return "reassembly-oversize";
  if (e.code === "FRAGMENT_OUT_OF_ORDER" || e.code === "FRAGMENT_WITHOUT_FIRST")
    return "fragment-out-of-order";
  if (e.code === "UNEXPECTED_FIRST_FRAGMENT") return "fragment-out-of-order";
  return "malformed";
}

/** The first deferred seqno after rcvNxt (the deferred map is unordered). */
function firstDeferred(deferred: Map<number, Uint8Array>, rcvNxt: number): number | undefined {
  let best: number | undefined;
  let bestDist = Number.POSITIVE_INFINITY;
  for (const s of deferred.keys()) {
    const d = seqDiff(rcvNxt, s);
    if (d < bestDist) {
      bestDist = d;
      best = s;
    }
  }
  return best;
}

function emptyStats(): LinkStats {
  return {
    transmitted: 0,
    unicastSent: 0,
    unicastRetransmitted: 0,
    broadcastSent: 0,
    broadcastRetransmitted: 0,
    statesSent: 0,
    probesSent: 0,
    nacksSent: 0,
    delivered: 0,
    duplicates: 0,
    deferred: 0,
    bundlesSent: 0,
    bundledMessages: 0,
    fragmentsSent: 0,
    reassembled: 0,
    linkUps: 0,
    linkDowns: 0,
    failovers: 0,
    tunnelSent: 0,
    tunnelReceived: 0,
    broadcastTransmitQueue: 0,
    broadcastBacklog: 0,
    resyncs: 0,
    drops: {},
  };
}

export function createLinkEngine(options: LinkEngineOptions): LinkEngine {
  return new Engine(options);
}

class Engine implements LinkEngine {
  readonly nodeId: Uint8Array;
  readonly capabilities: number;
  readonly signature: number;
  readonly netId: number;
  address: number;
  addressed = false;

  private readonly codec: MessageCodec;
  private readonly random: () => number;
  private readonly bearers: BearerInfo[];
  private readonly bearerOff: boolean[];
  private readonly tolerance: number;
  private readonly window: number;
  private readonly bcWindow: number;
  private readonly nodeIdText: string;
  private out: LinkOutput[] = [];
  private readonly st = emptyStats();
  private readonly peers = new Map<number, Peer>();
  private started = false;
  private deadlineDirty = true;
  private deadlineCache: number | undefined;
  private stopped = false;
  /** inside stop(): links go down without failover */
  private stopping = false;

  // discovery
  private trial: boolean;
  private trialEnd = 0;
  private discNextAt: number | undefined;
  private discInterval = TIPC_DISC_INIT;
  private linksUp = 0;
  /** set by inWindow when a duplicate differs from the first copy (see onConflict) */
  private conflict = false;
  /** token bucket for sends to nodes that never came up (see UNLINKED_RATE) */
  private unlinkedTokens = UNLINKED_BURST;
  private unlinkedTokensAt = 0;

  // broadcast send link
  private bcSndNxt = 1;
  private readonly bcTransmq: BcEntry[] = [];
  private readonly bcBacklog: BacklogEntry[] = [];

  constructor(o: LinkEngineOptions) {
    this.nodeId = padId(o.nodeId);
    this.nodeIdText = nodeIdString(this.nodeId);
    this.netId = o.netId ?? TIPC_DEFAULT_NET_ID;
    let caps = o.capabilities ?? DEFAULT_CAPABILITIES;
    if (o.legacy) caps &= ~TIPC_NAMED_BCAST;
    this.capabilities = caps & 0x1fff;
    this.random = o.random;
    this.signature = (o.signature ?? Math.floor(o.random() * 0x10000)) & 0xffff;
    const bearers = o.bearers ?? (o.bearer ? [o.bearer] : []);
    if (bearers.length === 0 || bearers.length > MAX_BEARERS || (o.bearers && o.bearer))
      throw new LinkEngineError("BAD_OPTIONS", `give one bearer or 1..${MAX_BEARERS} bearers`);
    this.bearers = bearers.map((b) => ({ ...b }));
    this.bearerOff = bearers.map(() => false);
    const tol = o.tolerance ?? TIPC_DEF_LINK_TOL;
    this.tolerance = Math.min(TIPC_MAX_LINK_TOL, Math.max(TIPC_MIN_LINK_TOL, tol));
    this.window = Math.max(1, Math.min(TIPC_MAX_LINK_WIN, o.window ?? TIPC_DEF_LINK_WIN));
    this.bcWindow = Math.max(1, Math.min(TIPC_MAX_LINK_WIN, o.broadcastWindow ?? TIPC_DEF_LINK_WIN));
    this.codec = o.codec ?? DEFAULT_CODEC;
    if (o.address !== undefined) {
      this.address = o.address >>> 0;
      this.trial = false;
    } else {
      this.address = hash128to32(this.nodeId);
      this.trial = !o.skipTrial;
    }
  }

  // ---------------------------------------------------------------- public API

  start(now: number): void {
    if (this.started) return;
    this.started = true;
    if (this.trial) {
      this.trialEnd = now + TIPC_TRIAL_PERIOD;
      this.discInterval = TIPC_DISC_INIT;
      this.sendDiscovery("DSC_TRIAL");
    } else {
      this.finalizeAddress();
      this.sendDiscovery("DSC_REQ");
    }
    this.discNextAt = now + TIPC_DISC_INIT;
    this.lowerDeadline(this.discNextAt);
  }

  receive(bytes: Uint8Array, from: MediaAddress, now: number, bearer = 0): void {
    if (this.stopped || !this.started) {
      this.drop("not-running");
      return;
    }
    if (!Number.isInteger(bearer) || bearer < 0 || bearer >= this.bearers.length || this.bearerOff[bearer]) {
      this.drop("bearer-disabled");
      return;
    }
    const h = peekHeader(bytes);
    if (!h) {
      this.drop("malformed");
      return;
    }
    const b = h.size < bytes.byteLength ? bytes.subarray(0, h.size) : bytes;
    if (h.user === USER_LINK_CONFIG) {
      this.discoveryRcv(b, bearer, now);
      return;
    }
    if (!this.addressed) {
      this.drop("not-addressed");
      return;
    }
    if (h.nonSeq) {
      this.bcRcv(b, h, from, bearer, now);
      return;
    }
    if (h.destNode !== undefined && h.destNode !== this.address) {
      this.drop("not-for-us");
      return;
    }
    const p = this.peers.get(h.prevNode);
    const l = p?.links[bearer];
    if (!p || !l) {
      this.drop("unknown-node");
      return;
    }
    // A peer sends from the media address it announced (the kernel's UDP bearer sends from its
    // bound socket): anything else is forged, or a stray from an old incarnation of the peer.
    if (!sameSource(from, l.mediaAddress)) {
      this.drop("source-mismatch");
      return;
    }
    p.lastHeard = now;
    if (h.user === USER_LINK_PROTOCOL) {
      const m = this.tryDecode(b);
      if (m?.user !== "LINK_PROTOCOL") return;
      this.protoRcv(p, l, m, now);
      return;
    }
    this.linkRcv(p, l, b, h, now);
  }

  disableBearer(bearer: number, now: number): void {
    this.checkBearer(bearer);
    if (this.bearerOff[bearer]) return;
    this.bearerOff[bearer] = true;
    for (const p of this.peers.values()) {
      const l = p.links[bearer];
      if (!l) continue;
      if (l.state === "ESTABLISHED") this.linkDown(p, l, "bearer-disabled", now, false);
      else this.resetLink(l);
      // The link stays, silent, until enableBearer (the peer learns at its next timeout): it
      // keeps its delivery point, so the peer's FAILOVER tunnel for it is still taken in.
    }
    this.deadlineDirty = true;
  }

  enableBearer(bearer: number, now: number): void {
    this.checkBearer(bearer);
    if (!this.bearerOff[bearer]) return;
    this.bearerOff[bearer] = false;
    if (this.started && !this.stopped && this.addressed) {
      this.sendDiscovery("DSC_REQ", bearer);
      this.discInterval = TIPC_DISC_INIT;
      this.discNextAt = now + TIPC_DISC_INIT;
      this.lowerDeadline(this.discNextAt);
    }
  }

  private checkBearer(bearer: number): void {
    if (!Number.isInteger(bearer) || bearer < 0 || bearer >= this.bearers.length)
      throw new LinkEngineError("BAD_OPTIONS", `no bearer ${bearer}`);
  }

  tick(now: number): void {
    if (this.stopped || !this.started) return;
    this.deadlineDirty = true;
    if (this.trial && now >= this.trialEnd) {
      this.trial = false;
      this.finalizeAddress();
      this.discInterval = TIPC_DISC_INIT;
      this.discNextAt = now + TIPC_DISC_INIT;
      this.lowerDeadline(this.discNextAt);
    }
    if (this.discNextAt !== undefined && now >= this.discNextAt) {
      if (this.trial) {
        this.discInterval = TIPC_DISC_INIT;
        this.sendDiscovery("DSC_TRIAL");
      } else {
        this.discInterval *= 2;
        const cap = this.linksUp > 0 ? TIPC_DISC_SLOW : TIPC_DISC_FAST;
        if (this.discInterval > cap) this.discInterval = cap;
        this.sendDiscovery("DSC_REQ");
      }
      this.discNextAt = now + this.discInterval;
    }
    for (const p of [...this.peers.values()]) {
      let idle = true;
      for (const l of p.links) {
        if (!l) continue;
        const off = this.bearerOff[l.bearer] === true;
        if (now >= l.nextTimer) {
          l.nextTimer = now + l.interval;
          if (!off) this.linkTimeout(p, l, now);
        }
        if (l.nackAt !== undefined && now >= l.nackAt) {
          l.nackAt = undefined;
          if (l.state === "ESTABLISHED" && (l.deferred.size > 0 || this.bcRcvGap(p) > 0)) {
            this.sendProto(p, l, "STATE");
            this.armNack(l, now);
          }
        }
        if (l.fo?.remaining && now - l.fo.lastAt > l.tolerance) {
          // the peer's tunnel stopped short (a kernel gives up on a packet too large for the
          // tunnel link): let the link re-form rather than wait for packets that will not come
          l.fo = undefined;
          this.drop("failover-incomplete");
        }
        if (l.state !== "RESET") idle = false;
      }
      if (!p.up && idle && now - p.downSince > NODE_CLEANUP_AFTER) this.peers.delete(p.address);
      else if (!p.wasUp && now - p.lastHeard > UNLINKED_EXPIRY) this.peers.delete(p.address);
    }
    this.bcCheckFailure(now);
  }

  nextDeadline(): number | undefined {
    if (this.stopped || !this.started) return undefined;
    // O(links) only after a tick; between ticks deadlines only move earlier (lowerDeadline),
    // and a deadline left stale-early merely costs one empty tick
    if (!this.deadlineDirty) return this.deadlineCache;
    this.deadlineDirty = false;
    let d = this.discNextAt;
    if (this.trial) d = d === undefined ? this.trialEnd : Math.min(d, this.trialEnd);
    for (const p of this.peers.values()) {
      for (const l of p.links) {
        if (!l) continue;
        d = d === undefined ? l.nextTimer : Math.min(d, l.nextTimer);
        if (l.nackAt !== undefined) d = Math.min(d, l.nackAt);
      }
    }
    this.deadlineCache = d;
    return d;
  }

  private lowerDeadline(t: number): void {
    if (this.deadlineCache === undefined || t < this.deadlineCache) this.deadlineCache = t;
  }

  sendUnicast(peer: number, message: TipcMessage, now: number): void {
    if (this.stopped) throw new LinkEngineError("STOPPED", "engine stopped");
    const p = this.peers.get(peer);
    if (!p) throw new LinkEngineError("NO_SUCH_PEER", `no peer ${peer.toString(16)}`);
    const l = p.active;
    if (!p.up || !l) throw new LinkEngineError("PEER_DOWN", `peer ${peer.toString(16)} is down`);
    const bytes = this.encodeForSend(message, peer, false);
    this.linkXmit(p, l, this.fragment(bytes, l.mtu, peer, false), now);
  }

  sendBroadcast(message: TipcMessage, now: number): void {
    if (this.stopped) throw new LinkEngineError("STOPPED", "engine stopped");
    if (!this.addressed) throw new LinkEngineError("NOT_ADDRESSED", "address trial not finished");
    let mtu = Number.POSITIVE_INFINITY;
    for (const p of this.peers.values()) if (p.up && p.active) mtu = Math.min(mtu, p.active.mtu);
    if (mtu === Number.POSITIVE_INFINITY) for (const b of this.bearers) mtu = Math.min(mtu, b.mtu);
    const bytes = this.encodeForSend(message, 0, true);
    for (const pkt of this.fragment(bytes, mtu, 0, true)) this.bcXmit(pkt, mtu, now);
  }

  // ------------------------------------------- unicast acknowledgement marks (issue 14 A, api.ts)

  unicastMark(peer: number): import("./api.js").UnicastMark | undefined {
    const p = this.peers.get(peer);
    const l = p?.up ? p.active : undefined;
    if (l?.state !== "ESTABLISHED") return undefined;
    // Each backlog entry leaves as one packet (a bundle takes later messages into the tail
    // entry, never into a packet already sent), so the last one queued gets this seqno.
    return { peer, bearer: l.bearer, session: l.session, seqno: mod16(l.sndNxt + l.backlog.length - 1) };
  }

  unicastAcked(mark: import("./api.js").UnicastMark): boolean | undefined {
    const p = this.peers.get(mark.peer);
    const l = p?.up ? p.active : undefined;
    // another link carries the peer's traffic now (failover), or this one was reset: mark again
    if (l?.state !== "ESTABLISHED" || l.bearer !== mark.bearer || l.session !== mark.session)
      return undefined;
    if (!less(mark.seqno, l.sndNxt)) return false; // still in the backlog
    const head = l.transmq[0];
    return head === undefined || more(head.seqno, mark.seqno);
  }

  requestUnicastAck(peer: number): boolean {
    const p = this.peers.get(peer);
    const l = p?.up ? p.active : undefined;
    if (!p || l?.state !== "ESTABLISHED") return false;
    this.sendProto(p, l, "STATE", { probe: true }); // a probe is answered at once, with the ack
    return true;
  }

  // ------------------------------------------- backlog per importance (issue 16, api.ts)
  // The kernel keeps a backlog queue per importance with limits min_win x 2/4/6/8
  // (tipc_link_set_queue_limits); this engine has one backlog per link, so the counts per
  // importance are computed here: an entry (one packet to be, maybe a bundle) counts once for
  // each importance among its messages, as msg_importance reads it (the user of a data message
  // without error; word 9 of a fragment or bundle; other users and returned messages are SYSTEM).

  /** importance bits of an entry's first `n` messages, kept as bundles grow (tail only) */
  private readonly bklgMasks = new WeakMap<BacklogEntry, { n: number; mask: number }>();

  private bklgMask(e: BacklogEntry): number {
    let c = this.bklgMasks.get(e);
    if (c === undefined) {
      c = { n: 0, mask: 0 };
      this.bklgMasks.set(e, c);
    }
    for (; c.n < e.msgs.length; c.n++) {
      const b = e.msgs[c.n] as Uint8Array;
      const user = ((b[0] ?? 0) >>> 1) & 0xf;
      const imp =
        user <= 3
          ? (((b[4] ?? 0) >>> 1) & 0xf) === 0
            ? user
            : 4
          : (user === USER_MSG_BUNDLER || user === USER_MSG_FRAGMENTER) && b.length >= INT_H_SIZE
            ? (b[39] ?? 0) & 7
            : 4;
      if (imp < 4) c.mask |= 1 << imp;
    }
    return c.mask;
  }

  private bklgOf(peer: number): { q: BacklogEntry[]; window: number } | undefined {
    if (peer === 0) return { q: this.bcBacklog, window: this.bcWindow };
    const p = this.peers.get(peer);
    const l = p?.up ? p.active : undefined;
    return l?.state === "ESTABLISHED" ? { q: l.backlog, window: this.window } : undefined;
  }

  backlogState(peer: number): import("./api.js").BacklogState | undefined {
    const b = this.bklgOf(peer);
    if (b === undefined) return undefined;
    const counts: [number, number, number, number] = [0, 0, 0, 0];
    for (const e of b.q) {
      const m = this.bklgMask(e);
      for (let i = 0; i < 4; i++) if (m & (1 << i)) counts[i] = (counts[i] as number) + 1;
    }
    const w = b.window;
    return { counts, limits: [w * 2, w * 4, w * 6, w * 8] };
  }

  backlogCongested(peer: number, importance: number): boolean {
    const b = this.bklgOf(peer);
    if (b === undefined || !(importance >= 0 && importance <= 3)) return false;
    const limit = b.window * 2 * (importance + 1);
    if (b.q.length < limit) return false; // cannot hold `limit` entries of this importance
    const bit = 1 << importance;
    let n = 0;
    for (const e of b.q) if (this.bklgMask(e) & bit && ++n >= limit) return true;
    return false;
  }

  stop(now: number): void {
    if (this.stopped) return;
    this.stopping = true;
    for (const p of this.peers.values()) {
      for (const l of p.links) {
        if (!l) continue;
        // reset first (new session), so that the peer accepts the RESET as news
        if (l.state === "ESTABLISHED") this.linkDown(p, l, "stopped", now, false);
        else this.resetLink(l);
        this.sendProto(p, l, "RESET", { stopping: true });
      }
    }
    this.stopped = true;
  }

  poll(): LinkOutput[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  nodes(): NodeInfo[] {
    const r: NodeInfo[] = [];
    for (const p of this.peers.values()) {
      const l = p.active ?? p.links.find((x) => x !== undefined);
      if (!l) continue;
      r.push({
        address: p.address,
        nodeId: p.nodeId,
        nodeIdString: nodeIdString(p.nodeId),
        capabilities: p.capabilities,
        signature: p.signature,
        mediaAddress: l.mediaAddress,
        up: p.up,
        linksUp: p.links.filter((x) => x?.state === "ESTABLISHED").length,
        broadcastSynched: p.bc.synched,
      });
    }
    return r;
  }

  links(): LinkInfo[] {
    const r: LinkInfo[] = [];
    for (const p of this.peers.values()) {
      for (const l of p.links) {
        if (!l || this.bearerOff[l.bearer]) continue;
        r.push({
          peer: p.address,
          name: l.name,
          bearer: l.bearer,
          bearerName: (this.bearers[l.bearer] as BearerInfo).name,
          state: l.state,
          active: p.up && p.active === l,
          mtu: l.mtu,
          session: l.session,
          peerSession: l.peerSession,
          sndNxt: l.sndNxt,
          rcvNxt: l.rcvNxt,
          transmitQueue: l.transmq.length,
          backlog: l.backlog.length,
          deferred: l.deferred.size,
          tolerance: l.tolerance,
        });
      }
    }
    return r;
  }

  stats(): LinkStats {
    return {
      ...this.st,
      broadcastTransmitQueue: this.bcTransmq.length,
      broadcastBacklog: this.bcBacklog.length,
      drops: { ...this.st.drops },
    };
  }

  upPeers(): { peer: number; capabilities: number; mtu: number }[] {
    const r: { peer: number; capabilities: number; mtu: number }[] = [];
    for (const p of this.peers.values()) {
      if (p.up && p.active) r.push({ peer: p.address, capabilities: p.capabilities, mtu: p.active.mtu });
    }
    return r;
  }

  // ---------------------------------------------------------------- helpers

  private drop(cause: LinkDropCause): void {
    this.st.drops[cause] = (this.st.drops[cause] ?? 0) + 1;
  }

  private tryDecode(b: Uint8Array): TipcMessage | undefined {
    try {
      return this.codec.decode(b);
    } catch {
      this.drop("decode-error");
      return undefined;
    }
  }

  private transmit(bearer: number, to: MediaAddress | "broadcast", bytes: Uint8Array): void {
    if (this.bearerOff[bearer]) return; // a disabled bearer sends nothing
    this.st.transmitted++;
    this.out.push({ kind: "transmit", bearer, to, bytes });
  }

  private randomU32(): number {
    return Math.floor(this.random() * 0x100000000) >>> 0;
  }

  private finalizeAddress(): void {
    this.addressed = true;
    this.out.push({ kind: "addressAssigned", address: this.address });
  }

  // ---------------------------------------------------------------- discovery (§5)

  private discoveryMsg(type: LinkConfigType, bearer: number, destDomain: number, suggested = 0): Uint8Array {
    const m: LinkConfigMessage = {
      user: "LINK_CONFIG",
      type,
      capabilities: this.capabilities,
      signature: this.signature,
      destDomain,
      prevNode: this.address,
      netId: this.netId,
      mediaAddress: (this.bearers[bearer] as BearerInfo).mediaAddress,
      peerNetHash: 0,
      suggestedAddress: suggested,
      nodeId: this.nodeId,
    };
    return this.codec.encode(m);
  }

  /** Discovery on every enabled bearer (or only on `only`). */
  private sendDiscovery(type: LinkConfigType, only?: number): void {
    for (let i = 0; i < this.bearers.length; i++) {
      if (this.bearerOff[i] || (only !== undefined && i !== only)) continue;
      const bearer = this.bearers[i] as BearerInfo;
      const bytes = this.discoveryMsg(type, i, 0);
      if (bearer.canBroadcast) {
        this.transmit(i, "broadcast", bytes);
        continue;
      }
      const seen = new Set<string>();
      const targets: MediaAddress[] = [];
      const add = (a: MediaAddress) => {
        if (seen.has(mediaKey(a))) return;
        seen.add(mediaKey(a));
        targets.push(a);
      };
      for (const a of bearer.discoveryPeers ?? []) add(a);
      // peers learnt from discovery, once they have linked (not every address a datagram named)
      for (const p of this.peers.values()) {
        const l = p.links[i];
        if (l && p.wasUp) add(l.mediaAddress);
      }
      for (const t of targets) this.transmit(i, t, bytes);
    }
  }

  private discoveryRcv(b: Uint8Array, bearer: number, now: number): void {
    const m = this.tryDecode(b);
    if (m?.user !== "LINK_CONFIG") return;
    if (isMulticast(m.mediaAddress)) {
      this.drop("corrupt-discovery");
      return;
    }
    if (this.bearers.some((x) => mediaEq(m.mediaAddress, x.mediaAddress))) {
      this.drop("own-discovery");
      return;
    }
    if (m.netId !== this.netId) {
      this.drop("other-cluster");
      return;
    }
    const src = m.prevNode >>> 0;
    if (m.type === "DSC_TRIAL_FAIL") {
      if (this.trial && m.destDomain === this.address && m.suggestedAddress !== 0) {
        this.address = m.suggestedAddress >>> 0;
        this.trialEnd = now + TIPC_TRIAL_PERIOD;
      }
      return;
    }
    if (m.type === "DSC_TRIAL") {
      const sugg = this.tryAddress(m.nodeId, src);
      if (sugg && this.unlinkedToken(now, "discovery-rate-limited")) {
        this.transmit(bearer, m.mediaAddress, this.discoveryMsg("DSC_TRIAL_FAIL", bearer, src, sugg));
      }
      return;
    }
    if (this.trial || !this.addressed) {
      this.drop("in-trial");
      return;
    }
    if (src === this.address) {
      this.out.push({ kind: "duplicateAddress", address: src, mediaAddress: m.mediaAddress });
      this.drop("duplicate-address");
      return;
    }
    if (m.destDomain !== 0 && m.destDomain !== this.address) {
      this.drop("not-for-us");
      return;
    }
    if (src === 0) {
      this.drop("malformed");
      return;
    }
    const respond = this.checkDest(m, src, bearer, now);
    const p = this.peers.get(src);
    if (!p) return;
    if (respond && m.type === "DSC_REQ" && this.mayContact(p, now, "discovery-rate-limited"))
      this.transmit(bearer, m.mediaAddress, this.discoveryMsg("DSC_RESP", bearer, src));
    // The kernel backs its RESETs off to one per ~6 s and never answers discovery with one:
    // send ours as soon as discovery sees the peer, so re-linking takes one round trip.
    const l = p.links[bearer];
    if (l && l.state === "RESET" && !l.fo?.remaining && this.mayContact(p, now, "reset-rate-limited"))
      this.sendProto(p, l, "RESET");
  }

  /**
   * Whether we may send to `p` now: always to a node that has been up; to one that never was,
   * only with a token from the bucket (UNLINKED_RATE), else the send is a counted drop.
   */
  private mayContact(p: Peer, now: number, cause: LinkDropCause): boolean {
    return p.wasUp || this.unlinkedToken(now, cause);
  }

  private unlinkedToken(now: number, cause: LinkDropCause): boolean {
    const elapsed = now - this.unlinkedTokensAt;
    if (elapsed > 0) {
      this.unlinkedTokens = Math.min(UNLINKED_BURST, this.unlinkedTokens + (elapsed * UNLINKED_RATE) / 1000);
      this.unlinkedTokensAt = now;
    }
    if (this.unlinkedTokens >= 1) {
      this.unlinkedTokens--;
      return true;
    }
    this.drop(cause);
    return false;
  }

  /** The kernel's tipc_node_try_addr: 0 if `addr` is fine for `id`, else a suggestion. */
  private tryAddress(id: Uint8Array, addr: number): number {
    const n = this.peers.get(addr);
    if (n && hasLinks(n)) {
      if (idEq(n.nodeId, id)) return 0;
      return this.suggestAddress(addr);
    }
    for (const p of this.peers.values()) {
      if (hasLinks(p) && idEq(p.nodeId, id) && p.address !== addr) return p.address;
    }
    if (addr === this.address && !idEq(id, this.nodeId)) return this.suggestAddress(addr);
    return 0;
  }

  private suggestAddress(addr: number): number {
    let a = (addr ^ this.randomU32()) >>> 0;
    while (a === 0 || a === this.address || this.peers.has(a)) a = (a + 1) >>> 0;
    return a;
  }

  /** The kernel's tipc_node_check_dest, for the link on one bearer: returns whether to respond. */
  private checkDest(m: LinkConfigMessage, src: number, bearer: number, now: number): boolean {
    let p = this.peers.get(src);
    const nodeId = padId(m.nodeId);
    if (p && !idEq(p.nodeId, nodeId)) {
      // A node keeps its identity while it is up, while a link to it is being set up, and for a
      // tolerance after it went down (the kernel never renames a node it knows): otherwise a
      // forged RESET and a discovery claim would rename it when it re-links.
      const settling = p.wasUp && now - p.downSince < this.tolerance;
      if (p.up || settling || p.links.some((x) => x && x.state !== "RESET")) {
        this.drop("identity-conflict");
        return false;
      }
      p.nodeId = nodeId;
      p.signature = INVALID_NODE_SIG;
      p.wasUp = false; // another node now: it starts as an unlinked one
    }
    if (!p) {
      // a linked node's id under another address: the node id / address mapping stays
      let unlinked = 0;
      for (const q of this.peers.values()) {
        if (q.up && idEq(q.nodeId, nodeId)) {
          this.drop("identity-conflict");
          return false;
        }
        if (!q.wasUp) unlinked++;
      }
      if (unlinked >= MAX_UNLINKED_PEERS) {
        this.drop("unlinked-peers-full");
        return false;
      }
      p = {
        address: src,
        nodeId,
        capabilities: m.capabilities,
        signature: INVALID_NODE_SIG,
        links: this.bearers.map(() => undefined),
        active: undefined,
        up: false,
        wasUp: false,
        lastHeard: now,
        downSince: now,
        bc: newBcRcv(),
        bcAcked: 0,
        bcSynch: undefined,
        bcPeerUp: false,
      };
      this.peers.set(src, p);
    }
    if (!p.up) p.capabilities = m.capabilities;
    p.lastHeard = now;
    const l = p.links[bearer];
    const signMatch = m.signature === p.signature;
    const addrMatch = !!l && mediaEq(l.mediaAddress, m.mediaAddress);
    const linkUp = l?.state === "ESTABLISHED";
    let respond = false;
    let accept = false;
    let reset = false;
    if (signMatch && addrMatch && !linkUp) respond = true;
    else if (signMatch && !addrMatch && linkUp) this.duplicate(m);
    else if (signMatch && !addrMatch && !linkUp) {
      accept = respond = reset = true;
    } else if (!signMatch && addrMatch && linkUp) p.signature = m.signature;
    else if (!signMatch && addrMatch && !linkUp) {
      p.signature = m.signature;
      respond = true;
    } else if (!signMatch && !addrMatch && linkUp) this.duplicate(m);
    else if (!signMatch && !addrMatch && !linkUp) {
      p.signature = m.signature;
      accept = respond = reset = true;
    }
    if (!accept) return respond;
    if (!l) {
      const nl = this.newLink(p, bearer, m.mediaAddress, now);
      p.links[bearer] = nl;
      this.lowerDeadline(nl.nextTimer);
    } else {
      l.mediaAddress = m.mediaAddress;
      if (reset && l.state !== "RESET") this.linkDown(p, l, "rediscovered", now, true);
    }
    return respond;
  }

  private duplicate(m: LinkConfigMessage): void {
    this.out.push({ kind: "duplicateAddress", address: m.prevNode >>> 0, mediaAddress: m.mediaAddress });
    this.drop("duplicate-address");
  }

  // ---------------------------------------------------------------- link endpoint (§7)

  private newLink(p: Peer, bearer: number, mediaAddress: MediaAddress, now: number): Link {
    const interval = Math.min(Math.floor(this.tolerance / 4), 500);
    const b = this.bearers[bearer] as BearerInfo;
    return {
      bearer,
      mediaAddress,
      peerBearerId: 0,
      state: "RESET",
      name: `${this.nodeIdText}:${b.name}-${nodeIdString(p.nodeId)}:unknown`,
      peerIfName: "unknown",
      session: Math.floor(this.random() * 0x10000) & 0xffff,
      peerSession: 0,
      inSession: false,
      mtu: b.mtu,
      tolerance: this.tolerance,
      interval,
      abortLimit: Math.floor(this.tolerance / interval),
      nextTimer: now + interval,
      sndNxt: 1,
      rcvNxt: 1,
      transmq: [],
      backlog: [],
      deferred: new Map(),
      recent: new RecentPackets(),
      upAt: now,
      rcvUnacked: 0,
      checkpoint: 1,
      silentIntvCnt: 0,
      rstCnt: 0,
      sndNxtState: 1,
      rcvNxtState: 1,
      reasm: new Reassembler(),
      peerLastBcast: 0,
      nackAt: undefined,
      peerSndNxt: undefined,
      stallSince: undefined,
      fo: undefined,
    };
  }

  /** tipc_link_reset: new session, empty queues, sequence numbers back to 1. */
  private resetLink(l: Link): void {
    l.session = mod16(l.session + 1);
    l.peerSession = mod16(l.peerSession - 1);
    l.inSession = false;
    l.state = "RESET";
    l.mtu = (this.bearers[l.bearer] as BearerInfo).mtu;
    l.sndNxt = 1;
    l.rcvNxt = 1;
    l.transmq = [];
    l.backlog = [];
    l.deferred.clear();
    l.recent.clear();
    l.rcvUnacked = 0;
    l.checkpoint = 1;
    l.silentIntvCnt = 0;
    l.rstCnt = 0;
    l.sndNxtState = 1;
    l.rcvNxtState = 1;
    // a partial message went to the failover context (linkDown), if there is one
    l.reasm = new Reassembler();
    l.nackAt = undefined;
    l.peerSndNxt = undefined;
    l.stallSince = undefined;
  }

  private linkTimeout(p: Peer, l: Link, now: number): void {
    if (l.state === "ESTABLISHED") {
      if (l.silentIntvCnt > l.abortLimit) {
        this.linkDown(p, l, "tolerance", now, true);
        return;
      }
      if (this.stalled(p, l, now)) return;
      const state = (p.active === l && p.bc.unacked > 0) || l.rcvUnacked > 0 || l.transmq.length > 0;
      let probe = l.silentIntvCnt > 0;
      // below the monitor threshold every tick counts as silent until something arrives
      l.silentIntvCnt++;
      if (l.deferred.size > 0) probe = true;
      if (l.sndNxt === l.checkpoint) probe = true;
      l.checkpoint = l.sndNxt;
      if (state || probe) this.sendProto(p, l, "STATE", { probe });
    } else if (l.state === "RESET") {
      const setup = l.rstCnt++ <= 4 || l.rstCnt % 16 === 0;
      // a link whose failover tunnel is still draining stays down (the kernel's FAILINGOVER)
      if (setup && !l.fo?.remaining && this.mayContact(p, now, "reset-rate-limited"))
        this.sendProto(p, l, "RESET");
    } else if (this.mayContact(p, now, "reset-rate-limited")) {
      this.sendProto(p, l, "ACTIVATE");
    }
  }

  /**
   * Checked at every link timer: a gap on this link, or on the peer's broadcast link (checked on
   * its active link), that stays open without progress for RESYNC_TOLERANCES x the tolerance
   * resets the node (counted in `resyncs` and as a "resync" drop); true if it did. "Open" also
   * covers holding packets the peer's STATE says it never sent (our rcv_nxt past its snd_nxt):
   * then its real packets look like duplicates and no gap ever shows.
   */
  private stalled(p: Peer, l: Link, now: number): boolean {
    const bound = l.tolerance * RESYNC_TOLERANCES;
    const ucOpen = l.deferred.size > 0 || (l.peerSndNxt !== undefined && more(l.rcvNxt, l.peerSndNxt));
    if (!ucOpen) l.stallSince = undefined;
    else if (l.stallSince === undefined) l.stallSince = now;
    else if (now - l.stallSince > bound) {
      this.resync(p, l, now);
      return true;
    }
    const r = p.bc;
    if (p.active !== l || !p.up || !r.synched) return false;
    const bcOpen = this.bcRcvGap(p) > 0 || more(r.rcvNxt, r.peerSndNxt);
    if (!bcOpen) r.stallSince = undefined;
    else if (r.stallSince === undefined) r.stallSince = now;
    else if (now - r.stallSince > bound) {
      this.resync(p, l, now);
      return true;
    }
    return false;
  }

  /**
   * Two different packets with one seqno from a peer: one is forged. If the forged one came
   * first it has taken the real one's place, and nothing at this layer can tell which: resync.
   * Not within a tolerance of the receive state's start, when a delayed packet of the peer's
   * previous session (whose seqnos started over) may still arrive.
   */
  private onConflict(p: Peer, l: Link, since: number, now: number): void {
    this.conflict = false;
    this.drop("conflicting-duplicate");
    if (now - since <= l.tolerance || !p.up || l.state !== "ESTABLISHED") return;
    this.resync(p, l, now);
  }

  private resync(p: Peer, l: Link, now: number): void {
    this.st.resyncs++;
    this.drop("resync");
    this.linkDown(p, l, "resync", now, true);
  }

  private sendProto(
    p: Peer,
    l: Link,
    type: LinkProtocolType,
    o: { probe?: boolean; probeReply?: boolean; seqGap?: number; stopping?: boolean } = {},
  ): void {
    const isState = type === "STATE";
    if (isState && l.state !== "ESTABLISHED") return;
    let seqGap = o.seqGap ?? 0;
    const fd = firstDeferred(l.deferred, l.rcvNxt);
    if (isState && fd !== undefined) seqGap = mod16(fd - l.rcvNxt);
    let seqno = mod16(l.sndNxt + 32767);
    if (isState && p.capabilities & TIPC_LINK_PROTO_SEQNO) {
      seqno = l.sndNxtState;
      l.sndNxtState = mod16(l.sndNxtState + 1);
    }
    // as the kernel: redundant_link = "node up", bc_ack_invalid = its negation; our node counts as
    // up for this once the peer's first sequenced packet (the broadcast synch) has arrived
    const nodeUp = isState && p.up && p.bc.synched;
    const m: LinkProtocolMessage = {
      user: "LINK_PROTOCOL",
      type,
      nonSeq: false,
      isKeepalive: isState && !!(o.probe || o.probeReply),
      seqGap: isState ? Math.min(seqGap, 0x1fff) : 0,
      bcastAck: type === "ACTIVATE" ? 0 : this.bcAckValue(p),
      destSessionValid: type === "ACTIVATE",
      destSession: type === "ACTIVATE" ? l.peerSession : 0,
      ack: mod16(l.rcvNxt - 1),
      seqno,
      prevNode: this.address,
      // to a peer whose synch point lies past what we have sent: that point (nothing is missing)
      lastBcast: isState && p.bcSynch !== undefined ? p.bcSynch : mod16(this.bcSndNxt - 1),
      nextSent: l.sndNxt,
      session: l.session,
      bcAckInvalid: !nodeUp,
      peerStopping: !!o.stopping,
      redundantLink: nodeUp,
      bearerId: l.bearer,
      priority: 0,
      netPlane: 0,
      probe: isState && !!o.probe,
      origNode: this.address,
      destNode: p.address,
      bcGap: isState ? Math.min(this.bcRcvGap(p), 0x3ff) : 0,
      maxPacket: isState ? 0 : (this.bearers[l.bearer] as BearerInfo).mtu,
      tolerance: 0,
    };
    if (!isState) m.bearerName = (this.bearers[l.bearer] as BearerInfo).name;
    else if (this.capabilities & p.capabilities & TIPC_GAP_ACK_BLOCK) {
      // one block per side, the same information as seq_gap / bc_gap (unicast only when seq_gap != 0)
      m.gapAcks = {
        broadcast: m.bcGap ? [{ ack: this.bcAckValue(p), gap: m.bcGap }] : [],
        unicast: m.seqGap ? [{ ack: m.ack, gap: m.seqGap }] : [],
      };
    }
    if (isState) {
      this.st.statesSent++;
      if (o.probe) this.st.probesSent++;
      if (m.seqGap || m.bcGap) this.st.nacksSent++;
      l.rcvUnacked = 0;
      if (p.bc.synched) p.bc.unacked = 0;
    }
    this.transmit(l.bearer, l.mediaAddress, this.codec.encode(m));
  }

  private protoRcv(p: Peer, l: Link, m: LinkProtocolMessage, now: number): void {
    // tipc_link_validate_msg
    if (m.type === "RESET") {
      if (l.inSession && !more(m.session, l.peerSession)) {
        this.drop("stale-session");
        return;
      }
    } else if (m.type === "ACTIVATE") {
      if (l.inSession && less(m.session, l.peerSession)) {
        this.drop("stale-session");
        return;
      }
    } else {
      if (!l.inSession || m.session !== l.peerSession) {
        this.drop("stale-session");
        return;
      }
      if (l.state !== "ESTABLISHED" && m.ack !== 0) {
        this.drop("stale-session");
        return;
      }
      if (p.capabilities & TIPC_LINK_PROTO_SEQNO && less(m.seqno, l.rcvNxtState)) {
        this.drop("stale-state");
        return;
      }
    }
    if (m.type !== "STATE") {
      if (m.maxPacket < 128 || m.bearerName === undefined) {
        this.drop("malformed");
        return;
      }
      if (m.tolerance >= TIPC_MIN_LINK_TOL && m.tolerance <= TIPC_MAX_LINK_TOL)
        this.setTolerance(l, m.tolerance);
      if (m.peerStopping) {
        if (l.state === "ESTABLISHED") this.linkDown(p, l, "peer-stopping", now, false);
        else l.state = "RESET";
        return;
      }
      if (m.type === "ACTIVATE" && m.destSessionValid && m.destSession !== l.session) {
        if (less(l.session, m.destSession)) l.session = mod16(m.destSession + 1);
        return;
      }
      if (l.fo?.remaining) {
        // still receiving the peer's FAILOVER tunnel for the last session (LINK_FAILINGOVER)
        this.drop("failing-over");
        return;
      }
      l.peerIfName = m.bearerName || "unknown";
      l.peerBearerId = m.bearerId;
      l.name = `${this.nodeIdText}:${(this.bearers[l.bearer] as BearerInfo).name}-${nodeIdString(p.nodeId)}:${l.peerIfName}`;
      l.peerLastBcast = m.lastBcast;
      let goUp = false;
      if (m.type === "RESET" || l.state !== "ESTABLISHED") {
        if (l.state === "ESTABLISHED") this.linkDown(p, l, "peer-reset", now, false);
        if (l.state === "RESET") l.state = "ESTABLISHING";
      }
      if (m.type === "ACTIVATE" && l.state === "ESTABLISHING") goUp = true;
      l.peerSession = m.session;
      l.inSession = true;
      if (l.mtu > m.maxPacket) l.mtu = m.maxPacket;
      if (goUp) this.linkUp(p, l, now);
      else if (m.type === "RESET" && l.state === "ESTABLISHING") this.sendProto(p, l, "ACTIVATE");
      return;
    }
    // STATE
    l.rcvNxtState = mod16(m.seqno + 1);
    l.peerSndNxt = m.nextSent;
    if (m.tolerance >= TIPC_MIN_LINK_TOL && m.tolerance <= TIPC_MAX_LINK_TOL)
      this.setTolerance(l, m.tolerance);
    if (m.priority !== 0 && m.priority <= 31) {
      // we always run priority 0 ("no change"), so any explicit priority differs: the kernel resets
      if (l.state === "ESTABLISHED") {
        this.linkDown(p, l, "priority-change", now, true);
        return;
      }
    }
    l.silentIntvCnt = 0;
    if (l.state !== "ESTABLISHED") {
      if (l.state === "ESTABLISHING") this.linkUp(p, l, now);
      return;
    }
    // broadcast: the peer's last_bcast tells us what we may be missing (tipc_link_bc_sync_rcv)
    this.bcSyncRcv(p, l, m, now);
    let rcvgap = 0;
    const reply = m.probe;
    if ((reply || m.isKeepalive) && more(m.nextSent, l.rcvNxt) && l.deferred.size === 0) {
      rcvgap = mod16(m.nextSent - l.rcvNxt);
    }
    if (rcvgap || reply) this.sendProto(p, l, "STATE", { probeReply: reply, seqGap: rcvgap });
    this.advanceTransmq(p, l, m.ack, m.seqGap, now);
    // gap-ACK blocks (TIPC_GAP_ACK_BLOCK): every block's gap is a NACK too
    for (const blk of m.gapAcks?.unicast ?? []) {
      if (l.state !== "ESTABLISHED") break;
      if (blk.gap > 0 && blk.ack !== m.ack) this.retransmitRange(p, l, blk.ack, blk.gap, now);
    }
    if (!m.bcAckInvalid && p.up) {
      if (m.ack !== 0) p.bcPeerUp = true;
      this.bcAckRcv(p, m.bcastAck, m.bcGap, now);
      for (const blk of m.gapAcks?.broadcast ?? []) {
        if (blk.gap > 0 && blk.ack !== m.bcastAck) this.bcAckRcv(p, m.bcastAck, 0, now, blk);
      }
    }
  }

  /**
   * The kernel NACKs only when its deferred queue reaches 3, 19, 35 ... packets and on probes
   * (every 375 ms), so a lost retransmission in a burst stalls the link for a whole timer
   * interval. We also repeat the NACK while a gap stays open for NACK_RETRY ms: more STATE
   * messages, which any kernel accepts, and no change to what is acked or retransmitted.
   */
  private armNack(l: Link, now: number): void {
    if (l.nackAt === undefined) {
      l.nackAt = now + NACK_RETRY;
      this.lowerDeadline(l.nackAt);
    }
  }

  private setTolerance(l: Link, tol: number): void {
    l.tolerance = tol;
    l.interval = Math.min(Math.floor(tol / 4), 500);
    l.abortLimit = Math.floor(tol / l.interval);
  }

  private linkUp(p: Peer, l: Link, now: number): void {
    l.state = "ESTABLISHED";
    l.upAt = now;
    l.silentIntvCnt = 0;
    l.checkpoint = l.sndNxt;
    this.linksUp++;
    this.st.linkUps++;
    this.sendProto(p, l, "STATE");
    if (p.up) {
      // another link to a node that is up: a standby, until the active one fails
      if (!p.active) p.active = l;
      this.out.push({ kind: "linkUp", peer: p.address, name: l.name, bearer: l.bearer });
      return;
    }
    p.up = true;
    p.wasUp = true;
    p.active = l;
    // The peer becomes a broadcast acker past everything already queued: what waits in the
    // broadcast backlog was queued before it came up (name updates whose effect its bulk carries),
    // and a legacy receiver could not refuse it after the bulk. So its synch point lies past the
    // backlog, whose tail is closed (what is queued from now on gets a later seqno).
    // A kernel takes the synch point as is (tipc_link_bc_init_rcv); it drops the packets below.
    const synch = mod16(this.bcSndNxt - 1 + (p.capabilities & TIPC_BCAST_SYNCH ? this.bcBacklog.length : 0));
    const tail = this.bcBacklog[this.bcBacklog.length - 1];
    if (tail) tail.bundleable = false;
    p.bcAcked = synch;
    p.bcSynch = synch === mod16(this.bcSndNxt - 1) ? undefined : synch;
    p.bcPeerUp = false;
    p.bc = newBcRcv(now);
    if (!(p.capabilities & TIPC_BCAST_SYNCH)) {
      p.bc.synched = true;
      p.bc.rcvNxt = mod16(l.peerLastBcast + 1);
    }
    // the broadcast synch message, unicast seqno 1 (§8)
    const init: BcastProtocolMessage = {
      user: "BCAST_PROTOCOL",
      type: "STATE",
      ...this.msgHeader(p.address),
      lastBcast: synch,
      nextSent: 0,
      bcAckInvalid: true,
    };
    this.linkXmit(p, l, [this.codec.encode(init)], now);
    this.out.push({ kind: "linkUp", peer: p.address, name: l.name, bearer: l.bearer });
    this.out.push({
      kind: "nodeUp",
      peer: p.address,
      nodeId: p.nodeId,
      capabilities: p.capabilities,
      mtu: l.mtu,
    });
  }

  /**
   * Header fields of a message of ours to `dest` (0 and `broadcast` for the broadcast link,
   * which carries the net id); the link stamps seqno and acks when it sends.
   */
  private msgHeader(dest: number, broadcast = false) {
    return {
      nonSeq: broadcast,
      bcastAck: 0,
      ack: 0,
      seqno: 0,
      prevNode: this.address,
      origNode: this.address,
      destNode: dest,
      ...(broadcast ? { netId: this.netId } : {}),
    };
  }

  /** The established link that should take over from `failed`: highest priority, then lowest index. */
  private successor(p: Peer, failed: Link): Link | undefined {
    let best: Link | undefined;
    for (const x of p.links) {
      if (!x || x === failed || x.state !== "ESTABLISHED") continue;
      if (!best || this.priority(x) > this.priority(best)) best = x;
    }
    return best;
  }

  private priority(l: Link): number {
    return (this.bearers[l.bearer] as BearerInfo).priority ?? 10;
  }

  private linkDown(p: Peer, l: Link, reason: LinkDownReason, now: number, sendReset: boolean): void {
    const wasUp = l.state === "ESTABLISHED";
    // a peer that failed its broadcast link, or must start over (resync), goes down as a node
    const whole = reason === "broadcast-failure" || reason === "resync";
    const next = wasUp && !this.stopping && !whole ? this.successor(p, l) : undefined;
    let pending: Uint8Array[] = [];
    if (next) {
      // keep where this link's delivery stands, so the peer's tunnel delivers nothing twice
      if (!l.fo?.remaining)
        l.fo = {
          dropPoint: l.rcvNxt,
          remaining: undefined,
          reasm: l.reasm,
          tnlReasm: new Reassembler(),
          lastAt: now,
        };
      pending = this.takeSendQueue(p, l);
    }
    this.resetLink(l);
    if (wasUp) {
      this.linksUp--;
      this.st.linkDowns++;
      if (next) {
        this.out.push({
          kind: "linkDown",
          peer: p.address,
          name: l.name,
          bearer: l.bearer,
          reason,
          failoverTo: next.bearer,
        });
        if (p.active === l) p.active = next;
        this.failover(p, l, next, pending, reason, now);
      } else {
        p.up = false;
        p.active = undefined;
        p.downSince = now;
        this.bcRemovePeer(p.address, now);
        p.bc = newBcRcv();
        this.out.push({ kind: "linkDown", peer: p.address, name: l.name, bearer: l.bearer, reason });
        // the node is gone: its other links (standby) go down with it, and no tunnel is coming
        for (const x of p.links) {
          if (!x) continue;
          x.fo = undefined;
          if (x !== l && x.state === "ESTABLISHED") {
            this.resetLink(x);
            this.linksUp--;
            this.st.linkDowns++;
            this.out.push({ kind: "linkDown", peer: p.address, name: x.name, bearer: x.bearer, reason });
            this.sendProto(p, x, "RESET");
          }
        }
        this.out.push({ kind: "nodeDown", peer: p.address });
        if (this.linksUp === 0 && this.discInterval > TIPC_DISC_FAST) {
          this.discInterval = TIPC_DISC_INIT;
          this.discNextAt = now + TIPC_DISC_INIT;
          this.lowerDeadline(this.discNextAt);
        }
      }
    }
    if (sendReset) {
      l.rstCnt++;
      this.sendProto(p, l, "RESET");
    }
  }

  // ---------------------------------------------------------------- failover (tunnel)

  /**
   * A failing link's packets that the peer may not have: the unacked transmit queue as it is,
   * then the backlog numbered on from snd_nxt (bundled as it would have been sent).
   */
  private takeSendQueue(p: Peer, l: Link): Uint8Array[] {
    const r = l.transmq.map((e) => e.bytes);
    let seqno = l.sndNxt;
    for (const e of l.backlog) {
      const pkt = e.msgs.length === 1 ? (e.msgs[0] as Uint8Array) : this.bundle(e.msgs, p.address, false);
      stampHeader(pkt, { nonSeq: false, seqno, ack: 0, bcastAck: 0, prevNode: this.address });
      seqno = mod16(seqno + 1);
      r.push(pkt);
    }
    return r;
  }

  /**
   * Move a failed link's traffic to `next`: every packet the peer may lack goes, in order and
   * with its old seqno, inside a TUNNEL_PROTOCOL FAILOVER message on `next`, ahead of anything
   * sent later, so the peer delivers each once and in order (it drops inner seqnos it already
   * has). With nothing pending, one empty FAILOVER still tells the peer at once.
   */
  private failover(
    p: Peer,
    failed: Link,
    next: Link,
    pending: Uint8Array[],
    reason: LinkDownReason,
    now: number,
  ): void {
    this.st.failovers++;
    // the peer told us (it is failing over itself, or it reset the link): nothing to announce
    const announce = reason !== "failover" && reason !== "peer-reset" && reason !== "peer-stopping";
    if (pending.length === 0 && !announce) return;
    // nothing pending: one dummy packet, as the kernel's tipc_link_create_dummy_tnl_msg (a
    // 32-byte DIRECT_MSG with TIPC_ERR_NO_PORT and seqno 0), so a kernel peer finds an inner
    // header to take its synch point from; receivers drop it (below their delivery point)
    const inner = pending.length > 0 ? pending : [this.dummyTunnelInner(p.address)];
    // A packet too large for the tunnel link goes in tunnel fragments, as the kernel's
    // tipc_msg_fragment makes them (each a FAILOVER packet with fragment number and count, its
    // data a share of the packet); msgcnt then counts every tunnel packet.
    const chunk = next.mtu - INT_H_SIZE;
    const parts: { data: Uint8Array; no: number; count: number }[] = [];
    for (const data of inner) {
      if (data.length <= chunk) {
        parts.push({ data, no: 0, count: 0 });
        continue;
      }
      const count = Math.ceil(data.length / chunk);
      for (let k = 0; k < count; k++)
        parts.push({ data: data.subarray(k * chunk, (k + 1) * chunk), no: k + 1, count });
    }
    for (const part of parts) {
      const t: TunnelMessage = {
        user: "TUNNEL_PROTOCOL",
        type: "FAILOVER",
        ...this.msgHeader(p.address),
        bearerId: failed.peerBearerId,
        msgCount: parts.length,
        fragmentNumber: part.no,
        fragmentCount: part.count,
        data: part.data,
      };
      this.st.tunnelSent++;
      this.linkXmit(p, next, [this.codec.encode(t)], now);
    }
  }

  private dummyTunnelInner(dest: number): Uint8Array {
    const m: DataMessage = {
      user: "LOW_IMPORTANCE",
      type: "DIRECT_MSG",
      headerSize: 32,
      nonSeq: false,
      destDroppable: false,
      srcDroppable: false,
      syn: false,
      errorCode: TIPC_ERR_NO_PORT,
      rerouteCount: 0,
      lookupScope: 0,
      bcastAck: 0,
      ack: 0,
      seqno: 0,
      prevNode: this.address,
      origPort: 0,
      destPort: 0,
      origNode: this.address,
      destNode: dest,
      nameType: 0,
      nameInstance: 0,
      nameUpper: 0,
      payload: new Uint8Array(0),
    };
    return this.codec.encode(m);
  }

  /** A TUNNEL_PROTOCOL message delivered in order on one of the peer's links. */
  private tunnelRcv(p: Peer, m: TunnelMessage, now: number): void {
    this.st.tunnelReceived++;
    const x = p.links[m.bearerId];
    if (!x) {
      this.drop("tunnel-unknown-link");
      return;
    }
    if (m.type === "SYNCH") {
      // A kernel peer that brings up a second link to us tunnels copies of the first link's
      // queue (or a dummy) with a synch point. Like the kernel's own receiver we do not deliver
      // those copies (the first link delivers its packets itself); unlike it we do not hold the
      // new link back until the first has reached the synch point (we never load-share, and
      // NAME_DISTRIBUTOR updates are ordered by their named seqno anyway).
      this.drop("tunnel-synch");
      return;
    }
    if (x.state === "ESTABLISHED") this.linkDown(p, x, "failover", now, false);
    if (!p.up) return;
    let fo = x.fo;
    if (!fo) {
      fo = {
        dropPoint: undefined,
        remaining: undefined,
        reasm: new Reassembler(),
        tnlReasm: new Reassembler(),
        lastAt: now,
      };
      x.fo = fo;
    }
    if (fo.remaining === undefined) fo.remaining = m.msgCount;
    fo.lastAt = now;
    let data: Uint8Array | undefined = m.data;
    if (m.fragmentCount > 0) {
      // a tunnel fragment: the inner packet is whole at the last one
      const type =
        m.fragmentNumber === 1
          ? "FIRST_FRAGMENT"
          : m.fragmentNumber >= m.fragmentCount
            ? "LAST_FRAGMENT"
            : "FRAGMENT";
      try {
        data = fo.tnlReasm.push({ type, fragmentNumber: m.fragmentNumber, data: m.data.slice() });
      } catch (e) {
        const cause = reassemblyDrop(e);
        this.drop(cause === "fragment-out-of-order" ? "tunnel-fragment-out-of-order" : cause);
        data = undefined;
      }
    }
    if (data !== undefined && data.length > 0) {
      const h = peekHeader(data);
      if (!h || h.nonSeq) this.drop("malformed-tunnel");
      else if (fo.dropPoint !== undefined && less(h.seqno, fo.dropPoint)) this.st.duplicates++;
      else {
        fo.dropPoint = mod16(h.seqno + 1);
        this.deliverPacket(p, data.subarray(0, h.size), "unicast", fo, now);
      }
    }
    if (m.msgCount > 0) fo.remaining--;
    if (fo.remaining <= 0) x.fo = undefined;
  }

  // ---------------------------------------------------------------- reliable unicast (§7.3, §7.4)

  private encodeForSend(message: TipcMessage, dest: number, broadcast: boolean): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = this.codec.encode(message);
    } catch (e) {
      throw new LinkEngineError("BAD_MESSAGE", `cannot encode: ${(e as Error).message}`);
    }
    if (bytes.length > MAX_MSG_SIZE)
      throw new LinkEngineError("TOO_LARGE", `message of ${bytes.length} bytes`);
    const u = userOf(bytes);
    if (u === USER_LINK_CONFIG || u === USER_LINK_PROTOCOL) {
      throw new LinkEngineError("BAD_MESSAGE", "discovery and link protocol messages are the engine's own");
    }
    const copy = bytes.slice();
    stampHeader(copy, {
      nonSeq: broadcast,
      seqno: 0,
      ack: 0,
      bcastAck: 0,
      prevNode: this.address,
      origNode: this.address,
      destNode: dest,
      ...(broadcast ? { netId: this.netId } : {}),
    });
    return copy;
  }

  /** Splits a message larger than the MTU into MSG_FRAGMENTER packets (§1.4). */
  private fragment(bytes: Uint8Array, mtu: number, dest: number, broadcast: boolean): Uint8Array[] {
    if (bytes.length <= mtu) return [bytes];
    const chunk = mtu - INT_H_SIZE;
    const n = Math.ceil(bytes.length / chunk);
    const out: Uint8Array[] = [];
    const importance = userOf(bytes) < 4 ? userOf(bytes) : SYSTEM_IMPORTANCE;
    for (let i = 0; i < n; i++) {
      const f: FragmenterMessage = {
        user: "MSG_FRAGMENTER",
        type: i === 0 ? "FIRST_FRAGMENT" : i === n - 1 ? "LAST_FRAGMENT" : "FRAGMENT",
        ...this.msgHeader(dest, broadcast),
        fragmentNumber: i + 1,
        fragmentCount: 0,
        importance,
        data: bytes.subarray(i * chunk, Math.min(bytes.length, (i + 1) * chunk)),
      };
      out.push(this.codec.encode(f));
      this.st.fragmentsSent++;
    }
    return out;
  }

  private bundle(msgs: Uint8Array[], dest: number, broadcast: boolean): Uint8Array {
    const b: BundlerMessage = {
      user: "MSG_BUNDLER",
      type: "BUNDLE",
      ...this.msgHeader(dest, broadcast),
      importance: SYSTEM_IMPORTANCE,
      messages: msgs,
    };
    this.st.bundlesSent++;
    this.st.bundledMessages += msgs.length;
    return this.codec.encode(b);
  }

  /** Queue for the backlog, bundling small messages into the tail when they fit (tipc_msg_try_bundle). */
  private toBacklog(backlog: BacklogEntry[], pkt: Uint8Array, mtu: number): void {
    const u = userOf(pkt);
    // never a fragment, a tunnel packet (the kernel does not open a tunnel found in a bundle) or
    // a BCAST_PROTOCOL message (the codec's canBundle), nor a bundle
    const bundleable = u !== USER_MSG_BUNDLER && canBundle(pkt);
    const size = align4(pkt.length);
    const tail = backlog[backlog.length - 1];
    if (bundleable && tail?.bundleable && INT_H_SIZE + tail.size + size <= mtu) {
      tail.msgs.push(pkt);
      tail.size += size;
      return;
    }
    backlog.push({ msgs: [pkt], size, bundleable });
  }

  private linkXmit(p: Peer, l: Link, pkts: Uint8Array[], now: number): void {
    for (const pkt of pkts) {
      if (l.backlog.length === 0 && l.transmq.length < this.window) this.linkSendNew(p, l, pkt);
      else this.toBacklog(l.backlog, pkt, l.mtu);
    }
    void now;
  }

  private linkSendNew(p: Peer, l: Link, pkt: Uint8Array): void {
    const seqno = l.sndNxt;
    l.sndNxt = mod16(l.sndNxt + 1);
    stampHeader(pkt, {
      nonSeq: false,
      seqno,
      ack: mod16(l.rcvNxt - 1),
      bcastAck: this.bcAckValue(p),
      prevNode: this.address,
    });
    l.transmq.push({ seqno, bytes: pkt, lastRetransmit: Number.NEGATIVE_INFINITY, firstRetransmit: -1 });
    l.rcvUnacked = 0;
    this.st.unicastSent++;
    this.transmit(l.bearer, l.mediaAddress, pkt);
  }

  private advanceBacklog(p: Peer, l: Link): void {
    while (l.backlog.length > 0 && l.transmq.length < this.window) {
      const e = l.backlog.shift() as BacklogEntry;
      const pkt = e.msgs.length === 1 ? (e.msgs[0] as Uint8Array) : this.bundle(e.msgs, p.address, false);
      this.linkSendNew(p, l, pkt);
    }
  }

  /** Release up to `ack`, retransmit (ack, ack + gap] (tipc_link_advance_transmq). */
  private advanceTransmq(p: Peer, l: Link, ack: number, gap: number, now: number): void {
    if (more(ack, mod16(l.sndNxt - 1))) {
      // an ack for packets we never sent (forged, or the peer took forged packets for ours):
      // releasing on it would lose what the peer does not have; the peer's gap check resyncs
      this.drop("ack-ahead");
      return;
    }
    let released = 0;
    while (l.transmq.length > 0 && lessEq((l.transmq[0] as TxEntry).seqno, ack)) {
      l.transmq.shift();
      released++;
    }
    if (gap > 0 && !this.retransmitRange(p, l, ack, gap, now)) return;
    if (released > 0) this.advanceBacklog(p, l);
  }

  /** Retransmits (after, after + gap]; false if the link failed (retransmission failure). */
  private retransmitRange(p: Peer, l: Link, after: number, gap: number, now: number): boolean {
    const to = mod16(after + gap);
    for (const e of l.transmq) {
      if (more(e.seqno, to)) break;
      if (lessEq(e.seqno, after)) continue;
      if (now - e.lastRetransmit < UC_RETRANSMIT_SPACING) continue;
      if (e.firstRetransmit < 0) e.firstRetransmit = now;
      else if (now - e.firstRetransmit > l.tolerance * 10 && e === l.transmq[0]) {
        this.linkDown(p, l, "retransmit-failure", now, true);
        return false;
      }
      e.lastRetransmit = now;
      const copy = e.bytes.slice();
      restampAcks(copy, mod16(l.rcvNxt - 1), this.bcAckValue(p));
      this.st.unicastRetransmitted++;
      this.transmit(l.bearer, l.mediaAddress, copy);
    }
    return true;
  }

  private linkRcv(p: Peer, l: Link, b: Uint8Array, h: PeekedHeader, now: number): void {
    if (l.state !== "ESTABLISHED") {
      if (l.state === "ESTABLISHING") this.linkUp(p, l, now);
      this.drop("link-not-up");
      return;
    }
    const seqno = h.seqno;
    if (!this.inWindow(seqno, l.rcvNxt, b, l.recent)) {
      if (this.conflict) this.onConflict(p, l, l.upAt, now);
      return;
    }
    l.silentIntvCnt = 0;
    this.advanceTransmq(p, l, h.ack, 0, now);
    if (p.up && p.bcPeerUp && !bcAckInvalid(b, h.user)) this.bcAckRcv(p, h.bcastAck, 0, now);
    if (!p.up) return;
    if (seqno !== l.rcvNxt) {
      if (!this.defer(l.deferred, seqno, b, l, now)) {
        this.onConflict(p, l, l.upAt, now);
        return;
      }
      const n = l.deferred.size;
      if (n >= 3 && (n - 3) % 16 === 0) this.sendProto(p, l, "STATE");
      return;
    }
    l.stallSince = undefined;
    let next: Uint8Array | undefined = b;
    while (next) {
      l.recent.note(l.rcvNxt, next);
      l.rcvNxt = mod16(l.rcvNxt + 1);
      this.deliverPacket(p, next, "unicast", l, now);
      if (!p.up || l.state !== "ESTABLISHED") return;
      if (++l.rcvUnacked >= TIPC_MIN_LINK_WIN) this.sendProto(p, l, "STATE");
      next = l.deferred.get(l.rcvNxt);
      if (next) l.deferred.delete(l.rcvNxt);
    }
  }

  /**
   * Unbundle, reassemble (in `holder`: the link, the broadcast receiver or a failover context),
   * consume the broadcast init and tunnels, deliver the rest.
   */
  private deliverPacket(
    p: Peer,
    b: Uint8Array,
    via: "unicast" | "broadcast",
    holder: { reasm: Reassembler },
    now: number,
  ): void {
    const u = userOf(b);
    if (u === USER_MSG_FRAGMENTER) {
      const m = this.tryDecode(b);
      if (m?.user !== "MSG_FRAGMENTER") return;
      let whole: Uint8Array | undefined;
      try {
        // a copy: the fragment's bytes are a view into a datagram we do not keep
        whole = holder.reasm.push({ type: m.type, fragmentNumber: m.fragmentNumber, data: m.data.slice() });
      } catch (e) {
        this.drop(reassemblyDrop(e));
        return;
      }
      if (whole) {
        this.st.reassembled++;
        this.deliverPacket(p, whole, via, holder, now);
      }
      return;
    }
    const m = this.tryDecode(b);
    if (!m) return;
    if (m.user === "MSG_BUNDLER") {
      for (const inner of m.messages) this.deliverPacket(p, inner, via, holder, now);
      return;
    }
    if (m.user === "BCAST_PROTOCOL") {
      // tipc_link_bc_init_rcv: seed the broadcast receive link from the unicast synch message
      if (via === "unicast" && !p.bc.synched) {
        p.bc.synched = true;
        p.bc.rcvNxt = mod16(m.lastBcast + 1);
        p.bc.peerSndNxt = p.bc.rcvNxt;
      }
      return;
    }
    if (m.user === "TUNNEL_PROTOCOL" && via === "unicast") {
      this.tunnelRcv(p, m, now);
      return;
    }
    if (m.user === "LINK_PROTOCOL" || m.user === "LINK_CONFIG" || m.user === "TUNNEL_PROTOCOL") {
      this.drop("unexpected-user");
      return;
    }
    this.st.delivered++;
    this.out.push({ kind: "deliver", peer: p.address, message: m, via });
  }

  // ---------------------------------------------------------------- broadcast link (§8)

  private bcAckValue(p: Peer): number {
    return p.bc.synched ? mod16(p.bc.rcvNxt - 1) : 0;
  }

  private bcRcvGap(p: Peer): number {
    const r = p.bc;
    if (!r.synched) return 0;
    const fd = firstDeferred(r.deferred, r.rcvNxt);
    if (fd !== undefined) return mod16(fd - r.rcvNxt);
    if (more(r.peerSndNxt, r.rcvNxt)) return mod16(r.peerSndNxt - r.rcvNxt);
    return 0;
  }

  private bcSyncRcv(p: Peer, l: Link, m: LinkProtocolMessage, now: number): void {
    const r = p.bc;
    if (!r.synched) return;
    const peersSndNxt = mod16(m.lastBcast + 1);
    if (more(peersSndNxt, mod16(r.rcvNxt + this.bcWindowLimit()))) return;
    const news = more(peersSndNxt, r.peerSndNxt);
    r.peerSndNxt = peersSndNxt;
    // the caller answers probes with a STATE carrying bc_gap; without a probe, ask now when the
    // STATE told us of packets we did not know of, else at most once per NACK_RETRY: two peers
    // that both miss broadcast packets would otherwise answer each other's STATE with a STATE,
    // at once and forever, while the gaps stay open (a storm when retransmissions cannot pass)
    if (!m.probe && this.bcRcvGap(p) && (news || l.nackAt === undefined)) {
      this.sendProto(p, l, "STATE");
      this.armNack(l, now);
    }
  }

  private bcWindowLimit(): number {
    return TIPC_MAX_LINK_WIN;
  }

  /** Holds an early packet (unicast or broadcast); false if a different one holds its seqno. */
  private defer(
    deferred: Map<number, Uint8Array>,
    seqno: number,
    b: Uint8Array,
    l: Link,
    now: number,
  ): boolean {
    const held = deferred.get(seqno);
    if (held) {
      if (packetFingerprint(held) !== packetFingerprint(b)) return false;
      this.st.duplicates++;
    } else if (deferred.size >= MAX_DEFERRED) this.drop("deferred-full");
    else {
      deferred.set(seqno, b);
      this.st.deferred++;
      this.armNack(l, now);
    }
    return true;
  }

  /**
   * The receive window check of a sequenced packet (unicast or broadcast): below rcvNxt by at
   * most a send window is a duplicate (a retransmission we already have); anything further
   * behind or more than a window ahead no sender of this link could have sent: a counted drop.
   */
  private inWindow(seqno: number, rcvNxt: number, b: Uint8Array, recent: RecentPackets): boolean {
    if (less(seqno, rcvNxt)) {
      if (seqDiff(seqno, rcvNxt) > TIPC_MAX_LINK_WIN) this.drop("out-of-window");
      else if (recent.conflicts(seqno, b)) this.conflict = true;
      else this.st.duplicates++;
      return false;
    }
    if (more(seqno, mod16(rcvNxt + TIPC_MAX_LINK_WIN))) {
      this.drop("out-of-window");
      return false;
    }
    return true;
  }

  private bcRcv(b: Uint8Array, h: PeekedHeader, from: MediaAddress, bearer: number, now: number): void {
    if (h.word5 !== this.netId) {
      this.drop("other-cluster");
      return;
    }
    const p = this.peers.get(h.prevNode);
    if (!p || !hasLinks(p)) {
      this.drop("unknown-node");
      return;
    }
    // broadcast-link packets come from the peer's own address on the bearer they arrive on
    // (a multicast datagram's source is the sender's socket), as unicast ones do
    const lb = p.links[bearer];
    if (!lb || !sameSource(from, lb.mediaAddress)) {
      this.drop("source-mismatch");
      return;
    }
    const l = p.active;
    if (!p.up || !l) {
      this.drop("link-not-up");
      return;
    }
    const r = p.bc;
    if (!r.synched) {
      this.drop("broadcast-unsynched");
      return;
    }
    const seqno = h.seqno;
    if (!this.inWindow(seqno, r.rcvNxt, b, r.recent)) {
      if (this.conflict) this.onConflict(p, l, r.since, now);
      return;
    }
    if (seqno !== r.rcvNxt) {
      if (!this.defer(r.deferred, seqno, b, l, now)) {
        this.onConflict(p, l, r.since, now);
        return;
      }
      // staggered NACKs: about one in 16 deferrals, offset by our address
      if ((++r.defCnt & 0xf) === (this.address & 0xf)) this.sendProto(p, l, "STATE");
      return;
    }
    r.stallSince = undefined;
    let sendState = false;
    let next: Uint8Array | undefined = b;
    while (next) {
      r.recent.note(r.rcvNxt, next);
      r.rcvNxt = mod16(r.rcvNxt + 1);
      r.unacked++;
      this.deliverPacket(p, next, "broadcast", r, now);
      if (!p.up || p.bc !== r) return;
      if (((r.rcvNxt ^ this.address) & 0xf) === 0xf) sendState = true;
      next = r.deferred.get(r.rcvNxt);
      if (next) r.deferred.delete(r.rcvNxt);
    }
    if (sendState && p.active) this.sendProto(p, p.active, "STATE");
  }

  private bcXmit(pkt: Uint8Array, mtu: number, now: number): void {
    if (this.bcBacklog.length === 0 && this.bcTransmq.length < this.bcWindow) this.bcSendNew(pkt, now);
    else this.toBacklog(this.bcBacklog, pkt, mtu);
  }

  private bcSendNew(pkt: Uint8Array, now: number): void {
    const seqno = this.bcSndNxt;
    this.bcSndNxt = mod16(this.bcSndNxt + 1);
    stampHeader(pkt, {
      nonSeq: true,
      seqno,
      ack: 0,
      bcastAck: 0,
      prevNode: this.address,
      netId: this.netId,
      destNode: 0,
    });
    const pending = new Set<number>();
    for (const p of this.peers.values()) {
      if (!p.up) continue;
      if (p.bcSynch !== undefined) {
        if (lessEq(seqno, p.bcSynch)) continue; // queued before the peer came up: not for it
        p.bcSynch = undefined;
      }
      pending.add(p.address);
    }
    this.st.broadcastSent++;
    if (pending.size === 0) return;
    this.bcTransmq.push({ seqno, bytes: pkt, sentAt: now, pending, lastRetransmit: new Map() });
    if (this.bearers.length === 1 && (this.bearers[0] as BearerInfo).canBroadcast) {
      this.transmit(0, "broadcast", pkt);
      return;
    }
    // one datagram per broadcast bearer that reaches someone, one copy per peer reached by none
    let viaBearers = 0;
    const copies: Peer[] = [];
    for (const a of pending) {
      const p = this.peers.get(a);
      if (!p) continue;
      const b = this.bcBearer(p);
      if (b >= 0) viaBearers |= 1 << b;
      else copies.push(p);
    }
    for (let b = 0; b < this.bearers.length; b++)
      if (viaBearers & (1 << b)) this.transmit(b, "broadcast", pkt);
    for (const p of copies) if (p.active) this.transmit(p.active.bearer, p.active.mediaAddress, pkt);
  }

  /**
   * The broadcast bearer a peer gets broadcast-link packets on: the first enabled bearer that
   * can broadcast and has an established link to it, or -1 (then a copy goes on its active link).
   */
  private bcBearer(p: Peer): number {
    for (let b = 0; b < this.bearers.length; b++) {
      if ((this.bearers[b] as BearerInfo).canBroadcast && p.links[b]?.state === "ESTABLISHED") return b;
    }
    return -1;
  }

  private bcAdvance(now: number): void {
    while (this.bcTransmq.length > 0 && (this.bcTransmq[0] as BcEntry).pending.size === 0)
      this.bcTransmq.shift();
    while (this.bcBacklog.length > 0 && this.bcTransmq.length < this.bcWindow) {
      const e = this.bcBacklog.shift() as BacklogEntry;
      const pkt = e.msgs.length === 1 ? (e.msgs[0] as Uint8Array) : this.bundle(e.msgs, 0, true);
      this.bcSendNew(pkt, now);
    }
  }

  /** tipc_link_bc_ack_rcv: a peer's bcast_ack (and bc_gap NACK) for our broadcast link. */
  private bcAckRcv(p: Peer, acked: number, gap: number, now: number, block?: GapAckBlock): void {
    if (!p.up || !p.bcPeerUp) return;
    if (block) {
      this.bcRetransmit(p, block.ack, block.gap, now);
      return;
    }
    if (less(acked, p.bcAcked) || (acked === p.bcAcked && !gap)) return;
    if (more(acked, mod16(this.bcSndNxt - 1))) {
      this.drop("bcast-ack-ahead");
      return;
    }
    for (const e of this.bcTransmq) {
      if (more(e.seqno, acked)) break;
      e.pending.delete(p.address);
    }
    p.bcAcked = acked;
    if (gap > 0) this.bcRetransmit(p, acked, gap, now);
    this.bcAdvance(now);
  }

  private bcRetransmit(p: Peer, after: number, gap: number, now: number): void {
    const l = p.active;
    if (l) {
      const to = mod16(after + gap);
      const viaBearer = this.bcBearer(p);
      for (const e of this.bcTransmq) {
        if (more(e.seqno, to)) break;
        if (lessEq(e.seqno, after) || !e.pending.has(p.address)) continue;
        // a real broadcast bearer retransmits once for every peer that lost the packet (one
        // retransmission per 10 ms per packet, as the kernel); a replicast one only to the asker
        const key = viaBearer >= 0 ? -1 - viaBearer : p.address;
        const last = e.lastRetransmit.get(key) ?? Number.NEGATIVE_INFINITY;
        if (now - last < BC_RETRANSMIT_SPACING) continue;
        e.lastRetransmit.set(key, now);
        this.st.broadcastRetransmitted++;
        if (viaBearer >= 0) this.transmit(viaBearer, "broadcast", e.bytes);
        else this.transmit(l.bearer, l.mediaAddress, e.bytes);
      }
    }
    this.bcAdvance(now);
  }

  /** A peer left: it no longer holds back any broadcast packet. */
  private bcRemovePeer(addr: number, now: number): void {
    for (const e of this.bcTransmq) e.pending.delete(addr);
    this.bcAdvance(now);
  }

  /** A peer that never acks a broadcast packet for tolerance x 10 is reset, as the kernel does. */
  private bcCheckFailure(now: number): void {
    const head = this.bcTransmq[0];
    if (!head || now - head.sentAt <= this.tolerance * 10) return;
    for (const a of [...head.pending]) {
      const p = this.peers.get(a);
      if (p?.active && p.up) this.linkDown(p, p.active, "broadcast-failure", now, true);
    }
  }
}

function newBcRcv(now = 0): BcRcv {
  return {
    synched: false,
    rcvNxt: 0,
    deferred: new Map(),
    recent: new RecentPackets(),
    since: now,
    unacked: 0,
    defCnt: 0,
    peerSndNxt: 0,
    stallSince: undefined,
    reasm: new Reassembler(),
  };
}
