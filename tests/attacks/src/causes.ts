// The one table of names the attack suite asserts on: tipcd's drop causes and counters, as
// `stats()` exposes them (`drops.link`, `drops.transport`, `link.*`). A rename is a one-line
// change here. Keys are "<layer>:<cause>" as flattened by kit.ts `flatDrops`.

export const CAUSE = {
  /** a fragment that would take a link's (or tunnel's) reassembly past one message of 66,000 bytes */
  reassemblyOversize: "link:reassembly-oversize",
  /** a FRAGMENT with no message being reassembled (its FIRST was dropped, or a new FIRST came) */
  fragmentOutOfOrder: "link:fragment-out-of-order",
  /** a datagram claiming a peer, from a media address that is not the peer's on that bearer */
  sourceMismatch: "link:source-mismatch",
  /** a sequenced packet outside the receive window (formerly only `link.duplicates`) */
  outOfWindow: "link:out-of-window",
  /** a discovery message claiming the address of a linked node with another identity */
  identityConflict: "link:identity-conflict",
  /** a discovery message from a new node while MAX_UNLINKED_PEERS (256) nodes are known but never up */
  unlinkedFull: "link:unlinked-peers-full",
  /** a DSC_RESP or DSC_TRIAL_FAIL to a never-linked node left out by the rate limit */
  discoveryRateLimited: "link:discovery-rate-limited",
  /** a RESET or ACTIVATE to a never-linked node left out by the rate limit */
  resetRateLimited: "link:reset-rate-limited",
  /** a discovery datagram of another cluster (the link engine's existing cause) */
  otherCluster: "link:other-cluster",
  /** the UDP transport refuses to learn a peer from a discovery datagram of another cluster (net id) */
  udpForeignNetId: "transport:learn-foreign-net",
  /** the UDP transport refuses to learn a peer past its cap (`maxLearnedPeers`) */
  udpPeerCap: "transport:learn-peer-limit",
} as const;

/** Counters in `stats().link` (not drops). */
export const COUNTER = {
  /** re-syncs of a peer (link reset and bulk) after a gap that did not close in time */
  resyncs: "resyncs",
  linkDowns: "linkDowns",
} as const;

/** Causes a malformed datagram may be dropped under (the codec's typed errors, surfaced). */
export const MALFORMED_CAUSES = [
  "link:malformed",
  "link:decode-error",
  "link:corrupt-discovery",
  "link:malformed-tunnel",
] as const;

/**
 * Bounds the fixes are expected to keep, stated here so the lead can align them with the
 * numbers the fixes choose.
 */
export const BOUND = {
  /** nodes known but never linked, after a discovery flood of fake identities (MAX_UNLINKED_PEERS) */
  unlinkedNodes: 256,
  /** datagrams tipcd may send per forged discovery datagram (rate-limited replies: well under 1) */
  amplification: 1,
  /** control connections one local user can open: more than this must be refused */
  controlConnectionsTried: 1100,
  /** subscriptions one control connection can take: more than this must be refused */
  subscriptionsTried: 5000,
} as const;
