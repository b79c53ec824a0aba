/**
 * Public types of @tipcjs/distributor: the inputs it takes, the outputs it returns and the
 * subset of the name table it needs. Protocol rules: shared/docs/tipc-protocol.md §2.
 */
import type { NameDistributorMessage } from "@tipcjs/codec";
import type { Binding, BindingKey, InsertResult } from "@tipcjs/name-table";

/**
 * The part of `@tipcjs/name-table`'s `NameTable` the distributor uses. Any object with these
 * members works (tests use a small map; the node passes its real table).
 */
export interface BindingStore {
  /** Insert a binding; `{ ok: false }` for a duplicate (same type, lower, upper, node, key) or a full table. */
  insert(binding: Binding): InsertResult;
  /** Remove the binding matched as the kernel matches a withdrawal (the port is not compared). */
  remove(key: BindingKey): Binding | undefined;
  /** Remove every binding owned by `node` and return them. */
  purgeNode(node: number): Binding[];
  /** This node's own cluster-scope bindings, in publication order: what a bulk carries. */
  ownClusterBindings(): IterableIterator<Binding>;
  readonly size: number;
}

export type Flavor = "tipcjs" | "linux" | "legacy";

export interface DistributorOptions {
  /** This node's 32-bit TIPC address (non-zero). */
  ownNode: number;
  /** The name table the distributor applies own and received bindings to. */
  table: BindingStore;
  /**
   * Behave as a pre-2020 (pre-5.9) kernel: send without `nonLegacy`, `bulk`, `lastBulk` or
   * sequence numbers, always replicast, apply every received message at once in arrival
   * order, and advertise no `TIPC_NAMED_BCAST` (see `capabilities`). For mixed clusters in
   * tests and the simulator. Default false.
   */
  legacy?: boolean;
  /**
   * Which node to be. `tipcjs` (default): the kernel's protocol with its gaps closed. `linux`:
   * Linux 5.9..6.x as it is, gaps included, for comparisons in tests and the simulator: the
   * receiver walks one queue per peer (O(queue) per message, unbounded), tests "less than
   * rcvNxt" while the gate is shut, keeps open/rcvNxt across node down; the sender sends
   * nothing for an empty bulk. `legacy`: the same as `legacy: true`.
   */
  flavor?: Flavor;
  /**
   * Upper bound on messages held out of order per peer; a message that would exceed it is
   * dropped and counted (`drops["held-overflow"]`). Default 16384.
   */
  maxHeldPerPeer?: number;
  /**
   * Publish the kernel's node-state binding `{type 0, lower = upper = ownNode}` at cluster
   * scope, port 0, key = ownNode, when the distributor is created. Default true.
   */
  publishNodeState?: boolean;
  /** Always replicast, as the kernel does when the broadcast mode is forced to replicast. Default false. */
  forceReplicast?: boolean;
  /**
   * tipcjs flavour: after a peer's node up, send every update by replicast (behind the bulk, on
   * the peer's unicast link) until `bulkAcked(peer)`, so that no broadcast update can overtake
   * the bulk (a kernel peer that kept a stale receive gate across node down would otherwise
   * apply it early and then freeze). Default true. `false` broadcasts at once, as the kernel
   * (and the linux flavour) does: for tests and simulations of the races a kernel sender
   * causes. The linux and legacy flavours never wait.
   */
  awaitBulkAck?: boolean;
  /** The first named sequence number to use (the kernel starts at 0). For wraparound tests. Default 0. */
  initialSndNxt?: number;
}

export interface NodeUpInfo {
  /** The peer's capability bits from discovery (`TIPC_NAMED_BCAST` = 0x800 decides the method). */
  capabilities: number;
  /**
   * The link MTU to the peer (the negotiated max packet size, bytes). A bulk message carries
   * `floor((mtu - 40 - 40) / 20)` items, as the kernel computes it (at least 1). Default 1500.
   */
  mtu?: number;
}

/** Where an output message goes: the broadcast link, or the unicast link to one peer. */
export type SendTarget = "broadcast" | number;

/** Why a message went out. */
export type SendMethod = "broadcast" | "replicast" | "bulk";

export interface SendOutput {
  kind: "send";
  /** "broadcast" (destNode 0) or the peer address (destNode = that peer). */
  to: SendTarget;
  method: SendMethod;
  message: NameDistributorMessage;
}

/** Where a table change came from. */
export type ChangeOrigin =
  | { source: "local" }
  | { source: "peer"; peer: number; via: "bulk" | "sequenced" | "legacy" }
  | { source: "purge"; peer: number };

export interface BoundOutput {
  kind: "bound";
  binding: Binding;
  origin: ChangeOrigin;
}

export interface UnboundOutput {
  kind: "unbound";
  binding: Binding;
  origin: ChangeOrigin;
}

/** Everything a distributor call returns, in the order it happened. */
export type DistributorOutput = SendOutput | BoundOutput | UnboundOutput;

/**
 * Reasons a received message or item is dropped, the keys of `stats().drops`. Kebab-case and
 * stable, as the link's drop causes: metrics are keyed by them.
 */
