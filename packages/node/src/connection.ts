/**
 * TIPC connections of a node as Node.js streams: a `TipcConnection` is a `Duplex` over one
 * seqpacket or stream socket of `@tipcjs/socket`'s layer, and a `TipcServer` is a listening
 * socket that emits a `connection` per accepted SYN, as `net.Server` does.
 *
 * Backpressure is the connection's own flow control: a write waits (its callback held) while
 * the peer's window is full, so `write()` returns false once the writable buffer reaches its
 * high-water mark, and `drain` follows the CONN_ACK that opens the window. Reads pull from the
 * layer's receive queue only when the readable side wants more, so an unread connection holds
 * at most one window in the layer and one high-water mark in the stream.
 */
import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import type { ConnectionEnd, SocketInfo, SocketLayer, SocketOutput } from "@tipcjs/socket";
import { NodeError, type NodeErrorCode } from "./errors.js";
import { mapSocketError } from "./socket.js";
import type { Binding, ServiceAddress, SocketAddress } from "./types.js";

/** TIPC_MAX_USER_MSG_SIZE: a stream write is cut into messages of at most this many bytes. */
const MAX_MESSAGE = 66_000;

/** What a connection or server needs from its node. */
export interface ConnectionHost {
  layer(): SocketLayer;
  now(): number;
  /** routes outputs (to the link, to other ports), then runs the node's loop */
  apply(outputs: SocketOutput[]): void;
  publish(port: number, binding: Binding): void;
  register(port: number, user: PortUser): void;
  forget(port: number): void;
}

/** What the node calls on the owner of a port when the layer reports for it. */
export interface PortUser {
  readonly port: number;
  onReadable(): void;
  onWakeup(): void;
  onConnected?(peer: SocketAddress): void;
  onDisconnected?(end: ConnectionEnd): void;
  /** the node is closing: no more reads or writes */
  abort(reason: NodeError): void;
}

/** The NodeError code each way a connection can end (SHUTDOWN is a clean end of stream). */
const END_CODES: Record<Exclude<ConnectionEnd["reason"], "SHUTDOWN" | "LOCAL">, NodeErrorCode> = {
  RESET: "CONNECTION_RESET",
  NO_NODE: "PEER_LOST",
  REFUSED: "CONNECTION_REFUSED",
  TIMEOUT: "CONNECT_TIMEOUT",
  ABORTED: "CONNECTION_ABORTED",
};

/** The typed error a connection's end gives its stream, or undefined for a clean end. */
export function connectionError(end: ConnectionEnd): NodeError | undefined {
  if (end.reason === "SHUTDOWN" || end.reason === "LOCAL") return undefined;
  const code = END_CODES[end.reason];
  return Object.assign(new NodeError(code, `connection ended: ${end.reason} (TIPC error ${end.errorCode})`), {
    tipcErrorCode: end.errorCode,
  });
}

export interface ConnectionOptions {
  /** "stream" (SOCK_STREAM, default: bytes, no boundaries) or "seqpacket" (one message per write and per 'data'). */
  type?: "stream" | "seqpacket";
  /** TIPC_CONN_TIMEOUT, ms (default 8,000). */
  connectTimeout?: number;
  /** TIPC_NODELAY: no Nagle bundling (stream). */
  nodelay?: boolean;
  /** SO_RCVBUF, bytes (default 2 MiB): the window advertised to the peer is a quarter of it, in 1 KB blocks. */
  rcvbuf?: number;
  /** The Duplex's high-water marks (bytes; messages for a seqpacket's readable side). */
  highWaterMark?: number;
}

/**
 * One TIPC connection as a Duplex. `end()` shuts it down (the peer reads end of stream);
 * `destroy()` closes the socket (the peer sees CONNECTION_RESET). Errors: CONNECTION_REFUSED,
 * CONNECT_TIMEOUT, CONNECTION_RESET, PEER_LOST (the peer's node went down), CONNECTION_ABORTED.
 */
export class TipcConnection extends Duplex implements PortUser {
  private established = false;
  private closedPort = false;
  private wantRead = false;
  /** a write waiting for the window or a congested link: the chunks left and its callback */
  private waiting: { chunks: Uint8Array[]; cb: (e?: Error | null) => void } | undefined;
  private peerAddress: SocketAddress | undefined;
  /** a SYN blocked on a congested link: sends it, true once it went out */
  private pendingConnect: (() => boolean) | undefined;

