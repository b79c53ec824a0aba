/**
 * The broadcast link (the kernel's bcast.c and the broadcast half of link.c). The sender: one
 * send window and backlog for every peer, a packet released when every peer that was up for it
 * has acked it, retransmitted on a peer's NACK, a peer that never acks reset. The receiver, one
 * per peer (BcRcv): synched from the peer's unicast BCAST_PROTOCOL message, then in order,
 * deduplicated and deferred as a unicast link is, acked and NACKed in our link STATE messages.
 */
import {
  type GapAckBlock,
  type LinkHeader,
  type LinkProtocolMessage,
  less,
  lessEq,
  mod16,
  more,
  Reassembler,
  TIPC_MAX_LINK_WIN,
  writeLinkFields,
} from "@tipcjs/codec";
import type { Core } from "./core.js";
import {
  armNack,
  defer,
  firstDeferred,
  inWindow,
  type Link,
  onConflict,
  progressNack,
  sameSource,
  sendProto,
} from "./link.js";
import { hasLinks, linkDown, type Peer } from "./node.js";
import { RecentPackets } from "./recent.js";
import { type BacklogEntry, bundle, deliverPacket, toBacklog } from "./segment.js";
import type { BearerInfo, MediaAddress } from "./types.js";

/** Broadcast retransmission spacing per packet (ms), §7.4. */
const BC_RETRANSMIT_SPACING = 10;

/** A packet in the broadcast send window. */
export interface BcEntry {
  seqno: number;
  bytes: Uint8Array;
  sentAt: number;
  /** peers that have not acked it yet */
  pending: Set<number>;
  lastRetransmit: Map<number, number>;
}

/** The broadcast sender: one send window and one backlog for every peer. */
export interface BcSnd {
  /** the next broadcast seqno */
  sndNxt: number;
  /** sent, not yet acked by every peer that was up for it */
  transmq: BcEntry[];
  /** waiting for room in the window (bundled as a unicast backlog is) */
  backlog: BacklogEntry[];
}

