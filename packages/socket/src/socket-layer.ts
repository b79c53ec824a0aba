/**
 * The socket layer of one node, sans-I/O (the kernel's net/tipc/socket.c, with the parts of
 * msg.c, bcast.c and name_table.c it calls). Sockets with ports, bindings through a socket,
 * sends to a service address, a socket address or a service range, the receive path with its
 * secondary lookup, multicast delivery and SYN-twin ordering, rejection as tipc_msg_reverse does
 * it, receive-queue limits, and link-congestion blocking. No clock, timer or socket: inputs in,
 * outputs out, time passed in. Facts: ../../../../shared/docs/tipc-data-path.md §1-§3, §5.
 */
import {
  type ConnManagerFields,
  connManagerFields,
  connManagerMessage,
  type DataMessage,
  decodeMessage,
  encodeMessage,
  MAX_FORWARD_SIZE,
  MinHeap,
  type OpaqueMessage,
  TIPC_BLOCK_FLOWCTL,
  TIPC_CLUSTER_SCOPE,
  TIPC_CONN_SHUTDOWN,
  TIPC_ERR_NO_NAME,
  TIPC_ERR_NO_NODE,
  TIPC_ERR_NO_PORT,
  TIPC_ERR_OVERLOAD,
  TIPC_MAX_PUBL,
  TIPC_MAX_USER_MSG_SIZE,
  TIPC_MCAST_RBCTL,
  TIPC_NODE_CAPABILITIES,
  TIPC_NODE_SCOPE,
  TIPC_RESERVED_TYPES,
  TIPC_SYN_BIT,
  type TipcMessage,
} from "@tipcjs/codec";
import type { Binding, NameTable } from "@tipcjs/name-table";
import {
  advBlocks,
  CONN_PROBING_INTV,
  CONN_TIMEOUT_DEFAULT,
  type Conn,
  type ConnectionEnd,
  type ConnectionEndReason,
  connCongested,
  connectRetryDelay,
  connInc,
  FLOWCTL_MSG_LIM,
  FLOWCTL_MSG_WIN,
  NAGLE_MAX_BACKLOG_BLOCKS,
  NAGLE_START_INIT,
  NAGLE_START_MAX,
  nagleAppend,
  nagleMax,
  newConn,
  SHORT_H_SIZE,
  TIPC_ACK_RATE,
} from "./connection.js";
import { SocketError } from "./errors.js";
import type {
  BindRequest,
  ConnectionInfo,
  ConnectionRead,
  Destination,
  Importance,
  MulticastEnvironment,
  OpenOptions,
  Received,
  RejectReason,
  SendOptions,
  SendResult,
  ServiceAddress,
  ServiceRange,
  SocketAddress,
  SocketDropCause,
  SocketInfo,
  SocketLayerOptions,
  SocketLayerStats,
  SocketOutput,
  SocketType,
} from "./types.js";

/** RCVBUF_DEF (socket.h): the default SO_RCVBUF, 2 MiB. */
export const RCVBUF_DEF = 2 * 1024 * 1024;
/** TIPC_MIN_PORT .. TIPC_MAX_PORT (socket.c): the port range. */
export const TIPC_MIN_PORT = 1;
export const TIPC_MAX_PORT = 0xffffffff;
/** TIPC_METHOD_EXPIRE (bcast.h): without TIPC_MCAST_RBCTL a multicast method holds 5 s. */
export const TIPC_METHOD_EXPIRE = 5000;
const DEFAULT_MAX_SOCKETS = 65_536;
const DEFAULT_MAX_HELD = 1024;

const DATA_USERS = ["LOW_IMPORTANCE", "MEDIUM_IMPORTANCE", "HIGH_IMPORTANCE", "CRITICAL_IMPORTANCE"] as const;
const REJECT_REASONS: readonly RejectReason[] = [
  "UNKNOWN",
  "NO_NAME",
  "NO_PORT",
  "NO_NODE",
  "OVERLOAD",
  "CONN_SHUTDOWN",
];
const DROP_CAUSES: readonly SocketDropCause[] = [
  "malformed",
  "not-data",
  "unreturnable",
  "multicast-no-socket",
  "multicast-held-overflow",
  "returned-orphan",
  "no-route",
  "conn-not-peer",
];

function reasonOf(code: number): RejectReason {
  return REJECT_REASONS[code] ?? "UNKNOWN";
}

function importanceOf(m: DataMessage): Importance {
  return DATA_USERS.indexOf(m.user as (typeof DATA_USERS)[number]) as Importance;
}

function isU32(v: unknown): v is number {
  return typeof v === "number" && v >>> 0 === v;
}

function badArg(message: string): never {
  throw new SocketError("BAD_ARGUMENT", message);
}

function checkU32(v: unknown, what: string): number {
  if (!isU32(v)) badArg(`${what} must be an integer in 0..4294967295, got ${String(v)}`);
  return v;
}

function checkImportance(v: unknown, what: string): Importance {
  if (v !== 0 && v !== 1 && v !== 2 && v !== 3) badArg(`${what} must be 0..3 (LOW..CRITICAL)`);
  return v;
}

function checkData(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) badArg("data must be a Uint8Array");
  if (data.length > TIPC_MAX_USER_MSG_SIZE) {
    throw new SocketError("MESSAGE_TOO_LARGE", `${data.length} bytes; at most ${TIPC_MAX_USER_MSG_SIZE}`);
  }
  return data;
}

/** A socket's per-message cost against its receive limit: header plus data. */
function sizeOf(m: DataMessage): number {
  return m.headerSize + m.payload.length;
}

/** Multicast method state of one socket (struct tipc_mc_method). */
interface McMethod {
  rcast: boolean;
  mandatory: boolean;
  expires: number;
}

interface Sock {
  readonly port: number;
  readonly type: SocketType;
  importance: Importance;
  destDroppable: boolean;
  rcvbuf: number;
  /** receive queue: messages at [head, length) */
  queue: DataMessage[];
  head: number;
  queuedBytes: number;
  bindings: Binding[];
  pubCount: number;
  /** congested links this socket waits on (the kernel's cong_links), node -> importance */
  cong: Map<number, Importance>;
  mc: McMethod;
  /** multicast messages held until their SYN twin arrives (mc_method.deferredq) */
  held: DataMessage[];
  /** seqpacket and stream: the connection */
  conn: Conn | undefined;
}

export interface SocketLayer {
  /** Opens a socket; returns its port. */
  open(options: OpenOptions): number;
  /** Closes a socket: queued messages are rejected with NO_PORT, bindings withdrawn. */
  close(port: number): SocketOutput[];
  /** Binds a service range to the socket's port; outputs the publication. */
  bind(port: number, request: BindRequest): SocketOutput[];
  /** Withdraws one binding of the socket (same type, lower, upper and scope). */
  unbind(port: number, request: BindRequest): SocketOutput[];
  /** Anycast to a service address (NAMED_MSG). Throws NO_SERVICE, NO_NODE, MESSAGE_TOO_LARGE. */
  sendToService(port: number, address: ServiceAddress, data: Uint8Array, options?: SendOptions): SendResult;
  /** To one socket (DIRECT_MSG). Throws NO_NODE, MESSAGE_TOO_LARGE. */
  sendToSocket(port: number, address: SocketAddress, data: Uint8Array, options?: SendOptions): SendResult;
  /** Multicast to every socket bound in a range (MCAST_MSG). `now` drives the method's expiry. */
  sendToRange(
    port: number,
    range: ServiceRange,
    data: Uint8Array,
    now: number,
    options?: SendOptions,
  ): SendResult;
  /** Takes the next item of a socket's receive queue (empty non-errored messages are skipped, as recvmsg does). */
  read(port: number): Received | undefined;
  /**
   * One complete in-order message from a link (reassembled, unbundled). `now`, when given, is
   * the time timers it starts count from (a SYN retry after OVERLOAD); else the last time seen.
   */
  receive(message: Uint8Array, now?: number): SocketOutput[];
  /** The same, already decoded (as the link engine delivers it); a non-data message is a counted drop. */
  receiveMessage(message: TipcMessage, now?: number): SocketOutput[];
  /**
   * A link to `node` is up (the node can carry messages to it), with the node's capabilities
   * (default TIPC_NODE_CAPABILITIES) and link MTU (Nagle's buffer size; default 1,500).
   */
  nodeUp(node: number, capabilities?: number, mtu?: number): void;
  /** The node is gone: sockets waiting on it wake (their next send fails NO_NODE). */
  nodeDown(node: number): SocketOutput[];
  /**
   * The link to `node` (0: the broadcast link) crossed its backlog limit at `importance`
   * (`congested`), or fell back below it. Sends to a congested link block; clearing wakes them.
   */
  linkCongestion(node: number, importance: Importance, congested: boolean): SocketOutput[];
  /** Updates what the link layer says about broadcast (peers, capabilities, mode). */
  setMulticastEnvironment(env: Partial<MulticastEnvironment>): void;
  /** Socket options after open. */
  setImportance(port: number, importance: Importance): void;
  setDestDroppable(port: number, destDroppable: boolean): void;
  setMulticastMethod(port: number, method: "broadcast" | "replicast" | "auto"): void;
  info(port: number): SocketInfo;
  ports(): number[];
  stats(): SocketLayerStats;

