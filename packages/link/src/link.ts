/**
 * One unicast link to a peer on one bearer (the kernel's link.c): its state machine (LINK_FSM),
 * the link protocol (RESET, ACTIVATE, STATE with acks, NACKs and probes), supervision, the send
 * window with its backlog and retransmission, and the receive window (in order, deferred,
 * deduplicated, NACKed; shared with the broadcast receiver).
 */
import {
  isBcAckInvalid,
  type LinkHeader,
  type LinkProtocolMessage,
  type LinkProtocolType,
  less,
  lessEq,
  mediaAddressEquals,
  mod16,
  more,
  nodeIdToString,
  Reassembler,
  seqDiff,
  TIPC_GAP_ACK_BLOCK,
  TIPC_LINK_PROTO_SEQNO,
  TIPC_MAX_LINK_TOL,
  TIPC_MAX_LINK_WIN,
  TIPC_MIN_LINK_TOL,
  TIPC_MIN_LINK_WIN,
  writeAcks,
  writeLinkFields,
} from "@tipcjs/codec";
import type { BacklogState } from "./api.js";
import { bcAckRcv, bcAckValue, bcRcvGap, bcSyncRcv } from "./bcast.js";
import type { Core } from "./core.js";
import { mayContact } from "./discover.js";
import type { FailoverRcv } from "./failover.js";
import { linkDown, linkUp, type Peer } from "./node.js";
import { packetFingerprint, RecentPackets } from "./recent.js";
import { type BacklogEntry, bundle, deliverPacket, entryImportances, toBacklog } from "./segment.js";
import type { BearerInfo, LinkDownReason, LinkState, MediaAddress } from "./types.js";

/** Unicast retransmission spacing per packet (ms), §7.4. */
const UC_RETRANSMIT_SPACING = 1;
/**
 * A receive gap (unicast or broadcast) that has not closed, with no packet delivered in order,
 * for this many link tolerances resets the peer (a "resync", see stall). A real gap closes in
 * a few round trips (NACKs repeat while one is open, see armNack); twice the
 * tolerance is longer than the silence timeout, so a partition is still reported as
 * "tolerance", and shorter than the 10 x tolerance after which the sender gives up on a packet.
 * What stalls for that long cannot be repaired: packets the peer never sent (forged, or from an
 * old incarnation) hold the place of its real ones, and every later update would wait forever.
 */
const RESYNC_TOLERANCES = 2;
/**
 * Repeat a NACK for a gap still open after this long (ms), doubled at each repeat while no packet
 * arrives in order, up to the link timer's interval (when the kernel NACKs on its probes); see
 * armNack.
 */
export const NACK_RETRY = 20;
/**
 * Early packets held per link. The kernel's receive window is 8191 packets, but no sender's
 * send window is above a few hundred (50 on UDP); the cap bounds memory against a bad peer.
 */
const MAX_DEFERRED = 1024;

// ------------------------------------------------------------------------------ state machine

/** What happens to a link: a link protocol message from the peer, other traffic, its timer. */
type LinkEvent = "peer-reset" | "peer-activate" | "peer-state" | "peer-stopping" | "traffic" | "timeout";

interface Transition {
  /** the link goes down first, for this reason (a failover when the node has another link) */
  down?: LinkDownReason;
  /** the state it is in after the event */
  to: LinkState;
  /**
   * what follows: "up" the link comes up (linkUp), "send-activate" / "send-reset" answer,
   * "receive" an established link takes the message in, "supervise" the established timer
   */
  action?: "up" | "send-activate" | "send-reset" | "receive" | "supervise";
}

/**
 * The link's state machine: for each state, what each event does. The kernel's
 * tipc_link_fsm_evt in three states: its RESETTING is our RESET, its PEER_RESET our
 * ESTABLISHING; its FAILINGOVER is a RESET link whose peer's tunnel is still draining (`fo`,
 * which holds RESET and ACTIVATE back), and SYNCHING is never entered (no load sharing).
 * A RESET from the peer (a new session) takes any link to ESTABLISHING with an ACTIVATE in
 * reply; an ACTIVATE, a STATE or traffic brings an ESTABLISHING link up.
 */