/** The broadcast receive link from one peer. */
export interface BcRcv {
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

export function newBcRcv(now = 0): BcRcv {
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

// ------------------------------------------------------------------------------ sender

export function bcXmit(c: Core, pkt: Uint8Array, mtu: number, now: number): void {
  if (c.bc.backlog.length === 0 && c.bc.transmq.length < c.bcWindow) bcSendNew(c, pkt, now);
  else toBacklog(c.bc.backlog, pkt, mtu);
}

export function bcSendNew(c: Core, pkt: Uint8Array, now: number): void {
  const seqno = c.bc.sndNxt;
  c.bc.sndNxt = mod16(c.bc.sndNxt + 1);
  writeLinkFields(pkt, {
    nonSeq: true,
    seqno,
    ack: 0,
    bcastAck: 0,
    prevNode: c.address,
    netId: c.netId,
    destNode: 0,
  });
  const pending = new Set<number>();
  for (const p of c.peers.values()) {
    if (!p.up) continue;
    if (p.bcSynch !== undefined) {
      if (lessEq(seqno, p.bcSynch)) continue; // queued before the peer came up: not for it
      p.bcSynch = undefined;
    }
    pending.add(p.address);
  }
  c.st.broadcastSent++;
  if (pending.size === 0) return;
  c.bc.transmq.push({ seqno, bytes: pkt, sentAt: now, pending, lastRetransmit: new Map() });
  if (c.bearers.length === 1 && (c.bearers[0] as BearerInfo).canBroadcast) {
    c.transmit(0, "broadcast", pkt);
    return;
  }
  // one datagram per broadcast bearer that reaches someone, one copy per peer reached by none
  let viaBearers = 0;
  const copies: Peer[] = [];
  for (const a of pending) {
    const p = c.peers.get(a);
    if (!p) continue;
    const b = bcBearer(c, p);
    if (b >= 0) viaBearers |= 1 << b;
    else copies.push(p);
  }
  for (let b = 0; b < c.bearers.length; b++) if (viaBearers & (1 << b)) c.transmit(b, "broadcast", pkt);
  for (const p of copies) if (p.active) c.transmit(p.active.bearer, p.active.mediaAddress, pkt);
}

/**
 * The broadcast bearer a peer gets broadcast-link packets on: the first enabled bearer that
 * can broadcast and has an established link to it, or -1 (then a copy goes on its active link).
 */
export function bcBearer(c: Core, p: Peer): number {
  for (let b = 0; b < c.bearers.length; b++) {
    if ((c.bearers[b] as BearerInfo).canBroadcast && p.links[b]?.state === "ESTABLISHED") return b;
  }
  return -1;
}

export function bcAdvance(c: Core, now: number): void {
  while (c.bc.transmq.length > 0 && (c.bc.transmq[0] as BcEntry).pending.size === 0) c.bc.transmq.shift();
  while (c.bc.backlog.length > 0 && c.bc.transmq.length < c.bcWindow) {
    const e = c.bc.backlog.shift() as BacklogEntry;
    const pkt = e.msgs.length === 1 ? (e.msgs[0] as Uint8Array) : bundle(c, e.msgs, 0, true);
    bcSendNew(c, pkt, now);
  }
}

/** tipc_link_bc_ack_rcv: a peer's bcast_ack (and bc_gap NACK) for our broadcast link. */
export function bcAckRcv(
  c: Core,
  p: Peer,
  acked: number,
  gap: number,
  now: number,
  block?: GapAckBlock,
): void {
  if (!p.up || !p.bcPeerUp) return;
  if (block) {
    bcRetransmit(c, p, block.ack, block.gap, now);
    return;
  }
  if (less(acked, p.bcAcked) || (acked === p.bcAcked && !gap)) return;
  if (more(acked, mod16(c.bc.sndNxt - 1))) {
    c.drop("bcast-ack-ahead");
    return;
  }
  for (const e of c.bc.transmq) {
    if (more(e.seqno, acked)) break;
    e.pending.delete(p.address);
  }
  p.bcAcked = acked;
  if (gap > 0) bcRetransmit(c, p, acked, gap, now);
  bcAdvance(c, now);
}

export function bcRetransmit(c: Core, p: Peer, after: number, gap: number, now: number): void {
  const l = p.active;
  if (l) {
    const to = mod16(after + gap);
    const viaBearer = bcBearer(c, p);
    for (const e of c.bc.transmq) {
      if (more(e.seqno, to)) break;
      if (lessEq(e.seqno, after) || !e.pending.has(p.address)) continue;
      // a real broadcast bearer retransmits once for every peer that lost the packet (one
      // retransmission per 10 ms per packet, as the kernel); a replicast one only to the asker
      const key = viaBearer >= 0 ? -1 - viaBearer : p.address;
      const last = e.lastRetransmit.get(key) ?? Number.NEGATIVE_INFINITY;
      if (now - last < BC_RETRANSMIT_SPACING) continue;
      e.lastRetransmit.set(key, now);
      c.st.broadcastRetransmitted++;
      if (viaBearer >= 0) c.transmit(viaBearer, "broadcast", e.bytes);
      else c.transmit(l.bearer, l.mediaAddress, e.bytes);
    }
  }
  bcAdvance(c, now);
}

/** A peer left: it no longer holds back any broadcast packet. */
export function bcRemovePeer(c: Core, addr: number, now: number): void {
  for (const e of c.bc.transmq) e.pending.delete(addr);
  bcAdvance(c, now);
}

/** A peer that never acks a broadcast packet for tolerance x 10 is reset, as the kernel does. */
export function bcCheckFailure(c: Core, now: number): void {
  const head = c.bc.transmq[0];
  if (!head || now - head.sentAt <= c.tolerance * 10) return;
  for (const a of [...head.pending]) {
    const p = c.peers.get(a);
    if (p?.active && p.up) linkDown(c, p, p.active, "broadcast-failure", now, true);
  }
}

// ------------------------------------------------------------------------------ receiver (one per peer)

export function bcAckValue(p: Peer): number {
  return p.bc.synched ? mod16(p.bc.rcvNxt - 1) : 0;
}

export function bcRcvGap(p: Peer): number {
  const r = p.bc;
  if (!r.synched) return 0;
  const fd = firstDeferred(r.deferred, r.rcvNxt);
  if (fd !== undefined) return mod16(fd - r.rcvNxt);
  if (more(r.peerSndNxt, r.rcvNxt)) return mod16(r.peerSndNxt - r.rcvNxt);
  return 0;
}

export function bcSyncRcv(c: Core, p: Peer, l: Link, m: LinkProtocolMessage, now: number): void {
  const r = p.bc;
  if (!r.synched) return;
  const peersSndNxt = mod16(m.lastBcast + 1);
  if (more(peersSndNxt, mod16(r.rcvNxt + bcWindowLimit()))) return;
  const news = more(peersSndNxt, r.peerSndNxt);
  r.peerSndNxt = peersSndNxt;
  // the caller answers probes with a STATE carrying bc_gap; without a probe, ask now when the
  // STATE told us of packets we did not know of, else at most once per NACK_RETRY: two peers
  // that both miss broadcast packets would otherwise answer each other's STATE with a STATE,
  // at once and forever, while the gaps stay open (a storm when retransmissions cannot pass)
  if (!m.probe && bcRcvGap(p) && (news || l.nackAt === undefined)) {
    sendProto(c, p, l, "STATE");
    armNack(c, l, now);
  }
}

export function bcWindowLimit(): number {
  return TIPC_MAX_LINK_WIN;
}

export function bcRcv(
  c: Core,
  b: Uint8Array,
  h: LinkHeader,
  from: MediaAddress,
  bearer: number,
  now: number,
): void {
  if (h.word5 !== c.netId) {
    c.drop("other-cluster");
    return;
  }
  const p = c.peers.get(h.prevNode);
  if (!p || !hasLinks(p)) {
    c.drop("unknown-node");
    return;
  }
  // broadcast-link packets come from the peer's own address on the bearer they arrive on
  // (a multicast datagram's source is the sender's socket), as unicast ones do
  const lb = p.links[bearer];
  if (!lb || !sameSource(from, lb.mediaAddress)) {
    c.drop("source-mismatch");
    return;
  }
  const l = p.active;
  if (!p.up || !l) {
    c.drop("link-not-up");
    return;
  }
  const r = p.bc;
  if (!r.synched) {
    c.drop("broadcast-unsynched");
    return;
  }
  const seqno = h.seqno;
  if (!inWindow(c, seqno, r.rcvNxt, b, r.recent)) {
    if (c.conflict) onConflict(c, p, l, r.since, now);
    return;
  }
  if (seqno !== r.rcvNxt) {
    if (!defer(c, r.deferred, seqno, b, l, now)) {
      onConflict(c, p, l, r.since, now);
      return;
    }
    // staggered NACKs: about one in 16 deferrals, offset by our address
    if ((++r.defCnt & 0xf) === (c.address & 0xf)) sendProto(c, p, l, "STATE");
    return;
  }
  r.stallSince = undefined;
  progressNack(l);
  let sendState = false;
  let next: Uint8Array | undefined = b;
  while (next) {
    r.recent.note(r.rcvNxt, next);
    r.rcvNxt = mod16(r.rcvNxt + 1);
    r.unacked++;
    deliverPacket(c, p, next, "broadcast", r, now);
    if (!p.up || p.bc !== r) return;
    if (((r.rcvNxt ^ c.address) & 0xf) === 0xf) sendState = true;
    next = r.deferred.get(r.rcvNxt);
    if (next) r.deferred.delete(r.rcvNxt);
  }
  if (sendState && p.active) sendProto(c, p, p.active, "STATE");
}