  // connections (seqpacket, stream)
  /** listen(): the socket takes SYNs to its bindings (or port); accept them with acceptConnection. */
  listen(port: number): void;
  /**
   * connect(): a SYN (NAMED_MSG to a service address, DIRECT_MSG to a socket address; seqpacket
   * may carry data) and the connect timeout from `now`. The outcome comes as a `connected` or
   * `disconnected` output. Throws NO_SERVICE, NO_NODE, BAD_STATE.
   */
  connect(port: number, address: ServiceAddress | SocketAddress, now: number, data?: Uint8Array): SendResult;
  /** accept(): the oldest SYN becomes a new connected socket (its port), answered by an empty CONN_MSG. */
  acceptConnection(port: number, now: number): { port: number; outputs: SocketOutput[] } | undefined;
  /** SYNs waiting in a listening socket's queue. */
  pendingConnections(port: number): number;
  /**
   * One message on an established connection (at most 66,000 bytes). Blocked while the peer's
   * window is full or the link is congested: a `wakeup` output says when to try again. Throws
   * NOT_CONNECTED, CONNECTION_ENDED.
   */
  sendConnection(port: number, data: Uint8Array): SendResult;
  /** The next item of a connection's receive queue, with the acknowledgement the read may owe. */
  readConnection(port: number): ConnectionRead;
  /** shutdown(SHUT_RDWR): TIPC_CONN_SHUTDOWN to the peer (its reader sees end of stream). */
  shutdown(port: number): SocketOutput[];
  /** Timers: connect timeouts, SYN retries and connection probes due at `now`. */
  tick(now: number): SocketOutput[];
  /** The earliest time `tick` has something to do, or undefined. */
  nextDeadline(): number | undefined;
}

export function createSocketLayer(options: SocketLayerOptions): SocketLayer {
  return new SocketLayerImpl(options);
}

class SocketLayerImpl implements SocketLayer {
  private readonly own: number;
  private readonly table: NameTable;
  private readonly random: () => number;
  private readonly rcvbufDefault: number;
  private readonly maxSockets: number;
  private readonly maxHeld: number;
  private readonly legacy: boolean;
  private env: MulticastEnvironment;
  private readonly sockets = new Map<number, Sock>();
  private readonly up = new Set<number>();
  /** congested (node, importance) links, keyed node * 4 + importance */
  private readonly congested = new Set<number>();
  /** sockets blocked on each congested link key */
  private readonly waiters = new Map<number, Set<number>>();
  private ownBindings = 0;
  private readonly st: SocketLayerStats;
  /** capabilities and link MTU of each node that is up */
  private readonly peerCaps = new Map<number, number>();
  private readonly peerMtu = new Map<number, number>();
  private readonly probeInterval: number;
  /** the latest time an input carried (receive has none; SYN retries count from it) */
  private lastNow = 0;
  /** connection deadlines (connect timeout, SYN retry, probe) by time; stale entries skipped */
  private readonly timers = new MinHeap<{ at: number; port: number; seq: number }>(
    (a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq),
  );
  private timerSeq = 0;

  constructor(o: SocketLayerOptions) {
    if (typeof o !== "object" || o === null) throw new SocketError("BAD_OPTIONS", "options are required");
    if (!isU32(o.ownNode) || o.ownNode === 0)
      throw new SocketError("BAD_OPTIONS", "ownNode must be a non-zero u32");
    if (!o.table) throw new SocketError("BAD_OPTIONS", "table is required");
    if (o.random !== undefined && typeof o.random !== "function")
      throw new SocketError("BAD_OPTIONS", "random must be a function");
    for (const k of ["rcvbuf", "maxSockets", "maxHeldMulticast", "probeInterval"] as const) {
      const v = o[k];
      if (v !== undefined && !(Number.isInteger(v) && v > 0))
        throw new SocketError("BAD_OPTIONS", `${k} must be a positive integer`);
    }
    this.own = o.ownNode;
    this.table = o.table;
    this.random = o.random ?? Math.random;
    this.rcvbufDefault = o.rcvbuf ?? RCVBUF_DEF;
    this.maxSockets = o.maxSockets ?? DEFAULT_MAX_SOCKETS;
    this.maxHeld = o.maxHeldMulticast ?? DEFAULT_MAX_HELD;
    this.legacy = o.legacyAddressing ?? false;
    this.probeInterval = o.probeInterval ?? CONN_PROBING_INTV;
    this.env = {
      clusterSize: 0,
      broadcastSupport: true,
      replicastSupport: true,
      clusterCapabilities: TIPC_NODE_CAPABILITIES,
      mode: "autoselect",
      ratio: 10,
    };
    this.setMulticastEnvironment(o.multicast ?? {});
    this.st = {
      sockets: 0,
      bindings: 0,
      sent: { unicast: 0, broadcast: 0, replicast: 0, local: 0, synTwins: 0 },
      received: {
        delivered: 0,
        rerouted: 0,
        returned: 0,
        rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
      },
      drops: Object.fromEntries(DROP_CAUSES.map((c) => [c, 0])) as Record<SocketDropCause, number>,
    };
  }

  // ---------------------------------------------------------------- sockets

  open(options: OpenOptions): number {
    if (typeof options !== "object" || options === null) badArg("options are required");
    const type = options.type;
    if (type !== "rdm" && type !== "dgram" && type !== "seqpacket" && type !== "stream")
      badArg("type must be rdm, dgram, seqpacket or stream");
    const connectionless = type === "rdm" || type === "dgram";
    const connTimeout = options.connectTimeout ?? CONN_TIMEOUT_DEFAULT;
    if (!(Number.isInteger(connTimeout) && connTimeout > 0))
      badArg("connectTimeout must be a positive integer");
    const importance = checkImportance(options.importance ?? 0, "importance");
    const rcvbuf = options.rcvbuf ?? this.rcvbufDefault;
    if (!(Number.isInteger(rcvbuf) && rcvbuf > 0)) badArg("rcvbuf must be a positive integer");
    const method = options.multicastMethod;
    if (method !== undefined && method !== "broadcast" && method !== "replicast")
      badArg("multicastMethod must be broadcast or replicast");
    if (this.sockets.size >= this.maxSockets)
      throw new SocketError("LIMIT", `${this.maxSockets} sockets are open`);
    const port = this.allocPort();
    this.sockets.set(port, {
      port,
      type,
      importance,
      // tipc_sk_create: only connectionless sockets are "unreturnable" by default.
      destDroppable: options.destDroppable ?? connectionless,
      rcvbuf,
      queue: [],
      head: 0,
      queuedBytes: 0,
      bindings: [],
      pubCount: 0,
      cong: new Map(),
      mc: { rcast: method === "replicast", mandatory: method !== undefined, expires: 0 },
      held: [],
      conn: connectionless ? undefined : newConn(connTimeout, options.nodelay === true),
    });
    return port;
  }

  /** tipc_sk_insert: a random start in the port range, then the next free one. */
  private allocPort(): number {
    const range = TIPC_MAX_PORT - TIPC_MIN_PORT + 1;
    let port = TIPC_MIN_PORT + Math.floor(this.random() * range);
    for (;;) {
      port = port >= TIPC_MAX_PORT ? TIPC_MIN_PORT : port + 1;
      if (!this.sockets.has(port)) return port;
    }
  }

  private sock(port: number): Sock {
    const s = this.sockets.get(port);
    if (s === undefined) throw new SocketError("NO_SUCH_SOCKET", `no socket has port ${String(port)}`);
    return s;
  }

  close(port: number): SocketOutput[] {
    const s = this.sock(port);
    const out: SocketOutput[] = [];
    // __tipc_shutdown(TIPC_ERR_NO_PORT): a connection sends its FIN (the peer sees a reset)...
    if (s.conn !== undefined) this.teardown(s, s.conn, TIPC_ERR_NO_PORT, out);
    this.sockets.delete(port);
    // ...a connectionless socket rejects every unread message.
    for (let i = s.head; i < s.queue.length; i++)
      this.reject(s.queue[i] as DataMessage, TIPC_ERR_NO_PORT, out);
    s.queue = [];
    s.held = [];
    for (const b of s.bindings) out.push({ kind: "withdraw", binding: b });
    this.ownBindings -= s.bindings.length;
    s.bindings = [];
    for (const [node, imp] of s.cong) this.waiters.get(node * 4 + imp)?.delete(port);
    s.cong.clear();
    return out;
  }

