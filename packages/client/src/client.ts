import { connect as netConnect, type Socket } from "node:net";
import {
  ClientConnection,
  type ClientConnectionOptions,
  ClientServer,
  type ClientServerOptions,
  openConnectionSocket,
} from "./connection.js";
import { encodeFrame, FrameDecoder } from "./framing.js";
import {
  type BindingJSON,
  type ConnectionEventMessage,
  DEFAULT_RECEIVE_WINDOW,
  defaultSocketPath,
  type EventMessage,
  type HelloResult,
  type LookupMode,
  type Method,
  type MethodParams,
  type MethodResults,
  type OwnBindingJSON,
  type ProtocolErrorCode,
  type ResponseMessage,
  type SocketAddressJSON,
  type SocketEventMessage,
  type SubscriptionEventJSON,
} from "./protocol.js";
import { type ClientSocket, ClientSocketImpl, type SocketConnection, type SocketOptions } from "./socket.js";

/**
 * Longest line the client reads from tipcd. Far above a request's bound: a `bindings` answer is
 * one line (about 130 bytes a binding), and it comes from the local daemon, not a stranger.
 */
export const MAX_RESPONSE_LINE_BYTES = 256 * 1024 * 1024;

/** Codes of {@link ClientError}: the daemon's protocol codes plus the client's own. */
export type ClientErrorCode =
  | ProtocolErrorCode
  /** the socket could not be reached (no daemon, wrong path, no permission) */
  | "CONNECT_FAILED"
  /** the connection closed (or was closed) before the answer came */
  | "CONNECTION_CLOSED"
  /** no answer within the request timeout */
  | "TIMEOUT"
  /** the daemon sent something that is not protocol */
  | "PROTOCOL";

/** The one error type @tipcjs/client throws or rejects with. */
export class ClientError extends Error {
  override readonly name = "ClientError";
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isClientError(e: unknown): e is ClientError {
  return (
    e instanceof ClientError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "ClientError" && "code" in e)
  );
}

export interface ConnectOptions {
  /** ms to wait for the connection and each answer (default 10000; 0: no limit) */
  timeout?: number;
}

export interface SubscribeOptions {
  mode?: "ports" | "service";
  /** ms; the subscription ends with a `timeout` event after it */
  timeout?: number;
  /** false: no events for bindings that already match (default true) */
  initialEvents?: boolean;
}

/**
 * A subscription's events as an async iterable. Ends after `timeout`, on `cancel()`, or when the
 * connection closes. If the daemon ended it because its events were not read in time, the read
 * after the last event rejects with ClientError `SUBSCRIPTION_OVERFLOW`.
 */
export interface ClientSubscription extends AsyncIterable<SubscriptionEventJSON> {
  readonly id: number;
  /** why the daemon ended it early (`SUBSCRIPTION_OVERFLOW`), once its end has arrived */
  readonly error: ClientError | undefined;
  cancel(): Promise<void>;
}