  constructor(
    private readonly host: ConnectionHost,
    readonly port: number,
    readonly node: number,
    readonly type: "stream" | "seqpacket",
    hwm: number | undefined,
  ) {
    super({
      allowHalfOpen: false,
      readableObjectMode: type === "seqpacket",
      ...(hwm !== undefined ? { readableHighWaterMark: hwm, writableHighWaterMark: hwm } : {}),
    });
  }

  /** This end: `{ node, port }`. */
  get address(): SocketAddress {
    return { node: this.node, port: this.port };
  }

  /** The other end, once connected. */
  get remoteAddress(): SocketAddress | undefined {
    return this.peerAddress === undefined ? undefined : { ...this.peerAddress };
  }

  get connected(): boolean {
    return this.established;
  }

  /** The socket layer's view: receive queue, and the connection's state, windows and Nagle. */
  info(): SocketInfo {
    return this.host.layer().info(this.port);
  }

  /** @internal the layer connected this socket (connect's ACK, or accept). */
  onConnected(peer: SocketAddress): void {
    this.established = true;
    this.peerAddress = { ...peer };
    // As net.Socket: `connect` comes after connect() returned, even when the peer is this node.
    process.nextTick(() => {
      this.emit("connect");
      this.emit("ready");
    });
    this.onWakeup();
  }

  onDisconnected(end: ConnectionEnd): void {
    this.established = false;
    if (!this.peerAddress && end.reason !== "LOCAL") {
      // the attempt failed: nothing to read
      this.destroy(connectionError(end));
      return;
    }
    this.pull();
    // A writer waiting for the window learns at once.
    this.onWakeup();
  }

  onReadable(): void {
    if (this.wantRead) this.pull();
  }

  override _read(): void {
    this.wantRead = true;
    this.pull();
  }

