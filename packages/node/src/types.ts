/**
 * Public types of @tipcjs/node: the options a node takes, what it returns and the events it emits.
 * Architecture: docs/architecture.md ("node composes").
 */
import type { CryptoStats, KeyStatus } from "@tipcjs/crypto";
import type { ChangeOrigin, DistributorStats } from "@tipcjs/distributor";
import type { LinkDownReason, LinkInfo, LinkStats } from "@tipcjs/link";
import type {
  Binding,
  BindingKey,
  Scope,
  SocketAddress,
  SubscriptionEvent,
  SubscriptionMode,
} from "@tipcjs/name-table";
import type {
  Destination,
  Importance,
  Received,
  RejectReason,
  ServiceAddress,
  ServiceRange,
  SocketInfo,
  SocketLayerStats,
  SocketType,
} from "@tipcjs/socket";
import type { Clock, Logger, MediaAddress, TimerHandle, Transport } from "@tipcjs/transport";
import type { ConnectionOptions, ServerOptions, TipcConnection, TipcServer } from "./connection.js";

/**
 * `Clock` (time source, milliseconds), `TimerHandle` and `Logger` (pino-compatible: any object
 * with debug/info/warn/error; default silent) are the shared interfaces of `@tipcjs/transport`,
 * re-exported here. `@tipcjs/transport-memory`'s `createVirtualClock(seed)` is a `Clock`.
 */
export type {
  Binding,
  BindingKey,
  ChangeOrigin,
  Clock,
  Destination,
  Importance,
  Logger,
  MediaAddress,
  RejectReason,
  Scope,
  ServiceAddress,
  ServiceRange,
  SocketAddress,
  SocketLayerStats,
  SocketType,
  SubscriptionEvent,
  SubscriptionMode,
  TimerHandle,
};

/** What a socket's iterator yields: a message, or one of its own messages come back. */
export type SocketEvent = Received;
/** A message received: its data, its sender's socket address and how it was addressed. */
export type ReceivedMessage = Extract<Received, { kind: "message" }>;
/**
 * A message of this socket that came back (not dest-droppable, and undeliverable): the error
 * (`NO_NAME`, `NO_PORT`, `NO_NODE`, `OVERLOAD`...), its wire code (TIPC_ERRINFO) and at most
 * 1,024 bytes of the data (TIPC_RETDATA).
 */
export type ReturnedMessage = Extract<Received, { kind: "returned" }>;

export type MulticastMethod = "broadcast" | "replicast";
/** `tipc link set broadcast`: force a multicast method on the node, or choose per send (autoselect). */
export type BroadcastMode = "autoselect" | "broadcast" | "replicast";

/** What `node.socket()` takes (rdm or dgram; connections are node.connect() and node.listen()). */
export interface SocketOptions {
  /** "rdm" (SOCK_RDM) or "dgram" (SOCK_DGRAM); seqpacket and stream come with connections. */
  type: SocketType;
  /** TIPC_IMPORTANCE, 0 (LOW, default) .. 3 (CRITICAL): its link backlog limit and rcvbuf shift. */
  importance?: Importance;
  /**
   * TIPC_DEST_DROPPABLE: an undeliverable message is dropped (true, the default for rdm and
   * dgram) or comes back to this socket as a `returned` event.
   */
  destDroppable?: boolean;
  /** SO_RCVBUF, bytes (default 2 MiB): the receive queue takes rcvbuf << importance, then OVERLOAD. */
  rcvbuf?: number;
  /** TIPC_MCAST_BROADCAST / TIPC_MCAST_REPLICAST; default: chosen per send as the kernel does. */
  multicastMethod?: MulticastMethod;
  /** Sends that may wait for a congested link at once (default 64); more reject WOULD_BLOCK. */
  maxPendingSends?: number;
}

export interface SocketSendOptions {
  /** This message's importance (default the socket's). */
  importance?: Importance;
  /** MSG_DONTWAIT: reject WOULD_BLOCK rather than wait for a congested link. */
  dontWait?: boolean;
}

/** A service range to bind; `upper` defaults to `lower`, `scope` to "cluster". */
export interface BindRange {
  type: number;
  lower: number;
  upper?: number;
  scope?: Scope;
}

/** A socket's state: the layer's view plus the sends waiting for a congested link. */
export interface SocketState extends SocketInfo {
  pendingSends: number;
}