export type DistributorDropCause =
  /** a sequenced message older than the peer's rcvNxt (already covered) */
  | "stale"
  /** the per-peer held set was full */
  | "held-overflow"
  /** a second held message with the same sequence number */
  | "duplicate-seqno"
  /** held messages discarded because the peer went down */
  | "flushed-at-node-down"
  /** a message from a peer that is not up (call nodeUp first) */
  | "peer-not-up"
  /** not a NAME_DISTRIBUTOR message, or a header that is not well formed */
  | "malformed-message"
  /** a NAME_DISTRIBUTOR type other than PUBLICATION or WITHDRAWAL (its sequence number is still consumed) */
  | "foreign-type"
  /** origNode is not the peer that delivered it */
  | "orig-node-mismatch"
  /** an item whose fields are not u32 integers */
  | "malformed-item"
  /** an item with lower > upper (it could never be matched or withdrawn) */
  | "lower-above-upper"
  /** the table refused an insert because it is full */
  | "table-limit";

/** @deprecated the old name of {@link DistributorDropCause} */
export type DropCause = DistributorDropCause;

export interface DistributorStats {
  /** the next named sequence number this node will use */
  sndNxt: number;
  /** up peers lacking TIPC_NAMED_BCAST (the kernel's rc_dests) */
  replicastDestinations: number;
  /**
   * up peers whose node-up bulk is not acknowledged yet (`bulkAcked`): while any is, updates go
   * by replicast (tipcjs flavour only)
   */
  awaitingBulkAck: number;
  /** the method the next update will use */
  method: "broadcast" | "replicast";
  /** how many times `method` changed */
  methodSwitches: number;
  peersUp: number;
  sent: {
    /** updates (publications and withdrawals) handed out, counted once each */
    updates: number;
    /** messages sent once on the broadcast link */
    broadcast: number;
    /** unicast copies of updates */
    replicast: number;
    /** bulk messages (header-only lastBulk messages included) */
    bulk: number;
    /** items carried in bulk messages */
    bulkItems: number;
    /** bulks with no item: a header-only lastBulk went out (tipcjs), or nothing did (linux, legacy) */
    emptyBulks: number;
  };
  received: {
    messages: number;
    /** applied at once: bulk */
    bulk: number;
    /** applied at once: legacy (or any message, in legacy mode) */
    legacy: number;
    /** applied in sequence order */
    sequenced: number;
    /** of those, applied after being held */
    releasedFromHold: number;
    /** lastBulk messages (each opens or re-aligns a gate) */
    gateOpens: number;
  };
  /** messages held out of order now, all peers */
  heldNow: number;
  /** the largest number held at once by one peer */
  heldPeak: number;
  /** table outcomes of applied items that are normal under races */
  duplicateInserts: number;
  withdrawalsNotFound: number;
  drops: Record<DistributorDropCause, number>;
}

/** One peer as the distributor sees it. */
export interface PeerState {
  peer: number;
  up: boolean;
  capabilities: number;
  mtu: number;
  /** the receive gate: false until this peer's lastBulk arrives, reset at node down (kept in the linux flavour) */
  open: boolean;
  rcvNxt: number;
  /** messages waiting (the linux flavour: the length of its queue) */
  held: number;
  /** sender side: the bulk sent at this peer's node up is not acknowledged yet (`bulkAcked`) */
  awaitingBulkAck: boolean;
}

export interface Distributor {
  readonly ownNode: number;
  readonly flavor: Flavor;
  /** flavor === "legacy" */
  readonly legacy: boolean;
  /** Capability bits this node should advertise for name distribution (TIPC_NAMED_BCAST unless legacy). */
  readonly capabilities: number;
  /**
   * Publish an own binding (`binding.node` must be ownNode): insert it into the table and,
   * at cluster scope, send it to every peer. Node-scope bindings are stored, never sent.
   * Throws DistributorError (INVALID_BINDING, NOT_OWN_BINDING, DUPLICATE, LIMIT) and then changes nothing.
   */
  publish(binding: Binding): DistributorOutput[];
  /** Withdraw an own binding. Throws DistributorError (NOT_OWN_BINDING, NOT_FOUND) and then changes nothing. */
  withdraw(key: BindingKey): DistributorOutput[];
  /**
   * The peer's first link came up: send it the bulk (the `send` outputs with method `bulk`, in
   * order, to that peer). In the tipcjs flavour, every update after this goes by replicast,
   * behind the bulk on the peer's unicast link, until `bulkAcked(peer)`. Throws
   * DistributorError (SELF, ALREADY_UP).
   */
  nodeUp(peer: number, info: NodeUpInfo): DistributorOutput[];
  /**
   * The peer's unicast link has acknowledged (link-level ack) the last bulk message this
   * distributor sent it at its latest node up. Once every up peer has, updates go on the
   * broadcast link again (unless a peer lacks TIPC_NAMED_BCAST). Returns true if the peer was
   * waiting for it; false (and nothing changes) for a peer that is not up or not waiting, so a
   * late or repeated call is harmless. The linux and legacy flavours never wait.
   */
  bulkAcked(peer: number): boolean;
  /** The peer's last link went down: purge its bindings, reset its gate, flush what it held. Idempotent. */
  nodeDown(peer: number): DistributorOutput[];
  /** A NAME_DISTRIBUTOR message from `peer` (from its unicast or broadcast link, in that link's order). */
  receive(peer: number, message: NameDistributorMessage): DistributorOutput[];
  peer(peer: number): PeerState | undefined;
  peers(): PeerState[];
  stats(): DistributorStats;
}