export const LINK_FSM: Readonly<Record<LinkState, Readonly<Record<LinkEvent, Transition>>>> = {
  RESET: {
    "peer-reset": { to: "ESTABLISHING", action: "send-activate" },
    "peer-activate": { to: "ESTABLISHING", action: "up" },
    "peer-state": { to: "RESET" },
    "peer-stopping": { to: "RESET" },
    traffic: { to: "RESET" },
    timeout: { to: "RESET", action: "send-reset" },
  },
  ESTABLISHING: {
    "peer-reset": { to: "ESTABLISHING", action: "send-activate" },
    "peer-activate": { to: "ESTABLISHING", action: "up" },
    "peer-state": { to: "ESTABLISHING", action: "up" },
    "peer-stopping": { to: "RESET" },
    traffic: { to: "ESTABLISHING", action: "up" },
    timeout: { to: "ESTABLISHING", action: "send-activate" },
  },
  ESTABLISHED: {
    "peer-reset": { down: "peer-reset", to: "ESTABLISHING", action: "send-activate" },
    "peer-activate": { to: "ESTABLISHED" },
    "peer-state": { to: "ESTABLISHED", action: "receive" },
    "peer-stopping": { down: "peer-stopping", to: "RESET" },
    traffic: { to: "ESTABLISHED", action: "receive" },
    timeout: { to: "ESTABLISHED", action: "supervise" },
  },
};

// ------------------------------------------------------------------------------ the link

/** A packet in a unicast send window. */
export interface TxEntry {
  seqno: number;
  bytes: Uint8Array;
  lastRetransmit: number;
  firstRetransmit: number;
}

export interface Link {
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
  /** send window, packets (the engine's until `tipc link set window` changes this link's) */
  window: number;
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
  /** the wait before the next NACK repeat: NACK_RETRY, doubled per repeat without progress */
  nackRetry: number;
  /** the peer's snd_nxt as its last STATE told (undefined until one arrives) */
  peerSndNxt: number | undefined;
  /** since when a receive gap has stayed open without progress (see RESYNC_TOLERANCES) */
  stallSince: number | undefined;
  /** set while the peer's FAILOVER tunnel for this link's last session is being received */
  fo: FailoverRcv | undefined;
}

/**
 * Whether a datagram's source is the peer's media address (ipv6 compared in canonical form: a
 * transport may spell an address otherwise than the peer's discovery message does).
 */
export function sameSource(from: MediaAddress, known: MediaAddress): boolean {
  return from !== undefined && mediaAddressEquals(from, known);
}