/**
 * A connectionless TIPC socket (rdm or dgram) with its own port. Iterate it (`for await`) to
 * read received messages and returned ones; leaving the loop does not close it.
 */
export interface TipcSocket extends AsyncIterable<SocketEvent> {
  readonly port: number;
  /** `<node:port>`: where other sockets reach this one with `sendToSocket`. */
  readonly address: SocketAddress;
  readonly closed: boolean;
  /** Sends waiting for a congested link. */
  readonly pendingSends: number;
  /**
   * Binds a service range to this socket's port (published cluster-wide unless scope "node").
   * Throws NodeError BAD_ARGUMENT, RESERVED_TYPE (type < 64), DUPLICATE, LIMIT, CLOSED.
   */
  bind(range: BindRange, scope?: Scope): Binding;
  /** Withdraws one binding of this socket. Throws NOT_BOUND, CLOSED. */
  unbind(range: BindRange, scope?: Scope): void;
  /**
   * Anycast to a service address (round-robin over the matching sockets; `node` restricts the
   * lookup to that node). Resolves once the message is handed to the link (or delivered on this
   * node); waits while the link is congested. Rejects NodeError NO_SERVICE, NO_NODE,
   * MESSAGE_TOO_LARGE (over 66,000 bytes), BAD_ARGUMENT, WOULD_BLOCK, CLOSED.
   */
  sendTo(address: ServiceAddress, data: Uint8Array, options?: SocketSendOptions): Promise<void>;
  /** To one socket `<node:port>`. As `sendTo`; a missing port comes back NO_PORT if not dest-droppable. */
  sendToSocket(address: SocketAddress, data: Uint8Array, options?: SocketSendOptions): Promise<void>;
  /** Multicast: one copy to every socket bound in the range, on every node. As `sendTo`. */
  sendToRange(range: ServiceRange, data: Uint8Array, options?: SocketSendOptions): Promise<void>;
  /** The next received or returned message; undefined once the socket is closed. */
  receive(): Promise<SocketEvent | undefined>;
  /** The next one if there is one, without waiting. */
  tryReceive(): SocketEvent | undefined;
  setImportance(importance: Importance): void;
  setDestDroppable(destDroppable: boolean): void;
  setMulticastMethod(method: MulticastMethod | "auto"): void;
  info(): SocketState;
  /**
   * Unread messages are rejected (NO_PORT, back to senders that asked), bindings withdrawn,
   * waiting sends reject CLOSED, readers get the end. Idempotent.
   */
  close(): void;
}

export interface NodeOptions {
  /**
   * The 128-bit node id: 16 bytes (shorter is zero-padded), or text as `tipc node set identity`
   * takes it (up to 16 characters, or 17 to 32 hex digits).
   */
  nodeId: string | Uint8Array;
  /** Cluster (network) id, default 4711. */
  netId?: number;
  /**
   * Behave as a pre-2020 (pre-5.9) kernel: no `TIPC_NAMED_BCAST` capability, the legacy
   * distributor (no sequence numbers, always replicast). For mixed-cluster tests. Default false.
   */
  legacy?: boolean;
  /**
   * The one bearer's transport (the daemon passes a `udpTransport`). The node closes it in
   * `close()`. Give either `transport` (with `bearerName`, `discoveryPeers`) or `bearers`.
   */
  transport?: Transport;
  /** Bearer name put in link names and RESET/ACTIVATE, at most 15 characters. Default "udp0". */
  bearerName?: string;
  /**
   * Media addresses to send discovery to when the transport cannot broadcast (replicast).
   * Default: the transport's `peers()` if it has one (as `udpTransport` in replicast mode), else none.
   */
  discoveryPeers?: MediaAddress[];
  /**
   * Several bearers (at most 3), each on its own transport: the node links to a peer on every
   * bearer that reaches it, sends on one link and fails over to another when it fails, without
   * losing or repeating a binding update. Bearer names default to "udp0", "udp1"... and must differ.
   */
  bearers?: BearerOptions[];
  /** Link tolerance, ms (50..30000), default 1500: a silent peer is declared down after it. */
  tolerance?: number;
  /** Time source. Default real time; tests pass `createVirtualClock(seed)`. */
  clock?: Clock;
  /** Random source in [0, 1) (link sessions, signature, auto ports). Default `Math.random`. */
  random?: () => number;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
  /**
   * Skip the kernel's 1 s address trial and take the address derived from the node id at once.
   * Default false (with a virtual clock, advance it by ~1.5 s while awaiting `createNode`).
   */
  skipTrial?: boolean;
  /** Use this 32-bit address instead of the one derived from the node id (implies no trial). */
  address?: number;
  /** Link send window in packets, 16..8191 (default 50, the kernel's for UDP). */
  window?: number;
  /** Cap on bindings held in the name table (default: the name table's, 2^24). */
  maxBindings?: number;
  /**
   * Subscription events queued and not yet read, all subscriptions together (default 262,144,
   * about 60 MB). When one more would pass it, the subscription holding the most ends: its
   * events are dropped and its next read rejects with NodeError OVERFLOW (counted in
   * `stats().subscriptionEvents.overflows`).
   */
  maxQueuedEvents?: number;
  /**
   * How long `close()` waits, at most, for peers to acknowledge the withdrawals before it
   * resets the links and closes the transport. Default: the link tolerance.
   */
  closeTimeout?: number;
  /**
   * Encryption as the kernel's `tipc node set key` (net/tipc/crypto.c, AES-GCM): every packet
   * on the unicast and broadcast links, and discovery, leaves encrypted once a key is set. Given
   * (even with no key yet), the link MTU is the bearer's less `CRYPTO_MTU_OVERHEAD` (35) bytes,
   * and keys can be set, rotated and flushed at run time (`setKey`, `flushKeys`).
   */
  crypto?: NodeCryptoOptions;
  /**
   * An allow-list of peers, independent of keys: datagrams from any other node are dropped
   * (`drops.crypto["not-admitted"]`). An empty list admits nobody.
   */
  admission?: NodeAdmissionOptions;
}