export interface TipcClient {
  /** What `hello` said when connecting: the daemon's node id, address, protocol version. */
  readonly info: HelloResult;
  readonly closed: boolean;
  /**
   * Binds a service range. By default the binding belongs to this connection and is withdrawn
   * when it closes (as a TIPC socket's); `owner: "daemon"` keeps it until `unbind`.
   */
  bind(request: MethodParams["bind"]): Promise<OwnBindingJSON>;
  /** Withdraws own bindings with this type, lower, upper (default lower) and key (default any). */
  unbind(request: MethodParams["unbind"]): Promise<BindingJSON[]>;
  lookup(
    type: number,
    instance: number,
    options?: { mode?: "anycast" | "closest" },
  ): Promise<SocketAddressJSON | undefined>;
  lookupOnNode(type: number, instance: number, node: number): Promise<SocketAddressJSON | undefined>;
  lookupInstance(type: number, instance: number): Promise<BindingJSON[]>;
  lookupMulticast(type: number, lower: number, upper: number): Promise<SocketAddressJSON[]>;
  lookupMulticastNodes(type: number, lower: number, upper: number): Promise<number[]>;
  /** The raw lookup request, every mode. */
  request<M extends Method>(method: M, params?: MethodParams[M]): Promise<MethodResults[M]>;
  /** The whole name table (or one type, or only own bindings), ordered as `tipc nametable show`. */
  bindings(options?: MethodParams["bindings"]): Promise<(BindingJSON | OwnBindingJSON)[]>;
  subscribe(
    type: number,
    lower: number,
    upper: number,
    options?: SubscribeOptions,
  ): Promise<ClientSubscription>;
  nodes(): Promise<MethodResults["nodes"]["nodes"]>;
  links(): Promise<MethodResults["links"]["links"]>;
  bearers(): Promise<MethodResults["bearers"]["bearers"]>;
  /** `tipc bearer disable`: the daemon's links on it go down and fail over. NOT_FOUND for an unknown name. */
  disableBearer(name: string): Promise<MethodResults["bearerDisable"]["bearer"]>;
  enableBearer(name: string): Promise<MethodResults["bearerEnable"]["bearer"]>;
  stats(): Promise<MethodResults["stats"]>;
  /**
   * Opens a connectionless socket (rdm or dgram) in tipcd's node: `node.socket()`'s API through
   * the daemon. It belongs to this connection: closing the connection closes it and withdraws its
   * bindings. Rejects BAD_ARGUMENT, SOCKET_LIMIT, LIMIT, CLOSED.
   */
  socket(options: SocketOptions): Promise<ClientSocket>;
  /**
   * Connects a TIPC connection by service address (`{type, instance, node?}`) or socket address
   * (`{node, port}`): `node.connect()`'s Duplex through the daemon, on a Unix socket of its own.
   * `connect` once established; errors CONNECTION_REFUSED, CONNECT_TIMEOUT, CONNECTION_RESET,
   * PEER_LOST, CONNECTION_ABORTED, TIPC_CONNECTION_LIMIT, BAD_ARGUMENT (ClientError).
   */
  connect(
    address: { type: number; instance: number; node?: number } | { node: number; port: number },
    options?: ClientConnectionOptions,
  ): ClientConnection;
  /**
   * Listens on a service range: `node.listen()`'s server through the daemon. It belongs to this
   * control connection (closed with it); each incoming connection is taken on a Unix socket of
   * its own and emitted as `connection`.
   */
  listen(options: ClientServerOptions): Promise<ClientServer>;
  /**
   * Closes the connection: the daemon withdraws this connection's bindings, ends its
   * subscriptions and listeners; the TIPC connections made or accepted through it are destroyed.
   */
  close(): Promise<void>;
}

interface Pending {
  /** runs as the answer is read, before any later line (a socket must exist for its first event) */
  onResult?: (v: unknown) => void;
  resolve(v: unknown): void;
  reject(e: ClientError): void;
  timer: NodeJS.Timeout | undefined;
}

class SubscriptionQueue implements ClientSubscription {
  private readonly queue: SubscriptionEventJSON[] = [];
  private waiter:
    | { resolve: (r: IteratorResult<SubscriptionEventJSON>) => void; reject: (e: ClientError) => void }
    | undefined;
  ended = false;
  error: ClientError | undefined;
  constructor(
    readonly id: number,
    private readonly onCancel: (id: number) => Promise<void>,
  ) {}
  push(ev: SubscriptionEventJSON): void {
    if (this.ended) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: ev, done: false });
    } else this.queue.push(ev);
  }
  end(error?: ClientError): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    if (this.waiter && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      if (error) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }
  async cancel(): Promise<void> {
    if (this.ended) return;
    this.end();
    this.queue.length = 0;
    await this.onCancel(this.id);
  }
  [Symbol.asyncIterator](): AsyncIterator<SubscriptionEventJSON> {
    return {
      next: () => {
        const v = this.queue.shift();
        if (v) return Promise.resolve({ value: v, done: false });
        if (this.error) return Promise.reject(this.error);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
      return: async () => {
        await this.cancel().catch(() => {});
        return { value: undefined, done: true };
      },
    };
  }
}

