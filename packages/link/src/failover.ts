/**
 * Failover (the kernel's tunnel half of link.c): when a link to a node fails and another is up,
 * the failed link's unacked and queued packets go to the peer inside FAILOVER tunnel packets on
 * the other link; on receipt, a tunnel delivers what the failed link had not delivered yet.
 */
import {
  type DataMessage,
  fragmentMessage,
  INT_H_SIZE,
  less,
  mod16,
  Reassembler,
  readLinkHeader,
  type TunnelMessage,
  writeLinkFields,
} from "@tipcjs/codec";
import type { Core } from "./core.js";
import { type Link, linkXmit } from "./link.js";
import { linkDown, type Peer } from "./node.js";
import { bundle, deliverPacket, reassemblyDrop } from "./segment.js";
import type { LinkDownReason } from "./types.js";

/** TIPC_ERR_NO_PORT, the error code of the kernel's dummy tunnel packet */
const TIPC_ERR_NO_PORT = 2;

/** Receive side of a failover: the failed link's delivery point, kept while its tunnel drains. */
export interface FailoverRcv {
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

/**
 * A failing link's packets that the peer may not have: the unacked transmit queue as it is,
 * then the backlog numbered on from snd_nxt (bundled as it would have been sent).
 */
export function takeSendQueue(c: Core, p: Peer, l: Link): Uint8Array[] {
  const r = l.transmq.map((e) => e.bytes);
  let seqno = l.sndNxt;
  for (const e of l.backlog) {
    const pkt = e.msgs.length === 1 ? (e.msgs[0] as Uint8Array) : bundle(c, e.msgs, p.address, false);
    writeLinkFields(pkt, { nonSeq: false, seqno, ack: 0, bcastAck: 0, prevNode: c.address });
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
export function failover(
  c: Core,
  p: Peer,
  failed: Link,
  next: Link,
  pending: Uint8Array[],
  reason: LinkDownReason,
  now: number,
): void {
  c.st.failovers++;
  // the peer told us (it is failing over itself, or it reset the link): nothing to announce
  const announce = reason !== "failover" && reason !== "peer-reset" && reason !== "peer-stopping";
  if (pending.length === 0 && !announce) return;
  // nothing pending: one dummy packet, as the kernel's tipc_link_create_dummy_tnl_msg (a
  // 32-byte DIRECT_MSG with TIPC_ERR_NO_PORT and seqno 0), so a kernel peer finds an inner
  // header to take its synch point from; receivers drop it (below their delivery point)
  const inner = pending.length > 0 ? pending : [dummyTunnelInner(c, p.address)];
  // A packet too large for the tunnel link goes in tunnel fragments, as the kernel's
  // tipc_msg_fragment makes them (each a FAILOVER packet with fragment number and count, its
  // data a share of the packet); msgcnt then counts every tunnel packet.
  const parts: { data: Uint8Array; no: number; count: number }[] = [];
  for (const data of inner) {
    if (data.length <= next.mtu - INT_H_SIZE) parts.push({ data, no: 0, count: 0 });
    else
      for (const f of fragmentMessage(data, next.mtu, { withCount: true }))
        parts.push({ data: f.data, no: f.fragmentNumber, count: f.fragmentCount });
  }
  for (const part of parts) {
    const t: TunnelMessage = {
      user: "TUNNEL_PROTOCOL",
      type: "FAILOVER",
      ...c.msgHeader(p.address),
      bearerId: failed.peerBearerId,
      msgCount: parts.length,
      fragmentNumber: part.no,
      fragmentCount: part.count,
      data: part.data,
    };
    c.st.tunnelSent++;
    linkXmit(c, p, next, [c.codec.encode(t)], now);
  }
}

export function dummyTunnelInner(c: Core, dest: number): Uint8Array {
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
    prevNode: c.address,
    origPort: 0,
    destPort: 0,
    origNode: c.address,
    destNode: dest,
    nameType: 0,
    nameInstance: 0,
    nameUpper: 0,
    payload: new Uint8Array(0),
  };
  return c.codec.encode(m);
}

/** A TUNNEL_PROTOCOL message delivered in order on one of the peer's links. */
export function tunnelRcv(c: Core, p: Peer, m: TunnelMessage, now: number): void {
  c.st.tunnelReceived++;
  const x = p.links[m.bearerId];
  if (!x) {
    c.drop("tunnel-unknown-link");
    return;
  }
  if (m.type === "SYNCH") {
    // A kernel peer that brings up a second link to us tunnels copies of the first link's
    // queue (or a dummy) with a synch point. Like the kernel's own receiver we do not deliver
    // those copies (the first link delivers its packets itself); unlike it we do not hold the
    // new link back until the first has reached the synch point (we never load-share, and
    // NAME_DISTRIBUTOR updates are ordered by their named seqno anyway).
    c.drop("tunnel-synch");
    return;
  }
  if (x.state === "ESTABLISHED") linkDown(c, p, x, "failover", now, false);
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
      c.drop(cause === "fragment-out-of-order" ? "tunnel-fragment-out-of-order" : cause);
      data = undefined;
    }
  }
  if (data !== undefined && data.length > 0) {
    const h = readLinkHeader(data);
    if (!h || h.nonSeq) c.drop("malformed-tunnel");
    else if (fo.dropPoint !== undefined && less(h.seqno, fo.dropPoint)) c.st.duplicates++;
    else {
      fo.dropPoint = mod16(h.seqno + 1);
      deliverPacket(c, p, data.subarray(0, h.size), "unicast", fo, now);
    }
  }
  if (m.msgCount > 0) fo.remaining--;
  if (fo.remaining <= 0) x.fo = undefined;
}