/** A key as `tipc node set key KEY [algname ALG] [nodeid ID] [master]` takes it. */
export interface NodeKey {
  /** `0x` + hex digits, or the string's bytes; or the bytes: 16, 24 or 32 key bytes + 4 salt bytes */
  key: string | Uint8Array;
  /** only "gcm(aes)" (the default) */
  algorithm?: string;
  /** a per-node key: our own id sets our TX key, a peer's id that peer's RX key */
  nodeId?: string | Uint8Array;
  /** the cluster master key (session keys are then exchanged over MSG_CRYPTO) */
  master?: boolean;
}

export interface NodeCryptoOptions {
  /** keys set at start, in order */
  keys?: NodeKey[];
  /**
   * Drop every unencrypted datagram while any key is set (default true; the kernel accepts
   * them, counted as `drops.crypto["crypto-plaintext-refused"]` here).
   */
  refusePlaintext?: boolean;
  /** sysctl net.tipc.key_exchange_enabled: send and take session keys (default true) */
  keyExchange?: boolean;
  /** random bytes for session keys and timers (default node:crypto randomBytes; tests seed it) */
  random?: (n: number) => Uint8Array;
}

export interface NodeAdmissionOptions {
  /** node addresses allowed */
  addresses?: number[];
  /** node ids allowed (as `nodeId` takes them); an address a discovery message pairs with one is allowed too */
  nodeIds?: (string | Uint8Array)[];
}

/** `tipc node key` status: key slots (TX and per peer), the kernel's counters and drops. */
export interface NodeCryptoStatus {
  keys: KeyStatus;
  stats: CryptoStats;
  refusePlaintext: boolean;
}

/** What `publish` takes. `upper` defaults to `lower`; `port` and `key` are assigned if omitted. */
export interface PublishRequest {
  type: number;
  lower: number;
  upper?: number;
  /** "cluster" (default): distributed to every peer; "node": stays on this node. */
  scope?: Scope;
  port?: number;
  key?: number;
}

/** What `withdraw` takes: a binding returned by `publish`, or its identity. */
export type WithdrawRequest = Binding | { type: number; lower: number; upper: number; key: number };

export interface SubscribeRequest {
  type: number;
  lower: number;
  upper: number;
  /** "ports" (TIPC_SUB_PORTS): every binding; "service" (TIPC_SUB_SERVICE): first/last per range. */
  mode: SubscriptionMode;
  /** Ends the subscription with a `timeout` event after this many ms. Default: never. */
  timeout?: number;
  /** Only bindings of this scope. */
  scope?: Scope;
  /** false: no events for what already matches. Default true. */
  initialEvents?: boolean;
}