/** The first deferred seqno after rcvNxt (the deferred map is unordered). */
export function firstDeferred(deferred: Map<number, Uint8Array>, rcvNxt: number): number | undefined {
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

export function newLink(c: Core, p: Peer, bearer: number, mediaAddress: MediaAddress, now: number): Link {
  const interval = Math.min(Math.floor(c.tolerance / 4), 500);
  const b = c.bearers[bearer] as BearerInfo;
  return {
    bearer,
    mediaAddress,
    peerBearerId: 0,
    state: "RESET",
    name: `${c.nodeIdText}:${b.name}-${nodeIdToString(p.nodeId)}:unknown`,
    peerIfName: "unknown",
    session: Math.floor(c.random() * 0x10000) & 0xffff,
    peerSession: 0,
    inSession: false,
    mtu: b.mtu,
    tolerance: c.tolerance,
    window: c.window,
    interval,
    abortLimit: Math.floor(c.tolerance / interval),
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
    nackRetry: NACK_RETRY,
    peerSndNxt: undefined,
    stallSince: undefined,
    fo: undefined,
  };
}

/** tipc_link_reset: new session, empty queues, sequence numbers back to 1. */
export function resetLink(c: Core, l: Link): void {
  l.session = mod16(l.session + 1);
  l.peerSession = mod16(l.peerSession - 1);
  l.inSession = false;
  l.state = "RESET";
  l.mtu = (c.bearers[l.bearer] as BearerInfo).mtu;
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
  l.nackRetry = NACK_RETRY;
  l.peerSndNxt = undefined;
  l.stallSince = undefined;
}

/** The link timer (tipc_link_timeout): what LINK_FSM says a timeout does in the link's state. */
export function linkTimeout(c: Core, p: Peer, l: Link, now: number): void {
  switch (LINK_FSM[l.state].timeout.action) {
    case "supervise":
      supervise(c, p, l, now);
      return;
    case "send-reset": {
      const setup = l.rstCnt++ <= 4 || l.rstCnt % 16 === 0;
      // a link whose failover tunnel is still draining stays down (the kernel's FAILINGOVER)
      if (setup && !l.fo?.remaining && mayContact(c, p, now, "reset-rate-limited"))
        sendProto(c, p, l, "RESET");
      return;
    }
    case "send-activate":
      if (++l.silentIntvCnt > l.abortLimit) {
        // ESTABLISHING for a whole tolerance: back to RESET, out of session. The kernel has no
        // such exit; without it a RESET forged with a guessed session left the link ESTABLISHING
        // in that session, refusing the real peer's RESET/ACTIVATE as stale for good (issue 14)
        resetLink(c, l);
      } else if (mayContact(c, p, now, "reset-rate-limited")) sendProto(c, p, l, "ACTIVATE");
      return;
  }
}

/** An established link's timer: down when silent past the tolerance, else a STATE or probe. */
function supervise(c: Core, p: Peer, l: Link, now: number): void {
  if (l.silentIntvCnt > l.abortLimit) {
    linkDown(c, p, l, "tolerance", now, true);
    return;
  }
  if (stalled(c, p, l, now)) return;
  const state = (p.active === l && p.bc.unacked > 0) || l.rcvUnacked > 0 || l.transmq.length > 0;
  let probe = l.silentIntvCnt > 0;
  // below the monitor threshold every tick counts as silent until something arrives
  l.silentIntvCnt++;
  if (l.deferred.size > 0) probe = true;
  if (l.sndNxt === l.checkpoint) probe = true;
  l.checkpoint = l.sndNxt;
  if (state || probe) sendProto(c, p, l, "STATE", { probe });
}

/**
 * Checked at every link timer: a gap on this link, or on the peer's broadcast link (checked on
 * its active link), that stays open without progress for RESYNC_TOLERANCES x the tolerance
 * resets the node (counted in `resyncs` and as a "resync" drop); true if it did. "Open" also
 * covers holding packets the peer's STATE says it never sent (our rcv_nxt past its snd_nxt):
 * then its real packets look like duplicates and no gap ever shows.
 */
export function stalled(c: Core, p: Peer, l: Link, now: number): boolean {
  const bound = l.tolerance * RESYNC_TOLERANCES;
  const ucOpen = l.deferred.size > 0 || (l.peerSndNxt !== undefined && more(l.rcvNxt, l.peerSndNxt));
  if (!ucOpen) l.stallSince = undefined;
  else if (l.stallSince === undefined) l.stallSince = now;
  else if (now - l.stallSince > bound) {
    resync(c, p, l, now);
    return true;
  }
  const r = p.bc;
  if (p.active !== l || !p.up || !r.synched) return false;
  const bcOpen = bcRcvGap(p) > 0 || more(r.rcvNxt, r.peerSndNxt);
  if (!bcOpen) r.stallSince = undefined;
  else if (r.stallSince === undefined) r.stallSince = now;
  else if (now - r.stallSince > bound) {
    resync(c, p, l, now);
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
export function onConflict(c: Core, p: Peer, l: Link, since: number, now: number): void {
  c.conflict = false;
  c.drop("conflicting-duplicate");
  if (now - since <= l.tolerance || !p.up || l.state !== "ESTABLISHED") return;
  resync(c, p, l, now);
}

export function resync(c: Core, p: Peer, l: Link, now: number): void {
  c.st.resyncs++;
  c.drop("resync");
  linkDown(c, p, l, "resync", now, true);
}

export function sendProto(
  c: Core,
  p: Peer,
  l: Link,
  type: LinkProtocolType,
  o: { probe?: boolean; probeReply?: boolean; seqGap?: number; stopping?: boolean; tolerance?: number } = {},
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
    bcastAck: type === "ACTIVATE" ? 0 : bcAckValue(p),
    destSessionValid: type === "ACTIVATE",
    destSession: type === "ACTIVATE" ? l.peerSession : 0,
    ack: mod16(l.rcvNxt - 1),
    seqno,
    prevNode: c.address,
    // to a peer whose synch point lies past what we have sent: that point (nothing is missing)
    lastBcast: isState && p.bcSynch !== undefined ? p.bcSynch : mod16(c.bc.sndNxt - 1),
    nextSent: l.sndNxt,
    session: l.session,
    bcAckInvalid: !nodeUp,
    peerStopping: !!o.stopping,
    redundantLink: nodeUp,
    bearerId: l.bearer,
    priority: 0,
    netPlane: 0,
    probe: isState && !!o.probe,
    origNode: c.address,
    destNode: p.address,
    bcGap: isState ? Math.min(bcRcvGap(p), 0x3ff) : 0,
    maxPacket: isState ? 0 : (c.bearers[l.bearer] as BearerInfo).mtu,
    // a new tolerance set at run time goes to the peer, which takes it (tipc_link_set_tolerance)
    tolerance: o.tolerance ?? 0,
  };
  if (!isState) m.bearerName = (c.bearers[l.bearer] as BearerInfo).name;
  else if (c.capabilities & p.capabilities & TIPC_GAP_ACK_BLOCK) {
    // one block per side, the same information as seq_gap / bc_gap (unicast only when seq_gap != 0)
    m.gapAcks = {
      broadcast: m.bcGap ? [{ ack: bcAckValue(p), gap: m.bcGap }] : [],
      unicast: m.seqGap ? [{ ack: m.ack, gap: m.seqGap }] : [],
    };
  }
  if (isState) {
    c.st.statesSent++;
    if (o.probe) c.st.probesSent++;
    if (m.seqGap || m.bcGap) c.st.nacksSent++;
    l.rcvUnacked = 0;
    if (p.bc.synched) p.bc.unacked = 0;
  }
  c.transmit(l.bearer, l.mediaAddress, c.codec.encode(m), p.address);
}

export function protoRcv(c: Core, p: Peer, l: Link, m: LinkProtocolMessage, now: number): void {
  // tipc_link_validate_msg
  if (m.type === "RESET") {
    if (l.inSession && !more(m.session, l.peerSession)) {
      c.drop("stale-session");
      return;
    }
  } else if (m.type === "ACTIVATE") {
    if (l.inSession && less(m.session, l.peerSession)) {
      c.drop("stale-session");
      return;
    }
  } else {
    if (!l.inSession || m.session !== l.peerSession) {
      c.drop("stale-session");
      return;
    }
    if (l.state !== "ESTABLISHED" && m.ack !== 0) {
      c.drop("stale-session");
      return;
    }
    if (p.capabilities & TIPC_LINK_PROTO_SEQNO && less(m.seqno, l.rcvNxtState)) {
      c.drop("stale-state");
      return;
    }
  }
  if (m.type !== "STATE") {
    if (m.maxPacket < 128 || m.bearerName === undefined) {
      c.drop("malformed");
      return;
    }
    if (m.tolerance >= TIPC_MIN_LINK_TOL && m.tolerance <= TIPC_MAX_LINK_TOL) setTolerance(l, m.tolerance);
    if (m.peerStopping) {
      const t = LINK_FSM[l.state]["peer-stopping"];
      if (t.down) linkDown(c, p, l, t.down, now, false);
      l.state = t.to;
      return;
    }
    if (m.type === "ACTIVATE" && m.destSessionValid && m.destSession !== l.session) {
      if (less(l.session, m.destSession)) l.session = mod16(m.destSession + 1);
      return;
    }
    if (l.fo?.remaining) {
      // still receiving the peer's FAILOVER tunnel for the last session (LINK_FAILINGOVER)
      c.drop("failing-over");
      return;
    }
    l.peerIfName = m.bearerName || "unknown";
    l.peerBearerId = m.bearerId;
    l.name = `${c.nodeIdText}:${(c.bearers[l.bearer] as BearerInfo).name}-${nodeIdToString(p.nodeId)}:${l.peerIfName}`;
    l.peerLastBcast = m.lastBcast;
    const t = LINK_FSM[l.state][m.type === "RESET" ? "peer-reset" : "peer-activate"];
    if (t.down) linkDown(c, p, l, t.down, now, false);
    if (l.state !== "ESTABLISHING" && t.to === "ESTABLISHING") l.silentIntvCnt = 0; // ticks spent ESTABLISHING (linkTimeout)
    l.state = t.to;
    l.peerSession = m.session;
    l.inSession = true;
    if (l.mtu > m.maxPacket) l.mtu = m.maxPacket;
    if (t.action === "up") linkUp(c, p, l, now);
    else if (t.action === "send-activate") sendProto(c, p, l, "ACTIVATE");
    return;
  }
  // STATE
  l.rcvNxtState = mod16(m.seqno + 1);
  l.peerSndNxt = m.nextSent;
  if (m.tolerance >= TIPC_MIN_LINK_TOL && m.tolerance <= TIPC_MAX_LINK_TOL) setTolerance(l, m.tolerance);
  if (m.priority !== 0 && m.priority <= 31) {
    // we always run priority 0 ("no change"), so any explicit priority differs: the kernel resets
    if (l.state === "ESTABLISHED") {
      linkDown(c, p, l, "priority-change", now, true);
      return;
    }
  }
  l.silentIntvCnt = 0;
  const t = LINK_FSM[l.state]["peer-state"];
  if (t.action !== "receive") {
    if (t.action === "up") linkUp(c, p, l, now);
    return;
  }
  // broadcast: the peer's last_bcast tells us what we may be missing (tipc_link_bc_sync_rcv)
  bcSyncRcv(c, p, l, m, now);
  let rcvgap = 0;
  const reply = m.probe;
  if ((reply || m.isKeepalive) && more(m.nextSent, l.rcvNxt) && l.deferred.size === 0) {
    rcvgap = mod16(m.nextSent - l.rcvNxt);
  }
  if (rcvgap || reply) sendProto(c, p, l, "STATE", { probeReply: reply, seqGap: rcvgap });
  advanceTransmq(c, p, l, m.ack, m.seqGap, now);
  // gap-ACK blocks (TIPC_GAP_ACK_BLOCK): every block's gap is a NACK too
  for (const blk of m.gapAcks?.unicast ?? []) {
    if (l.state !== "ESTABLISHED") break;
    if (blk.gap > 0 && blk.ack !== m.ack) retransmitRange(c, p, l, blk.ack, blk.gap, now);
  }
  if (!m.bcAckInvalid && p.up) {
    if (m.ack !== 0) p.bcPeerUp = true;
    bcAckRcv(c, p, m.bcastAck, m.bcGap, now);
    for (const blk of m.gapAcks?.broadcast ?? []) {
      if (blk.gap > 0 && blk.ack !== m.bcastAck) bcAckRcv(c, p, m.bcastAck, 0, now, blk);
    }
  }
}

/**
 * The kernel NACKs only when its deferred queue reaches 3, 19, 35 ... packets and on probes
 * (every 375 ms), so a lost retransmission in a burst stalls the link for a whole timer
 * interval. We also repeat the NACK while a gap stays open: more STATE messages, which any
 * kernel accepts, and no change to what is acked or retransmitted. The first repeat comes after
 * NACK_RETRY ms; each further one without progress waits twice as long, up to the link's timer
 * interval. A sender retransmits the whole gap at every NACK, so on a path slower than the gap's
 * bytes per NACK_RETRY (a 14,000-byte bundle takes 0.56 s at 200 kbit/s) repeats at a fixed
 * 20 ms sent the same packets again and again before one copy could arrive: the path filled
 * with copies, nothing got through and the link went silent (issue 14, interop scenario (c)).
 */
export function armNack(c: Core, l: Link, now: number): void {
  if (l.nackAt === undefined) {
    l.nackAt = now + l.nackRetry;
    c.lowerDeadline(l.nackAt);
  }
}

/** A NACK repeat went out and the gap is still open: the next waits twice as long (bounded). */
export function backOffNack(l: Link): void {
  l.nackRetry = Math.min(l.nackRetry * 2, Math.max(NACK_RETRY, l.interval));
}

/** A packet arrived in order: the next open gap is NACKed at the quick pace again. */
export function progressNack(l: Link): void {
  l.nackRetry = NACK_RETRY;
}

export function setTolerance(l: Link, tol: number): void {
  l.tolerance = tol;
  l.interval = Math.min(Math.floor(tol / 4), 500);
  l.abortLimit = Math.floor(tol / l.interval);
}

export function linkXmit(c: Core, p: Peer, l: Link, pkts: Uint8Array[], now: number): void {
  for (const pkt of pkts) {
    if (l.backlog.length === 0 && l.transmq.length < l.window) linkSendNew(c, p, l, pkt);
    else toBacklog(l.backlog, pkt, l.mtu);
  }
  void now;
}

export function linkSendNew(c: Core, p: Peer, l: Link, pkt: Uint8Array): void {
  const seqno = l.sndNxt;
  l.sndNxt = mod16(l.sndNxt + 1);
  writeLinkFields(pkt, {
    nonSeq: false,
    seqno,
    ack: mod16(l.rcvNxt - 1),
    bcastAck: bcAckValue(p),
    prevNode: c.address,
  });
  l.transmq.push({ seqno, bytes: pkt, lastRetransmit: Number.NEGATIVE_INFINITY, firstRetransmit: -1 });
  l.rcvUnacked = 0;
  c.st.unicastSent++;
  c.transmit(l.bearer, l.mediaAddress, pkt, p.address);
}

// ------------------------------------------------------------ backlog limits per importance
// The kernel keeps a backlog queue per importance, each with its limit min_win x 2/4/6/8
// (tipc_link_set_queue_limits), and a sender past its limit waits (-ELINKCONG) until the
// backlog drains (link_prepare_wakeup). Here a link (and the broadcast link) has one backlog,
// so the counts per importance are computed from it: an entry (one packet to be, maybe a
// bundle) counts once for each importance among its messages (segment.ts entryImportances).

/** The backlog limit of each importance 0..3 for a send window of `window` packets. */
export function backlogLimit(window: number, importance: number): number {
  return window * 2 * (importance + 1);
}

/** Entries holding each importance 0..3, and the limits for `window` (LinkEngine.backlogState). */
export function backlogState(q: readonly BacklogEntry[], window: number): BacklogState {
  const counts: [number, number, number, number] = [0, 0, 0, 0];
  for (const e of q) {
    const m = entryImportances(e);
    for (let i = 0; i < 4; i++) if (m & (1 << i)) counts[i] = (counts[i] as number) + 1;
  }
  return {
    counts,
    limits: [0, 1, 2, 3].map((i) => backlogLimit(window, i)) as [number, number, number, number],
  };
}

/** `q` holds at least the limit of entries of `importance` (LinkEngine.backlogCongested). */
export function backlogCongested(q: readonly BacklogEntry[], window: number, importance: number): boolean {
  if (!(importance >= 0 && importance <= 3)) return false;
  const limit = backlogLimit(window, importance);
  if (q.length < limit) return false; // cannot hold `limit` entries of this importance
  const bit = 1 << importance;
  let n = 0;
  for (const e of q) if (entryImportances(e) & bit && ++n >= limit) return true;
  return false;
}

export function advanceBacklog(c: Core, p: Peer, l: Link): void {
  while (l.backlog.length > 0 && l.transmq.length < l.window) {
    const e = l.backlog.shift() as BacklogEntry;
    const pkt = e.msgs.length === 1 ? (e.msgs[0] as Uint8Array) : bundle(c, e.msgs, p.address, false);
    linkSendNew(c, p, l, pkt);
  }
}

/** Release up to `ack`, retransmit (ack, ack + gap] (tipc_link_advance_transmq). */
export function advanceTransmq(c: Core, p: Peer, l: Link, ack: number, gap: number, now: number): void {
  if (more(ack, mod16(l.sndNxt - 1))) {
    // an ack for packets we never sent (forged, or the peer took forged packets for ours):
    // releasing on it would lose what the peer does not have; the peer's gap check resyncs
    c.drop("ack-ahead");
    return;
  }
  let released = 0;
  while (l.transmq.length > 0 && lessEq((l.transmq[0] as TxEntry).seqno, ack)) {
    l.transmq.shift();
    released++;
  }
  if (gap > 0 && !retransmitRange(c, p, l, ack, gap, now)) return;
  if (released > 0) advanceBacklog(c, p, l);
}

/** Retransmits (after, after + gap]; false if the link failed (retransmission failure). */
export function retransmitRange(c: Core, p: Peer, l: Link, after: number, gap: number, now: number): boolean {
  const to = mod16(after + gap);
  for (const e of l.transmq) {
    if (more(e.seqno, to)) break;
    if (lessEq(e.seqno, after)) continue;
    if (now - e.lastRetransmit < UC_RETRANSMIT_SPACING) continue;
    if (e.firstRetransmit < 0) e.firstRetransmit = now;
    else if (now - e.firstRetransmit > l.tolerance * 10 && e === l.transmq[0]) {
      linkDown(c, p, l, "retransmit-failure", now, true);
      return false;
    }
    e.lastRetransmit = now;
    const copy = e.bytes.slice();
    writeAcks(copy, mod16(l.rcvNxt - 1), bcAckValue(p));
    c.st.unicastRetransmitted++;
    c.transmit(l.bearer, l.mediaAddress, copy, p.address);
  }
  return true;
}

export function linkRcv(c: Core, p: Peer, l: Link, b: Uint8Array, h: LinkHeader, now: number): void {
  if (l.state !== "ESTABLISHED") {
    if (LINK_FSM[l.state].traffic.action === "up") linkUp(c, p, l, now);
    c.drop("link-not-up");
    return;
  }
  const seqno = h.seqno;
  if (!inWindow(c, seqno, l.rcvNxt, b, l.recent)) {
    if (c.conflict) onConflict(c, p, l, l.upAt, now);
    return;
  }
  l.silentIntvCnt = 0;
  advanceTransmq(c, p, l, h.ack, 0, now);
  if (p.up && p.bcPeerUp && !isBcAckInvalid(b, h.user)) bcAckRcv(c, p, h.bcastAck, 0, now);
  if (!p.up) return;
  if (seqno !== l.rcvNxt) {
    if (!defer(c, l.deferred, seqno, b, l, now)) {
      onConflict(c, p, l, l.upAt, now);
      return;
    }
    const n = l.deferred.size;
    if (n >= 3 && (n - 3) % 16 === 0) sendProto(c, p, l, "STATE");
    return;
  }
  l.stallSince = undefined;
  progressNack(l);
  let next: Uint8Array | undefined = b;
  while (next) {
    l.recent.note(l.rcvNxt, next);
    l.rcvNxt = mod16(l.rcvNxt + 1);
    deliverPacket(c, p, next, "unicast", l, now);
    if (!p.up || l.state !== "ESTABLISHED") return;
    if (++l.rcvUnacked >= TIPC_MIN_LINK_WIN) sendProto(c, p, l, "STATE");
    next = l.deferred.get(l.rcvNxt);
    if (next) l.deferred.delete(l.rcvNxt);
  }
}

/** Holds an early packet (unicast or broadcast); false if a different one holds its seqno. */
export function defer(
  c: Core,
  deferred: Map<number, Uint8Array>,
  seqno: number,
  b: Uint8Array,
  l: Link,
  now: number,
): boolean {
  const held = deferred.get(seqno);
  if (held) {
    if (packetFingerprint(held) !== packetFingerprint(b)) return false;
    c.st.duplicates++;
  } else if (deferred.size >= MAX_DEFERRED) c.drop("deferred-full");
  else {
    deferred.set(seqno, b);
    c.st.deferred++;
    armNack(c, l, now);
  }
  return true;
}

/**
 * The receive window check of a sequenced packet (unicast or broadcast): below rcvNxt by at
 * most a send window is a duplicate (a retransmission we already have); anything further
 * behind or more than a window ahead no sender of this link could have sent: a counted drop.
 */
export function inWindow(
  c: Core,
  seqno: number,
  rcvNxt: number,
  b: Uint8Array,
  recent: RecentPackets,
): boolean {
  if (less(seqno, rcvNxt)) {
    if (seqDiff(seqno, rcvNxt) > TIPC_MAX_LINK_WIN) c.drop("out-of-window");
    else if (recent.conflicts(seqno, b)) c.conflict = true;
    else c.st.duplicates++;
    return false;
  }
  if (more(seqno, mod16(rcvNxt + TIPC_MAX_LINK_WIN))) {
    c.drop("out-of-window");
    return false;
  }
  return true;
}
