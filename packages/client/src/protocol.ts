/**
 * The tipcd control protocol, version 1: newline-delimited JSON over a Unix stream socket.
 * PROTOCOL.md in apps/daemon describes it for other languages; these types are the reference.
 */

/** A socket's default receive window (`socketOpen`'s `window`), bytes. */
export const DEFAULT_RECEIVE_WINDOW = 256 * 1024;
/** The largest receive window a socket may ask for, bytes. */
export const MAX_RECEIVE_WINDOW = 16 * 1024 * 1024;

/**
 * The largest `rcvbuf` a client may give a socket of tipcd, bytes: the kernel's RCVBUF_MAX
 * (16 MiB; `rcvbuf << importance` is the receive queue's limit).
 */
export const MAX_SOCKET_RCVBUF = 16 * 1024 * 1024;

/** Protocol version tipcd speaks (`hello` returns it). */
export const PROTOCOL_VERSION = 1;
/** Longest request line tipcd accepts, in bytes (newline excluded). Longer: LINE_TOO_LONG, connection closed. */
export const MAX_LINE_BYTES = 65536;
/** The control socket path of tipcd and tipcctl run as root (see {@link defaultSocketPath}). */
export const DEFAULT_SOCKET_PATH = "/run/tipcd/tipcd.sock";

/**
 * The default control socket path: {@link DEFAULT_SOCKET_PATH} for root; for another user
 * `$XDG_RUNTIME_DIR/tipcd.sock` (the user's runtime directory, /run/user/UID under systemd), or
 * `/tmp/tipcd-UID/tipcd.sock` without one.
 */
export function defaultSocketPath(
  env: Record<string, string | undefined> = process.env,
  uid: number | undefined = process.getuid?.(),
): string {
  if (uid === undefined || uid === 0) return DEFAULT_SOCKET_PATH;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg?.startsWith("/")) return `${xdg.replace(/\/+$/, "")}/tipcd.sock`;
  return `/tmp/tipcd-${uid}/tipcd.sock`;
}

export type Scope = "node" | "cluster";

/** One binding of a service range to a socket, as the name table holds it. */
export interface BindingJSON {
  type: number;
  lower: number;
  upper: number;
  /** 32-bit TIPC address of the node that holds the socket */
  node: number;
  port: number;
  scope: Scope;
  /** publication key, unique per node */
  key: number;
}

/** A binding this daemon published, with who owns it. */
export interface OwnBindingJSON extends BindingJSON {
  /** "connection": withdrawn when the client connection that made it closes; "daemon": kept until unbound */
  owner: "connection" | "daemon";
}

export interface SocketAddressJSON {
  node: number;
  port: number;
}

/** Topology event of a subscription (`published`/`withdrawn` carry the binding; `timeout` ends it). */
export interface SubscriptionEventJSON {
  kind: "published" | "withdrawn" | "timeout";
  /** the intersection with the subscribed range (the subscribed range for `timeout`) */
  found: { lower: number; upper: number };
  socket: SocketAddressJSON;
  scope?: Scope;
  binding?: BindingJSON;
}

export type LookupMode = "anycast" | "closest" | "node" | "instance" | "multicast" | "nodes";