  private pull(): void {
    if (this.closedPort || this.destroyed) return;
    let layer: SocketLayer;
    try {
      layer = this.host.layer();
    } catch {
      return;
    }
    while (this.wantRead) {
      let r: ReturnType<SocketLayer["readConnection"]>;
      try {
        r = layer.readConnection(this.port);
      } catch (e) {
        this.destroy(mapSocketError(e) as Error);
        return;
      }
      if (r.outputs.length > 0) this.host.apply(r.outputs);
      const item = r.item;
      if (item === undefined) return;
      if (item.kind === "end") {
        this.wantRead = false;
        const err = connectionError(item.end);
        if (err === undefined) this.push(null);
        else this.destroy(err);
        return;
      }
      this.wantRead = this.push(
        this.type === "seqpacket"
          ? item.data
          : Buffer.from(item.data.buffer, item.data.byteOffset, item.data.length),
      );
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const chunks: Uint8Array[] = [];
    if (this.type === "seqpacket") {
      if (data.length > MAX_MESSAGE) {
        cb(
          new NodeError("MESSAGE_TOO_LARGE", `${data.length} bytes; a message holds at most ${MAX_MESSAGE}`),
        );
        return;
      }
      chunks.push(data);
    } else for (let o = 0; o < data.length; o += MAX_MESSAGE) chunks.push(data.subarray(o, o + MAX_MESSAGE));
    this.waiting = { chunks, cb };
    if (this.established) this.onWakeup();
  }

  /** @internal the SYN waits for a congested link: `attempt` sends it at the next wakeup. */
  waitToConnect(attempt: () => boolean): void {
    this.pendingConnect = attempt;
  }

  /** The window opened or the link drained (or the connection ended): send what waits. */
  onWakeup(): void {
    const connect = this.pendingConnect;
    if (connect !== undefined) {
      try {
        if (!connect()) return;
      } catch (e) {
        this.pendingConnect = undefined;
        this.destroy(mapSocketError(e) as Error);
        return;
      }
      this.pendingConnect = undefined;
      return;
    }
    const w = this.waiting;
    if (w === undefined) return;
    let layer: SocketLayer;
    try {
      layer = this.host.layer();
    } catch (e) {
      this.waiting = undefined;
      w.cb(e as Error);
      return;
    }
    while (w.chunks.length > 0) {
      let r: ReturnType<SocketLayer["sendConnection"]>;
      try {
        r = layer.sendConnection(this.port, w.chunks[0] as Uint8Array);
      } catch (e) {
        // Not yet connected: wait for onConnected; ended: the write fails.
        if ((e as { code?: string }).code === "NOT_CONNECTED" && !this.closedPort) return;
        this.waiting = undefined;
        const end = layer.info(this.port).connection?.end;
        w.cb((end !== undefined ? connectionError(end) : undefined) ?? (mapSocketError(e) as Error));
        return;
      }
      if (r.status === "blocked") return;
      w.chunks.shift();
      this.host.apply(r.outputs);
    }
    this.waiting = undefined;
    w.cb();
  }

  /** end(): shutdown, TIPC_CONN_SHUTDOWN to the peer once every write went out. */
  override _final(cb: (e?: Error | null) => void): void {
    if (this.closedPort) {
      cb();
      return;
    }
    try {
      const layer = this.host.layer();
      const state = layer.info(this.port).connection?.state;
      if (state === "established" || state === "connecting") this.host.apply(layer.shutdown(this.port));
    } catch {
      // the node is closing: it closes every socket itself
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.release();
    const w = this.waiting;
    this.waiting = undefined;
    w?.cb(err ?? new NodeError("CLOSED", "connection destroyed"));
    cb(err);
  }

  /** Closes the socket: TIPC_ERR_NO_PORT to a still connected peer. */
  private release(): void {
    if (this.closedPort) return;
    this.closedPort = true;
    let outs: SocketOutput[] = [];
    try {
      outs = this.host.layer().close(this.port);
    } catch {
      // the node is closing
    }
    this.host.forget(this.port);
    if (outs.length > 0) this.host.apply(outs);
  }

  /**
   * @internal the node is closing (its sockets are closed already): the stream is destroyed
   * without an error, so `close` comes without `end` (stream.finished reports a premature close).
   */
  abort(_reason: NodeError): void {
    this.closedPort = true;
    this.destroy();
  }
}

export interface ServerOptions extends ConnectionOptions {
  /** The service range the server binds, with its scope (default cluster). */
  service: { type: number; lower: number; upper?: number; scope?: "cluster" | "node" };
}

/**
 * A listening socket. Emits `connection` (a connected TipcConnection) for each SYN, as
 * `net.Server` does; `close()` stops listening (waiting SYNs are refused).
 */
export class TipcServer extends EventEmitter implements PortUser {
  private closed = false;
  readonly binding: Binding;

  constructor(
    private readonly host: ConnectionHost,
    readonly port: number,
    readonly node: number,
    private readonly options: ServerOptions,
    binding: Binding,
  ) {
    super();
    this.binding = binding;
  }

  get address(): SocketAddress {
    return { node: this.node, port: this.port };
  }

  get listening(): boolean {
    return !this.closed;
  }

  onReadable(): void {
    // accept() each SYN: a new connected socket, its ACK sent.
    while (!this.closed) {
      let acc: { port: number; outputs: SocketOutput[] } | undefined;
      try {
        acc = this.host.layer().acceptConnection(this.port, this.host.now());
      } catch (e) {
        this.emit("error", mapSocketError(e));
        return;
      }
      if (acc === undefined) return;
      const conn = new TipcConnection(
        this.host,
        acc.port,
        this.node,
        this.options.type ?? "stream",
        this.options.highWaterMark,
      );
      this.host.register(acc.port, conn);
      const info = this.host.layer().info(acc.port).connection;
      conn.onConnected(info?.peer as SocketAddress);
      this.emit("connection", conn);
      this.host.apply(acc.outputs);
    }
  }

  onWakeup(): void {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    let outs: SocketOutput[] = [];
    try {
      outs = this.host.layer().close(this.port);
    } catch {
      // the node is closing
    }
    this.host.forget(this.port);
    this.host.apply(outs);
    this.emit("close");
  }

  abort(_reason: NodeError): void {
    if (this.closed) return;
    this.closed = true;
    this.emit("close");
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TipcConnection> {
    const queue: TipcConnection[] = [];
    let wake: (() => void) | undefined;
    const onConn = (c: TipcConnection) => {
      queue.push(c);
      wake?.();
    };
    const onClose = () => wake?.();
    this.on("connection", onConn);
    this.on("close", onClose);
    try {
      for (;;) {
        const c = queue.shift();
        if (c !== undefined) {
          yield c;
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      this.off("connection", onConn);
      this.off("close", onClose);
    }
  }
}

export type ConnectAddress = ServiceAddress | SocketAddress;