  bind(port: number, request: BindRequest): SocketOutput[] {
    const s = this.sock(port);
    const { type, lower, upper, scope } = this.checkBind(request);
    if (type < TIPC_RESERVED_TYPES)
      throw new SocketError(
        "RESERVED_TYPE",
        `service type ${type} is reserved (below ${TIPC_RESERVED_TYPES})`,
      );
    if (this.ownBindings >= TIPC_MAX_PUBL)
      throw new SocketError("LIMIT", `this node holds ${TIPC_MAX_PUBL} bindings (TIPC_MAX_PUBL)`);
    // tipc_sk_publish: the key is portid + pub_count + 1; coming back round to the port is EADDRINUSE.
    const key = (port + s.pubCount + 1) >>> 0;
    if (key === port) throw new SocketError("DUPLICATE", "this socket's publication keys are used up");
    const binding: Binding = { type, lower, upper, node: this.own, port, key, scope };
    if (this.table.has(binding)) throw new SocketError("DUPLICATE", "this binding exists");
    s.pubCount++;
    s.bindings.push(binding);
    this.ownBindings++;
    return [{ kind: "publish", binding }];
  }

  unbind(port: number, request: BindRequest): SocketOutput[] {
    const s = this.sock(port);
    const { type, lower, upper, scope } = this.checkBind(request);
    const i = s.bindings.findIndex(
      (b) => b.type === type && b.lower === lower && b.upper === upper && b.scope === scope,
    );
    if (i < 0)
      throw new SocketError("NOT_BOUND", `socket ${port} has no binding {${type}, ${lower}, ${upper}}`);
    const [binding] = s.bindings.splice(i, 1) as [Binding];
    this.ownBindings--;
    return [{ kind: "withdraw", binding }];
  }

  private checkBind(r: BindRequest): Required<BindRequest> {
    if (typeof r !== "object" || r === null) badArg("a service range is required");
    const type = checkU32(r.type, "type");
    const lower = checkU32(r.lower, "lower");
    const upper = checkU32(r.upper, "upper");
    if (lower > upper) badArg(`lower ${lower} > upper ${upper}`);
    const scope = r.scope ?? "cluster";
    if (scope !== "cluster" && scope !== "node") badArg("scope must be cluster or node");
    return { type, lower, upper, scope };
  }

  setImportance(port: number, importance: Importance): void {
    const s = this.sock(port);
    s.importance = checkImportance(importance, "importance");
  }

  setDestDroppable(port: number, destDroppable: boolean): void {
    this.sock(port).destDroppable = destDroppable === true;
  }

  setMulticastMethod(port: number, method: "broadcast" | "replicast" | "auto"): void {
    const s = this.sock(port);
    if (method !== "broadcast" && method !== "replicast" && method !== "auto")
      badArg("method must be broadcast, replicast or auto");
    s.mc.mandatory = method !== "auto";
    if (method !== "auto") s.mc.rcast = method === "replicast";
  }

  // ---------------------------------------------------------------- send

  private header(s: Sock, importance: Importance, payload: Uint8Array): DataMessage {
    return {
      user: DATA_USERS[importance],
      type: "DIRECT_MSG",
      headerSize: 32,
      nonSeq: false,
      destDroppable: s.destDroppable,
      // tipc_sk_create: DGRAM sockets are "unreliable" (src_droppable); RDM are not.
      srcDroppable: s.type === "dgram",
      syn: false,
      errorCode: 0,
      rerouteCount: 0,
      lookupScope: 0,
      bcastAck: 0,
      ack: 0,
      seqno: 0,
      prevNode: this.own,
      origPort: s.port,
      destPort: 0,
      origNode: this.own,
      destNode: 0,
      nameType: 0,
      nameInstance: 0,
      nameUpper: 0,
      payload,
    };
  }

  sendToService(port: number, address: ServiceAddress, data: Uint8Array, options?: SendOptions): SendResult {
    const s = this.sock(port);
    if (typeof address !== "object" || address === null) badArg("a service address is required");
    const type = checkU32(address.type, "type");
    const instance = checkU32(address.instance, "instance");
    const lookupNode = checkU32(address.node ?? 0, "node");
    const payload = checkData(data);
    const imp = checkImportance(options?.importance ?? s.importance, "importance");
    // __tipc_sendmsg: scope follows the lookup domain; a domain outside this node defers the
    // lookup to that node (destport 0); otherwise round-robin here.
    const scope = lookupNode !== 0 ? TIPC_NODE_SCOPE : TIPC_CLUSTER_SCOPE;
    const dest = this.lookupAnycast(type, instance, lookupNode);
    if (dest === undefined) throw new SocketError("NO_SERVICE", `no binding for {${type}, ${instance}}`);
    const m = this.header(s, imp, payload);
    m.type = "NAMED_MSG";
    m.headerSize = 40;
    m.nameType = type;
    m.nameInstance = instance;
    m.lookupScope = scope;
    m.destNode = dest.node;
    m.destPort = dest.port;
    return this.xmit(s, m, imp);
  }

  sendToSocket(port: number, address: SocketAddress, data: Uint8Array, options?: SendOptions): SendResult {
    const s = this.sock(port);
    if (typeof address !== "object" || address === null) badArg("a socket address is required");
    const node = checkU32(address.node, "node");
    const dport = checkU32(address.port, "port");
    const payload = checkData(data);
    const imp = checkImportance(options?.importance ?? s.importance, "importance");
    const m = this.header(s, imp, payload);
    m.destNode = node;
    m.destPort = dport;
    return this.xmit(s, m, imp);
  }

  /**
   * tipc_nametbl_lookup_anycast with the lookup domain `node`: a domain other than this node
   * returns {node, 0} (the lookup happens there); this node rotates its local bindings; 0
   * rotates all (closest first under legacy addressing).
   */
  private lookupAnycast(type: number, instance: number, node: number): SocketAddress | undefined {
    if (node !== 0 && node !== this.own) return { node, port: 0 };
    if (node === this.own) return this.table.lookupOnNode(type, instance, this.own);
    return this.legacy
      ? this.table.lookupClosestFirst(type, instance)
      : this.table.lookupAnycast(type, instance);
  }

  /** Unicast transmit or local delivery (tipc_node_xmit); a congested link blocks. */
  private xmit(s: Sock, m: DataMessage, imp: Importance): SendResult {
    const node = m.destNode;
    const out: SocketOutput[] = [];
    if (node === this.own || node === 0) {
      // in_own_node(): straight to the socket layer, no link; a copy, as the caller may reuse its buffer.
      m.payload = m.payload.slice();
      this.st.sent.local++;
      this.rcv(m, out);
      return { status: "sent", outputs: out };
    }
    if (!this.up.has(node)) throw new SocketError("NO_NODE", `node ${node} is not reachable`);
    const blocked = this.blockedOn(s, node, imp);
    if (blocked) return blocked;
    this.st.sent.unicast++;
    out.push({ kind: "transmit", node, importance: imp, message: encodeMessage(m), port: s.port });
    return { status: "sent", outputs: out };
  }

  /**
   * The kernel lets one message per socket past a congested link's limit and blocks the next;
   * here the send that finds the link congested waits instead (the same bound, one message
   * tighter), and the socket remembers the link as its cong_links entry.
   */
  private blockedOn(s: Sock, node: number, imp: Importance): SendResult | undefined {
    const waiting = s.cong.get(node);
    if (waiting !== undefined) return { status: "blocked", node, importance: waiting };
    const key = node * 4 + imp;
    if (!this.congested.has(key)) return undefined;
    s.cong.set(node, imp);
    let set = this.waiters.get(key);
    if (set === undefined) {
      set = new Set();
      this.waiters.set(key, set);
    }
    set.add(s.port);
    return { status: "blocked", node, importance: imp };
  }