/** Request parameters, by method. */
export interface MethodParams {
  hello: Record<string, never>;
  bind: {
    type: number;
    lower: number;
    upper?: number;
    scope?: Scope;
    port?: number;
    /** default "connection" */
    owner?: "connection" | "daemon";
  };
  unbind: { type: number; lower: number; upper?: number; key?: number };
  lookup: {
    type: number;
    /** the instance (anycast, closest, node, instance) or the lower bound (multicast, nodes) */
    lower: number;
    /** upper bound for multicast and nodes (default lower) */
    upper?: number;
    mode?: LookupMode;
    /** node address, for mode "node" */
    node?: number;
  };
  bindings: { type?: number; own?: boolean };
  subscribe: {
    type: number;
    lower: number;
    upper: number;
    mode?: "ports" | "service";
    timeout?: number;
    initialEvents?: boolean;
  };
  unsubscribe: { subscription: number };
  nodes: Record<string, never>;
  links: Record<string, never>;
  bearers: Record<string, never>;
  /** `tipc bearer disable` / `enable`, by bearer name */
  bearerDisable: { name: string };
  bearerEnable: { name: string };
  stats: Record<string, never>;
  /** `tipc link stat show [link NAME]`: counters and properties of every link, or of one */
  linkStats: { link?: string };
  /** `tipc link stat reset [link NAME]` */
  linkStatsReset: { link?: string };
  /** `tipc link get PROPERTY`: the configured tolerance, window and bearer priorities */
  linkGet: Record<string, never>;
  /** `tipc link set PROPERTY VALUE link LINK`: NOT_SUPPORTED where the node cannot change it at run time */
  linkSet: { property: "tolerance" | "priority" | "window"; value: number; link?: string };
  /** `tipc bearer add media udp name NAME remoteip IP [remoteport PORT]` */
  peerAdd: { bearer: string; ip: string; port?: number };
  /**
   * `tipc peer remove address ADDR | identity ID`, and `remoteip IP [remoteport PORT]`: forget a
   * peer's UDP address on every bearer. A peer node that is up: BUSY (as the kernel's EBUSY)
   */
  peerRemove: { address?: number; identity?: string; ip?: string; port?: number };
  /** Opens a connectionless socket (node.socket()); it belongs to the connection and closes with it. */
  socketOpen: {
    type: SocketType;
    importance?: Importance;
    destDroppable?: boolean;
    rcvbuf?: number;
    multicastMethod?: "broadcast" | "replicast";
    /**
     * bytes of received messages the daemon may push for this socket before the client grants
     * more with `socketCredit` (default DEFAULT_RECEIVE_WINDOW, at most MAX_RECEIVE_WINDOW)
     */
    window?: number;
  };
  /**
   * The client read `bytes` of this socket's messages: the daemon may push that many more. An
   * unread socket holds back only its own messages (they wait in the node socket, then OVERLOAD).
   */
  socketCredit: { socket: number; bytes: number };
  socketBind: { socket: number; type: number; lower: number; upper?: number; scope?: Scope };
  socketUnbind: { socket: number; type: number; lower: number; upper?: number; scope?: Scope };
  /** Anycast to `{type, instance}` (`node`: only on that node); the data follows the line (`bytes`). */
  socketSendTo: { socket: number; type: number; instance: number; node?: number } & SendParams;
  /** To `<node:port>`; the data follows the line. */
  socketSendToSocket: { socket: number; node: number; port: number } & SendParams;
  /** Multicast to every socket bound in `{type, lower, upper}`; the data follows the line. */
  socketSendToRange: { socket: number; type: number; lower: number; upper: number } & SendParams;
  socketSet: {
    socket: number;
    importance?: Importance;
    destDroppable?: boolean;
    multicastMethod?: "broadcast" | "replicast" | "auto";
  };
  socketInfo: { socket: number };
  socketClose: { socket: number };
  /**
   * `tipc node set key KEY [algname ALG] [nodeid ID] [master]`, or with `rekeying` (minutes, 0 =
   * off, or "now") `tipc node set key rekeying N|now`. NOT_SUPPORTED when tipcd runs without
   * `crypto` in its configuration.
   */
  keySet: { key?: string; algname?: string; nodeid?: string; master?: boolean; rekeying?: number | "now" };
  /** `tipc node flush key` */
  keyFlush: Record<string, never>;
  /** key slots (by hint, never key bytes), the kernel's crypto counters and the crypto drops */
  keyStatus: Record<string, never>;
  /**
   * Connects a TIPC connection (SOCK_STREAM or SOCK_SEQPACKET) to a service address
   * (`type`, `instance`, optional `node`) or a socket address (`node`, `port`). Only as the first
   * line of a control connection of its own: after the answer, that Unix socket carries the
   * connection's data (PROTOCOL.md "Connections").
   */
  connect: ConnectTarget & { connType?: ConnectionType; connectTimeout?: number; nodelay?: boolean };
  /** Takes an incoming connection announced by a `connection` event; first line of its own control connection. */
  accept: { connection: number };
  /** Listens for TIPC connections on a service range; each SYN is announced as a `connection` event. */
  listen: {
    type: number;
    lower: number;
    upper?: number;
    scope?: Scope;
    connType?: ConnectionType;
  };
  /** Stops listening: connections announced and not yet accepted are closed (the peers see a reset). */
  listenClose: { listener: number };
}

