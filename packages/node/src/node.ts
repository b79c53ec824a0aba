/**
 * A TIPC node: drives the sans-I/O link engine and distributor with a clock and a transport.
 *
 * Receive: transport datagram -> link.receive -> deliver NAME_DISTRIBUTOR -> distributor.receive
 * -> name table -> subscription events. Send: publish -> distributor (inserts into the table) ->
 * link (broadcast link or one unicast per peer) -> transport. One timer, re-armed to the earliest
 * of the link's and the table's deadlines, runs every timed thing.
 */
import {
  decodeMessage,
  encodeMessage,
  NODE_ID_LEN,
  nodeIdFromString,
  nodeIdToString,
  padNodeId,
  TIPC_BCAST_RCAST,
  TIPC_BLOCK_FLOWCTL,
  TIPC_DEF_LINK_WIN,
  TIPC_MAX_LINK_WIN,
  TIPC_MCAST_RBCTL,
  TIPC_MIN_LINK_WIN,
  TIPC_NAGLE,
  TIPC_NAMED_BCAST,
  TIPC_SYN_BIT,
} from "@tipcjs/codec";
import {
  createDistributor,
  type Distributor,
  DistributorError,
  type DistributorOutput,
} from "@tipcjs/distributor";
import {
  createLinkEngine,
  DEFAULT_CAPABILITIES,
  type LinkEngine,
  LinkEngineError,
  type LinkInfo,
  type LinkOutput,
  type LinkPropertiesUpdate,
  MAX_BEARERS,
  type UnicastMark,
} from "@tipcjs/link";
import { NameTable, NameTableError, type Subscription } from "@tipcjs/name-table";
import {
  createSocketLayer,
  type SocketLayer,
  type SocketLayerStats,
  type SocketOutput,
} from "@tipcjs/socket";
import {
  isTransportError,
  type MediaAddress,
  mediaAddressKey,
  realClock,
  type Transport,
} from "@tipcjs/transport";
import {
  type ConnectAddress,
  type ConnectionHost,
  type ConnectionOptions,
  type PortUser,
  type ServerOptions,
  TipcConnection,
  TipcServer,
} from "./connection.js";
import { CRYPTO_MTU_OVERHEAD, NodeCrypto, validateCryptoOptions } from "./crypto.js";
import { linkRefusalCause, type NodeTransportDropCause, transportErrorCause } from "./drops.js";
import { TypedEmitter } from "./emitter.js";
import { NodeError } from "./errors.js";
import { DEFAULT_MAX_PENDING_SENDS, mapSocketError, type SocketHost, SocketImpl } from "./socket.js";
import { type QueuedEventCount, TopologySubscriptionImpl } from "./subscription.js";
import type {
  BearerDescription,
  BearerOptions,
  Binding,
  BroadcastMode,
  Clock,
  LinkCounters,
  LinkProperties,
  Logger,
  NodeCryptoStatus,
  NodeEventName,
  NodeEvents,
  NodeKey,
  NodeOptions,
  NodeStats,
  PeerNode,
  PublishRequest,
  SocketAddress,
  SocketOptions,
  SubscribeRequest,
  TimerHandle,
  TipcNode,
  TipcSocket,
  TopologySubscription,
  WithdrawRequest,
} from "./types.js";

/** Service types below this are TIPC's own (node state, topology server, link state). */
const TIPC_RESERVED_TYPES = 64;
const DEFAULT_NET_ID = 4711;
const DEFAULT_TOLERANCE = 1500;
/** Default bound on subscription events queued and not yet read, all subscriptions together. */
export const DEFAULT_MAX_QUEUED_EVENTS = 262_144;

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Wall-clock time with Node timers; timers are unref'd (the transport keeps the process alive). */
export function realTimeClock(): Clock {
  return realClock({ unref: true });
}

function isU32(v: unknown): v is number {
  return typeof v === "number" && v >>> 0 === v;
}

function checkU32(v: unknown, field: string): number {
  if (!isU32(v))
    throw new NodeError("BAD_ARGUMENT", `${field} must be an integer in 0..4294967295, got ${String(v)}`);
  return v;
}

function badOptions(message: string): never {
  throw new NodeError("BAD_OPTIONS", message);
}

function parseNodeId(id: unknown): Uint8Array {
  if (typeof id === "string") {
    if (id.length === 0) badOptions("nodeId must not be empty");
    try {
      return nodeIdFromString(id);
    } catch (e) {
      badOptions(`bad nodeId: ${(e as Error).message}`);
    }
  }
  if (id instanceof Uint8Array) {
    if (id.length === 0 || id.length > NODE_ID_LEN) badOptions(`nodeId must be 1..${NODE_ID_LEN} bytes`);
    const out = new Uint8Array(NODE_ID_LEN);
    out.set(id);
    if (out.every((b) => b === 0)) badOptions("nodeId must not be all zero");
    return out;
  }
  return badOptions("nodeId must be a string or a Uint8Array");
}

function validateOptions(o: NodeOptions): void {
  if (typeof o !== "object" || o === null) badOptions("options must be an object");
  if ((o.transport === undefined) === (o.bearers === undefined))
    badOptions("give either transport or bearers");
  if (o.bearers !== undefined) {
    if (!Array.isArray(o.bearers) || o.bearers.length === 0 || o.bearers.length > MAX_BEARERS)
      badOptions(`bearers must be a list of 1..${MAX_BEARERS} bearers`);
    const names = new Set<string>();
    o.bearers.forEach((b, i) => {
      if (typeof b !== "object" || b === null) badOptions(`bearers[${i}] must be an object`);
      checkTransport(b.transport, `bearers[${i}].transport`);
      checkBearerName(b.name, `bearers[${i}].name`);
      const name = b.name ?? `udp${i}`;
      if (names.has(name)) badOptions(`bearer name ${name} is used twice`);
      names.add(name);
      if (b.priority !== undefined && !(Number.isInteger(b.priority) && b.priority >= 0 && b.priority <= 31))
        badOptions(`bearers[${i}].priority must be 0..31`);
    });
    if (o.bearerName !== undefined || o.discoveryPeers !== undefined)
      badOptions("bearerName and discoveryPeers go inside each of bearers");
  } else checkTransport(o.transport, "transport");
  if (o.netId !== undefined && !isU32(o.netId)) badOptions("netId must be a u32");
  if (
    o.tolerance !== undefined &&
    !(typeof o.tolerance === "number" && o.tolerance >= 50 && o.tolerance <= 30000)
  )
    badOptions("tolerance must be 50..30000 ms");
  checkBearerName(o.bearerName, "bearerName");
  if (o.address !== undefined && (!isU32(o.address) || o.address === 0))
    badOptions("address must be a non-zero u32");
  if (o.closeTimeout !== undefined && !(typeof o.closeTimeout === "number" && o.closeTimeout >= 0))
    badOptions("closeTimeout must be >= 0");
  if (
    o.clock !== undefined &&
    (typeof o.clock?.now !== "function" || typeof o.clock?.setTimer !== "function")
  )
    badOptions("clock must have now() and setTimer()");
  if (o.random !== undefined && typeof o.random !== "function") badOptions("random must be a function");
  if (
    o.window !== undefined &&
    !(Number.isInteger(o.window) && o.window >= TIPC_MIN_LINK_WIN && o.window <= TIPC_MAX_LINK_WIN)
  )
    badOptions(`window must be an integer ${TIPC_MIN_LINK_WIN}..${TIPC_MAX_LINK_WIN}`);
  if (
    o.maxQueuedEvents !== undefined &&
    !(Number.isInteger(o.maxQueuedEvents) && o.maxQueuedEvents >= 1 && o.maxQueuedEvents <= 2 ** 30)
  )
    badOptions("maxQueuedEvents must be an integer 1..2^30");
  validateCryptoOptions(o.crypto, o.admission);
}

