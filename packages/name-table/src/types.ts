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