/** "stream" (SOCK_STREAM: bytes) or "seqpacket" (SOCK_SEQPACKET: messages keep their boundaries). */
export type ConnectionType = "stream" | "seqpacket";

/** Where `connect` goes: a service address (anycast, or on `node`) or a socket address. */
export type ConnectTarget =
  | { type: number; instance: number; node?: number; port?: undefined }
  | { node: number; port: number; type?: undefined; instance?: undefined };

export type Method = keyof MethodParams;
export const METHODS: readonly Method[] = [
  "hello",
  "bind",
  "unbind",
  "lookup",
  "bindings",
  "subscribe",
  "unsubscribe",
  "nodes",
  "links",
  "bearers",
  "bearerDisable",
  "bearerEnable",
  "stats",
  "linkStats",
  "linkStatsReset",
  "linkGet",
  "linkSet",
  "peerAdd",
  "peerRemove",
  "socketOpen",
  "socketCredit",
  "socketBind",
  "socketUnbind",
  "socketSendTo",
  "socketSendToSocket",
  "socketSendToRange",
  "socketSet",
  "socketInfo",
  "socketClose",
  "keySet",
  "keyFlush",
  "keyStatus",
  "connect",
  "accept",
  "listen",
  "listenClose",
];

export interface HelloResult {
  protocol: number;
  daemon: string;
  nodeId: string;
  address: number;
  /** the address as 8 hex digits, as `tipc` prints node addresses */
  addressHex: string;
  netId: number;
  legacy: boolean;
}

export interface PeerNodeJSON {
  address: number;
  nodeId: string;
  capabilities: number;
  namedBroadcast: boolean;
  up: boolean;
  mediaAddress: { family: "ipv4" | "ipv6"; address: string; port: number };
}

export interface LinkJSON {
  peer: number;
  name: string;
  state: string;
  mtu: number;
  tolerance: number;
  [k: string]: unknown;
}

export interface BearerJSON {
  name: string;
  mediaAddress: { family: "ipv4" | "ipv6"; address: string; port: number };
  mtu: number;
  canBroadcast: boolean;
  discoveryPeers: { family: "ipv4" | "ipv6"; address: string; port: number }[];
  enabled: boolean;
  priority?: number;
}

/** Results, by method. `stats` is the node's `NodeStats` as JSON. */
export interface MethodResults {
  hello: HelloResult;
  bind: OwnBindingJSON;
  unbind: { withdrawn: BindingJSON[] };
  lookup: { mode: LookupMode; sockets?: SocketAddressJSON[]; bindings?: BindingJSON[]; nodes?: number[] };
  bindings: { bindings: (BindingJSON | OwnBindingJSON)[] };
  subscribe: { subscription: number };
  unsubscribe: { cancelled: boolean };
  nodes: { nodes: PeerNodeJSON[] };
  links: { links: LinkJSON[] };
  bearers: { bearers: BearerJSON[] };
  bearerDisable: { bearer: BearerJSON };
  bearerEnable: { bearer: BearerJSON };
  stats: Record<string, unknown>;
  linkStats: { links: LinkStatJSON[] };
  linkStatsReset: { reset: string[] };
  linkGet: { tolerance: number; window: number; priority: Record<string, number> };
  linkSet: Record<string, never>;
  peerAdd: { bearer: BearerJSON };
  peerRemove: { removed: { bearer: string; ip: string; port: number }[] };
  socketOpen: { socket: number; address: SocketAddressJSON };
  socketCredit: Record<string, never>;
  socketBind: BindingJSON;
  socketUnbind: Record<string, never>;
  socketSendTo: Record<string, never>;
  socketSendToSocket: Record<string, never>;
  socketSendToRange: Record<string, never>;
  socketSet: Record<string, never>;
  socketInfo: SocketStateJSON;
  socketClose: { closed: boolean };
  /** the key slot taken (1..3; 0 for a master key), or the rekeying interval set */
  keySet: { slot?: number; rekeying?: number | "now" };
  keyFlush: Record<string, never>;
  keyStatus: KeyStatusJSON;
  /** the connection is established: this end and the peer */
  connect: { local: SocketAddressJSON; peer: SocketAddressJSON; connType: ConnectionType };
  accept: { local: SocketAddressJSON; peer: SocketAddressJSON; connType: ConnectionType };
  listen: { listener: number; binding: BindingJSON; connType: ConnectionType };
  listenClose: { closed: boolean };
}

