/**
 * Neighbour discovery (the kernel's discover.c, with tipc_node_check_dest and
 * tipc_node_try_addr): the address trial, periodic DSC_REQ on every bearer (replicast to known
 * peers where a bearer cannot broadcast), answers to a peer's discovery, and what a discovery
 * message does to the link on its bearer (a table, CHECK_DEST).
 */
import {
  isMulticastAddress,
  type LinkConfigMessage,
  type LinkConfigType,
  mediaAddressEquals,
  mediaAddressKey,
  TIPC_DISC_FAST,
  TIPC_DISC_INIT,
  TIPC_DISC_SLOW,
  TIPC_TRIAL_PERIOD,
} from "@tipcjs/codec";
import type { Core } from "./core.js";
import { newLink, sendProto } from "./link.js";
import { hasLinks, idEq, learnNode, linkDown, type Peer } from "./node.js";
import type { BearerInfo, LinkDropCause, MediaAddress } from "./types.js";

/**
 * Token bucket for what we send to nodes that never came up (discovery replies, trial
 * failures, RESET and ACTIVATE): their media address is whatever a datagram claimed, so an
 * unlimited answer would reflect a flood onto a victim. UNLINKED_RATE per second, bursts of
 * UNLINKED_BURST: a cluster of 100 nodes coming up at once still links within seconds.
 */
const UNLINKED_RATE = 50;
export const UNLINKED_BURST = 100;

export function discoveryMsg(
  c: Core,
  type: LinkConfigType,
  bearer: number,
  destDomain: number,
  suggested = 0,
): Uint8Array {
  const m: LinkConfigMessage = {
    user: "LINK_CONFIG",
    type,
    capabilities: c.capabilities,
    signature: c.signature,
    destDomain,
    prevNode: c.address,
    netId: c.netId,
    mediaAddress: (c.bearers[bearer] as BearerInfo).mediaAddress,
    peerNetHash: 0,
    suggestedAddress: suggested,
    nodeId: c.nodeId,
  };
  return c.codec.encode(m);
}

/**
 * The discovery timer (tipc_disc_timeout): the address trial ends after TIPC_TRIAL_PERIOD;
 * DSC_TRIAL every TIPC_DISC_INIT during it, then DSC_REQ at intervals doubling up to
 * TIPC_DISC_FAST (TIPC_DISC_SLOW while a link is up).
 */
export function discoveryTimeout(c: Core, now: number): void {
  if (c.trial && now >= c.trialEnd) {
    c.trial = false;
    c.finalizeAddress();
    c.discInterval = TIPC_DISC_INIT;
    c.discNextAt = now + TIPC_DISC_INIT;
    c.lowerDeadline(c.discNextAt);
  }
  if (c.discNextAt !== undefined && now >= c.discNextAt) {
    if (c.trial) {
      c.discInterval = TIPC_DISC_INIT;
      sendDiscovery(c, "DSC_TRIAL");
    } else {
      c.discInterval *= 2;
      const cap = c.linksUp > 0 ? TIPC_DISC_SLOW : TIPC_DISC_FAST;
      if (c.discInterval > cap) c.discInterval = cap;
      sendDiscovery(c, "DSC_REQ");
    }
    c.discNextAt = now + c.discInterval;
  }
}

/** Discovery on every enabled bearer (or only on `only`). */
export function sendDiscovery(c: Core, type: LinkConfigType, only?: number): void {
  for (let i = 0; i < c.bearers.length; i++) {
    if (c.bearerOff[i] || (only !== undefined && i !== only)) continue;
    const bearer = c.bearers[i] as BearerInfo;
    const bytes = discoveryMsg(c, type, i, 0);
    if (bearer.canBroadcast) {
      c.transmit(i, "broadcast", bytes);
      continue;
    }
    const seen = new Set<string>();
    const targets: MediaAddress[] = [];
    const add = (a: MediaAddress) => {
      const key = mediaAddressKey(a);
      if (seen.has(key)) return;
      seen.add(key);
      targets.push(a);
    };
    for (const a of bearer.discoveryPeers ?? []) add(a);
    // peers learnt from discovery, once they have linked (not every address a datagram named)
    for (const p of c.peers.values()) {
      const l = p.links[i];
      if (l && p.wasUp) add(l.mediaAddress);
    }
    for (const t of targets) c.transmit(i, t, bytes);
  }
}

export function discoveryRcv(c: Core, b: Uint8Array, bearer: number, now: number): void {
  const m = c.tryDecode(b);
  if (m?.user !== "LINK_CONFIG") return;
  if (isMulticastAddress(m.mediaAddress)) {
    c.drop("corrupt-discovery");
    return;
  }
  if (c.bearers.some((x) => mediaAddressEquals(m.mediaAddress, x.mediaAddress))) {
    c.drop("own-discovery");
    return;
  }
  if (m.netId !== c.netId) {
    c.drop("other-cluster");
    return;
  }
  const src = m.prevNode >>> 0;
  if (m.type === "DSC_TRIAL_FAIL") {
    if (c.trial && m.destDomain === c.address && m.suggestedAddress !== 0) {
      c.address = m.suggestedAddress >>> 0;
      c.trialEnd = now + TIPC_TRIAL_PERIOD;
    }
    return;
  }
  if (m.type === "DSC_TRIAL") {
    const sugg = tryAddress(c, m.nodeId, src);
    if (sugg && unlinkedToken(c, now, "discovery-rate-limited")) {
      c.transmit(bearer, m.mediaAddress, discoveryMsg(c, "DSC_TRIAL_FAIL", bearer, src, sugg));
    }
    return;
  }
  if (c.trial || !c.addressed) {
    c.drop("in-trial");
    return;
  }
  if (src === c.address) {
    c.out.push({ kind: "duplicateAddress", address: src, mediaAddress: m.mediaAddress });
    c.drop("duplicate-address");
    return;
  }
  if (m.destDomain !== 0 && m.destDomain !== c.address) {
    c.drop("not-for-us");
    return;
  }
  if (src === 0) {
    c.drop("malformed");
    return;
  }
  const respond = checkDest(c, m, src, bearer, now);
  const p = c.peers.get(src);
  if (!p) return;
  if (respond && m.type === "DSC_REQ" && mayContact(c, p, now, "discovery-rate-limited"))
    c.transmit(bearer, m.mediaAddress, discoveryMsg(c, "DSC_RESP", bearer, src));
  // The kernel backs its RESETs off to one per ~6 s and never answers discovery with one:
  // send ours as soon as discovery sees the peer, so re-linking takes one round trip.
  const l = p.links[bearer];
  if (l && l.state === "RESET" && !l.fo?.remaining && mayContact(c, p, now, "reset-rate-limited"))
    sendProto(c, p, l, "RESET");
}