function checkTransport(t: unknown, what: string): void {
  const x = t as Partial<Transport> | undefined;
  if (
    typeof x !== "object" ||
    x === null ||
    x.specificationVersion !== "v1" ||
    typeof x.send !== "function" ||
    typeof x.onReceive !== "function"
  ) {
    badOptions(`${what} must be a v1 Transport`);
  }
}

function checkBearerName(name: unknown, what: string): void {
  if (name !== undefined && (typeof name !== "string" || name.length === 0 || name.length > 15))
    badOptions(`${what} must be 1..15 characters`);
}

/** One bearer as the node runs it. */
interface NodeBearer {
  transport: Transport;
  desc: BearerDescription;
  /**
   * The discovery list the link engine was given for this bearer: the engine keeps this array
   * (its bearer copy is shallow) and reads it at each discovery round, so peers added or removed
   * at run time are added to or removed from it in place.
   */
  discovery: MediaAddress[];
}

/** A UDP-like transport that takes replicast peers at run time (`udpTransport` in replicast mode). */
interface PeerTransport extends Transport {
  addPeer(peer: MediaAddress): void;
  removePeer(peer: MediaAddress): boolean;
}

const takesPeers = (t: Transport): t is PeerTransport =>
  typeof (t as Partial<PeerTransport>).addPeer === "function" &&
  typeof (t as Partial<PeerTransport>).removePeer === "function";

/**
 * Starts a TIPC node on one transport or several: discovery, links, the name table and its distribution.
 * Resolves once the node has its final address (after the 1 s address trial unless `skipTrial`
 * or `address` is given). Throws NodeError BAD_OPTIONS.
 */
export function createNode(options: NodeOptions): Promise<TipcNode> {
  try {
    validateOptions(options);
    const node = new Node(options);
    return node.start();
  } catch (e) {
    return Promise.reject(e);
  }
}

class Node implements TipcNode {
  readonly nodeId: string;
  readonly netId: number;
  readonly legacy: boolean;
  private readonly nodeIdBytes: Uint8Array;
  private readonly bearerList: NodeBearer[];
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly link: LinkEngine;
  private readonly crypto: NodeCrypto;
  /** whether the datagram the link is working on arrived encrypted (for MSG_CRYPTO, as skb_cb->decrypted) */
  private datagramEncrypted = false;
  private readonly closeTimeout: number;
  private readonly maxBindings: number | undefined;
  private readonly tolerance: number;
  private readonly window: number;
  /** link counters at the last resetLinkStats(), by link name ("broadcast-link" for the broadcast link) */
  private readonly statsBase = new Map<string, LinkCounters>();
  private table: NameTable | undefined;
  private dist: Distributor | undefined;
  private sockLayer: SocketLayer | undefined;
  /** `tipc link set broadcast`: the multicast method rule and its ratio (bcast.c defaults) */
  private broadcastMode: BroadcastMode = "autoselect";
  private broadcastRatio = 10;
  private readonly sockets = new Map<number, SocketImpl>();
  /** (node, importance) links the socket layer was told are congested, keyed node * 4 + importance */
  private readonly congested = new Set<number>();
  private readonly socketHost: SocketHost = {
    layer: () => {
      if (this.closing || this.sockLayer === undefined)
        throw new NodeError("CLOSED", "the node is closing or closed");
      return this.sockLayer;
    },
    now: () => this.clock.now(),
    applySent: (outs) => {
      this.applySocket(outs);
      this.pump();
    },
    publish: (port, binding) => this.publishSocketBinding(port, binding),
    apply: (outs) => {
      this.applySocket(outs);
      this.pump();
    },
    forget: (port) => {
      this.sockets.delete(port);
    },
  };
  private readonly connectionHost: ConnectionHost = {
    layer: () => this.socketHost.layer(),
    now: () => this.clock.now(),
    apply: (outs) => this.socketHost.apply(outs),
    publish: (port, binding) => this.publishSocketBinding(port, binding),
    register: (port, user) => {
      this.connections.set(port, user);
    },
    forget: (port) => {
      this.connections.delete(port);
    },
  };
  /** the ports of connections and servers (the connectionless sockets are in `sockets`) */
  private readonly connections = new Map<number, PortUser>();
  private readonly emitter = new TypedEmitter<NodeEvents>();
  private readonly subs = new Map<number, TopologySubscriptionImpl>();
  private readonly maxQueuedEvents: number;
  private readonly queuedEvents: QueuedEventCount = { n: 0 };
  private queuedEventsPeak = 0;
  private subscriptionOverflows = 0;
  private readonly pendingEmits: { event: NodeEventName; payload: unknown }[] = [];
  private readonly transportDrops: Record<string, number> = {};
  private readonly unsubscribeTransport: (() => void)[] = [];
  private readonly onAddressed: ((address: number) => void)[] = [];
  /** per peer, where its link stood after the last bulk message: acked, the distributor is told */
  private readonly bulkMarks = new Map<number, UnicastMark>();

  private timer: TimerHandle | undefined;
  private armedAt: number | undefined;
  private lastTickAt = Number.NaN;
  private pumping = false;
  private nextKey: number;
  private nextPort: number;
  private closing = false;
  private stopped = false;
  private closePromise: Promise<void> | undefined;
  private closeWait: (() => void) | undefined;
  private closeTimer: TimerHandle | undefined;

  constructor(o: NodeOptions) {
    this.nodeIdBytes = parseNodeId(o.nodeId);
    this.nodeId = nodeIdToString(this.nodeIdBytes);
    this.netId = o.netId ?? DEFAULT_NET_ID;
    this.legacy = o.legacy === true;
    this.clock = o.clock ?? realTimeClock();
    this.random = o.random ?? Math.random;
    this.log = o.logger ?? silentLogger;
    this.closeTimeout = o.closeTimeout ?? o.tolerance ?? DEFAULT_TOLERANCE;
    this.maxBindings = o.maxBindings;
    this.tolerance = o.tolerance ?? DEFAULT_TOLERANCE;
    this.window = o.window ?? TIPC_DEF_LINK_WIN;
    this.maxQueuedEvents = o.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
    const specs: BearerOptions[] = o.bearers ?? [
      {
        transport: o.transport as Transport,
        name: o.bearerName,
        discoveryPeers: o.discoveryPeers,
      },
    ];
    this.bearerList = specs.map((b, i) => {
      const t = b.transport;
      const discoveryPeers = b.discoveryPeers ?? (t.canBroadcast ? [] : (t.peers?.() ?? []));
      return {
        transport: t,
        discovery: [...discoveryPeers],
        desc: {
          name: b.name ?? `udp${i}`,
          mediaAddress: t.localAddress,
          mtu: t.mtu,
          canBroadcast: t.canBroadcast,
          discoveryPeers,
          enabled: true,
          ...(b.priority !== undefined ? { priority: b.priority } : {}),
        },
      };
    });
    // with encryption the link leaves room for the ehdr, the tag and the padding
    const mtuOverhead = o.crypto === undefined ? 0 : CRYPTO_MTU_OVERHEAD;
    this.link = createLinkEngine({
      nodeId: this.nodeIdBytes,
      netId: this.netId,
      legacy: this.legacy,
      random: this.random,
      bearers: this.bearerList.map(({ desc, discovery }) => ({
        name: desc.name,
        mediaAddress: desc.mediaAddress,
        mtu: desc.mtu - mtuOverhead,
        canBroadcast: desc.canBroadcast,
        discoveryPeers: discovery,
        ...(desc.priority !== undefined ? { priority: desc.priority } : {}),
      })),
      // the socket layer takes multicast by replicast and keeps order across a method switch,
      // and carries connections with the SYN bit, block flow control and Nagle (issue 17)
      capabilities:
        DEFAULT_CAPABILITIES |
        TIPC_BCAST_RCAST |
        TIPC_MCAST_RBCTL |
        TIPC_SYN_BIT |
        TIPC_BLOCK_FLOWCTL |
        TIPC_NAGLE,
      tolerance: o.tolerance,
      window: this.window,
      skipTrial: o.skipTrial,
      address: o.address,
    });
    this.crypto = new NodeCrypto(
      o.crypto,
      o.admission,
      this.link.address,
      this.nodeIdBytes,
      this.clock.now(),
    );
    this.nextKey = 1 + Math.floor(this.random() * 0x7fffffff);
    this.nextPort = 1 + Math.floor(this.random() * 0x7fffffff);
  }