/**
 * Options of one socket send: this message's importance (default the socket's); `dontWait`:
 * fail WOULD_BLOCK rather than wait for a congested link (MSG_DONTWAIT). Without it the send's
 * answer waits for the link, and so do the connection's later requests.
 */
export interface SendParams {
  importance?: Importance;
  dontWait?: boolean;
}

/** "rdm" (SOCK_RDM) or "dgram" (SOCK_DGRAM). */
export type SocketType = "rdm" | "dgram";
/** TIPC_LOW_IMPORTANCE (0) .. TIPC_CRITICAL_IMPORTANCE (3). */
export type Importance = 0 | 1 | 2 | 3;
/** Why a message came back (TIPC_ERRINFO's error, by name). */
export type RejectReason = "NO_NAME" | "NO_PORT" | "NO_NODE" | "OVERLOAD" | "CONN_SHUTDOWN" | "UNKNOWN";

/** How a received message was addressed. */
export type DestinationJSON =
  | { kind: "service"; type: number; instance: number }
  | { kind: "range"; type: number; lower: number; upper: number }
  | { kind: "socket" };

/** What a socket event carries besides its data (which follows the line, `bytes` long). */
export type ReceivedJSON =
  | { kind: "message"; source: SocketAddressJSON; destination: DestinationJSON; importance: Importance }
  | {
      kind: "returned";
      error: RejectReason;
      errorCode: number;
      rejectedBy: SocketAddressJSON;
      destination: DestinationJSON;
      importance: Importance;
    };

/** `socketInfo`: the node socket's state. */
export interface SocketStateJSON {
  port: number;
  type: SocketType;
  importance: Importance;
  destDroppable: boolean;
  rcvbuf: number;
  queuedBytes: number;
  queuedMessages: number;
  bindings: BindingJSON[];
  blockedOn: { node: number; importance: Importance }[];
  pendingSends: number;
}

/** `keyStatus`: key slots by hint (5 key bytes, as the kernel prints them), never whole keys. */
export interface KeyStatusJSON {
  /** false: tipcd runs without `crypto` (no encryption, nothing else is given) */
  enabled: boolean;
  refusePlaintext?: boolean;
  /** our TX slots 0..3 (0 = master key): state "active" | "pending" | "passive" | "master" | "none" */
  tx?: { id: number; state: string; hint?: string; mode?: string; users?: number }[];
  /** RX keys per peer */
  peers?: {
    address: number;
    nodeId?: string;
    keys: { id: number; state: string; hint?: string; mode?: string; users?: number }[];
  }[];
  /** the kernel's counters (ok, nok, bad, nokeys, switches), TX and RX */
  counters?: { tx: Record<string, number>; rx: Record<string, number> };
  /** `crypto-auth-failed` (decrypt failures), `crypto-replay`, `not-admitted`... */
  drops?: Record<string, number>;
}

/** One link in `linkStats`: as `tipc link stat show` prints it. */
export interface LinkStatJSON {
  name: string;
  /** the broadcast link: "up" while a peer is up; unicast: ACTIVE, STANDBY or DEFUNCT (not established) */
  state: "up" | "down" | "ACTIVE" | "STANDBY" | "DEFUNCT";
  mtu?: number;
  priority?: number;
  tolerance?: number;
  window: number;
  txPackets: number;
  rxPackets?: number;
  retransmitted?: number;
  /** unicast: packets sent and not yet acknowledged, waiting for the window, received early */
  transmitQueue?: number;
  backlog?: number;
  deferred?: number;
}