/**
 * Topology events of one subscription, as an async iterable. It ends after a `timeout` event,
 * after `cancel()`, or when the node closes. Events queue until read, within the node's
 * `maxQueuedEvents`: a reader too far behind is ended, its next read rejecting with NodeError
 * OVERFLOW.
 */
export interface TopologySubscription extends AsyncIterable<SubscriptionEvent> {
  readonly id: number;
  readonly active: boolean;
  /** Why it ended early: NodeError OVERFLOW, its events dropped. */
  readonly error: import("./errors.js").NodeError | undefined;
  /** Events received but not yet read. */
  readonly queued: number;
  /** Ends the subscription (TIPC_SUB_CANCEL); a pending `next()` resolves with done. */
  cancel(): void;
  /** Takes every queued event at once, without waiting (for synchronous readers). */
  drain(): SubscriptionEvent[];
}

/** A peer node as this node knows it. */
export interface PeerNode {
  address: number;
  /** The peer's 128-bit id as the kernel prints it. */
  nodeId: string;
  capabilities: number;
  /** The peer advertises TIPC_NAMED_BCAST (can take binding updates on the broadcast link). */
  namedBroadcast: boolean;
  up: boolean;
  mediaAddress: MediaAddress;
}

/** One bearer of a node with several (`NodeOptions.bearers`). */
export interface BearerOptions {
  transport: Transport;
  /** at most 15 characters; default "udp<index>" */
  name?: string;
  /** as `NodeOptions.discoveryPeers`, for this bearer */
  discoveryPeers?: MediaAddress[];
  /** link selection priority 0..31 (default 10): failover prefers the highest */
  priority?: number;
}

export interface BearerDescription {
  name: string;
  mediaAddress: MediaAddress;
  mtu: number;
  /** true: one broadcast reaches all (multicast, memory fabric); false: replicast */
  canBroadcast: boolean;
  discoveryPeers: MediaAddress[];
  /** link selection priority, when one was given */
  priority?: number;
  /** false after `disableBearer` */
  enabled: boolean;
}

export interface NodeStats {
  address: number;
  bindings: {
    /** every binding in the table */
    total: number;
    /** this node's own (node and cluster scope; includes the node-state binding) */
    own: number;
  };
  /** peers known, and up */
  nodes: { known: number; up: number };
  /** unicast links established */
  links: { up: number };
  subscriptions: number;
  /** subscription events queued and not read (now, peak, bound) and subscriptions ended by OVERFLOW */
  subscriptionEvents: { queued: number; peak: number; limit: number; overflows: number };
  /** binding updates sent, by method (broadcast link, one unicast copy per peer, bulk at link up) */
  updates: {
    /** updates handed out, counted once each */
    total: number;
    broadcast: number;
    replicast: number;
    bulk: number;
    /** the method the next update will use */
    method: "broadcast" | "replicast";
    methodSwitches: number;
  };
  /** messages held out of order by the distributor: now and peak */
  held: { now: number; peak: number };
  /** dropped input, by layer and cause */
  drops: {
    distributor: Record<string, number>;
    link: Record<string, number>;
    /**
     * kebab-case causes (`NODE_TRANSPORT_DROP_CAUSES`): datagrams the transport refused and
     * errors it reported through onError, by TransportError code (`socket`, `closed`, ...);
     * messages the link refused to send (`link-peer-down`, ...); and `internal`: an exception in
     * a core, logged and survived; plus each bearer's `Transport.drops()` (for UDP:
     * `learn-<cause>` and `send-queue-full`), summed over bearers
     */
    transport: Record<string, number>;
    /**
     * datagrams the encryption layer dropped: `crypto-auth-failed` (decrypt failures),
     * `crypto-replay`, `crypto-plaintext-refused`, the other `crypto-…` causes of
     * @tipcjs/crypto, and `not-admitted` (the admission allow-list)
     */
    crypto: Record<string, number>;
  };
  retransmissions: { unicast: number; broadcast: number };
  /** the socket layer: sockets, messages sent and received, returned, dropped by cause */
  sockets: SocketLayerStats;
  /** the full link and distributor statistics */
  link: LinkStats;
  distributor: DistributorStats;
}

/** `tipc link get` of this node: what its links are configured with. */
export interface LinkProperties {
  /** link tolerance, ms (a link may have taken a peer's different one: `links()[i].tolerance`) */
  tolerance: number;
  /** send window, packets */
  window: number;
  /** link selection priority by bearer name */
  priority: Record<string, number>;
}

