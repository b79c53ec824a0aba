import type { TipcMessage, UdpMediaAddress } from "@tipcjs/codec";

/** Where a bearer sends and receives: the UDP media address (same shape as the codec's). */
export type MediaAddress = UdpMediaAddress;

/** The bearer the engine runs on. The engine never touches it: it only emits datagrams for it. */
export interface BearerInfo {
  /** interface (bearer) name put in RESET/ACTIVATE, at most 15 characters, e.g. "udp0" */
  name: string;
  /** our own media address, advertised in discovery: must be reachable by peers */
  mediaAddress: MediaAddress;
  /** advertised max packet (link MTU); the link uses min(ours, the peer's) */
  mtu: number;
  /**
   * true: one `{ to: "broadcast" }` datagram reaches every peer (UDP multicast, memory fabric).
   * false: the engine replicates broadcast traffic per peer, as the kernel's UDP "replicast".
   */
  canBroadcast: boolean;
  /**
   * Replicast only: media addresses to send discovery to (the kernel's configured remote IPs).
   * Peers discovered later are added automatically.
   */
  discoveryPeers?: MediaAddress[];
  /**
   * Link selection priority on this bearer, 0..31 (default 10). When a peer's active link fails,
   * traffic fails over to the peer's established link with the highest priority (then the lowest
   * bearer index). Only used locally: it is not advertised.
   */
  priority?: number;
}

/** At most this many bearers per engine (the kernel's MAX_BEARERS). */
export const MAX_BEARERS = 3;

export interface LinkEngineOptions {
  /** 128-bit node id (16 bytes; shorter is zero-padded) */
  nodeId: Uint8Array;
  /** cluster (network) id, default 4711 */
  netId?: number;
  /**
   * Capability bits to advertise, constant for the engine's life. Default: DEFAULT_CAPABILITIES
   * (what this engine implements). `legacy: true` removes TIPC_NAMED_BCAST.
   */
  capabilities?: number;
  legacy?: boolean;
  /** 16-bit node signature (default: random, fixed for the engine's life) */
  signature?: number;
  /** random source in [0, 1): sessions, signature, address suggestions. Inject a seeded one in tests. */
  random: () => number;
  /** The one bearer (UDP socket, memory port...). Give either `bearer` or `bearers`. */
  bearer?: BearerInfo;
  /**
   * Several bearers (at most MAX_BEARERS), indexed from 0 in this order: the engine forms a link
   * to a peer on every bearer that reaches it, sends on one active link per peer and fails over
   * to another when it fails (FAILOVER tunnel, nothing lost, nothing twice). `receive` and
   * `transmit` outputs carry the bearer index.
   */
  bearers?: BearerInfo[];
  /** link tolerance in ms (50..30000), default 1500 */
  tolerance?: number;
  /** unicast send window in packets, default 50 (the kernel's UDP window) */
  window?: number;
  /** broadcast send window in packets, default 50 */
  broadcastWindow?: number;
  /**
   * Skip the 1 s address trial and use this 32-bit address at once
   * (default: the trial of the kernel, starting from hash128to32(nodeId)).
   */
  address?: number;
  /** skip the address trial but still derive the address from the node id */
  skipTrial?: boolean;
  /** Encoder/decoder; default @tipcjs/codec's encodeMessage/decodeMessage. */
  codec?: MessageCodec;
}

export interface MessageCodec {
  encode(message: TipcMessage): Uint8Array;
  decode(bytes: Uint8Array): TipcMessage;
}

/** Everything the engine asks its driver to do or tells it, drained with `poll()`. */
export type LinkOutput =
  | {
      kind: "transmit";
      /** index of the bearer to send on (0 with a single `bearer`) */
      bearer: number;
      /** a peer's media address, or "broadcast" (only when that bearer `canBroadcast`) */
      to: MediaAddress | "broadcast";
      bytes: Uint8Array;
      /**
       * the peer's address when the packet goes on its unicast link (what the kernel passes to
       * tipc_crypto_xmit as the destination node); absent for discovery and the broadcast link
       */
      peer?: number;
    }
  | {
      /** an in-order, exactly-once message from a peer (unbundled, reassembled) */
      kind: "deliver";
      peer: number;
      message: TipcMessage;
      via: "unicast" | "broadcast";
    }
  | {
      kind: "nodeUp";
      peer: number;
      nodeId: Uint8Array;
      capabilities: number;
      /** the link MTU (min of both advertised max packets) */
      mtu: number;
    }
  | { kind: "nodeDown"; peer: number }
  /** a link (one per peer and bearer) is up; the first one also brings `nodeUp` */
  | { kind: "linkUp"; peer: number; name: string; bearer: number }
  /**
   * a link is down; `nodeDown` follows only when it was the peer's last link, otherwise its
   * traffic has failed over to another link (`failoverTo`, a bearer index)
   */
  | {
      kind: "linkDown";
      peer: number;
      name: string;
      bearer: number;
      reason: LinkDownReason;
      failoverTo?: number;
    }
  /** our 32-bit address is final (after the trial) */
  | { kind: "addressAssigned"; address: number }
  /** another node claims our address, or a peer's address changed while its link is up */
  | { kind: "duplicateAddress"; address: number; mediaAddress: MediaAddress };