/**
 * Whether we may send to `p` now: always to a node that has been up; to one that never was,
 * only with a token from the bucket (UNLINKED_RATE), else the send is a counted drop.
 */
export function mayContact(c: Core, p: Peer, now: number, cause: LinkDropCause): boolean {
  return p.wasUp || unlinkedToken(c, now, cause);
}

export function unlinkedToken(c: Core, now: number, cause: LinkDropCause): boolean {
  const elapsed = now - c.unlinkedTokensAt;
  if (elapsed > 0) {
    c.unlinkedTokens = Math.min(UNLINKED_BURST, c.unlinkedTokens + (elapsed * UNLINKED_RATE) / 1000);
    c.unlinkedTokensAt = now;
  }
  if (c.unlinkedTokens >= 1) {
    c.unlinkedTokens--;
    return true;
  }
  c.drop(cause);
  return false;
}

/** The kernel's tipc_node_try_addr: 0 if `addr` is fine for `id`, else a suggestion. */
export function tryAddress(c: Core, id: Uint8Array, addr: number): number {
  const n = c.peers.get(addr);
  if (n && hasLinks(n)) {
    if (idEq(n.nodeId, id)) return 0;
    return suggestAddress(c, addr);
  }
  for (const p of c.peers.values()) {
    if (hasLinks(p) && idEq(p.nodeId, id) && p.address !== addr) return p.address;
  }
  if (addr === c.address && !idEq(id, c.nodeId)) return suggestAddress(c, addr);
  return 0;
}

export function suggestAddress(c: Core, addr: number): number {
  let a = (addr ^ c.randomU32()) >>> 0;
  while (a === 0 || a === c.address || c.peers.has(a)) a = (a + 1) >>> 0;
  return a;
}

/**
 * What a discovery message does to the link on its bearer (the kernel's tipc_node_check_dest),
 * by whether its signature is the node's (S), its media address the link's (A) and the link is
 * up (U). "adopt" takes the message's signature; "duplicate" reports another node at the same
 * address; "accept" (re)creates the link at the message's address, resetting it if it was not.
 */
interface CheckDestRow {
  respond: boolean;
  accept: boolean;
  adopt: boolean;
  duplicate: boolean;
}
const row = (respond: boolean, accept: boolean, adopt: boolean, duplicate: boolean): CheckDestRow => ({
  respond,
  accept,
  adopt,
  duplicate,
});
/** Indexed by S << 2 | A << 1 | U. */
const CHECK_DEST: readonly CheckDestRow[] = [
  //     respond accept adopt  duplicate
  row(true, true, true, false), //   !S !A !U: a new address, a new signature: (re)link there
  row(false, false, false, true), // !S !A  U: another node at this address
  row(true, false, true, false), //  !S  A !U: the node restarted: respond
  row(false, false, true, false), // !S  A  U: the node restarted under a live link
  row(true, true, false, false), //   S !A !U: the node moved: (re)link there
  row(false, false, false, true), //  S !A  U: another node at this address
  row(true, false, false, false), //  S  A !U: the link is being set up: respond
  row(false, false, false, false), // S  A  U: nothing new
];

/** The kernel's tipc_node_check_dest, for the link on one bearer: returns whether to respond. */
export function checkDest(c: Core, m: LinkConfigMessage, src: number, bearer: number, now: number): boolean {
  const p = learnNode(c, m, src, now);
  if (!p) return false;
  const l = p.links[bearer];
  const signMatch = m.signature === p.signature;
  const addrMatch = !!l && mediaAddressEquals(l.mediaAddress, m.mediaAddress);
  const linkUp = l?.state === "ESTABLISHED";
  const r = CHECK_DEST[
    ((signMatch ? 4 : 0) | (addrMatch ? 2 : 0) | (linkUp ? 1 : 0)) as number
  ] as CheckDestRow;
  if (r.duplicate) duplicate(c, m);
  if (r.adopt) p.signature = m.signature;
  if (!r.accept) return r.respond;
  if (!l) {
    const nl = newLink(c, p, bearer, m.mediaAddress, now);
    p.links[bearer] = nl;
    c.lowerDeadline(nl.nextTimer);
  } else {
    l.mediaAddress = m.mediaAddress;
    if (l.state !== "RESET") linkDown(c, p, l, "rediscovered", now, true);
  }
  return r.respond;
}

export function duplicate(c: Core, m: LinkConfigMessage): void {
  c.out.push({ kind: "duplicateAddress", address: m.prevNode >>> 0, mediaAddress: m.mediaAddress });
  c.drop("duplicate-address");
}
