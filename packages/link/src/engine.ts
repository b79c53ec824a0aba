/**
 * The link engine (what the kernel spreads over node.c's tipc_rcv routing and the timers): the
 * public API of api.ts, each received datagram routed to discovery, the broadcast receiver or
 * the peer's link, `tick` and the next deadline. The protocol itself lives in the parts:
 * discover.ts, node.ts, link.ts, bcast.ts, failover.ts, segment.ts (see the README's file map).
 */
import {
  less,
  mod16,
  more,
  nodeIdToString,
  readLinkHeader,
  TIPC_BCAST_STATE_NACK,
  TIPC_BCAST_SYNCH,
  TIPC_DISC_INIT,
  TIPC_LINK_PROTO_SEQNO,
  TIPC_MAX_LINK_TOL,
  TIPC_MAX_LINK_WIN,
  TIPC_MIN_LINK_TOL,
  TIPC_MIN_LINK_WIN,
  TIPC_NAMED_BCAST,
  TIPC_NODE_ID128,
  TIPC_TRIAL_PERIOD,
  TIPC_TUNNEL_ENHANCED,
  type TipcMessage,
  USER,
} from "@tipcjs/codec";
import type { LinkEngine, LinkPropertiesUpdate } from "./api.js";
import { bcAdvance, bcCheckFailure, bcRcv, bcRcvGap, bcXmit } from "./bcast.js";
import { Core } from "./core.js";
import { discoveryRcv, discoveryTimeout, sendDiscovery } from "./discover.js";
import { LinkEngineError } from "./errors.js";
import {
  advanceBacklog,
  armNack,
  backlogCongested,
  backlogState,
  backOffNack,
  linkRcv,
  linkTimeout,
  linkXmit,
  protoRcv,
  resetLink,
  sameSource,
  sendProto,
  setTolerance,
} from "./link.js";
import { linkDown, NODE_CLEANUP_AFTER, UNLINKED_EXPIRY } from "./node.js";
import { type BacklogEntry, encodeForSend, fragment } from "./segment.js";
import type {
  BearerInfo,
  LinkEngineOptions,
  LinkInfo,
  LinkOutput,
  LinkStats,
  MediaAddress,
  NodeInfo,
} from "./types.js";

/**
 * What this engine implements and therefore advertises by default: the broadcast synch
 * message (BCAST_SYNCH), broadcast NACKs in STATE (BCAST_STATE_NACK), 128-bit ids, STATE
 * counters (LINK_PROTO_SEQNO), broadcast-link name updates (NAMED_BCAST) and fragmented
 * FAILOVER tunnels with a header-only SYNCH (TUNNEL_ENHANCED).
 * Gap-ACK blocks are understood only as plain seq_gap/bc_gap, so they are not advertised.
 */
/** The broadcast link's name in `links()`, counters and `setLinkProperties` (as the kernel's). */
export const BROADCAST_LINK_NAME = "broadcast-link";

export const DEFAULT_CAPABILITIES =
  TIPC_BCAST_SYNCH |
  TIPC_BCAST_STATE_NACK |
  TIPC_NODE_ID128 |
  TIPC_LINK_PROTO_SEQNO |
  TIPC_NAMED_BCAST |
  TIPC_TUNNEL_ENHANCED;

export function createLinkEngine(options: LinkEngineOptions): LinkEngine {
  return new Engine(options);
}

class Engine extends Core implements LinkEngine {
  constructor(o: LinkEngineOptions) {
    super(o, DEFAULT_CAPABILITIES);
  }

