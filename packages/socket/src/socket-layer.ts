/**
 * The socket layer of one node, sans-I/O (the kernel's net/tipc/socket.c, with the parts of
 * msg.c, bcast.c and name_table.c it calls). Sockets with ports, bindings through a socket,
 * sends to a service address, a socket address or a service range, the receive path with its
 * secondary lookup, multicast delivery and SYN-twin ordering, rejection as tipc_msg_reverse does
 * it, receive-queue limits, and link-congestion blocking. No clock, timer or socket: inputs in,
 * outputs out, time passed in. Facts: ../../../../shared/docs/tipc-data-path.md §1-§3, §5.
 */
import {
  type DataMessage,
  decodeMessage,
  encodeMessage,
  MAX_FORWARD_SIZE,
  TIPC_CLUSTER_SCOPE,
  TIPC_ERR_NO_NAME,
  TIPC_ERR_NO_PORT,
  TIPC_ERR_OVERLOAD,
  TIPC_MAX_PUBL,
  TIPC_MAX_USER_MSG_SIZE,
  TIPC_MCAST_RBCTL,
  TIPC_NODE_CAPABILITIES,
  TIPC_NODE_SCOPE,
  TIPC_RESERVED_TYPES,
  type TipcMessage,
} from "@tipcjs/codec";
import type { Binding, NameTable } from "@tipcjs/name-table";
import { SocketError } from "./errors.js";
import type {
  BindRequest,
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
  /** One complete in-order message from a link (reassembled, unbundled). */
  receive(message: Uint8Array): SocketOutput[];
  /** The same, already decoded (as the link engine delivers it); a non-data message is a counted drop. */
  receiveMessage(message: TipcMessage): SocketOutput[];
  /** A link to `node` is up (the node can carry messages to it). */
  nodeUp(node: number): void;
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

  constructor(o: SocketLayerOptions) {
    if (typeof o !== "object" || o === null) throw new SocketError("BAD_OPTIONS", "options are required");
    if (!isU32(o.ownNode) || o.ownNode === 0)
      throw new SocketError("BAD_OPTIONS", "ownNode must be a non-zero u32");
    if (!o.table) throw new SocketError("BAD_OPTIONS", "table is required");
    if (o.random !== undefined && typeof o.random !== "function")
      throw new SocketError("BAD_OPTIONS", "random must be a function");
    for (const k of ["rcvbuf", "maxSockets", "maxHeldMulticast"] as const) {
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
    if (type === ("seqpacket" as SocketType) || type === ("stream" as SocketType))
      throw new SocketError("NOT_SUPPORTED", `${type} sockets come with connections`);
    if (type !== "rdm" && type !== "dgram") badArg("type must be rdm or dgram");
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
      destDroppable: options.destDroppable ?? true,
      rcvbuf,
      queue: [],
      head: 0,
      queuedBytes: 0,
      bindings: [],
      pubCount: 0,
      cong: new Map(),
      mc: { rcast: method === "replicast", mandatory: method !== undefined, expires: 0 },
      held: [],
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
    this.sockets.delete(port);
    // __tipc_shutdown(TIPC_ERR_NO_PORT) on a connectionless socket: every unread message is rejected.
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

  receive(message: Uint8Array): SocketOutput[] {
    let m: TipcMessage;
    try {
      m = decodeMessage(message);
    } catch {
      this.st.drops.malformed++;
      return [];
    }
    return this.receiveMessage(m);
  }

  receiveMessage(m: TipcMessage): SocketOutput[] {
    const out: SocketOutput[] = [];
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
    if (!this.up.has(m.destNode)) {
      this.st.drops["no-route"]++;
      return;
    }
    out.push({
      kind: "transmit",
      node: m.destNode,
      importance: importanceOf(m),
      message: encodeMessage(m),
      port: m.origPort,
    });
  }

  /** tipc_sk_filter_rcv for a connectionless socket. */
  private filterRcv(s: Sock, m: DataMessage, out: SocketOutput[]): void {
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
    for (;;) {
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
      // tipc_recvmsg steps past messages with neither data nor error.
      if (m.payload.length === 0 && m.errorCode === 0) continue;
      return toReceived(m);
    }
  }

  // ---------------------------------------------------------------- nodes and links

  nodeUp(node: number): void {
    checkU32(node, "node");
    if (node === 0 || node === this.own) badArg("node must be a peer's address");
    this.up.add(node);
  }

  nodeDown(node: number): SocketOutput[] {
    checkU32(node, "node");
    this.up.delete(node);
    const out: SocketOutput[] = [];
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