/**
 * Counters of one link, since it came up (unicast) or since the node started (the broadcast
 * link, named "broadcast-link"), or since `resetLinkStats`.
 */
export interface LinkCounters {
  name: string;
  /** packets sent on the link (unicast: sequenced packets; broadcast: first sends, not copies) */
  txPackets: number;
  /** unicast links: sequenced packets received in order */
  rxPackets?: number;
  /** the broadcast link: packet copies retransmitted */
  retransmitted?: number;
}

/** Events a node emits, with their payloads. */
export interface NodeEvents {
  nodeUp: { address: number; nodeId: string; capabilities: number; mtu: number };
  nodeDown: { address: number };
  /** `bearer` is the bearer's name */
  linkUp: { peer: number; name: string; bearer: string };
  /** `failoverTo`: the bearer now carrying the peer's traffic (the node stays up) */
  linkDown: { peer: number; name: string; bearer: string; reason: LinkDownReason; failoverTo?: string };
  /** a binding entered ("bound") or left ("unbound") the table */
  bindingChange: { kind: "bound" | "unbound"; binding: Binding; origin: ChangeOrigin };
  /** another node claims our address, or a peer's address changed while its link is up */
  duplicateAddress: { address: number; mediaAddress: MediaAddress };
  /** a transport failure (never fatal: the datagram counts as lost) */
  transportError: { error: Error; bearer: string };
}

export type NodeEventName = keyof NodeEvents;

export interface TipcNode {
  /** This node's 32-bit TIPC address (final: `createNode` resolves after the address trial). */
  readonly address: number;
  /** This node's id as the kernel prints it. */
  readonly nodeId: string;
  readonly netId: number;
  readonly legacy: boolean;
  /** Capability bits this node advertises. */
  readonly capabilities: number;
  readonly closed: boolean;

  /**
   * Binds a service range to a port of this node. Cluster scope goes to every peer. Throws
   * NodeError: BAD_ARGUMENT (not u32, lower > upper), RESERVED_TYPE (type < 64), DUPLICATE,
   * LIMIT, CLOSED.
   */
  publish(request: PublishRequest): Binding;
  /** Withdraws an own binding. Returns false if there was none. Throws BAD_ARGUMENT, CLOSED. */
  withdraw(request: WithdrawRequest): boolean;

  /** Anycast lookup (the kernel's default): round-robin over the first range containing `instance`. */
  lookupAnycast(type: number, instance: number): SocketAddress | undefined;
  /** Closest first: this node's bindings first, round-robin. */
  lookupClosestFirst(type: number, instance: number): SocketAddress | undefined;
  /** Anycast restricted to one node. */
  lookupOnNode(type: number, instance: number, node: number): SocketAddress | undefined;
  /** Every binding whose range contains `instance`. */
  lookupInstance(type: number, instance: number): Binding[];
  /** Every distinct socket with a binding overlapping [lower, upper]. */
  lookupMulticast(
    type: number,
    lower: number,
    upper: number,
    options?: { nodes?: Iterable<number>; scope?: Scope },
  ): SocketAddress[];
  /** Every node with a binding overlapping [lower, upper], ascending. */
  lookupMulticastNodes(type: number, lower: number, upper: number): number[];
  /** The whole table, ordered by type, lower, upper, publication (as `tipc nametable show`). */
  bindings(): Binding[];
  /** This node's own bindings, in publication order. */
  ownBindings(): Binding[];

  /**
   * Opens a connectionless socket (rdm or dgram) with a port of its own. Throws NodeError
   * BAD_ARGUMENT, NOT_SUPPORTED (seqpacket, stream), LIMIT, CLOSED.
   */
  socket(options: SocketOptions): TipcSocket;

  /**
   * Connects to a service address `{ type, instance, node? }` or a socket address `{ node, port }`
   * (a SEQPACKET or STREAM socket, STREAM by default) and returns the connection at once, as
   * `net.connect` does: `connect` when established, `error` (CONNECTION_REFUSED, CONNECT_TIMEOUT)
   * if not. Throws NO_SERVICE, NO_NODE, BAD_ARGUMENT, CLOSED.
   */
  connect(address: ServiceAddress | SocketAddress, options?: ConnectionOptions): TipcConnection;