  start(): Promise<TipcNode> {
    this.bearerList.forEach(({ transport, desc }, i) => {
      this.unsubscribeTransport.push(
        transport.onReceive((bytes, from) => this.onDatagram(bytes, from, i)),
        transport.onError((error) => {
          this.countTransportDrop(transportErrorCause(error.code));
          // one line, no stack: a failing send repeats for every datagram (the daemon rate-limits)
          this.log.warn({ code: error.code, error: error.message, bearer: desc.name }, "transport error");
          this.queueEmit("transportError", { error, bearer: desc.name });
          this.flushEmits();
        }),
      );
    });
    const ready = new Promise<TipcNode>((resolve) => {
      this.onAddressed.push(() => resolve(this));
    });
    this.link.start(this.clock.now());
    this.pump();
    return ready;
  }

  // ------------------------------------------------------------------ identity

  get address(): number {
    return this.link.address;
  }

  get capabilities(): number {
    return this.link.capabilities;
  }

  get closed(): boolean {
    return this.closing;
  }

  // ------------------------------------------------------------------ bindings

  publish(request: PublishRequest): Binding {
    const dist = this.live();
    if (typeof request !== "object" || request === null)
      throw new NodeError("BAD_ARGUMENT", "publish takes an object");
    const type = checkU32(request.type, "type");
    const lower = checkU32(request.lower, "lower");
    const upper = request.upper === undefined ? lower : checkU32(request.upper, "upper");
    if (lower > upper) throw new NodeError("BAD_ARGUMENT", `lower (${lower}) > upper (${upper})`);
    const scope = request.scope ?? "cluster";
    if (scope !== "cluster" && scope !== "node")
      throw new NodeError("BAD_ARGUMENT", `scope must be "cluster" or "node", got ${String(scope)}`);
    if (type < TIPC_RESERVED_TYPES)
      throw new NodeError(
        "RESERVED_TYPE",
        `service types below ${TIPC_RESERVED_TYPES} are reserved, got ${type}`,
      );
    const port = request.port === undefined ? this.allocPort() : checkU32(request.port, "port");
    const key = request.key === undefined ? this.allocKey(type, lower, upper) : checkU32(request.key, "key");
    const binding: Binding = { type, lower, upper, node: this.address, port, key, scope };
    let outs: DistributorOutput[];
    try {
      outs = dist.publish(binding);
    } catch (e) {
      throw this.mapDistributorError(e);
    }
    this.applyDistributor(outs);
    this.pump();
    return { ...binding };
  }

  withdraw(request: WithdrawRequest): boolean {
    const dist = this.live();
    if (typeof request !== "object" || request === null)
      throw new NodeError("BAD_ARGUMENT", "withdraw takes an object");
    const type = checkU32(request.type, "type");
    const lower = checkU32(request.lower, "lower");
    const upper = checkU32(request.upper, "upper");
    const key = checkU32(request.key, "key");
    if (lower > upper) throw new NodeError("BAD_ARGUMENT", `lower (${lower}) > upper (${upper})`);
    if ("node" in request && request.node !== undefined && request.node !== this.address) {
      throw new NodeError("BAD_ARGUMENT", `binding belongs to node ${request.node}, not to this node`);
    }
    let outs: DistributorOutput[];
    try {
      outs = dist.withdraw({ type, lower, upper, node: this.address, key });
    } catch (e) {
      if (e instanceof DistributorError && e.code === "NOT_FOUND") return false;
      throw this.mapDistributorError(e);
    }
    this.applyDistributor(outs);
    this.pump();
    return true;
  }

  private allocPort(): number {
    const p = this.nextPort;
    this.nextPort = this.nextPort >= 0xffffffff ? 1 : this.nextPort + 1;
    return p;
  }

  private allocKey(type: number, lower: number, upper: number): number {
    const table = this.table as NameTable;
    for (;;) {
      const key = this.nextKey;
      this.nextKey = this.nextKey >= 0xffffffff ? 1 : this.nextKey + 1;
      if (!table.has({ type, lower, upper, node: this.address, key })) return key;
    }
  }

  private mapDistributorError(e: unknown): unknown {
    if (e instanceof DistributorError) {
      const code =
        e.code === "DUPLICATE" ? "DUPLICATE" : e.code === "LIMIT" ? "LIMIT" : ("BAD_ARGUMENT" as const);
      return new NodeError(code, e.message, { cause: e });
    }
    if (e instanceof NameTableError) return new NodeError("BAD_ARGUMENT", e.message, { cause: e });
    return e;
  }

  // ------------------------------------------------------------------ lookups

  private tbl(): NameTable {
    if (this.table === undefined) throw new NodeError("CLOSED", "the node is not running");
    return this.table;
  }