/** Connects to tipcd's control socket (default {@link defaultSocketPath}) and says hello. */
export async function connect(
  path: string = defaultSocketPath(),
  options: ConnectOptions = {},
): Promise<TipcClient> {
  const timeout = options.timeout ?? 10_000;
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = netConnect({ path });
    const timer =
      timeout > 0 ? setTimeout(() => s.destroy(new Error("connect timed out")), timeout) : undefined;
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new ClientError("CONNECT_FAILED", `cannot connect to tipcd at ${path}: ${e.code ?? e.message}`, {
          cause: e,
        }),
      );
    });
  });
  const client = new Client(socket, timeout, path);
  try {
    client.info = await client.request("hello", {});
  } catch (e) {
    await client.close();
    throw e;
  }
  return client;
}

class Client implements TipcClient {
  info!: HelloResult;
  closed = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly subscriptions = new Map<number, SubscriptionQueue>();
  /** events that arrive before the subscribe response is read */
  private readonly early = new Map<number, EventMessage[]>();
  /** cancelled here, their `end` not yet received: late events for them are dropped */
  private readonly cancelled = new Set<number>();
  private readonly decoder = new FrameDecoder({ maxLineBytes: MAX_RESPONSE_LINE_BYTES });
  private readonly sockets = new Map<number, ClientSocketImpl>();
  private readonly socketConnection: SocketConnection = {
    request: (method, params, payload) => this.send(method, params, payload),
    forget: (port) => {
      this.sockets.delete(port);
    },
    error: (code, message) => new ClientError(code, message),
  };

  private readonly servers = new Map<number, ClientServer>();
  /** connections made or accepted through this client, open */
  private readonly tipcConnections = new Set<ClientConnection>();
  private track(conn: ClientConnection): ClientConnection {
    this.tipcConnections.add(conn);
    conn.once("close", () => this.tipcConnections.delete(conn));
    return conn;
  }

