/**
 * Peer nodes (the kernel's node.c): a node's identity and its links, node up when its first
 * link comes up (with the broadcast synch point), node down when its last one goes, and a failed
 * link's traffic moved to the best link left.
 */
import {
  type BcastProtocolMessage,
  type LinkConfigMessage,
  mod16,
  padNodeId,
  Reassembler,
  TIPC_BCAST_SYNCH,
  TIPC_DISC_FAST,
  TIPC_DISC_INIT,
} from "@tipcjs/codec";
import { type BcRcv, bcRemovePeer, newBcRcv } from "./bcast.js";
import type { Core } from "./core.js";
import { failover, takeSendQueue } from "./failover.js";
import { type Link, linkXmit, resetLink, sendProto } from "./link.js";
import type { BearerInfo, LinkDownReason } from "./types.js";

/** The signature of a node whose discovery signature is not known yet. */
export const INVALID_NODE_SIG = 0x10000;
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
export const UNLINKED_EXPIRY = 10_000;
/** A node down this long with no link set up is forgotten (ms), as the kernel's node cleanup. */
export const NODE_CLEANUP_AFTER = 300_000;

export interface Peer {
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

export function idEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function hasLinks(p: Peer): boolean {
  for (const l of p.links) if (l) return true;
  return false;
}

/**
 * The node a discovery message from `src` speaks for, learnt if new (the identity half of the
 * kernel's tipc_node_check_dest): undefined, a counted drop, when the claim conflicts with a
 * node we know or the table of nodes never linked is full.
 */
export function learnNode(c: Core, m: LinkConfigMessage, src: number, now: number): Peer | undefined {
  let p = c.peers.get(src);
  const nodeId = padNodeId(m.nodeId);
  if (p && !idEq(p.nodeId, nodeId)) {
    // A node keeps its identity while it is up, while a link to it is being set up, and for a
    // two tolerances after it went down (the kernel never renames a node it knows): otherwise a
    // forged RESET and a discovery claim would rename it when it re-links. Two: a link left
    // ESTABLISHING by a forged RESET goes back to RESET after one tolerance, then re-links.
    const settling = p.wasUp && now - p.downSince < 2 * c.tolerance;
    if (p.up || settling || p.links.some((x) => x && x.state !== "RESET")) {
      c.drop("identity-conflict");
      return undefined;
    }
    p.nodeId = nodeId;
    p.signature = INVALID_NODE_SIG;
    p.wasUp = false; // another node now: it starts as an unlinked one
  }
  if (!p) {
    // a linked node's id under another address: the node id / address mapping stays
    let unlinked = 0;
    for (const q of c.peers.values()) {
      if (q.up && idEq(q.nodeId, nodeId)) {
        c.drop("identity-conflict");
        return undefined;
      }
      if (!q.wasUp) unlinked++;
    }
    if (unlinked >= MAX_UNLINKED_PEERS) {
      c.drop("unlinked-peers-full");
      return undefined;
    }
    p = {
      address: src,
      nodeId,
      capabilities: m.capabilities,
      signature: INVALID_NODE_SIG,
      links: c.bearers.map(() => undefined),
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
    c.peers.set(src, p);
  }
  if (!p.up) p.capabilities = m.capabilities;
  p.lastHeard = now;
  return p;
}

export function linkUp(c: Core, p: Peer, l: Link, now: number): void {
  l.state = "ESTABLISHED";
  l.upAt = now;
  l.silentIntvCnt = 0;
  l.checkpoint = l.sndNxt;
  c.linksUp++;
  c.st.linkUps++;
  sendProto(c, p, l, "STATE");
  if (p.up) {
    // another link to a node that is up: a standby, until the active one fails
    if (!p.active) p.active = l;
    c.out.push({ kind: "linkUp", peer: p.address, name: l.name, bearer: l.bearer });
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
  const synch = mod16(c.bc.sndNxt - 1 + (p.capabilities & TIPC_BCAST_SYNCH ? c.bc.backlog.length : 0));
  const tail = c.bc.backlog[c.bc.backlog.length - 1];
  if (tail) tail.bundleable = false;
  p.bcAcked = synch;
  p.bcSynch = synch === mod16(c.bc.sndNxt - 1) ? undefined : synch;
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
    ...c.msgHeader(p.address),
    lastBcast: synch,
    nextSent: 0,
    bcAckInvalid: true,
  };
  linkXmit(c, p, l, [c.codec.encode(init)], now);
  c.out.push({ kind: "linkUp", peer: p.address, name: l.name, bearer: l.bearer });
  c.out.push({
    kind: "nodeUp",
    peer: p.address,
    nodeId: p.nodeId,
    capabilities: p.capabilities,
    mtu: l.mtu,
  });
}

/** The established link that should take over from `failed`: highest priority, then lowest index. */
export function successor(c: Core, p: Peer, failed: Link): Link | undefined {
  let best: Link | undefined;
  for (const x of p.links) {
    if (!x || x === failed || x.state !== "ESTABLISHED") continue;
    if (!best || priority(c, x) > priority(c, best)) best = x;
  }
  return best;
}

export function priority(c: Core, l: Link): number {
  return (c.bearers[l.bearer] as BearerInfo).priority ?? 10;
}

export function linkDown(
  c: Core,
  p: Peer,
  l: Link,
  reason: LinkDownReason,
  now: number,
  sendReset: boolean,
): void {
  const wasUp = l.state === "ESTABLISHED";
  // a peer that failed its broadcast link, or must start over (resync), goes down as a node
  const whole = reason === "broadcast-failure" || reason === "resync";
  const next = wasUp && !c.stopping && !whole ? successor(c, p, l) : undefined;
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
    pending = takeSendQueue(c, p, l);
  }
  resetLink(c, l);
  if (wasUp) {
    c.linksUp--;
    c.st.linkDowns++;
    if (next) {
      c.out.push({
        kind: "linkDown",
        peer: p.address,
        name: l.name,
        bearer: l.bearer,
        reason,
        failoverTo: next.bearer,
      });
      if (p.active === l) p.active = next;
      failover(c, p, l, next, pending, reason, now);
    } else {
      p.up = false;
      p.active = undefined;
      p.downSince = now;
      bcRemovePeer(c, p.address, now);
      p.bc = newBcRcv();
      c.out.push({ kind: "linkDown", peer: p.address, name: l.name, bearer: l.bearer, reason });
      // the node is gone: its other links (standby) go down with it, and no tunnel is coming
      for (const x of p.links) {
        if (!x) continue;
        x.fo = undefined;
        if (x !== l && x.state === "ESTABLISHED") {
          resetLink(c, x);
          c.linksUp--;
          c.st.linkDowns++;
          c.out.push({ kind: "linkDown", peer: p.address, name: x.name, bearer: x.bearer, reason });
          sendProto(c, p, x, "RESET");
        }
      }
      c.out.push({ kind: "nodeDown", peer: p.address });
      if (c.linksUp === 0 && c.discInterval > TIPC_DISC_FAST) {
        c.discInterval = TIPC_DISC_INIT;
        c.discNextAt = now + TIPC_DISC_INIT;
        c.lowerDeadline(c.discNextAt);
      }
    }
  }
  if (sendReset) {
    l.rstCnt++;
    sendProto(c, p, l, "RESET");
  }
}
