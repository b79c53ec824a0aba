import type { Binding, NameTable, Scope } from "@tipcjs/name-table";
import type { ConnectionEnd, ConnectionEndReason, ConnState } from "./connection.js";

export type { ConnectionEnd, ConnectionEndReason, ConnState };

/** Connectionless (SOCK_RDM, SOCK_DGRAM) and connection (SOCK_SEQPACKET, SOCK_STREAM) socket types. */
export type SocketType = "rdm" | "dgram" | "seqpacket" | "stream";

/** TIPC_LOW_IMPORTANCE (0) .. TIPC_CRITICAL_IMPORTANCE (3). */
export type Importance = 0 | 1 | 2 | 3;

/** Returned-message error names, keyed by the wire value (uapi/linux/tipc.h). */
export type RejectReason = "NO_NAME" | "NO_PORT" | "NO_NODE" | "OVERLOAD" | "CONN_SHUTDOWN" | "UNKNOWN";

/** The socket layer's view of the multicast environment the link layer provides (bcast.c). */
export interface MulticastEnvironment {
  /** Number of peers on the broadcast link (`tipc_link_bc_peers`), the base of `bc_threshold`. */
  clusterSize: number;
  /** The bearers can broadcast (`bb->bcast_support`); false forces replicast. Default true. */
  broadcastSupport: boolean;
  /** Every peer advertises TIPC_BCAST_RCAST (`bb->rcast_support`); false forces broadcast. Default true. */
  replicastSupport: boolean;
  /**
   * The AND of every peer's capabilities and ours (`tipc_net(net)->capabilities`): with
   * TIPC_MCAST_RBCTL the method may change at any send, with a SYN twin on the old path.
   */
  clusterCapabilities: number;
  /** `tipc link set broadcast`: BROADCAST / REPLICAST force a method, AUTOSELECT (default) chooses. */
  mode: "autoselect" | "broadcast" | "replicast";
  /** `tipc link set broadcast ratio` (1..100), default 10: bc_threshold = 1 + clusterSize * ratio / 100. */
  ratio: number;
}

export interface SocketLayerOptions {
  /** This node's 32-bit address (non-zero). */
  ownNode: number;
  /** The node's name table, shared with the distributor: lookups read it, the layer never writes it. */
  table: NameTable;
  /** Uniform [0, 1) source for port numbers; default Math.random. Inject for determinism. */
  random?: () => number;
  /** Default receive buffer per socket in bytes (the kernel's sysctl tipc_rmem[1], RCVBUF_DEF, 2 MiB). */
  rcvbuf?: number;
  /** Most sockets open at once (default 65,536). */
  maxSockets?: number;
  /** Most multicast messages a socket holds while it waits for a SYN twin (default 1,024). */
  maxHeldMulticast?: number;
  /** Legacy Z.C.N addressing: anycast prefers this node's bindings (closest first). Default false. */
  legacyAddressing?: boolean;
  /** Initial multicast environment (see {@link SocketLayer.setMulticastEnvironment}). */
  multicast?: Partial<MulticastEnvironment>;
  /** CONN_PROBING_INTV: how often an established connection probes its peer (default 1 h, ms). */
  probeInterval?: number;
}

export interface OpenOptions {
  type: SocketType;
  /** TIPC_IMPORTANCE; default 0 (LOW). */
  importance?: Importance;
  /**
   * TIPC_DEST_DROPPABLE: a message of this socket that cannot be delivered is dropped rather than
   * returned. Default true for rdm and dgram, as the kernel's tipc_sk_create sets it.
   */
  destDroppable?: boolean;
  /** SO_RCVBUF in bytes; default the layer's `rcvbuf`. Connectionless limit is rcvbuf << importance. */
  rcvbuf?: number;
  /** TIPC_MCAST_BROADCAST / TIPC_MCAST_REPLICAST: a mandatory multicast method for this socket. */
  multicastMethod?: "broadcast" | "replicast";
  /** TIPC_CONN_TIMEOUT in ms for seqpacket and stream (default 8,000). */
  connectTimeout?: number;
  /** TIPC_NODELAY: no Nagle bundling on a stream socket (default false). */
  nodelay?: boolean;
}

/** A service range to bind: {type, lower, upper} with a scope (default cluster). */
export interface BindRequest {
  type: number;
  lower: number;
  upper: number;
  scope?: Scope;
}

/** A service address {type, instance}; `node` is the lookup domain (sockaddr's `domain`), 0 = cluster. */
export interface ServiceAddress {
  type: number;
  instance: number;
  node?: number;
}

export interface SocketAddress {
  node: number;
  port: number;
}

export interface ServiceRange {
  type: number;
  lower: number;
  upper: number;
}

export interface SendOptions {
  /** This message's importance; default the socket's. */
  importance?: Importance;
}