  private guardLookup<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof NameTableError) {
        throw new NodeError(e.code === "SUBSCRIPTION_LIMIT" ? "LIMIT" : "BAD_ARGUMENT", e.message, {
          cause: e,
        });
      }
      throw e;
    }
  }

  lookupAnycast(type: number, instance: number): SocketAddress | undefined {
    return this.guardLookup(() => this.tbl().lookupAnycast(type, instance));
  }

  lookupClosestFirst(type: number, instance: number): SocketAddress | undefined {
    return this.guardLookup(() => this.tbl().lookupClosestFirst(type, instance));
  }

  lookupOnNode(type: number, instance: number, node: number): SocketAddress | undefined {
    return this.guardLookup(() => this.tbl().lookupOnNode(type, instance, node));
  }

  lookupInstance(type: number, instance: number): Binding[] {
    return this.guardLookup(() => this.tbl().lookupInstance(type, instance));
  }

  lookupMulticast(
    type: number,
    lower: number,
    upper: number,
    options?: { nodes?: Iterable<number>; scope?: "node" | "cluster" },
  ): SocketAddress[] {
    return this.guardLookup(() => this.tbl().lookupMulticast(type, lower, upper, options));
  }

  lookupMulticastNodes(type: number, lower: number, upper: number): number[] {
    return this.guardLookup(() => this.tbl().lookupMulticastNodes(type, lower, upper));
  }

  bindings(): Binding[] {
    return this.tbl().dump();
  }

  ownBindings(): Binding[] {
    return this.tbl().nodeBindings(this.address);
  }

  // ------------------------------------------------------------------ sockets

  socket(options: SocketOptions): TipcSocket {
    this.live();
    const layer = this.sockLayer as SocketLayer;
    if (typeof options !== "object" || options === null)
      throw new NodeError("BAD_ARGUMENT", "socket takes an object");
    const maxPending = options.maxPendingSends ?? DEFAULT_MAX_PENDING_SENDS;
    if (!(Number.isInteger(maxPending) && maxPending >= 0))
      throw new NodeError("BAD_ARGUMENT", "maxPendingSends must be an integer >= 0");
    if (options.type === "seqpacket" || options.type === "stream")
      throw new NodeError("NOT_SUPPORTED", `${options.type} sockets are node.connect() and node.listen()`);
    let port: number;
    try {
      port = layer.open({
        type: options.type,
        ...(options.importance !== undefined ? { importance: options.importance } : {}),
        ...(options.destDroppable !== undefined ? { destDroppable: options.destDroppable } : {}),
        ...(options.rcvbuf !== undefined ? { rcvbuf: options.rcvbuf } : {}),
        ...(options.multicastMethod !== undefined ? { multicastMethod: options.multicastMethod } : {}),
      });
    } catch (e) {
      throw mapSocketError(e);
    }
    const sock = new SocketImpl(this.socketHost, port, this.address, maxPending);
    this.sockets.set(port, sock);
    return sock;
  }

  /** Opens a seqpacket or stream socket for a connection or a server. */
  private openConnectionSocket(options: ConnectionOptions | undefined): { layer: SocketLayer; port: number } {
    this.live();
    const layer = this.sockLayer as SocketLayer;
    const o = options ?? {};
    if (typeof o !== "object" || o === null) throw new NodeError("BAD_ARGUMENT", "options must be an object");
    const type = o.type ?? "stream";
    if (type !== "stream" && type !== "seqpacket")
      throw new NodeError("BAD_ARGUMENT", "a connection's type is stream or seqpacket");
    if (o.highWaterMark !== undefined && !(Number.isInteger(o.highWaterMark) && o.highWaterMark > 0))
      throw new NodeError("BAD_ARGUMENT", "highWaterMark must be a positive integer");
    try {
      const port = layer.open({
        type,
        ...(o.connectTimeout !== undefined ? { connectTimeout: o.connectTimeout } : {}),
        ...(o.nodelay !== undefined ? { nodelay: o.nodelay } : {}),
        ...(o.rcvbuf !== undefined ? { rcvbuf: o.rcvbuf } : {}),
      });
      return { layer, port };
    } catch (e) {
      throw mapSocketError(e);
    }
  }

  connect(address: ConnectAddress, options?: ConnectionOptions): TipcConnection {
    const { layer, port } = this.openConnectionSocket(options);
    const conn = new TipcConnection(
      this.connectionHost,
      port,
      this.address,
      options?.type ?? "stream",
      options?.highWaterMark,
    );
    this.connections.set(port, conn);
    let r: ReturnType<SocketLayer["connect"]>;
    try {
      if (typeof address !== "object" || address === null)
        throw new NodeError("BAD_ARGUMENT", "connect takes a service address or a socket address");
      r = layer.connect(port, { ...address }, this.clock.now());
    } catch (e) {
      this.connections.delete(port);
      layer.close(port);
      throw mapSocketError(e);
    }
    if (r.status === "sent") this.socketHost.apply(r.outputs);
    else {
      // The link to the peer is congested: the SYN waits for the layer's wakeup, as
      // __tipc_sendmsg waits for the link before it sends.
      const a = { ...address };
      conn.waitToConnect(() => {
        const again = layer.connect(port, a, this.clock.now());
        if (again.status !== "sent") return false;
        this.socketHost.apply(again.outputs);
        return true;
      });
      this.pump();
    }
    return conn;
  }

  listen(options: ServerOptions): TipcServer {
    if (typeof options !== "object" || options === null || typeof options.service !== "object")
      throw new NodeError("BAD_ARGUMENT", "listen takes { service: { type, lower, upper? } }");
    const { layer, port } = this.openConnectionSocket(options);
    const svc = options.service;
    let binding: Binding;
    try {
      const outs = layer.bind(port, {
        type: svc.type,
        lower: svc.lower,
        upper: svc.upper ?? svc.lower,
        scope: svc.scope ?? "cluster",
      });
      const pub = outs.find((o) => o.kind === "publish");
      if (pub === undefined) throw new NodeError("BAD_ARGUMENT", "no publication");
      binding = pub.binding;
      this.publishSocketBinding(port, binding);
      layer.listen(port);
    } catch (e) {
      try {
        this.socketHost.apply(layer.close(port));
      } catch {
        // already closed
      }
      throw mapSocketError(e);
    }
    const server = new TipcServer(this.connectionHost, port, this.address, options, { ...binding });
    this.connections.set(port, server);
    return server;
  }

  /** A socket's new binding to the distributor; refused there, the layer's binding is undone. */
  private publishSocketBinding(port: number, binding: Binding): void {
    const dist = this.live();
    let outs: DistributorOutput[];
    try {
      outs = dist.publish(binding);
    } catch (e) {
      try {
        this.sockLayer?.unbind(port, binding); // its withdraw output is dropped: nothing was published
      } catch {
        // the socket is gone already
      }
      throw this.mapDistributorError(e);
    }
    this.applyDistributor(outs);
    this.pump();
  }

  /** Routes the socket layer's outputs: to the link, the distributor or the sockets. */
  private applySocket(outs: SocketOutput[]): void {
    for (const o of outs) {
      switch (o.kind) {
        case "transmit":
          this.sendData(o.node, o.message, o.importance);
          break;
        case "broadcast":
          this.sendData(0, o.message, o.importance);
          break;
        case "publish":
          // bind() publishes itself; no other call outputs a publication
          break;
        case "withdraw":
          if (this.dist !== undefined) {
            try {
              this.applyDistributor(this.dist.withdraw(o.binding));
            } catch (e) {
              if (!(e instanceof DistributorError && e.code === "NOT_FOUND")) throw e;
            }
          }
          break;
        case "readable":
          (this.sockets.get(o.port) ?? this.connections.get(o.port))?.onReadable();
          break;
        case "wakeup":
          (this.sockets.get(o.port) ?? this.connections.get(o.port))?.onWakeup();
          break;
        case "connected":
          this.connections.get(o.port)?.onConnected?.(o.peer);
          break;
        case "disconnected":
          this.connections.get(o.port)?.onDisconnected?.(o.end);
          break;
      }
    }
  }

  /**
   * One data message to the link (node 0: the broadcast link); then, if the link's backlog at
   * this importance reached its limit, the socket layer is told the link is congested.
   */
  private sendData(node: number, message: Uint8Array, importance: 0 | 1 | 2 | 3): void {
    const now = this.clock.now();
    try {
      const m = decodeMessage(message);
      if (node === 0) this.link.sendBroadcast(m, now);
      else this.link.sendUnicast(node, m, now);
    } catch (e) {
      if (e instanceof LinkEngineError) {
        this.countTransportDrop(linkRefusalCause(e.code));
        this.log.debug({ err: e, to: node }, "data message not sent");
        return;
      }
      throw e;
    }
    const key = node * 4 + importance;
    if (!this.congested.has(key) && this.link.backlogCongested(node, importance)) {
      this.congested.add(key);
      this.applySocket((this.sockLayer as SocketLayer).linkCongestion(node, importance, true));
    }
  }

  /** Links whose backlog fell below the limit: the socket layer wakes their senders. */
  private checkCongestion(): boolean {
    const layer = this.sockLayer;
    if (this.congested.size === 0 || layer === undefined) return false;
    let woke = false;
    for (const key of [...this.congested]) {
      const imp = (key % 4) as 0 | 1 | 2 | 3;
      const node = (key - imp) / 4;
      if (this.link.backlogCongested(node, imp)) continue;
      this.congested.delete(key);
      const outs = layer.linkCongestion(node, imp, false);
      if (outs.length > 0) woke = true;
      this.applySocket(outs);
    }
    return woke;
  }

  /** The broadcast environment the multicast method depends on (bcast.c's tipc_bc_base). */
  private updateMulticast(): void {
    const layer = this.sockLayer;
    if (layer === undefined) return;
    const peers = this.link.upPeers();
    let caps = this.link.capabilities;
    let rcast = true;
    for (const p of peers) {
      caps &= p.capabilities;
      if ((p.capabilities & TIPC_BCAST_RCAST) === 0) rcast = false;
    }
    layer.setMulticastEnvironment({
      clusterSize: peers.length,
      clusterCapabilities: caps >>> 0,
      replicastSupport: rcast,
      broadcastSupport: this.bearerList.every((b) => b.transport.canBroadcast),
      mode: this.broadcastMode,
      ratio: this.broadcastRatio,
    });
  }

  // ------------------------------------------------------------------ subscriptions

  subscribe(request: SubscribeRequest): TopologySubscription {
    const table = this.tbl();
    if (this.closing) throw new NodeError("CLOSED", "the node is closing");
    if (typeof request !== "object" || request === null)
      throw new NodeError("BAD_ARGUMENT", "subscribe takes an object");
    const sub: Subscription = this.guardLookup(() =>
      table.subscribe(
        {
          type: request.type,
          lower: request.lower,
          upper: request.upper,
          mode: request.mode,
          timeout: request.timeout,
          scope: request.scope,
          initialEvents: request.initialEvents,
        },
        this.clock.now(),
      ),
    );
    const handle = new TopologySubscriptionImpl(
      sub.id,
      () => {
        this.subs.delete(sub.id);
        table.unsubscribe(sub.id);
        this.arm();
      },
      this.queuedEvents,
    );
    this.subs.set(sub.id, handle);
    this.routeTableEvents();
    this.arm();
    return handle;
  }

  private routeTableEvents(): void {
    const table = this.table;
    if (table === undefined || table.pendingEvents === 0) return;
    for (const ev of table.takeEvents()) {
      const s = this.subs.get(ev.subscription.id);
      if (s === undefined) continue;
      if (this.queuedEvents.n >= this.maxQueuedEvents && !this.makeRoom(s)) continue;
      s.push(ev);
      if (this.queuedEvents.n > this.queuedEventsPeak) this.queuedEventsPeak = this.queuedEvents.n;
      if (ev.kind === "timeout") {
        this.subs.delete(ev.subscription.id);
        s.end();
      }
    }
  }

  /**
   * The queued events of all subscriptions are at their bound: the subscription with the most
   * of them (its reader is the furthest behind) ends with OVERFLOW and its events are dropped,
   * as the kernel's topology server drops a subscriber it cannot deliver to. False when that
   * was `s` itself (the event for it is dropped too).
   */
  private makeRoom(s: TopologySubscriptionImpl): boolean {
    let victim = s;
    for (const x of this.subs.values()) if (x.queued > victim.queued) victim = x;
    this.subscriptionOverflows++;
    this.log.warn(
      { subscription: victim.id, queued: victim.queued, limit: this.maxQueuedEvents },
      "subscription events not read in time: subscription ended",
    );
    this.subs.delete(victim.id);
    this.table?.unsubscribe(victim.id);
    victim.overflow(
      new NodeError(
        "OVERFLOW",
        `subscription ${victim.id} ended: ${victim.queued} events left unread while the node's ${this.maxQueuedEvents} queued events were used up`,
      ),
    );
    return victim !== s;
  }

  // ------------------------------------------------------------------ introspection

  nodes(): PeerNode[] {
    return this.link.nodes().map((n) => ({
      address: n.address,
      nodeId: n.nodeIdString,
      capabilities: n.capabilities,
      namedBroadcast: (n.capabilities & TIPC_NAMED_BCAST) !== 0,
      up: n.up,
      mediaAddress: n.mediaAddress,
    }));
  }

  links(): LinkInfo[] {
    return this.link.links();
  }

  disableBearer(name: string): void {
    this.switchBearer(name, false);
  }

  enableBearer(name: string): void {
    this.switchBearer(name, true);
  }

  private switchBearer(name: string, enabled: boolean): void {
    const i = this.bearerList.findIndex((b) => b.desc.name === name);
    if (i < 0)
      throw new NodeError(
        "BAD_ARGUMENT",
        `no bearer ${JSON.stringify(name)} (bearers: ${this.bearerList.map((b) => b.desc.name).join(", ")})`,
      );
    this.live();
    (this.bearerList[i] as NodeBearer).desc.enabled = enabled;
    if (enabled) this.link.enableBearer(i, this.clock.now());
    else this.link.disableBearer(i, this.clock.now());
    this.log.info({ bearer: name }, enabled ? "bearer enabled" : "bearer disabled");
    this.pump();
  }

  addPeer(bearer: string, peer: MediaAddress): void {
    this.live();
    const b = this.bearerByName(bearer);
    if (b.desc.canBroadcast || !takesPeers(b.transport))
      throw new NodeError("BAD_ARGUMENT", `bearer ${bearer} is not a replicast bearer: it takes no peers`);
    try {
      b.transport.addPeer(peer);
    } catch (e) {
      if (isTransportError(e)) throw new NodeError("BAD_ARGUMENT", e.message, { cause: e });
      throw e;
    }
    const key = mediaAddressKey(peer);
    if (!b.discovery.some((a) => mediaAddressKey(a) === key)) b.discovery.push(peer);
    this.log.info({ bearer, peer: `${peer.address}:${peer.port}` }, "peer added");
  }

  removePeer(peer: MediaAddress): string[] {
    this.live();
    const key = mediaAddressKey(peer);
    const from: string[] = [];
    for (const b of this.bearerList) {
      if (b.desc.canBroadcast || !takesPeers(b.transport)) continue;
      const i = b.discovery.findIndex((a) => mediaAddressKey(a) === key);
      if (i >= 0) b.discovery.splice(i, 1);
      if (b.transport.removePeer(peer) || i >= 0) from.push(b.desc.name);
    }
    if (from.length > 0)
      this.log.info({ bearers: from, peer: `${peer.address}:${peer.port}` }, "peer removed");
    return from;
  }

  private bearerByName(name: string): NodeBearer {
    const b = this.bearerList.find((x) => x.desc.name === name);
    if (b === undefined)
      throw new NodeError(
        "BAD_ARGUMENT",
        `no bearer ${JSON.stringify(name)} (bearers: ${this.bearerList.map((x) => x.desc.name).join(", ")})`,
      );
    return b;
  }

  setBroadcastMode(mode: BroadcastMode, ratio?: number): void {
    this.live();
    if (mode !== "autoselect" && mode !== "broadcast" && mode !== "replicast")
      throw new NodeError(
        "BAD_ARGUMENT",
        `broadcast mode must be autoselect, broadcast or replicast, got ${String(mode)}`,
      );
    if (ratio !== undefined && !(Number.isInteger(ratio) && ratio >= 1 && ratio <= 100))
      throw new NodeError(
        "BAD_ARGUMENT",
        `broadcast ratio must be an integer in 1..100, got ${String(ratio)}`,
      );
    this.broadcastMode = mode;
    if (ratio !== undefined) this.broadcastRatio = ratio;
    this.updateMulticast();
  }

  linkProperties(): LinkProperties {
    return {
      tolerance: this.tolerance,
      window: this.window,
      priority: Object.fromEntries(this.bearerList.map((b) => [b.desc.name, b.desc.priority ?? 10])),
    };
  }

  linkCounters(): LinkCounters[] {
    return this.rawCounters().map((c) => {
      const base = this.statsBase.get(c.name);
      if (base === undefined) return c;
      const out = { ...c };
      for (const k of COUNTER_KEYS) {
        const v = c[k];
        if (v !== undefined) out[k] = Math.max(0, v - (base[k] ?? 0));
      }
      return out;
    });
  }

  setLinkProperties(name: string, properties: LinkPropertiesUpdate): void {
    this.live();
    try {
      this.link.setLinkProperties(name, properties, this.clock.now());
    } catch (e) {
      if (e instanceof LinkEngineError) {
        const names = this.rawCounters().map((c) => c.name);
        throw new NodeError(
          "BAD_ARGUMENT",
          e.code === "NO_SUCH_LINK"
            ? `no link ${JSON.stringify(name)} (links: ${names.join(", ")})`
            : e.message,
        );
      }
      throw e;
    }
    this.pump();
    this.arm();
  }

  resetLinkStats(name?: string): void {
    const raw = this.rawCounters();
    if (name !== undefined && !raw.some((c) => c.name === name))
      throw new NodeError(
        "BAD_ARGUMENT",
        `no link ${JSON.stringify(name)} (links: ${raw.map((c) => c.name).join(", ")})`,
      );
    for (const c of raw) if (name === undefined || c.name === name) this.statsBase.set(c.name, c);
  }

  /** Counters since start (broadcast link) or since the link came up (unicast links). */
  private rawCounters(): LinkCounters[] {
    const s = this.link.stats();
    const broadcast: LinkCounters = {
      name: BROADCAST_LINK,
      txPackets: s.broadcastSent,
      retransmitted: s.broadcastRetransmitted,
    };
    const unicast = this.link.links().map(
      (l): LinkCounters => ({
        name: l.name,
        // sequence numbers start at 1 on every link (re)establishment
        txPackets: Math.max(0, l.sndNxt - 1),
        rxPackets: Math.max(0, l.rcvNxt - 1),
      }),
    );
    return [broadcast, ...unicast];
  }

  bearers(): BearerDescription[] {
    return this.bearerList.map(({ transport, desc }) => {
      return {
        ...desc,
        discoveryPeers:
          !desc.canBroadcast && typeof transport.peers === "function"
            ? transport.peers()
            : [...desc.discoveryPeers],
      };
    });
  }

  stats(): NodeStats {
    const link = this.link.stats();
    const table = this.table;
    const dist = this.dist;
    const ds = dist?.stats();
    const nodes = this.link.nodes();
    return {
      address: this.address,
      bindings: {
        total: table?.size ?? 0,
        own: table ? table.nodeBindings(this.address).length : 0,
      },
      nodes: { known: nodes.length, up: nodes.filter((n) => n.up).length },
      links: { up: this.link.links().filter((l) => l.state === "ESTABLISHED").length },
      subscriptions: this.subs.size,
      subscriptionEvents: {
        queued: this.queuedEvents.n,
        peak: this.queuedEventsPeak,
        limit: this.maxQueuedEvents,
        overflows: this.subscriptionOverflows,
      },
      updates: {
        total: ds?.sent.updates ?? 0,
        broadcast: ds?.sent.broadcast ?? 0,
        replicast: ds?.sent.replicast ?? 0,
        bulk: ds?.sent.bulk ?? 0,
        method: ds?.method ?? (this.legacy ? "replicast" : "broadcast"),
        methodSwitches: ds?.methodSwitches ?? 0,
      },
      held: { now: ds?.heldNow ?? 0, peak: ds?.heldPeak ?? 0 },
      drops: {
        distributor: { ...(ds?.drops ?? {}) },
        link: { ...link.drops },
        transport: this.transportDropsNow(),
        crypto: this.crypto.drops(),
      },
      retransmissions: { unicast: link.unicastRetransmitted, broadcast: link.broadcastRetransmitted },
      sockets: this.sockLayer?.stats() ?? (emptySocketStats() as SocketLayerStats),
      link,
      distributor: ds as NodeStats["distributor"],
    };
  }

  /** The node's own transport drop causes plus each bearer's `transport.drops()`, summed by cause. */
  private transportDropsNow(): Record<string, number> {
    const out: Record<string, number> = { ...this.transportDrops };
    for (const { transport } of this.bearerList)
      for (const [cause, n] of Object.entries(transport.drops?.() ?? {})) out[cause] = (out[cause] ?? 0) + n;
    return out;
  }

  // ------------------------------------------------------------------ events

  on<E extends NodeEventName>(event: E, handler: (payload: NodeEvents[E]) => void): () => void {
    return this.emitter.on(event, handler);
  }

  off<E extends NodeEventName>(event: E, handler: (payload: NodeEvents[E]) => void): void {
    this.emitter.off(event, handler);
  }

  private queueEmit<E extends NodeEventName>(event: E, payload: NodeEvents[E]): void {
    if (this.emitter.has(event)) this.pendingEmits.push({ event, payload });
  }

  private flushEmits(): void {
    for (let e = this.pendingEmits.shift(); e !== undefined; e = this.pendingEmits.shift()) {
      this.emitter.emit(e.event, e.payload as never, (err) =>
        this.log.error({ err, event: e?.event }, "event handler threw"),
      );
    }
  }

  // ------------------------------------------------------------------ driving the cores

  private live(): Distributor {
    if (this.closing) throw new NodeError("CLOSED", "the node is closing or closed");
    if (this.dist === undefined) throw new NodeError("CLOSED", "the node is not running");
    return this.dist;
  }

  private onDatagram(bytes: Uint8Array, from: MediaAddress, bearer: number): void {
    if (this.stopped) return;
    this.guarded("receive", () => {
      const now = this.clock.now();
      const r = this.crypto.incoming(bytes, now);
      this.sendKeyMessages(now);
      if (r !== undefined) {
        this.datagramEncrypted = r.encrypted;
        this.link.receive(r.packet, from, now, bearer);
      }
      this.pump();
    });
  }

  /**
   * Runs a step of the event loop; an exception there is a bug in a core, not bad input: it is
   * logged and counted (`drops.transport.internal`) rather than allowed to kill the process.
   */
  private guarded(what: string, f: () => void): void {
    try {
      f();
    } catch (err) {
      this.countTransportDrop("internal");
      this.log.error({ err, during: what }, "internal error");
      try {
        this.arm();
      } catch {
        // nothing more to do
      }
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    this.armedAt = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    this.lastTickAt = now;
    this.guarded("timer", () => {
      if (this.crypto.engine !== undefined) {
        this.crypto.engine.tick(now);
        this.sendKeyMessages(now);
      }
      this.link.tick(now);
      this.table?.expire(now);
      if (this.sockLayer !== undefined) this.applySocket(this.sockLayer.tick(now));
      this.pump();
    });
  }

  /** One timer, at the earliest deadline of the link engine and the table's subscriptions. */
  private arm(): void {
    if (this.stopped) return;
    let d = this.link.nextDeadline();
    for (const t of [
      this.table?.nextDeadline(),
      this.sockLayer?.nextDeadline(),
      this.crypto.engine?.nextDeadline(),
    ])
      if (t !== undefined && (d === undefined || t < d)) d = t;
    if (d === this.armedAt && this.timer !== undefined) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.armedAt = d;
    if (d === undefined) return;
    const now = this.clock.now();
    let delay = Math.max(0, d - now);
    // a deadline the last tick did not move: wait a little rather than spin
    if (delay === 0 && now === this.lastTickAt) delay = 1;
    this.timer = this.clock.setTimer(delay, () => this.onTimer());
  }

  /** Drains the link engine until it is quiet, then routes events and re-arms the timer. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const outs = this.link.poll();
        for (const o of outs) this.handleLinkOutput(o);
        // acks move backlogs: senders waiting on a link that fell below its limit send again
        if (outs.length === 0 && !this.checkCongestion()) break;
      }
      if (this.bulkMarks.size > 0) this.checkBulkAcks();
      this.routeTableEvents();
    } finally {
      this.pumping = false;
    }
    this.flushEmits();
    this.arm();
    if (this.closeWait !== undefined && this.allAcked()) this.closeWait();
  }

  private handleLinkOutput(o: LinkOutput): void {
    switch (o.kind) {
      case "transmit":
        for (const frame of this.crypto.outgoing(o.bytes, o.peer, this.clock.now()))
          this.transmit(o.bearer, o.to, frame);
        return;
      case "deliver": {
        if (o.message.user === "MSG_CRYPTO") {
          // key exchange: to the crypto engine only, as tipc_data_input hands it to tipc_crypto_msg_rcv
          const engine = this.crypto.engine;
          if (engine !== undefined) {
            const now = this.clock.now();
            engine.handleKeyMessage(encodeMessage(o.message), this.datagramEncrypted, now);
            this.sendKeyMessages(now);
          }
          return;
        }
        if (o.message.user === "NAME_DISTRIBUTOR") {
          if (this.dist !== undefined) this.applyDistributor(this.dist.receive(o.peer, o.message));
          return;
        }
        // data (and users the layer counts as not-data: CONN_MANAGER, group messages)
        if (this.sockLayer !== undefined)
          this.applySocket(this.sockLayer.receiveMessage(o.message, this.clock.now()));
        return;
      }
      case "nodeUp": {
        const nodeId = nodeIdToString(padNodeId(o.nodeId));
        this.crypto.engine?.notePeer(o.peer, padNodeId(o.nodeId), this.clock.now());
        this.log.info({ peer: hex(o.peer), nodeId, capabilities: o.capabilities, mtu: o.mtu }, "node up");
        if (this.dist !== undefined) {
          try {
            this.applyDistributor(this.dist.nodeUp(o.peer, { capabilities: o.capabilities, mtu: o.mtu }));
            // the sooner the peer acks its bulk, the sooner updates go by broadcast again
            if (this.bulkMarks.has(o.peer)) this.link.requestUnicastAck(o.peer);
          } catch (e) {
            this.log.warn({ err: e, peer: hex(o.peer) }, "distributor refused node up");
          }
        }
        if (this.sockLayer !== undefined && o.peer !== this.address) {
          this.sockLayer.nodeUp(o.peer, o.capabilities, o.mtu);
          this.updateMulticast();
        }
        this.queueEmit("nodeUp", { address: o.peer, nodeId, capabilities: o.capabilities, mtu: o.mtu });
        return;
      }
      case "nodeDown":
        this.log.info({ peer: hex(o.peer) }, "node down");
        this.bulkMarks.delete(o.peer);
        this.crypto.engine?.peerDown(o.peer);
        if (this.dist !== undefined) this.applyDistributor(this.dist.nodeDown(o.peer));
        if (this.sockLayer !== undefined) {
          for (let imp = 0; imp < 4; imp++) this.congested.delete(o.peer * 4 + imp);
          this.updateMulticast();
          // waiting senders wake; their next send to the node fails NO_NODE
          this.applySocket(this.sockLayer.nodeDown(o.peer));
        }
        this.queueEmit("nodeDown", { address: o.peer });
        return;
      case "linkUp":
        this.log.info({ peer: hex(o.peer), link: o.name }, "link up");
        this.queueEmit("linkUp", { peer: o.peer, name: o.name, bearer: this.bearerName(o.bearer) });
        return;
      case "linkDown": {
        const failoverTo = o.failoverTo === undefined ? undefined : this.bearerName(o.failoverTo);
        this.log.info({ peer: hex(o.peer), link: o.name, reason: o.reason, failoverTo }, "link down");
        this.queueEmit("linkDown", {
          peer: o.peer,
          name: o.name,
          bearer: this.bearerName(o.bearer),
          reason: o.reason,
          ...(failoverTo !== undefined ? { failoverTo } : {}),
        });
        return;
      }
      case "addressAssigned":
        this.addressAssigned(o.address);
        return;
      case "duplicateAddress":
        this.log.warn({ address: hex(o.address), mediaAddress: o.mediaAddress }, "duplicate address");
        this.queueEmit("duplicateAddress", { address: o.address, mediaAddress: o.mediaAddress });
        return;
    }
  }

  private addressAssigned(address: number): void {
    this.crypto.engine?.setOwnAddr(address);
    if (this.table === undefined) {
      this.table = new NameTable({ ownNode: address, maxBindings: this.maxBindings });
      this.dist = createDistributor({ ownNode: address, table: this.table, legacy: this.legacy });
      this.sockLayer = createSocketLayer({ ownNode: address, table: this.table, random: this.random });
      this.updateMulticast();
      this.log.info(
        { address: hex(address), nodeId: this.nodeId, netId: this.netId, legacy: this.legacy },
        "node addressed",
      );
      for (const f of this.onAddressed.splice(0)) f(address);
    } else if (this.table.ownNode !== address) {
      // the link engine finalises once; a change would be a bug there, so say so loudly
      this.log.error(
        { address: hex(address), was: hex(this.table.ownNode) },
        "address changed after assignment",
      );
    }
  }

  private applyDistributor(outs: DistributorOutput[]): void {
    const now = this.clock.now();
    for (const o of outs) {
      if (o.kind === "send") {
        try {
          if (o.to === "broadcast") this.link.sendBroadcast(o.message, now);
          else {
            this.link.sendUnicast(o.to, o.message, now);
            if (o.method === "bulk" && this.dist?.peer(o.to)?.awaitingBulkAck) this.markBulk(o.to);
          }
        } catch (e) {
          if (e instanceof LinkEngineError) {
            this.countTransportDrop(linkRefusalCause(e.code));
            this.log.debug({ err: e, to: o.to }, "update not sent");
          } else throw e;
        }
      } else {
        this.queueEmit("bindingChange", { kind: o.kind, binding: o.binding, origin: o.origin });
      }
    }
  }

  /** After a bulk message to `peer`: its ack, once the link has it, acknowledges the bulk so far. */
  private markBulk(peer: number): void {
    const mark = this.link.unicastMark(peer);
    if (mark === undefined) this.bulkMarks.delete(peer);
    else this.bulkMarks.set(peer, mark);
  }

  /**
   * Tells the distributor of each peer that has acknowledged its bulk (updates then go by
   * broadcast again, once every peer has). A mark whose link failed over is taken again on the
   * new link, which carries the old one's unacknowledged packets first: later, but never early.
   */
  private checkBulkAcks(): void {
    for (const [peer, mark] of this.bulkMarks) {
      const acked = this.link.unicastAcked(mark);
      if (acked === false) continue;
      if (acked === undefined) {
        this.markBulk(peer);
        continue;
      }
      this.bulkMarks.delete(peer);
      this.dist?.bulkAcked(peer);
    }
  }

  private bearerName(i: number): string {
    return this.bearerList[i]?.desc.name ?? String(i);
  }

  private transmit(bearer: number, to: MediaAddress | "broadcast", bytes: Uint8Array): void {
    const transport = this.bearerList[bearer]?.transport;
    if (transport === undefined) return;
    try {
      if (to === "broadcast") transport.broadcast(bytes);
      else transport.send(to, bytes);
    } catch (e) {
      if (isTransportError(e)) {
        this.countTransportDrop(transportErrorCause(e.code));
        this.log.debug({ err: e }, "datagram not sent");
      } else throw e;
    }
  }

  /** MSG_CRYPTO the crypto engine wants sent: dest 0 on the broadcast link, else that node's unicast link. */
  private sendKeyMessages(now: number): void {
    for (const m of this.crypto.takeKeyMessages()) {
      try {
        const message = decodeMessage(m.bytes);
        if (m.dest === 0) this.link.sendBroadcast(message, now);
        else this.link.sendUnicast(m.dest, message, now);
      } catch (e) {
        if (e instanceof LinkEngineError) {
          this.countTransportDrop(linkRefusalCause(e.code));
          this.log.debug({ err: e, to: m.dest }, "key message not sent");
        } else throw e;
      }
    }
  }

  // ------------------------------------------------------------------ keys

  setKey(key: NodeKey): number {
    if (this.closing) throw new NodeError("CLOSED", "the node is closing or closed");
    const now = this.clock.now();
    const slot = this.crypto.setKey(key, now);
    this.log.info({ slot, master: key.master === true, perNode: key.nodeId !== undefined }, "key set");
    this.sendKeyMessages(now);
    this.pump();
    return slot;
  }

  flushKeys(): void {
    if (this.closing) throw new NodeError("CLOSED", "the node is closing or closed");
    this.crypto.flushKeys(this.clock.now());
    this.log.info({}, "keys flushed");
    this.pump();
  }

  setRekeying(interval: number | "now"): void {
    if (this.closing) throw new NodeError("CLOSED", "the node is closing or closed");
    const now = this.clock.now();
    this.crypto.setRekeying(interval, now);
    this.sendKeyMessages(now);
    this.pump();
  }

  cryptoStatus(): NodeCryptoStatus | undefined {
    return this.crypto.status();
  }

  private countTransportDrop(cause: NodeTransportDropCause): void {
    this.transportDrops[cause] = (this.transportDrops[cause] ?? 0) + 1;
  }

  // ------------------------------------------------------------------ close

  /** Every packet sent on a link (unicast and broadcast) has been acknowledged. */
  private allAcked(): boolean {
    const s = this.link.stats();
    if (s.broadcastTransmitQueue > 0 || s.broadcastBacklog > 0) return false;
    return this.link
      .links()
      .every((l) => l.state !== "ESTABLISHED" || (l.transmitQueue === 0 && l.backlog === 0));
  }

  close(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closing = true;
    this.closePromise = new Promise<void>((resolve, reject) => {
      const finish = () => {
        this.closeWait = undefined;
        this.closeTimer?.cancel();
        this.closeTimer = undefined;
        try {
          this.shutdown().then(resolve, reject);
        } catch (e) {
          reject(e);
        }
      };
      // Withdraw own bindings (the node-state binding too, as the kernel's tipc_net_stop does):
      // peers see each withdrawal at once, rather than a purge after the RESET or the tolerance.
      // Sockets first: unread messages go back to senders that asked, waiting sends reject.
      for (const sock of [...this.sockets.values()]) {
        const outs = this.sockLayer?.close(sock.port) ?? [];
        sock.end(new NodeError("CLOSED", "the node is closing"));
        this.applySocket(outs);
      }
      this.sockets.clear();
      // Connections: each peer sees a reset; the streams are destroyed without an error.
      for (const user of [...this.connections.values()]) {
        const outs = this.sockLayer?.close(user.port) ?? [];
        user.abort(new NodeError("CLOSED", "the node is closing"));
        this.applySocket(outs);
      }
      this.connections.clear();
      const dist = this.dist;
      const table = this.table;
      if (dist !== undefined && table !== undefined) {
        for (const b of table.nodeBindings(this.address).reverse()) {
          try {
            this.applyDistributor(dist.withdraw(b));
          } catch (e) {
            this.log.warn({ err: e }, "withdrawal at close failed");
          }
        }
      }
      this.log.info({ address: hex(this.address) }, "closing");
      this.pump();
      if (this.allAcked() || this.closeTimeout === 0) {
        finish();
        return;
      }
      this.closeWait = finish;
      this.closeTimer = this.clock.setTimer(this.closeTimeout, () => {
        this.log.warn({ timeout: this.closeTimeout }, "peers did not acknowledge the withdrawals in time");
        finish();
      });
    });
    return this.closePromise;
  }

  /** RESET (peer stopping) on every link, end subscriptions, close the transport. */
  private shutdown(): Promise<void> {
    this.link.stop(this.clock.now());
    this.pump();
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    for (const s of this.subs.values()) s.end();
    this.subs.clear();
    // Let the transport hand the RESETs to the network before its sockets close.
    return new Promise<void>((resolve, reject) => {
      this.clock.setTimer(0, () => {
        for (const u of this.unsubscribeTransport.splice(0)) u();
        Promise.all(this.bearerList.map((b) => b.transport.close())).then(() => {
          this.log.info({ address: hex(this.address) }, "closed");
          resolve();
        }, reject);
      });
    });
  }
}

/** The broadcast link's name, as the kernel's `tipc link list` prints it. */
const BROADCAST_LINK = "broadcast-link";
const COUNTER_KEYS = ["txPackets", "rxPackets", "retransmitted"] as const;

function emptySocketStats(): SocketLayerStats {
  const sent = { unicast: 0, broadcast: 0, replicast: 0, local: 0, synTwins: 0 };
  return {
    sockets: 0,
    bindings: 0,
    sent,
    received: {
      delivered: 0,
      rerouted: 0,
      returned: 0,
      rejected: {} as SocketLayerStats["received"]["rejected"],
    },
    drops: {} as SocketLayerStats["drops"],
  };
}

function hex(n: number): string {
  return (n >>> 0).toString(16);
}