/** Error codes in responses. */
export type ProtocolErrorCode =
  /** the line is not JSON */
  | "PARSE_ERROR"
  /** JSON, but not {id, method, params?} */
  | "INVALID_REQUEST"
  | "UNKNOWN_METHOD"
  /** a parameter is missing, not a u32, lower > upper, a bad mode... */
  | "BAD_ARGUMENT"
  /** service type below 64 */
  | "RESERVED_TYPE"
  | "DUPLICATE"
  /** the node's table or its subscriptions are full */
  | "LIMIT"
  /** this connection already holds the most subscriptions one connection may (1024 by default) */
  | "SUBSCRIPTION_LIMIT"
  /** sent with `id: null` to a connection past the daemon's limit (64 by default); it is closed */
  | "CONNECTION_LIMIT"
  /** unbind found nothing to withdraw, unsubscribe an unknown id */
  | "NOT_FOUND"
  /** a line longer than MAX_LINE_BYTES; the daemon closes the connection after this response */
  | "LINE_TOO_LONG"
  /** on a subscription's `end` message: the client read its events too slowly, they were dropped */
  | "SUBSCRIPTION_OVERFLOW"
  /** `peerRemove` of a peer node that is up (disable the bearer or wait for it to go down) */
  | "BUSY"
  /** `linkSet` of a property the node cannot change at run time */
  | "NOT_SUPPORTED"
  /** a send found no binding for its service address or range */
  | "NO_SERVICE"
  /** a send's destination node is not up */
  | "NO_NODE"
  /** a send of more than 66,000 bytes */
  | "MESSAGE_TOO_LARGE"
  /** socketUnbind of a range the socket did not bind */
  | "NOT_BOUND"
  /** the link is congested and the node socket's queue of waiting sends is full */
  | "WOULD_BLOCK"
  /** this connection already holds the most sockets one connection may (256 by default) */
  | "SOCKET_LIMIT"
  /** a line's `bytes` is not an integer 0..66000: the daemon closes the connection after this */
  | "BAD_PAYLOAD_LENGTH"
  /** the daemon is stopping, or the socket is closed */
  | "CLOSED"
  /** a connect's SYN was rejected: nothing listens on the address (ECONNREFUSED) */
  | "CONNECTION_REFUSED"
  /** the connection's SYN got no answer within its connect timeout */
  | "CONNECT_TIMEOUT"
  /** the peer closed its socket without shutdown (TIPC_ERR_NO_PORT) */
  | "CONNECTION_RESET"
  /** the peer's node went down (TIPC_ERR_NO_NODE) */
  | "PEER_LOST"
  /** the connection was aborted (the peer's socket gone, a protocol error) */
  | "CONNECTION_ABORTED"
  /** the daemon carries the most TIPC connections it may (ControlLimits.maxTipcConnections) */
  | "TIPC_CONNECTION_LIMIT"
  | "INTERNAL";

export interface RequestMessage {
  id: number | string;
  method: string;
  params?: Record<string, unknown>;
  /** the length of the raw data that follows the line (socket sends) */
  bytes?: number;
}

export interface ResponseMessage {
  id: number | string | null;
  result?: unknown;
  error?: { code: ProtocolErrorCode; message: string };
}

/**
 * Pushed by the daemon for a socket opened on this connection: a received or returned message
 * (`data`, its bytes after the line), or the socket's end (`end: true`, no data).
 */
export interface SocketEventMessage {
  event: "socket";
  socket: number;
  data?: ReceivedJSON;
  bytes?: number;
  end?: boolean;
}

/** Pushed by the daemon for a subscription made on this connection. */
export interface EventMessage {
  event: "subscription";
  subscription: number;
  /** absent on an `end` message that carries no event (cancelled, daemon closing) */
  data?: SubscriptionEventJSON;
  /** true on the last message of this subscription (after a timeout, a cancel, or the daemon closing) */
  end?: boolean;
  /**
   * on an `end` message: why the daemon ended the subscription early. `SUBSCRIPTION_OVERFLOW`:
   * its events were not read in time (the node's bound on queued events was reached)
   */
  error?: { code: ProtocolErrorCode; message: string };
}

/**
 * Pushed by the daemon on the control connection that made a listener: an incoming TIPC
 * connection (`connection`, to take with `accept` on a control connection of its own within
 * ControlLimits.acceptTimeoutMs), or the listener's end (`end: true`).
 */
export interface ConnectionEventMessage {
  event: "connection";
  listener: number;
  connection?: number;
  peer?: SocketAddressJSON;
  end?: boolean;
}

/**
 * A frame on a connection's Unix socket after the `connect`/`accept` answer (PROTOCOL.md
 * "Connections"): data (`bytes` and the data after the line: one message of a seqpacket
 * connection, a piece of a stream's bytes), `end` (shutdown: TIPC_CONN_SHUTDOWN, the other
 * side reads end of stream), or, from the daemon only, the typed error that ended it.
 */
export interface ConnectionFrame {
  bytes?: number;
  end?: boolean;
  error?: { code: ProtocolErrorCode; message: string };
}
