/**
 * Bindings as TIPC's name table holds them (shared/docs/tipc-protocol.md §2, §3).
 */

/** `node` bindings stay on this node; `cluster` bindings are distributed to every peer. */
export type Scope = "node" | "cluster";

/** A service range {type, lower, upper}, all u32, lower <= upper. */
export interface ServiceRange {
  type: number;
  lower: number;
  upper: number;
}

/** A socket address: the node's 32-bit address and the socket's port reference. */
export interface SocketAddress {
  node: number;
  port: number;
}

/** One binding of a service range to a socket. `key` is unique per node (the kernel's publication key). */
export interface Binding extends ServiceRange, SocketAddress {
  scope: Scope;
  key: number;
}

/**
 * What identifies a binding for removal, as the kernel matches a withdrawal:
 * type, exact lower and upper, originating node and key (the port is not compared).
 */
export interface BindingKey extends ServiceRange {
  node: number;
  key: number;
}

export type InsertResult = { ok: true; binding: Binding } | { ok: false; reason: "duplicate" | "limit" };

/** The outcome of {@link NameTable.add}: {@link InsertResult} without the objects. */
export type AddStatus = "added" | "duplicate" | "limit";

/** Options of {@link NameTable}'s constructor. */
export interface NameTableOptions {
  /** This node's 32-bit address (0 while the node is not yet addressed). */
  ownNode: number;
  /**
   * Cap on the number of bindings held; an insert beyond it gets `{ ok: false, reason: "limit" }`.
   * Default 2^24; never more than `MAX_BINDINGS_LIMIT` (2^27) whatever is given.
   */
  maxBindings?: number;
  /** Cap on live subscriptions (the kernel's `TIPC_MAX_SUBSCR`, 65535, by default). */
  maxSubscriptions?: number;
  /**
   * How many bindings the table is expected to hold (a hint, not a cap). The binding records are
   * allocated for that many at once, so they are not grown (and copied) again and again while a
   * large table is loaded. Default 256; at most `maxBindings` is used.
   */
  expectedBindings?: number;
}

/**
 * Topology-service filter modes: `ports` (TIPC_SUB_PORTS) reports every binding, `service`
 * (TIPC_SUB_SERVICE) only the first binding of an exact range and the withdrawal of its last.
 */
export type SubscriptionMode = "ports" | "service";

/** What a subscriber asks for (the fields of `struct tipc_subscr`, in TypeScript's words). */
export interface SubscriptionRequest extends ServiceRange {
  mode: SubscriptionMode;
  /**
   * Milliseconds until a `timeout` event ends the subscription. Omitted, `Infinity` or
   * 0xFFFFFFFF (`TIPC_WAIT_FOREVER`) mean never. Needs `now` in {@link NameTable.subscribe}.
   */
  timeout?: number;
  /** Only bindings of this scope (the kernel-internal TIPC_SUB_NODE_SCOPE / _CLUSTER_SCOPE bits). */
  scope?: Scope;
  /** `false` skips the events for what already matches (TIPC_SUB_NO_STATUS). Default `true`. */
  initialEvents?: boolean;
  /** Opaque value echoed in every event (the kernel's `usr_handle`). */
  handle?: unknown;
}

/** A live or ended subscription, as returned by `subscribe` and echoed in events. */
export interface Subscription extends ServiceRange {
  readonly id: number;
  readonly mode: SubscriptionMode;
  readonly scope: Scope | undefined;
  readonly handle: unknown;
  /** Absolute time of the timeout event, or `undefined` for none. */
  readonly deadline: number | undefined;
  /** False once it has timed out or been cancelled. */
  readonly active: boolean;
}

/** The part of a range that lies inside the subscribed range. */
export interface FoundRange {
  lower: number;
  upper: number;
}

/** TIPC_PUBLISHED / TIPC_WITHDRAWN for one binding overlapping the subscribed range. */
export interface BindingEvent {
  kind: "published" | "withdrawn";
  subscription: Subscription;
  /** The intersection of the binding's range with the subscribed range. */
  found: FoundRange;
  socket: SocketAddress;
  scope: Scope;
  /** The whole binding (current kernels put its full range, not the intersection, in `found_*`). */
  binding: Binding;
}

/** TIPC_SUBSCR_TIMEOUT: the subscription has ended. `found` echoes the subscribed range, the socket is {0, 0}. */
export interface TimeoutEvent {
  kind: "timeout";
  subscription: Subscription;
  found: FoundRange;
  socket: SocketAddress;
}

export type SubscriptionEvent = BindingEvent | TimeoutEvent;