  constructor(
    private readonly conn: Socket,
    private readonly timeout: number,
    private readonly path: string,
  ) {
    conn.on("data", (chunk: Buffer) => this.onData(chunk));
    conn.on("error", () => {});
    conn.on("close", () => this.onClose());
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.decoder.push(chunk)) {
      if (frame.kind === "error" || typeof frame.message !== "object" || frame.message === null) {
        const why = frame.kind === "error" ? frame.error.message : "a line that is not an object";
        this.failAll(new ClientError("PROTOCOL", `tipcd sent ${why}`));
        this.conn.destroy();
        return;
      }
      this.dispatch(frame.message as ResponseMessage & EventMessage, frame.payload);
    }
  }

  private dispatch(msg: ResponseMessage & EventMessage, payload: Uint8Array | undefined): void {
    if ((msg as { event?: unknown }).event === "socket") {
      const m = msg as unknown as SocketEventMessage;
      const s = this.sockets.get(m.socket);
      if (s === undefined) return; // closed here; the daemon's last frames for it
      if (m.data) s.push(m.data, payload ?? new Uint8Array(0));
      if (m.end) s.end(new ClientError("CLOSED", `socket ${m.socket} was closed by tipcd`));
      return;
    }
    if ((msg as { event?: unknown }).event === "connection") {
      const m = msg as unknown as ConnectionEventMessage;
      const server = this.servers.get(m.listener);
      if (server === undefined) return;
      if (m.end) {
        this.servers.delete(m.listener);
        server.ended();
      } else if (typeof m.connection === "number") server.incoming(m.connection);
      return;
    }
    if (msg.event === "subscription") {
      const sub = this.subscriptions.get(msg.subscription);
      if (!sub && this.cancelled.has(msg.subscription)) {
        if (msg.end) this.cancelled.delete(msg.subscription);
        return;
      }
      if (!sub) {
        const list = this.early.get(msg.subscription) ?? [];
        list.push(msg);
        this.early.set(msg.subscription, list);
        return;
      }
      this.deliver(sub, msg);
      return;
    }
    if (typeof msg.id !== "number") {
      // the daemon closes the connection after these: every request waiting fails with the reason
      const code = msg.error?.code;
      if (code === "CONNECTION_LIMIT" || code === "LINE_TOO_LONG" || code === "CLOSED")
        this.failAll(new ClientError(code, msg.error?.message ?? code));
      return; // otherwise an error about a line we never sent
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error) p.reject(new ClientError(msg.error.code, msg.error.message));
    else {
      p.onResult?.(msg.result);
      p.resolve(msg.result);
    }
  }

  private deliver(sub: SubscriptionQueue, msg: EventMessage): void {
    if (msg.data) sub.push(msg.data);
    if (msg.end) {
      sub.end(msg.error ? new ClientError(msg.error.code, msg.error.message) : undefined);
      this.subscriptions.delete(sub.id);
    }
  }

  private failAll(e: ClientError): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  private onClose(): void {
    this.closed = true;
    this.failAll(new ClientError("CONNECTION_CLOSED", "the connection to tipcd closed"));
    for (const s of this.subscriptions.values()) s.end();
    this.subscriptions.clear();
    const closed = new ClientError("CONNECTION_CLOSED", "the connection to tipcd closed");
    for (const s of [...this.sockets.values()]) s.end(closed);
    this.sockets.clear();
    for (const s of this.servers.values()) s.ended();
    this.servers.clear();
  }

  private readonly makeError = (code: ClientErrorCode, message: string) => new ClientError(code, message);

  connect(
    address: { type: number; instance: number; node?: number } | { node: number; port: number },
    options: ClientConnectionOptions = {},
  ): ClientConnection {
    const type = options.type ?? "stream";
    if (type !== "stream" && type !== "seqpacket")
      throw new ClientError("BAD_ARGUMENT", "a connection's type is stream or seqpacket");
    if (typeof address !== "object" || address === null)
      throw new ClientError("BAD_ARGUMENT", "connect takes a service address or a socket address");
    if (this.closed) throw new ClientError("CONNECTION_CLOSED", "the client is closed");
    const conn = this.track(new ClientConnection(type, this.makeError, options.highWaterMark));
    const params = {
      ...address,
      connType: type,
      ...(options.connectTimeout !== undefined ? { connectTimeout: options.connectTimeout } : {}),
      ...(options.nodelay !== undefined ? { nodelay: options.nodelay } : {}),
    };
    openConnectionSocket(this.path, "connect", params, this.makeError, (s) => {
      conn.opening = s;
    }).then(
      (o) => {
        conn.opening = undefined;
        conn.attach(o, true);
      },
      (e) => {
        conn.opening = undefined;
        conn.destroy(e);
      },
    );
    return conn;
  }

  async listen(options: ClientServerOptions): Promise<ClientServer> {
    if (typeof options !== "object" || options === null || typeof options.service !== "object")
      throw new ClientError("BAD_ARGUMENT", "listen takes { service: { type, lower, upper? } }");
    const type = options.type ?? "stream";
    const svc = options.service;
    let made: ClientServer | undefined;
    await this.send(
      "listen",
      {
        type: svc.type,
        lower: svc.lower,
        ...(svc.upper !== undefined ? { upper: svc.upper } : {}),
        ...(svc.scope !== undefined ? { scope: svc.scope } : {}),
        connType: type,
      },
      undefined,
      (r) => {
        const listener = r.listener;
        made = new ClientServer(
          listener,
          r.binding,
          type,
          async (connection) => {
            const conn = this.track(new ClientConnection(type, this.makeError, options.highWaterMark));
            const o = await openConnectionSocket(
              this.path,
              "accept",
              { connection },
              this.makeError,
              () => {},
            );
            conn.attach(o, false);
            return conn;
          },
          async () => {
            this.servers.delete(listener);
            if (!this.closed) await this.request("listenClose", { listener });
          },
        );
        this.servers.set(listener, made);
      },
    );
    return made as ClientServer;
  }

  request<M extends Method>(method: M, params?: MethodParams[M]): Promise<MethodResults[M]> {
    return this.send(method, params ?? ({} as MethodParams[M]));
  }

  private send<M extends Method>(
    method: M,
    params: MethodParams[M],
    payload?: Uint8Array,
    onResult?: (v: MethodResults[M]) => void,
  ): Promise<MethodResults[M]> {
    if (this.closed) return Promise.reject(new ClientError("CONNECTION_CLOSED", "the client is closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        this.timeout > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new ClientError("TIMEOUT", `tipcd did not answer ${method} within ${this.timeout} ms`));
            }, this.timeout)
          : undefined;
      this.pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
        ...(onResult ? { onResult: onResult as (v: unknown) => void } : {}),
      });
      for (const piece of encodeFrame({ id, method, params }, payload)) this.conn.write(piece);
    });
  }

  async socket(options: SocketOptions): Promise<ClientSocket> {
    const { maxPendingSends, receiveWindow, ...params } = options;
    const window = receiveWindow ?? DEFAULT_RECEIVE_WINDOW;
    let made: ClientSocketImpl | undefined;
    await this.send("socketOpen", { ...params, window }, undefined, (r) => {
      made = new ClientSocketImpl(this.socketConnection, r.socket, r.address, maxPendingSends ?? 64, window);
      this.sockets.set(r.socket, made);
    });
    return made as ClientSocketImpl;
  }

  bind(request: MethodParams["bind"]): Promise<OwnBindingJSON> {
    return this.request("bind", request);
  }
  async unbind(request: MethodParams["unbind"]): Promise<BindingJSON[]> {
    return (await this.request("unbind", request)).withdrawn;
  }
  async lookup(type: number, instance: number, options: { mode?: "anycast" | "closest" } = {}) {
    return (await this.request("lookup", { type, lower: instance, mode: options.mode ?? "anycast" }))
      .sockets?.[0];
  }
  async lookupOnNode(type: number, instance: number, node: number) {
    return (await this.request("lookup", { type, lower: instance, mode: "node", node })).sockets?.[0];
  }
  async lookupInstance(type: number, instance: number) {
    return (await this.request("lookup", { type, lower: instance, mode: "instance" })).bindings ?? [];
  }
  async lookupMulticast(type: number, lower: number, upper: number) {
    return (
      (await this.request("lookup", { type, lower, upper, mode: "multicast" as LookupMode })).sockets ?? []
    );
  }
  async lookupMulticastNodes(type: number, lower: number, upper: number) {
    return (await this.request("lookup", { type, lower, upper, mode: "nodes" })).nodes ?? [];
  }
  async bindings(options: MethodParams["bindings"] = {}) {
    return (await this.request("bindings", options)).bindings;
  }
  async subscribe(type: number, lower: number, upper: number, options: SubscribeOptions = {}) {
    const { subscription } = await this.request("subscribe", { type, lower, upper, ...options });
    const sub = new SubscriptionQueue(subscription, async (id) => {
      this.subscriptions.delete(id);
      if (this.closed) return;
      this.cancelled.add(id);
      await this.request("unsubscribe", { subscription: id }).catch(() => {
        this.cancelled.delete(id); // already ended on the daemon's side
      });
    });
    this.subscriptions.set(subscription, sub);
    const early = this.early.get(subscription);
    this.early.delete(subscription);
    for (const m of early ?? []) this.deliver(sub, m);
    return sub;
  }
  async nodes() {
    return (await this.request("nodes", {})).nodes;
  }
  async links() {
    return (await this.request("links", {})).links;
  }
  async bearers() {
    return (await this.request("bearers", {})).bearers;
  }
  async disableBearer(name: string) {
    return (await this.request("bearerDisable", { name })).bearer;
  }
  async enableBearer(name: string) {
    return (await this.request("bearerEnable", { name })).bearer;
  }
  stats() {
    return this.request("stats", {});
  }
  close(): Promise<void> {
    // the connections made through this client close with it (the peers see a reset), as a
    // node's connections close with the node
    for (const c of [...this.tipcConnections]) c.destroy();
    if (this.conn.destroyed) {
      this.onClose();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.conn.once("close", () => resolve());
      this.conn.end();
    });
  }
}