/** What the node must do for the layer; every input method returns a list of these. */
export type SocketOutput =
  /** Send `message` (one complete TIPC message) to `node` over its unicast link at `importance`. */
  | { kind: "transmit"; node: number; importance: Importance; message: Uint8Array; port: number }
  /** Send `message` once over the broadcast link at `importance`. */
  | { kind: "broadcast"; importance: Importance; message: Uint8Array; port: number }
  /** Publish this own binding (distributor.publish); the layer has checked it is new. */
  | { kind: "publish"; binding: Binding }
  /** Withdraw this own binding (distributor.withdraw). */
  | { kind: "withdraw"; binding: Binding }
  /** The socket's receive queue went from empty to non-empty. */
  | { kind: "readable"; port: number }
  /** A socket blocked by link congestion, or by its connection's window, may send again. */
  | { kind: "wakeup"; port: number }
  /** A connecting socket got its ACK: the connection is established. */
  | { kind: "connected"; port: number; peer: SocketAddress }
  /** A connection (or a connect attempt) ended; what is queued can still be read. */
  | { kind: "disconnected"; port: number; end: ConnectionEnd };

/** The result of a send: sent (with what to transmit), or blocked on a congested link. */
export type SendResult =
  | { status: "sent"; outputs: SocketOutput[] }
  /** Nothing was sent: wait for this socket's `wakeup` output, then send again. */
  | { status: "blocked"; node: number; importance: Importance };

/** How a received message was addressed. */
export type Destination =
  | { kind: "service"; type: number; instance: number }
  | { kind: "range"; type: number; lower: number; upper: number }
  | { kind: "socket" };

/** One item of a socket's receive queue, as recvmsg() shows it. */
export type Received =
  | {
      kind: "message";
      data: Uint8Array;
      source: SocketAddress;
      destination: Destination;
      importance: Importance;
    }
  /**
   * A message of this socket came back (tipc_msg_reverse): TIPC_ERRINFO's error code and
   * TIPC_RETDATA's data (at most 1,024 bytes of what was sent).
   */
  | {
      kind: "returned";
      error: RejectReason;
      errorCode: number;
      data: Uint8Array;
      /** The socket that rejected it (the original destination when it was a socket address). */
      rejectedBy: SocketAddress;
      destination: Destination;
      importance: Importance;
    };

/** Counted drops, kebab-case like the link's. */
export type SocketDropCause =
  /** bytes from the link that do not decode */
  | "malformed"
  /** a non-data message handed to the layer (CONN_MANAGER etc., not carried yet) */
  | "not-data"
  /** an undeliverable message that is dest-droppable or already errored: dropped, not returned */
  | "unreturnable"
  /** a multicast message that matched no local socket (the kernel drops it, no reject) */
  | "multicast-no-socket"
  /** a multicast message held for its SYN twin beyond `maxHeldMulticast` */
  | "multicast-held-overflow"
  /** a returned message whose sender is gone */
  | "returned-orphan"
  /** a message whose destination node is not up, when rerouted or returned */
  | "no-route"
  /** a CONN_MANAGER message not from the socket's connected peer (tsk_peer_msg fails) */
  | "conn-not-peer";

export interface SocketLayerStats {
  sockets: number;
  bindings: number;
  sent: { unicast: number; broadcast: number; replicast: number; local: number; synTwins: number };
  received: { delivered: number; rerouted: number; returned: number; rejected: Record<RejectReason, number> };
  drops: Record<SocketDropCause, number>;
}

export interface SocketInfo {
  port: number;
  type: SocketType;
  importance: Importance;
  destDroppable: boolean;
  rcvbuf: number;
  /** Bytes in the receive queue (header + data of each message). */
  queuedBytes: number;
  queuedMessages: number;
  bindings: Binding[];
  /** Nodes (0 = the broadcast link) whose congestion blocks this socket, with the importance. */
  blockedOn: { node: number; importance: Importance }[];
  /** seqpacket and stream sockets: the connection's state and windows. */
  connection?: ConnectionInfo;
}

export interface ConnectionInfo {
  state: ConnState;
  peer: SocketAddress | undefined;
  peerCapabilities: number;
  /** blocks (or messages, for a legacy peer) sent and not yet acknowledged, and the window */
  sntUnacked: number;
  sndWin: number;
  /** blocks read and not yet acknowledged, and the window advertised */
  rcvUnacked: number;
  rcvWin: number;
  /** Nagle: the buffer size (0 = off) and the messages built but held */
  maxNagle: number;
  heldMessages: number;
  end: ConnectionEnd | undefined;
}

/** One item a connection's reader takes (readConnection). */
export type ConnectionItem =
  /** data: one message for seqpacket (its boundary kept), a run of bytes for stream */
  | { kind: "data"; data: Uint8Array }
  /** the connection ended; stays at the head of the queue (every later read sees it too) */
  | { kind: "end"; end: ConnectionEnd; returnedData: Uint8Array };

export interface ConnectionRead {
  item: ConnectionItem | undefined;
  /** flow-control acknowledgements the read produced */
  outputs: SocketOutput[];
}