  sendToRange(
    port: number,
    range: ServiceRange,
    data: Uint8Array,
    now: number,
    options?: SendOptions,
  ): SendResult {
    const s = this.sock(port);
    if (typeof range !== "object" || range === null) badArg("a service range is required");
    const type = checkU32(range.type, "type");
    const lower = checkU32(range.lower, "lower");
    const upper = checkU32(range.upper, "upper");
    if (lower > upper) badArg(`lower ${lower} > upper ${upper}`);
    if (typeof now !== "number" || Number.isNaN(now)) badArg("now must be a number");
    const payload = checkData(data);
    const imp = checkImportance(options?.importance ?? s.importance, "importance");
    // tipc_sendmcast: wait while any link this socket sent on is congested.
    const first = s.cong.entries().next();
    if (!first.done) return { status: "blocked", node: first.value[0], importance: first.value[1] };
    const nodes = this.table.lookupMulticastNodes(type, lower, upper);
    const local = nodes.includes(this.own);
    const remote = nodes.filter((n) => n !== this.own);
    if (!local && remote.length === 0)
      throw new SocketError("NO_SERVICE", `no binding in {${type}, ${lower}, ${upper}}`);
    const m = this.header(s, imp, payload);
    m.type = "MCAST_MSG";
    m.headerSize = 44;
    m.lookupScope = TIPC_CLUSTER_SCOPE;
    m.nameType = type;
    m.nameInstance = lower;
    m.nameUpper = upper;
    const out: SocketOutput[] = [];
    if (remote.length > 0) {
      const wasRcast = s.mc.rcast;
      const next = this.selectMethod(s.mc, remote.length, now);
      const reachable = remote.filter((n) => this.up.has(n));
      // Block before anything is sent, so a blocked send leaves no half-sent multicast.
      const paths = next.rcast ? reachable : [0];
      for (const n of paths) {
        const blocked = this.blockedOn(s, n, imp);
        if (blocked) return blocked;
      }
      s.mc = next;
      m.srcDroppable = next.rcast; // is_rcast
      if (wasRcast !== next.rcast && this.env.clusterCapabilities & TIPC_MCAST_RBCTL) {
        // tipc_mcast_send_sync: the message carries SYN on the new path, a header-only twin
        // (SYN, is_rcast flipped, NO_PORT) goes first on the old one.
        m.syn = true;
        const twin: DataMessage = {
          ...m,
          srcDroppable: wasRcast,
          errorCode: TIPC_ERR_NO_PORT,
          payload: new Uint8Array(0),
        };
        this.st.sent.synTwins++;
        this.mcastOut(s, twin, wasRcast, reachable, imp, out);
      }
      this.mcastOut(s, m, next.rcast, reachable, imp, out);
    }
    if (local) {
      this.st.sent.local++;
      this.rcvMulticast({ ...m, syn: false, payload: payload.slice() }, out);
    }
    return { status: "sent", outputs: out };
  }

  private mcastOut(
    s: Sock,
    m: DataMessage,
    rcast: boolean,
    nodes: number[],
    imp: Importance,
    out: SocketOutput[],
  ): void {
    if (!rcast) {
      this.st.sent.broadcast++;
      out.push({ kind: "broadcast", importance: imp, message: encodeMessage(m), port: s.port });
      return;
    }
    for (const node of nodes) {
      this.st.sent.replicast++;
      out.push({
        kind: "transmit",
        node,
        importance: imp,
        message: encodeMessage({ ...m, destNode: node }),
        port: s.port,
      });
    }
  }

  /** tipc_bcast_select_xmit_method, without mutating the socket until the send goes out. */
  private selectMethod(mc: McMethod, dests: number, now: number): McMethod {
    const env = this.env;
    if (!env.broadcastSupport) return { ...mc, rcast: true };
    if (!env.replicastSupport) return { ...mc, rcast: false };
    const next = { ...mc, expires: now + TIPC_METHOD_EXPIRE };
    if (mc.mandatory) return next;
    if (!(env.clusterCapabilities & TIPC_MCAST_RBCTL) && now < mc.expires) return next;
    if (env.mode === "broadcast") next.rcast = false;
    else if (env.mode === "replicast") next.rcast = true;
    else next.rcast = dests <= 1 + Math.floor((env.clusterSize * env.ratio) / 100);
    return next;
  }

  setMulticastEnvironment(env: Partial<MulticastEnvironment>): void {
    if (typeof env !== "object" || env === null) badArg("an environment is required");
    const next = { ...this.env, ...env };
    if (!(Number.isInteger(next.clusterSize) && next.clusterSize >= 0)) badArg("clusterSize must be >= 0");
    if (!(Number.isInteger(next.ratio) && next.ratio >= 1 && next.ratio <= 100))
      badArg("ratio must be 1..100");
    if (!isU32(next.clusterCapabilities)) badArg("clusterCapabilities must be a u32");
    if (next.mode !== "autoselect" && next.mode !== "broadcast" && next.mode !== "replicast")
      badArg("mode must be autoselect, broadcast or replicast");
    this.env = next;
  }

  // ---------------------------------------------------------------- receive

  receive(message: Uint8Array, now?: number): SocketOutput[] {
    let m: TipcMessage;
    try {
      m = decodeMessage(message);
    } catch {
      this.st.drops.malformed++;
      return [];
    }
    return this.receiveMessage(m, now);
  }

  receiveMessage(m: TipcMessage, now?: number): SocketOutput[] {
    if (now !== undefined) this.setNow(now);
    const out: SocketOutput[] = [];
    if (typeof m === "object" && m !== null && m.user === "CONN_MANAGER") {
      this.rcvConnManager(m, out);
      return out;
    }
    if (typeof m !== "object" || m === null || !("payload" in m)) {
      this.st.drops["not-data"]++;
      return out;
    }
    // A returned multicast message (errored, addressed to its sender's port, always on a unicast
    // link) goes to that port; the kernel would hand it to the multicast path. The SYN twin
    // (errored) does not: by replicast its destport is 0, on the broadcast link (non_seq) word 5
    // holds the sender's net id (tipc_bearer_bc_xmit's msg_set_mc_netid), not a port.
    const returned = m.errorCode !== 0 && m.destPort !== 0 && !m.nonSeq;
    if (m.type === "MCAST_MSG" && !returned) this.rcvMulticast(m, out);
    else this.rcv(m, out);
    return out;
  }

  /** tipc_sk_mcast_rcv: one copy per matching local socket (cluster bindings for a remote origin). */
  private rcvMulticast(m: DataMessage, out: SocketOutput[]): void {
    const scope = m.origNode === this.own ? undefined : "cluster";
    // A range with lower above upper matches nothing in the kernel's range walk.
    if (m.nameInstance > m.nameUpper) {
      this.st.drops["multicast-no-socket"]++;
      return;
    }
    const dports = this.table.lookupMulticast(m.nameType, m.nameInstance, m.nameUpper, {
      nodes: [this.own],
      scope,
    });
    if (dports.length === 0) {
      this.st.drops["multicast-no-socket"]++;
      return;
    }
    for (const d of dports) this.rcv({ ...m, destPort: d.port }, out);
  }

  /** tipc_sk_rcv for one message: its socket, or a secondary lookup, or rejection. */
  private rcv(m: DataMessage, out: SocketOutput[]): void {
    const s = this.sockets.get(m.destPort);
    if (s !== undefined) {
      this.filterRcv(s, m, out);
      return;
    }
    // tipc_msg_lookup_dest: a named message without error and not yet rerouted is looked up again.
    let err = TIPC_ERR_NO_PORT;
    if (m.type === "NAMED_MSG" && m.errorCode === 0) {
      err = TIPC_ERR_NO_NAME;
      if (m.rerouteCount === 0) {
        const domain = m.lookupScope === TIPC_NODE_SCOPE ? this.own : 0;
        const dest = this.lookupAnycast(m.nameType, m.nameInstance, domain);
        if (dest !== undefined) {
          this.st.received.rerouted++;
          const fwd = { ...m, rerouteCount: m.rerouteCount + 1, destNode: dest.node, destPort: dest.port };
          if (dest.node !== this.own) fwd.prevNode = this.own;
          this.route(fwd, out);
          return;
        }
      }
    }
    if (m.errorCode !== 0) {
      this.st.drops["returned-orphan"]++;
      return;
    }
    this.reject(m, err, out);
  }

  /** Sends a message this layer did not originate (reroute, rejection) to its destination node. */
  private route(m: DataMessage, out: SocketOutput[]): void {
    if (m.destNode === this.own || m.destNode === 0) {
      this.rcv(m, out);
      return;
    }
    this.transmitTo(m.destNode, importanceOf(m), () => encodeMessage(m), m.origPort, out);
  }

  /** One message to a peer node's link, or a counted drop when no link to it is up. */
  private transmitTo(
    node: number,
    importance: Importance,
    message: () => Uint8Array,
    port: number,
    out: SocketOutput[],
  ): boolean {
    if (!this.up.has(node)) {
      this.st.drops["no-route"]++;
      return false;
    }
    out.push({ kind: "transmit", node, importance, message: message(), port });
    return true;
  }

  /** tipc_sk_filter_rcv for a connectionless socket. */
  private filterRcv(s: Sock, m: DataMessage, out: SocketOutput[]): void {
    if (s.conn !== undefined) {
      this.filterRcvConn(s, s.conn, m, out);
      return;
    }
    this.accept(s, m.type === "MCAST_MSG" ? this.mcastFilter(s, m) : [m], out);
  }