  /**
   * Binds a listening socket to `options.service` and accepts every connection to it: the
   * server emits `connection` (a TipcConnection), or iterate it with `for await`.
   */
  listen(options: ServerOptions): TipcServer;

  /** A topology subscription. Throws BAD_ARGUMENT, LIMIT (too many), CLOSED. */
  subscribe(request: SubscribeRequest): TopologySubscription;

  nodes(): PeerNode[];
  links(): LinkInfo[];
  bearers(): BearerDescription[];
  /**
   * `tipc bearer disable`: take a bearer out of service. Its links go down at once and their
   * traffic fails over to the peers' other links (a peer with no other link goes down); peers
   * notice by supervision. Throws NodeError BAD_ARGUMENT for an unknown name.
   */
  disableBearer(name: string): void;
  /** `tipc bearer enable`: discovery resumes on the bearer and its links re-form. */
  enableBearer(name: string): void;
  stats(): NodeStats;

  /**
   * `tipc bearer add media udp name NAME remoteip IP`: a replicast peer added to a bearer at run
   * time; discovery goes to it from the next round. BAD_ARGUMENT for an unknown or multicast
   * bearer, or an address of another family.
   */
  addPeer(bearer: string, peer: MediaAddress): void;
  /**
   * Removes a replicast peer address from every bearer (no discovery to it, no broadcast
   * copies); a link to it that is up stays until the peer stops talking. Returns the bearers it
   * was removed from.
   */
  removePeer(peer: MediaAddress): string[];
  /** `tipc link get`: tolerance, window and priorities the links are configured with. */
  linkProperties(): LinkProperties;
  /**
   * `tipc link set broadcast BROADCAST|REPLICAST|AUTOSELECT [ratio N]`: the method multicast
   * uses for sockets without a mandatory one (bcast.c `force_bcast`/`force_rcast`, `rc_ratio`
   * 1..100, default autoselect and 10). A socket takes the new method at its next multicast, with
   * the SYN twin on the old path that keeps order when every peer has TIPC_MCAST_RBCTL.
   * Throws NodeError BAD_ARGUMENT, CLOSED.
   */
  setBroadcastMode(mode: BroadcastMode, ratio?: number): void;
  /** `tipc link stat show`: counters of the broadcast link and of every unicast link. */
  linkCounters(): LinkCounters[];
  /** `tipc link stat reset [link NAME]`: counters start again from 0 (BAD_ARGUMENT for an unknown link). */
  resetLinkStats(name?: string): void;
  /**
   * `tipc link set tolerance|window ... link NAME` at run time: a unicast link's tolerance goes
   * to its peer, which takes it; a window bounds the packets in flight from now on; the
   * broadcast link ("broadcast-link") takes a window only. Throws NodeError BAD_ARGUMENT (an
   * unknown link, tolerance outside 50..30,000 ms, window outside 16..8191), CLOSED.
   */
  setLinkProperties(name: string, properties: { tolerance?: number; window?: number }): void;

  /**
   * `tipc node set key`: a cluster, per-node or master key, taken without a link reset (the
   * kernel's pending → active switch). Returns the key slot (1..3; 0 for a master key). Throws
   * NodeError NOT_SUPPORTED without the `crypto` option, BAD_ARGUMENT for a bad key, BUSY where
   * the kernel says EBUSY.
   */
  setKey(key: NodeKey): number;
  /** `tipc node flush key`: every key, TX and RX. NOT_SUPPORTED without the `crypto` option. */
  flushKeys(): void;
  /** `tipc node set key rekeying N|now`: session-key renewal in master-key mode (minutes, 0 = off). */
  setRekeying(interval: number | "now"): void;
  /** Key slots and counters; undefined without the `crypto` option. */
  cryptoStatus(): NodeCryptoStatus | undefined;

  /** Adds an event handler; returns a function that removes it. Handler exceptions are logged, never thrown. */
  on<E extends NodeEventName>(event: E, handler: (payload: NodeEvents[E]) => void): () => void;
  off<E extends NodeEventName>(event: E, handler: (payload: NodeEvents[E]) => void): void;

  /**
   * Graceful stop: withdraws this node's bindings and waits (at most `closeTimeout`) until every
   * peer has acknowledged them, then sends RESET with peer-stopping on every link, ends the
   * subscriptions and closes the transport. Idempotent.
   */
  close(): Promise<void>;
}