  start(now: number): void {
    if (this.started) return;
    this.started = true;
    if (this.trial) {
      this.trialEnd = now + TIPC_TRIAL_PERIOD;
      this.discInterval = TIPC_DISC_INIT;
      sendDiscovery(this, "DSC_TRIAL");
    } else {
      this.finalizeAddress();
      sendDiscovery(this, "DSC_REQ");
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
    const h = readLinkHeader(bytes);
    if (!h) {
      this.drop("malformed");
      return;
    }
    const b = h.size < bytes.byteLength ? bytes.subarray(0, h.size) : bytes;
    if (h.user === USER.LINK_CONFIG) {
      discoveryRcv(this, b, bearer, now);
      return;
    }
    if (!this.addressed) {
      this.drop("not-addressed");
      return;
    }
    if (h.nonSeq) {
      bcRcv(this, b, h, from, bearer, now);
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
    if (h.user === USER.LINK_PROTOCOL) {
      const m = this.tryDecode(b);
      if (m?.user !== "LINK_PROTOCOL") return;
      protoRcv(this, p, l, m, now);
      return;
    }
    linkRcv(this, p, l, b, h, now);
  }

  disableBearer(bearer: number, now: number): void {
    this.checkBearer(bearer);
    if (this.bearerOff[bearer]) return;
    this.bearerOff[bearer] = true;
    for (const p of this.peers.values()) {
      const l = p.links[bearer];
      if (!l) continue;
      if (l.state === "ESTABLISHED") linkDown(this, p, l, "bearer-disabled", now, false);
      else resetLink(this, l);
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
      sendDiscovery(this, "DSC_REQ", bearer);
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
    discoveryTimeout(this, now);
    for (const p of [...this.peers.values()]) {
      let idle = true;
      for (const l of p.links) {
        if (!l) continue;
        const off = this.bearerOff[l.bearer] === true;
        if (now >= l.nextTimer) {
          l.nextTimer = now + l.interval;
          if (!off) linkTimeout(this, p, l, now);
        }
        if (l.nackAt !== undefined && now >= l.nackAt) {
          l.nackAt = undefined;
          if (l.state === "ESTABLISHED" && (l.deferred.size > 0 || bcRcvGap(p) > 0)) {
            sendProto(this, p, l, "STATE");
            backOffNack(l);
            armNack(this, l, now);
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
    bcCheckFailure(this, now);
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

  sendUnicast(peer: number, message: TipcMessage, now: number): void {
    if (this.stopped) throw new LinkEngineError("STOPPED", "engine stopped");
    const p = this.peers.get(peer);
    if (!p) throw new LinkEngineError("NO_SUCH_PEER", `no peer ${peer.toString(16)}`);
    const l = p.active;
    if (!p.up || !l) throw new LinkEngineError("PEER_DOWN", `peer ${peer.toString(16)} is down`);
    const bytes = encodeForSend(this, message, peer, false);
    linkXmit(this, p, l, fragment(this, bytes, l.mtu, peer, false), now);
  }

  sendBroadcast(message: TipcMessage, now: number): void {
    if (this.stopped) throw new LinkEngineError("STOPPED", "engine stopped");
    if (!this.addressed) throw new LinkEngineError("NOT_ADDRESSED", "address trial not finished");
    let mtu = Number.POSITIVE_INFINITY;
    for (const p of this.peers.values()) if (p.up && p.active) mtu = Math.min(mtu, p.active.mtu);
    if (mtu === Number.POSITIVE_INFINITY) for (const b of this.bearers) mtu = Math.min(mtu, b.mtu);
    const bytes = encodeForSend(this, message, 0, true);
    for (const pkt of fragment(this, bytes, mtu, 0, true)) bcXmit(this, pkt, mtu, now);
  }

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
    sendProto(this, p, l, "STATE", { probe: true }); // a probe is answered at once, with the ack
    return true;
  }

  // ------------------------------------------- backlog per importance (issue 16, api.ts)
  // The limits and the counting are the link's (link.ts); the engine finds the queue.

  private backlogOf(peer: number): { q: BacklogEntry[]; window: number } | undefined {
    if (peer === 0) return { q: this.bc.backlog, window: this.bcWindow };
    const p = this.peers.get(peer);
    const l = p?.up ? p.active : undefined;
    return l?.state === "ESTABLISHED" ? { q: l.backlog, window: l.window } : undefined;
  }

  backlogState(peer: number): import("./api.js").BacklogState | undefined {
    const b = this.backlogOf(peer);
    return b === undefined ? undefined : backlogState(b.q, b.window);
  }

  backlogCongested(peer: number, importance: number): boolean {
    const b = this.backlogOf(peer);
    return b !== undefined && backlogCongested(b.q, b.window, importance);
  }

  stop(now: number): void {
    if (this.stopped) return;
    this.stopping = true;
    for (const p of this.peers.values()) {
      for (const l of p.links) {
        if (!l) continue;
        // reset first (new session), so that the peer accepts the RESET as news
        if (l.state === "ESTABLISHED") linkDown(this, p, l, "stopped", now, false);
        else resetLink(this, l);
        sendProto(this, p, l, "RESET", { stopping: true });
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
        nodeIdString: nodeIdToString(p.nodeId),
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
          window: l.window,
        });
      }
    }
    return r;
  }

  setLinkProperties(name: string, properties: LinkPropertiesUpdate, now: number): void {
    const { tolerance, window } = properties;
    const inRange = (v: number | undefined, lo: number, hi: number) =>
      v === undefined || (Number.isInteger(v) && v >= lo && v <= hi);
    if (!inRange(tolerance, TIPC_MIN_LINK_TOL, TIPC_MAX_LINK_TOL))
      throw new LinkEngineError(
        "BAD_OPTIONS",
        `tolerance ${tolerance} is outside ${TIPC_MIN_LINK_TOL}..${TIPC_MAX_LINK_TOL} ms`,
      );
    if (!inRange(window, TIPC_MIN_LINK_WIN, TIPC_MAX_LINK_WIN))
      throw new LinkEngineError(
        "BAD_OPTIONS",
        `window ${window} is outside ${TIPC_MIN_LINK_WIN}..${TIPC_MAX_LINK_WIN} packets`,
      );
    if (name === BROADCAST_LINK_NAME) {
      if (tolerance !== undefined)
        throw new LinkEngineError(
          "BAD_OPTIONS",
          "the broadcast link has no tolerance of its own; set a window",
        );
      if (window !== undefined) {
        this.bcWindow = window;
        bcAdvance(this, now); // a larger window takes backlog at once
      }
      return;
    }
    for (const p of this.peers.values()) {
      for (const l of p.links) {
        if (l === undefined || l.name !== name) continue;
        if (window !== undefined) {
          l.window = window;
          if (l.state === "ESTABLISHED") advanceBacklog(this, p, l);
        }
        if (tolerance !== undefined) {
          setTolerance(l, tolerance);
          if (l.state === "ESTABLISHED") sendProto(this, p, l, "STATE", { tolerance });
        }
        return;
      }
    }
    throw new LinkEngineError("NO_SUCH_LINK", `no link ${JSON.stringify(name)}`);
  }

  stats(): LinkStats {
    return {
      ...this.st,
      broadcastTransmitQueue: this.bc.transmq.length,
      broadcastBacklog: this.bc.backlog.length,
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
}