  /** Into the receive queue if the socket takes this kind of message and has room. */
  private accept(s: Sock, inputs: DataMessage[], out: SocketOutput[]): void {
    for (const msg of inputs) {
      let err = 0;
      // CONN_MSG to a connectionless socket, or a group message to a socket in no group.
      if (msg.type !== "NAMED_MSG" && msg.type !== "DIRECT_MSG" && msg.type !== "MCAST_MSG")
        err = TIPC_ERR_NO_PORT;
      else if (s.queuedBytes + sizeOf(msg) >= s.rcvbuf * 2 ** importanceOf(msg)) err = TIPC_ERR_OVERLOAD;
      if (err !== 0) {
        this.reject(msg, err, out);
        continue;
      }
      if (s.head === s.queue.length) out.push({ kind: "readable", port: s.port });
      s.queue.push(msg);
      s.queuedBytes += sizeOf(msg);
      if (msg.errorCode !== 0) this.st.received.returned++;
      else this.st.received.delivered++;
    }
  }

  /** tipc_mcast_filter_msg: hold an origin's messages from its first SYN until the twin arrives. */
  private mcastFilter(s: Sock, m: DataMessage): DataMessage[] {
    const held = s.held;
    if (!m.syn && held.length === 0) return [m];
    if (m.origNode === this.own) return [m];
    const same = (h: DataMessage) => h.origNode === m.origNode && h.origPort === m.origPort;
    const i = held.findIndex(same);
    if (i < 0) {
      if (!m.syn) return [m];
      return this.hold(s, m);
    }
    const twin = held[i] as DataMessage;
    // is_rcast rides in the src_droppable bit on MCAST_MSG.
    if (!m.syn) return m.srcDroppable !== twin.srcDroppable ? [m] : this.hold(s, m);
    if (m.srcDroppable === twin.srcDroppable) return this.hold(s, m);
    held.splice(i, 1);
    const result = [m.payload.length > 0 ? m : twin];
    for (let j = i; j < held.length; ) {
      const h = held[j] as DataMessage;
      if (!same(h)) {
        j++;
        continue;
      }
      if (h.syn) break;
      held.splice(j, 1);
      result.push(h);
    }
    return result;
  }

  private hold(s: Sock, m: DataMessage): DataMessage[] {
    if (s.held.length >= this.maxHeld) this.st.drops["multicast-held-overflow"]++;
    else s.held.push(m);
    return [];
  }

  /**
   * tipc_msg_reverse, then back to the sender: nothing if dest-droppable or already errored;
   * a 24-byte header grows to 32; data cut to 1,024 bytes (none for a SYN rejected OVERLOAD).
   */
  private reject(m: DataMessage, err: number, out: SocketOutput[]): void {
    this.st.received.rejected[reasonOf(err)]++;
    if (m.destDroppable || m.errorCode !== 0) {
      this.st.drops.unreturnable++;
      return;
    }
    const dlen = m.syn && err === TIPC_ERR_OVERLOAD ? 0 : Math.min(m.payload.length, MAX_FORWARD_SIZE);
    const r: DataMessage = {
      ...m,
      headerSize: m.headerSize === 24 ? 32 : m.headerSize,
      errorCode: err,
      nonSeq: false,
      origPort: m.destPort,
      destPort: m.origPort,
      destNode: m.prevNode,
      prevNode: this.own,
      origNode: this.own,
      payload: m.payload.subarray(0, dlen),
    };
    this.route(r, out);
  }

  read(port: number): Received | undefined {
    const s = this.sock(port);
    if (s.conn !== undefined)
      throw new SocketError("NOT_SUPPORTED", `${s.type} sockets read with readConnection`);
    for (;;) {
      const m = this.dequeue(s);
      if (m === undefined) return undefined;
      // tipc_recvmsg steps past messages with neither data nor error.
      if (m.payload.length === 0 && m.errorCode === 0) continue;
      return toReceived(m);
    }
  }

  // ---------------------------------------------------------------- connections

  private connOf(s: Sock): Conn {
    if (s.conn === undefined) throw new SocketError("NOT_SUPPORTED", `${s.type} sockets have no connections`);
    return s.conn;
  }

  private capsOf(node: number): number {
    if (node === this.own || node === 0) return TIPC_NODE_CAPABILITIES;
    return this.peerCaps.get(node) ?? 0;
  }

  private setNow(now: number): void {
    if (typeof now !== "number" || Number.isNaN(now)) badArg("now must be a number");
    if (now > this.lastNow) this.lastNow = now;
  }

  listen(port: number): void {
    const c = this.connOf(this.sock(port));
    if (c.state !== "open") throw new SocketError("BAD_STATE", `socket ${port} is ${c.state}`);
    c.state = "listen";
  }

  connect(port: number, address: ServiceAddress | SocketAddress, now: number, data?: Uint8Array): SendResult {
    const s = this.sock(port);
    const c = this.connOf(s);
    this.setNow(now);
    if (typeof address !== "object" || address === null) badArg("an address is required");
    const payload = checkData(data ?? new Uint8Array(0));
    if (payload.length > 0 && s.type === "stream")
      badArg("a stream socket's SYN carries no data (send it once connected)");
    // __tipc_sendmsg with syn: only from the open state, and not on a socket with bindings.
    if (c.state === "listen") throw new SocketError("BAD_STATE", "a listening socket cannot connect (EPIPE)");
    if (c.state !== "open") throw new SocketError("BAD_STATE", `socket ${port} is ${c.state} (EISCONN)`);
    if (s.bindings.length > 0)
      throw new SocketError("NOT_SUPPORTED", "a socket with bindings cannot connect (EOPNOTSUPP)");
    const imp = s.importance;
    const m = this.header(s, imp, payload);
    m.syn = true;
    if ("port" in address) {
      m.destNode = checkU32(address.node, "node");
      m.destPort = checkU32(address.port, "port");
    } else {
      const type = checkU32(address.type, "type");
      const instance = checkU32(address.instance, "instance");
      const lookupNode = checkU32(address.node ?? 0, "node");
      const dest = this.lookupAnycast(type, instance, lookupNode);
      if (dest === undefined) throw new SocketError("NO_SERVICE", `no binding for {${type}, ${instance}}`);
      m.type = "NAMED_MSG";
      m.headerSize = 40;
      m.nameType = type;
      m.nameInstance = instance;
      m.lookupScope = lookupNode !== 0 ? TIPC_NODE_SCOPE : TIPC_CLUSTER_SCOPE;
      m.destNode = dest.node;
      m.destPort = dest.port;
      c.service = { type, instance };
    }
    const node = m.destNode;
    if (node !== this.own && node !== 0 && !this.up.has(node))
      throw new SocketError("NO_NODE", `node ${node} is not reachable`);
    const blocked = node === this.own || node === 0 ? undefined : this.blockedOn(s, node, imp);
    if (blocked) return blocked;
    // The peer as the kernel's phdr holds it until the ACK names the real one.
    c.peerNode = node === 0 ? this.own : node;
    c.peerPort = m.destPort;
    c.peerCaps = this.capsOf(c.peerNode);
    c.synClone = { ...m, payload: payload.slice() };
    c.state = "connecting";
    c.connectDeadline = now + c.connTimeout;
    this.schedule(port, c.connectDeadline);
    // __tipc_sendstream's implicit setup counts a SYN+ against the window.
    if (payload.length > 0) c.sntUnacked = connInc(c, payload.length + m.headerSize);
    return this.xmit(s, m, imp);
  }

  /** tipc_sk_finish_conn */
  private finishConn(s: Sock, c: Conn, peerPort: number, peerNode: number): void {
    c.peerNode = peerNode;
    c.peerPort = peerPort;
    c.state = "established";
    c.timer = this.lastNow + this.probeInterval;
    this.schedule(s.port, c.timer);
    c.probeUnacked = false;
    c.connectDeadline = undefined;
    c.peerCaps = this.capsOf(peerNode);
    c.maxnagle = nagleMax(
      s.type === "stream",
      c,
      peerNode === this.own ? undefined : this.peerMtu.get(peerNode),
    );
    c.synClone = undefined;
    if (c.peerCaps & TIPC_BLOCK_FLOWCTL) return;
    c.rcvWin = FLOWCTL_MSG_WIN;
    c.sndWin = FLOWCTL_MSG_WIN;
  }

  acceptConnection(port: number, now: number): { port: number; outputs: SocketOutput[] } | undefined {
    const ls = this.sock(port);
    const lc = this.connOf(ls);
    this.setNow(now);
    if (lc.state !== "listen") throw new SocketError("BAD_STATE", `socket ${port} is not listening`);
    if (ls.head === ls.queue.length) return undefined;
    const newPort = this.open({
      type: ls.type,
      rcvbuf: ls.rcvbuf,
      nodelay: lc.nodelay,
      connectTimeout: lc.connTimeout,
    });
    const syn = this.dequeue(ls) as DataMessage;
    const s = this.sockets.get(newPort) as Sock;
    const c = s.conn as Conn;
    this.finishConn(s, c, syn.origPort, syn.origNode);
    s.importance = importanceOf(syn);
    if (syn.type === "NAMED_MSG") c.service = { type: syn.nameType, instance: syn.nameInstance };
    const out: SocketOutput[] = [];
    // SYN+: its data is the new socket's first message.
    if (syn.payload.length > 0) {
      s.queue.push(syn);
      s.queuedBytes += sizeOf(syn);
      out.push({ kind: "readable", port: newPort });
    }
    // The ACK: an empty CONN_MSG, which counts one block against the window (__tipc_sendstream of 0 bytes).
    const ack = this.connHeader(s, c, new Uint8Array(0));
    c.oneway++;
    c.sntUnacked += connInc(c, SHORT_H_SIZE);
    this.xmitConn(s, c, [ack], out);
    return { port: newPort, outputs: out };
  }