export type LinkDownReason =
  | "tolerance" // supervision: nothing heard within the tolerance
  | "peer-reset" // the peer sent RESET (new session)
  | "peer-stopping" // RESET with peer_stopping
  | "retransmit-failure" // a packet went unacked for tolerance x 10
  | "priority-change" // a STATE with a different non-zero priority
  | "broadcast-failure" // the peer never acked a broadcast packet
  | "failover" // the peer failed this link over to another one (FAILOVER tunnel)
  | "bearer-disabled" // disableBearer() on our side
  | "stopped" // we stopped
  | "rediscovered" // discovery saw the peer with a new address/identity
  /**
   * a gap on the unicast or broadcast link from the peer did not close within twice the
   * tolerance (or we hold packets the peer says it never sent): the node is reset so that both
   * sides start over (the name distributor sends its bulk again)
   */
  | "resync";

export type LinkState = "RESET" | "ESTABLISHING" | "ESTABLISHED";

export interface LinkInfo {
  peer: number;
  name: string;
  /** the bearer's index and name */
  bearer: number;
  bearerName: string;
  state: LinkState;
  /** carries the traffic to this peer (the others are standby) */
  active: boolean;
  mtu: number;
  session: number;
  peerSession: number;
  sndNxt: number;
  rcvNxt: number;
  /** packets sent but not yet acked */
  transmitQueue: number;
  backlog: number;
  deferred: number;
  tolerance: number;
  /** send window, packets */
  window: number;
}

export interface NodeInfo {
  address: number;
  nodeId: Uint8Array;
  nodeIdString: string;
  capabilities: number;
  signature: number;
  /** the peer's address on its active link's bearer (else on the first bearer it was seen on) */
  mediaAddress: MediaAddress;
  up: boolean;
  /** links to this peer that are up (one per bearer at most) */
  linksUp: number;
  /** the broadcast receive link from this peer is synchronised (BCAST_PROTOCOL init seen) */
  broadcastSynched: boolean;
}

export interface LinkStats {
  /** datagrams emitted (a replicated broadcast counts once per copy) */
  transmitted: number;
  /** sequenced unicast packets sent for the first time */
  unicastSent: number;
  unicastRetransmitted: number;
  /** broadcast-link packets sent for the first time (one per packet, not per copy) */
  broadcastSent: number;
  /** broadcast-link packet copies retransmitted */
  broadcastRetransmitted: number;
  statesSent: number;
  probesSent: number;
  nacksSent: number;
  delivered: number;
  duplicates: number;
  deferred: number;
  bundlesSent: number;
  bundledMessages: number;
  fragmentsSent: number;
  reassembled: number;
  linkUps: number;
  linkDowns: number;
  /** links whose traffic moved to another link of the same peer */
  failovers: number;
  /** FAILOVER tunnel packets sent and received */
  tunnelSent: number;
  tunnelReceived: number;
  /** broadcast packets sent but not yet acked by every peer */
  broadcastTransmitQueue: number;
  broadcastBacklog: number;
  /** link resets forced because a gap on the unicast or broadcast link did not close (resync) */
  resyncs: number;
  /** received datagrams dropped (and refused sends to unlinked nodes), by cause */
  drops: Partial<Record<LinkDropCause, number>>;
}

/**
 * Why the engine dropped a datagram (or, for the `*-rate-limited` causes, did not answer one),
 * the keys of `LinkStats.drops`. Kebab-case, stable: metrics are keyed by them.
 */
export const LINK_DROP_CAUSES = [
  "not-running", // received before start() or after stop()
  "bearer-disabled", // on a disabled or unknown bearer
  "malformed", // header or field checks failed
  "decode-error", // the codec refused the message
  "not-addressed", // before our address trial ended
  "not-for-us", // another destination node or domain
  "unknown-node", // from a node we have no link to
  "source-mismatch", // the datagram's source is not the peer's media address on that bearer
  "link-not-up", // data on a link that is not established
  "out-of-window", // a unicast or broadcast seqno outside the receive window
  "deferred-full", // more early packets than MAX_DEFERRED
  "conflicting-duplicate", // a second copy of a seqno with other contents than the first
  "fragment-out-of-order", // a fragment without its first, or out of order
  "reassembly-oversize", // a fragmented message beyond MAX_MSG_SIZE
  "resync", // a gap that did not close in time: the peer's link was reset (see resyncs)
  "unexpected-user", // a protocol message inside a sequenced packet
  "stale-session", // a protocol message of an old session
  "stale-state", // a STATE older than the last one
  "ack-ahead", // a unicast ack for packets we never sent (nothing is released on it)
  "bcast-ack-ahead", // a broadcast ack for packets we never sent
  "broadcast-unsynched", // broadcast before the peer's broadcast synch
  "other-cluster", // another net id
  "corrupt-discovery", // a discovery message naming a multicast media address
  "own-discovery", // our own discovery, looped back
  "in-trial", // discovery during our address trial
  "duplicate-address", // another node claims our address, or a linked peer's from elsewhere
  "identity-conflict", // a node id / address pair that contradicts a known node's
  "unlinked-peers-full", // a new node while MAX_UNLINKED_PEERS are known but not linked
  "discovery-rate-limited", // a discovery reply not sent (token bucket empty)
  "reset-rate-limited", // a RESET to an unlinked node not sent (token bucket empty)
  "failing-over", // RESET/ACTIVATE while the peer's failover tunnel drains
  "failover-incomplete", // a failover tunnel that stopped short
  "malformed-tunnel", // a tunnel packet without a valid sequenced inner packet
  "tunnel-fragment-out-of-order",
  "tunnel-synch", // SYNCH tunnel copies (the first link delivers them)
  "tunnel-unknown-link", // a tunnel naming a link we do not have
] as const;

/** One of {@link LINK_DROP_CAUSES}. */
export type LinkDropCause = (typeof LINK_DROP_CAUSES)[number];