  pendingConnections(port: number): number {
    const s = this.sock(port);
    return this.connOf(s).state === "listen" ? s.queue.length - s.head : 0;
  }

  /** A CONN_MSG header of this connection (the socket's phdr after finish_conn). */
  private connHeader(s: Sock, c: Conn, payload: Uint8Array): DataMessage {
    const m = this.header(s, s.importance, payload);
    m.type = "CONN_MSG";
    m.headerSize = SHORT_H_SIZE;
    m.srcDroppable = false;
    m.destNode = c.peerNode;
    m.destPort = c.peerPort;
    return m;
  }

  /** Messages of an established connection to its peer: over the link, or straight in when local. */
  private xmitConn(s: Sock, c: Conn, msgs: DataMessage[], out: SocketOutput[]): void {
    for (const m of msgs) {
      if (c.peerNode === this.own) {
        this.st.sent.local++;
        this.rcv(m, out);
      } else if (this.transmitTo(c.peerNode, importanceOf(m), () => encodeMessage(m), s.port, out))
        this.st.sent.unicast++;
    }
  }

  sendConnection(port: number, data: Uint8Array): SendResult {
    const s = this.sock(port);
    const c = this.connOf(s);
    const payload = checkData(data);
    if (c.state === "disconnecting")
      throw new SocketError("CONNECTION_ENDED", `connection ended: ${c.end?.reason ?? "LOCAL"} (EPIPE)`);
    if (c.state !== "established") throw new SocketError("NOT_CONNECTED", `socket ${port} is ${c.state}`);
    const imp = s.importance;
    if (c.peerNode !== this.own) {
      const blocked = this.blockedOn(s, c.peerNode, imp);
      if (blocked) return blocked;
    }
    if (connCongested(c)) {
      c.windowWaiter = true;
      return { status: "blocked", node: c.peerNode, importance: imp };
    }
    // __tipc_sendstream for one chunk.
    const out: SocketOutput[] = [];
    let blocksAdded = c.sndBacklog;
    if (c.oneway++ >= c.nagleStart && c.maxnagle > 0 && payload.length <= c.maxnagle) {
      blocksAdded += nagleAppend(c.txq, this.connHeader(s, c, new Uint8Array(0)), payload, c.maxnagle);
      c.msgAcc++;
      if (blocksAdded <= NAGLE_MAX_BACKLOG_BLOCKS && c.expectAck) {
        c.sndBacklog = blocksAdded;
        return { status: "sent", outputs: out };
      }
      if (blocksAdded > NAGLE_MAX_BACKLOG_BLOCKS) c.pktCnt += c.txq.length;
      else {
        const tail = c.txq[c.txq.length - 1];
        if (tail !== undefined) tail.srcDroppable = true; // ack_required
        c.expectAck = tail !== undefined;
        c.msgAcc = 0;
        c.pktCnt = 0;
      }
    } else {
      c.txq.push(this.connHeader(s, c, payload.slice()));
      blocksAdded += connInc(c, payload.length + SHORT_H_SIZE);
    }
    const txq = c.txq;
    c.txq = [];
    this.xmitConn(s, c, txq, out);
    c.sntUnacked += blocksAdded;
    c.sndBacklog = 0;
    return { status: "sent", outputs: out };
  }

  /** tipc_sk_push_backlog: send what Nagle holds; a nagle_ack tunes when Nagle starts. */
  private pushBacklog(s: Sock, c: Conn, nagleAck: boolean, out: SocketOutput[]): void {
    const tail = c.txq[c.txq.length - 1];
    if (nagleAck) {
      c.pktCnt += c.txq.length;
      if (c.pktCnt === 0 || Math.floor(c.msgAcc / c.pktCnt) < 2) {
        c.oneway = 0;
        if (c.nagleStart < NAGLE_START_MAX) c.nagleStart *= 2;
        c.expectAck = false;
      } else {
        c.nagleStart = NAGLE_START_INIT;
        if (tail !== undefined) tail.srcDroppable = true;
        c.expectAck = tail !== undefined;
      }
      c.msgAcc = 0;
      c.pktCnt = 0;
    }
    if (tail === undefined || s.cong.size > 0) return;
    if (c.msgAcc > 0) c.pktCnt += c.txq.length;
    c.sntUnacked += c.sndBacklog;
    c.sndBacklog = 0;
    const txq = c.txq;
    c.txq = [];
    this.xmitConn(s, c, txq, out);
  }

  /** Takes the head of a socket's receive queue. */
  private dequeue(s: Sock): DataMessage | undefined {
    if (s.head === s.queue.length) return undefined;
    const m = s.queue[s.head] as DataMessage;
    s.queue[s.head] = undefined as unknown as DataMessage;
    s.head++;
    s.queuedBytes -= sizeOf(m);
    if (s.head === s.queue.length) {
      s.queue = [];
      s.head = 0;
    } else if (s.head > 1024 && s.head * 2 > s.queue.length) {
      s.queue = s.queue.slice(s.head);
      s.head = 0;
    }
    return m;
  }

  readConnection(port: number): ConnectionRead {
    const s = this.sock(port);
    const c = this.connOf(s);
    const out: SocketOutput[] = [];
    if (c.state === "listen")
      throw new SocketError("BAD_STATE", "a listening socket accepts, it does not read");
    for (;;) {
      const m = s.queue[s.head];
      if (m === undefined) {
        if (c.state === "disconnecting" && c.end !== undefined)
          return { item: { kind: "end", end: { ...c.end }, returnedData: new Uint8Array(0) }, outputs: out };
        return { item: undefined, outputs: out };
      }
      // tipc_recvmsg / tipc_recvstream step past empty messages without error (the SYN-, the ACK).
      if (m.payload.length === 0 && m.errorCode === 0) {
        this.dequeue(s);
        continue;
      }
      if (m.errorCode !== 0) {
        // The error stays at the head: every later read sees the end too.
        const end = c.end ?? endOf(m.errorCode);
        return { item: { kind: "end", end: { ...end }, returnedData: m.payload }, outputs: out };
      }
      this.dequeue(s);
      // Flow control advertisement each quarter window.
      c.rcvUnacked += connInc(c, m.headerSize + m.payload.length);
      if (c.state === "established" && c.rcvUnacked >= c.rcvWin / TIPC_ACK_RATE)
        this.sendAck(s, c, false, out);
      return { item: { kind: "data", data: m.payload }, outputs: out };
    }
  }

  /** tipc_sk_build_ack + send: CONN_ACK with conn_ack and, for a block peer, adv_win. */
  private sendAck(s: Sock, c: Conn, nagleAck: boolean, out: SocketOutput[]): void {
    if (c.state !== "established") return;
    const connAck = c.rcvUnacked;
    c.rcvUnacked = 0;
    let advWin = 0;
    if (c.peerCaps & TIPC_BLOCK_FLOWCTL) {
      c.rcvWin = advBlocks(s.rcvbuf);
      advWin = c.rcvWin;
    }
    this.sendConnManager(
      s.port,
      {
        type: "CONN_ACK",
        errorCode: 0,
        prevNode: this.own,
        origPort: s.port,
        destPort: c.peerPort,
        origNode: this.own,
        destNode: c.peerNode,
        connAck,
        advWin,
        nagleAck,
      },
      out,
    );
  }

  /** tipc_msg_reverse for a CONN_MANAGER message: back to where it came from, from this node. */
  private reverseConnManager(f: ConnManagerFields, errorCode: number): ConnManagerFields {
    return {
      ...f,
      errorCode,
      origPort: f.destPort,
      destPort: f.origPort,
      destNode: f.prevNode,
      prevNode: this.own,
      origNode: this.own,
    };
  }

  private sendConnManager(port: number, f: ConnManagerFields, out: SocketOutput[]): void {
    if (f.destNode === this.own) {
      this.rcvConnManagerFields(f, out);
      return;
    }
    // CONN_MANAGER travels at SYSTEM importance; the output's importance is the highest data one.
    this.transmitTo(f.destNode, 3, () => encodeMessage(connManagerMessage(f)), port, out);
  }

  private rcvConnManager(m: OpaqueMessage, out: SocketOutput[]): void {
    let f: ConnManagerFields;
    try {
      f = connManagerFields(m);
    } catch {
      this.st.drops.malformed++;
      return;
    }
    this.rcvConnManagerFields(f, out);
  }

  /** tipc_sk_conn_proto_rcv, or the rejection tipc_sk_rcv makes when no socket has the port. */
  private rcvConnManagerFields(f: ConnManagerFields, out: SocketOutput[]): void {
    const s = this.sockets.get(f.destPort);
    const c = s?.conn;
    if (s === undefined || c === undefined) {
      this.st.received.rejected.NO_PORT++;
      if (f.errorCode !== 0) {
        this.st.drops["returned-orphan"]++;
        return;
      }
      // tipc_msg_reverse: the sender learns its peer is gone (a probe answered this way aborts).
      this.sendConnManager(
        f.destPort,
        { ...this.reverseConnManager(f, TIPC_ERR_NO_PORT), nagleAck: false },
        out,
      );
      return;
    }
    if (!this.isPeerMsg(c, f.origNode, f.origPort)) {
      this.st.drops["conn-not-peer"]++;
      return;
    }
    if (f.errorCode !== 0) {
      // The connection is gone at the other end: an abort message in the queue.
      const m = this.header(s, 3, new Uint8Array(0));
      m.type = "CONN_MSG";
      m.errorCode = f.errorCode;
      m.origNode = f.origNode;
      m.prevNode = f.origNode;
      m.origPort = f.origPort;
      m.destPort = s.port;
      m.destNode = this.own;
      this.disconnect(s, c, endOf(f.errorCode), out);
      this.enqueue(s, m, out);
      return;
    }
    c.probeUnacked = false;
    if (f.type === "CONN_PROBE") {
      this.sendConnManager(s.port, { ...this.reverseConnManager(f, 0), type: "CONN_PROBE_REPLY" }, out);
    } else if (f.type === "CONN_ACK") {
      const wasCong = connCongested(c);
      this.pushBacklog(s, c, f.nagleAck, out);
      // The kernel's u16 would wrap on an ack larger than what is outstanding; here it stops at 0.
      c.sntUnacked = Math.max(0, c.sntUnacked - f.connAck);
      if (c.peerCaps & TIPC_BLOCK_FLOWCTL) c.sndWin = f.advWin;
      if (wasCong && !connCongested(c) && c.windowWaiter) {
        c.windowWaiter = false;
        out.push({ kind: "wakeup", port: s.port });
      }
    }
  }

  /** tsk_peer_msg */
  private isPeerMsg(c: Conn, origNode: number, origPort: number): boolean {
    if (c.state !== "established") return false;
    if (origPort !== c.peerPort) return false;
    if (origNode === c.peerNode) return true;
    if (origNode === 0 && c.peerNode === this.own) return true;
    return c.peerNode === 0 && origNode === this.own;
  }

  private enqueue(s: Sock, m: DataMessage, out: SocketOutput[]): void {
    if (s.head === s.queue.length) out.push({ kind: "readable", port: s.port });
    s.queue.push(m);
    s.queuedBytes += sizeOf(m);
  }

  private disconnect(s: Sock, c: Conn, end: ConnectionEnd, out: SocketOutput[]): void {
    const was = c.state;
    c.state = "disconnecting";
    c.end ??= end;
    c.timer = undefined;
    c.connectDeadline = undefined;
    c.synClone = undefined;
    if (was === "connecting" || was === "established")
      out.push({ kind: "disconnected", port: s.port, end: { ...c.end } });
    if (c.windowWaiter || s.cong.size > 0) {
      c.windowWaiter = false;
      out.push({ kind: "wakeup", port: s.port });
    }
  }

  /** tipc_sk_filter_rcv for a connection socket: tipc_sk_filter_connect, then the receive limit. */
  private filterRcvConn(s: Sock, c: Conn, m: DataMessage, out: SocketOutput[]): void {
    const verdict = this.filterConnect(s, c, m, out);
    if (verdict === "consumed") return;
    let err = 0;
    if (verdict === "reject") err = TIPC_ERR_NO_PORT;
    else {
      const connected = m.type === "CONN_MSG";
      const limit = !connected
        ? s.rcvbuf * 2 ** importanceOf(m)
        : c.peerCaps & TIPC_BLOCK_FLOWCTL
          ? s.rcvbuf
          : FLOWCTL_MSG_LIM;
      if (s.queuedBytes + sizeOf(m) >= limit) err = TIPC_ERR_OVERLOAD;
    }
    if (err !== 0) {
      this.reject(m, err, out);
      return;
    }
    this.enqueue(s, m, out);
    if (m.errorCode !== 0) this.st.received.returned++;
    else this.st.received.delivered++;
  }

  /** tipc_sk_filter_connect: "queue" (true), "reject" (false), or "consumed" (the empty ACK). */
  private filterConnect(
    s: Sock,
    c: Conn,
    m: DataMessage,
    out: SocketOutput[],
  ): "queue" | "reject" | "consumed" {
    if (m.type === "MCAST_MSG") return "reject";
    const conMsg = m.type === "CONN_MSG";
    const err = m.errorCode;
    c.oneway = 0;
    switch (c.state) {
      case "connecting":
        if (conMsg) {
          if (err !== 0) break;
          this.finishConn(s, c, m.origPort, m.origNode);
          s.importance = importanceOf(m);
          out.push({ kind: "connected", port: s.port, peer: { node: c.peerNode, port: c.peerPort } });
          // ACK+ with data is queued; the empty ACK only wakes connect().
          return m.payload.length > 0 ? "queue" : "consumed";
        }
        // Ignore a connectionless message that is not from the socket the SYN went to.
        if (m.origPort !== c.peerPort || m.origNode !== c.peerNode) return "reject";
        if (err !== TIPC_ERR_OVERLOAD || c.synClone === undefined) break;
        c.timer = this.lastNow + connectRetryDelay(c.connTimeout, Math.floor(this.random() * 0x10000));
        this.schedule(s.port, c.timer);
        return "consumed";
      case "open":
      case "disconnecting":
        return "reject";
      case "listen":
        // Only SYNs; the SYN bit is required only from peers that advertise TIPC_SYN_BIT.
        if (!m.syn && this.capsOf(m.origNode) & TIPC_SYN_BIT) return "reject";
        return !conMsg && err === 0 ? "queue" : "reject";
      case "established":
        if (c.txq.length > 0) this.pushBacklog(s, c, false, out);
        if (conMsg && err === 0 && m.origPort === c.peerPort && m.origNode === c.peerNode) {
          // ack_required (bit 18 on CONN_MSG): Nagle's sender waits for this ack.
          if (m.srcDroppable) this.sendAck(s, c, true, out);
          return "queue";
        }
        if (!this.isPeerMsg(c, m.origNode, m.origPort)) return "reject";
        if (err === 0) return "queue";
        this.disconnect(s, c, endOf(err), out);
        return "queue";
    }
    // Abort the connection setup: ECONNREFUSED.
    this.disconnect(s, c, { reason: "REFUSED", errorCode: err }, out);
    return "queue";
  }

  shutdown(port: number): SocketOutput[] {
    const s = this.sock(port);
    const c = this.connOf(s);
    const out: SocketOutput[] = [];
    const was = c.state;
    this.teardown(s, c, TIPC_CONN_SHUTDOWN, out);
    if (was !== "connecting" && was !== "established" && was !== "disconnecting") {
      if (was === "listen") c.state = "open";
      return out;
    }
    // Unreceived messages are discarded; the reader sees the end.
    s.queue = [];
    s.head = 0;
    s.queuedBytes = 0;
    return out;
  }

  /** __tipc_shutdown for a connection socket with `err` (CONN_SHUTDOWN or NO_PORT). */
  private teardown(s: Sock, c: Conn, err: number, out: SocketOutput[]): void {
    if (c.state === "established") this.pushBacklog(s, c, false, out);
    c.synClone = undefined;
    c.txq = [];
    switch (c.state) {
      case "connecting":
      case "established": {
        const peer = c.peerNode;
        const peerPort = c.peerPort;
        this.disconnect(s, c, { reason: "LOCAL", errorCode: err }, out);
        // FIN: the first unread message goes back with the error, or an empty CONN_MSG carries it.
        const first = this.dequeue(s);
        if (first !== undefined) {
          s.queue = [];
          s.head = 0;
          s.queuedBytes = 0;
          this.reject(first, err, out);
          break;
        }
        const fin = this.connHeader(s, c, new Uint8Array(0));
        fin.user = "CRITICAL_IMPORTANCE";
        fin.errorCode = err;
        fin.destNode = peer;
        fin.destPort = peerPort;
        this.xmitConn(s, c, [fin], out);
        break;
      }
      case "listen":
        // Reject every SYN waiting for accept.
        for (let m = this.dequeue(s); m !== undefined; m = this.dequeue(s)) this.reject(m, err, out);
        break;
      default:
        s.queue = [];
        s.head = 0;
        s.queuedBytes = 0;
    }
  }

  /** A connection timer at `at` for `port` (entries are checked against the socket when due). */
  private schedule(port: number, at: number): void {
    this.timers.push({ at, port, seq: this.timerSeq++ });
    // Entries of closed sockets or moved timers wait in the heap: compact before they pile up.
    if (this.timers.size > 2 * this.sockets.size + 64) this.timers.retain((e) => this.timerLive(e));
  }

  /** Whether a heap entry is still one of its socket's deadlines. */
  private timerLive(e: { at: number; port: number }): boolean {
    const c = this.sockets.get(e.port)?.conn;
    if (c === undefined) return false;
    return c.timer === e.at || (c.state === "connecting" && c.connectDeadline === e.at);
  }

  tick(now: number): SocketOutput[] {
    this.setNow(now);
    const out: SocketOutput[] = [];
    const due = new Set<number>();
    for (let e = this.timers.peek(); e !== undefined && e.at <= now; e = this.timers.peek()) {
      this.timers.pop();
      if (this.timerLive(e)) due.add(e.port);
    }
    for (const port of due) {
      const s = this.sockets.get(port);
      const c = s?.conn;
      if (s === undefined || c === undefined) continue;
      if (c.state === "connecting" && c.connectDeadline !== undefined && now >= c.connectDeadline) {
        this.disconnect(s, c, { reason: "TIMEOUT", errorCode: 0 }, out);
        continue;
      }
      if (c.timer === undefined || now < c.timer) continue;
      c.timer = undefined;
      if (c.state === "established") {
        // tipc_sk_check_probing_state: the last probe went unanswered: abort.
        if (c.probeUnacked) {
          this.disconnect(s, c, { reason: "ABORTED", errorCode: 0 }, out);
          out.push({ kind: "readable", port: s.port });
          continue;
        }
        this.sendConnManager(
          s.port,
          {
            type: "CONN_PROBE",
            errorCode: 0,
            prevNode: this.own,
            origPort: s.port,
            destPort: c.peerPort,
            origNode: this.own,
            destNode: c.peerNode,
            connAck: 0,
            advWin: 0,
            nagleAck: false,
          },
          out,
        );
        c.probeUnacked = true;
        c.timer = now + this.probeInterval;
        this.schedule(s.port, c.timer);
      } else if (c.state === "connecting" && c.synClone !== undefined) {
        // tipc_sk_retry_connect: later if the link is congested, else the SYN again.
        if (s.cong.size > 0) {
          c.timer = now + 100;
          this.schedule(s.port, c.timer);
          continue;
        }
        const syn = c.synClone;
        if (syn.destNode === this.own || syn.destNode === 0) {
          this.st.sent.local++;
          this.rcv({ ...syn, payload: syn.payload.slice() }, out);
        } else if (this.transmitTo(syn.destNode, s.importance, () => encodeMessage(syn), s.port, out))
          this.st.sent.unicast++;
      }
    }
    return out;
  }

  nextDeadline(): number | undefined {
    for (let e = this.timers.peek(); e !== undefined; e = this.timers.peek()) {
      if (this.timerLive(e)) return e.at;
      this.timers.pop();
    }
    return undefined;
  }

  // ---------------------------------------------------------------- nodes and links

  nodeUp(node: number, capabilities?: number, mtu?: number): void {
    checkU32(node, "node");
    if (node === 0 || node === this.own) badArg("node must be a peer's address");
    if (capabilities !== undefined) checkU32(capabilities, "capabilities");
    if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 64)) badArg("mtu must be an integer >= 64");
    this.up.add(node);
    this.peerCaps.set(node, capabilities ?? TIPC_NODE_CAPABILITIES);
    if (mtu === undefined) this.peerMtu.delete(node);
    else this.peerMtu.set(node, mtu);
  }

  nodeDown(node: number): SocketOutput[] {
    checkU32(node, "node");
    this.up.delete(node);
    this.peerCaps.delete(node);
    this.peerMtu.delete(node);
    const out: SocketOutput[] = [];
    // node_lost_contact: every connection to the node gets a local CONN_MSG with NO_NODE.
    for (const s of [...this.sockets.values()]) {
      const c = s.conn;
      if (c === undefined || c.state !== "established" || c.peerNode !== node) continue;
      const m = this.header(s, 3, new Uint8Array(0));
      m.type = "CONN_MSG";
      m.errorCode = TIPC_ERR_NO_NODE;
      m.origNode = node;
      m.prevNode = node;
      m.origPort = c.peerPort;
      m.destNode = this.own;
      m.destPort = s.port;
      this.filterRcvConn(s, c, m, out);
    }
    // The link's reset wakes its waiting users; their next send to the node fails NO_NODE.
    for (let imp = 0; imp < 4; imp++) this.clearCongestion(node, imp as Importance, out);
    // Multicast held for a twin that can no longer come: deliver what carries data, in order.
    for (const s of this.sockets.values()) {
      if (!s.held.some((h) => h.origNode === node)) continue;
      const release = s.held.filter((h) => h.origNode === node && h.errorCode === 0);
      s.held = s.held.filter((h) => h.origNode !== node);
      this.accept(s, release, out);
    }
    return out;
  }

  linkCongestion(node: number, importance: Importance, congested: boolean): SocketOutput[] {
    checkU32(node, "node");
    checkImportance(importance, "importance");
    const out: SocketOutput[] = [];
    if (congested) this.congested.add(node * 4 + importance);
    else this.clearCongestion(node, importance, out);
    return out;
  }

  private clearCongestion(node: number, imp: Importance, out: SocketOutput[]): void {
    const key = node * 4 + imp;
    this.congested.delete(key);
    const ports = this.waiters.get(key);
    if (ports === undefined) return;
    this.waiters.delete(key);
    for (const port of ports) {
      const s = this.sockets.get(port);
      if (s === undefined) continue;
      s.cong.delete(node);
      // SOCK_WAKEUP also pushes a connection's Nagle backlog.
      if (s.conn !== undefined && s.conn.state === "established") this.pushBacklog(s, s.conn, false, out);
      out.push({ kind: "wakeup", port });
    }
  }

  // ---------------------------------------------------------------- introspection

  info(port: number): SocketInfo {
    const s = this.sock(port);
    return {
      port,
      type: s.type,
      importance: s.importance,
      destDroppable: s.destDroppable,
      rcvbuf: s.rcvbuf,
      queuedBytes: s.queuedBytes,
      queuedMessages: s.queue.length - s.head,
      bindings: [...s.bindings],
      blockedOn: [...s.cong].map(([node, importance]) => ({ node, importance })),
      ...(s.conn === undefined ? {} : { connection: connectionInfo(s.conn) }),
    };
  }

  ports(): number[] {
    return [...this.sockets.keys()];
  }

  stats(): SocketLayerStats {
    const st = this.st;
    return {
      sockets: this.sockets.size,
      bindings: this.ownBindings,
      sent: { ...st.sent },
      received: { ...st.received, rejected: { ...st.received.rejected } },
      drops: { ...st.drops },
    };
  }
}

function destinationOf(m: DataMessage): Destination {
  if (m.type === "NAMED_MSG") return { kind: "service", type: m.nameType, instance: m.nameInstance };
  if (m.type === "MCAST_MSG")
    return { kind: "range", type: m.nameType, lower: m.nameInstance, upper: m.nameUpper };
  return { kind: "socket" };
}

function toReceived(m: DataMessage): Received {
  const importance = importanceOf(m);
  if (m.errorCode !== 0) {
    return {
      kind: "returned",
      error: reasonOf(m.errorCode),
      errorCode: m.errorCode,
      data: m.payload,
      rejectedBy: { node: m.origNode, port: m.origPort },
      destination: destinationOf(m),
      importance,
    };
  }
  return {
    kind: "message",
    data: m.payload,
    source: { node: m.origNode, port: m.origPort },
    destination: destinationOf(m),
    importance,
  };
}

/** What an error code on a connection means to its reader. */
function endOf(errorCode: number): ConnectionEnd {
  let reason: ConnectionEndReason = "RESET";
  if (errorCode === TIPC_CONN_SHUTDOWN) reason = "SHUTDOWN";
  else if (errorCode === TIPC_ERR_NO_NODE) reason = "NO_NODE";
  return { reason, errorCode };
}

function connectionInfo(c: Conn): ConnectionInfo {
  return {
    state: c.state,
    peer: c.state === "open" || c.state === "listen" ? undefined : { node: c.peerNode, port: c.peerPort },
    peerCapabilities: c.peerCaps,
    sntUnacked: c.sntUnacked,
    sndWin: c.sndWin,
    rcvUnacked: c.rcvUnacked,
    rcvWin: c.rcvWin,
    maxNagle: c.maxnagle,
    heldMessages: c.txq.length,
    end: c.end === undefined ? undefined : { ...c.end },
  };
}
