/**
 * TIPC connections through tipcd as Node.js streams (PROTOCOL.md "Connections"): each rides a
 * Unix socket of its own to the control socket. `ClientConnection` is a Duplex with the
 * behaviour of `@tipcjs/node`'s TipcConnection: `connect`, `data`, `end` (the peer shut down),
 * `error` with the same typed codes (CONNECTION_REFUSED, CONNECT_TIMEOUT, CONNECTION_RESET,
 * PEER_LOST, CONNECTION_ABORTED). `end()` shuts the connection down (the peer reads end of
 * stream); `destroy()` closes it (the peer sees a reset).
 *
 * Backpressure is the Unix socket's: a write completes once the daemon took it (it takes no more
 * while the TIPC window is shut), and the socket is not read while the readable side is full, so
 * the daemon stops reading the TIPC connection and the peer's window closes.
 */
import { EventEmitter } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { encodeFrame, type Frame, FrameDecoder, MAX_PAYLOAD_BYTES } from "./framing.js";
import type { BindingJSON, ConnectionType, ProtocolErrorCode, SocketAddressJSON } from "./protocol.js";

/** Longest line of a connection's answer or frames (they are short). */
const MAX_CONNECTION_LINE = 64 * 1024;

/** The client's error type, given by client.ts (no import cycle). */
export type MakeError = (
  code: ProtocolErrorCode | "CONNECT_FAILED" | "CONNECTION_CLOSED" | "PROTOCOL" | "TIMEOUT",
  message: string,
) => Error;

export interface ClientConnectionOptions {
  /** "stream" (default: bytes, no boundaries) or "seqpacket" (one message per write and per 'data') */
  type?: ConnectionType;
  /** TIPC_CONN_TIMEOUT, ms (default 8,000) */
  connectTimeout?: number;
  /** TIPC_NODELAY (stream) */
  nodelay?: boolean;
  /** the Duplex's high-water marks (bytes; messages for a seqpacket's readable side) */
  highWaterMark?: number;
}

interface Opened {
  socket: Socket;
  decoder: FrameDecoder;
  result: { local: SocketAddressJSON; peer: SocketAddressJSON };
  rest: Frame[];
}

/**
 * Opens a Unix socket to tipcd, sends `method` as its first line and reads the answer. Resolves
 * with the socket (then the connection's own) and the frames that followed the answer.
 */
export function openConnectionSocket(
  path: string,
  method: "connect" | "accept",
  params: object,
  makeError: MakeError,
  onSocket: (s: Socket) => void,
): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ path });
    onSocket(socket);
    const decoder = new FrameDecoder({
      maxLineBytes: MAX_CONNECTION_LINE,
      maxPayloadBytes: MAX_PAYLOAD_BYTES,
    });
    let done = false;
    const fail = (e: Error) => {
      if (done) return;
      done = true;
      socket.destroy();
      reject(e);
    };
    socket.once("connect", () => socket.write(`${JSON.stringify({ id: 1, method, params })}\n`));
    socket.on("error", (e: NodeJS.ErrnoException) =>
      fail(makeError("CONNECT_FAILED", `cannot connect to tipcd at ${path}: ${e.code ?? e.message}`)),
    );
    socket.on("close", () =>
      fail(makeError("CONNECTION_CLOSED", "tipcd closed the connection before its answer")),
    );
    const onData = (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (frames.length === 0) return;
      const first = frames[0] as Frame;
      const m = first.kind === "message" ? (first.message as Record<string, unknown> | null) : null;
      if (m === null || typeof m !== "object" || first.kind !== "message") {
        fail(makeError("PROTOCOL", "tipcd sent something that is not an answer"));
        return;
      }
      const err = m.error as { code?: ProtocolErrorCode; message?: string } | undefined;
      if (err !== undefined) {
        fail(makeError(err.code ?? "INTERNAL", err.message ?? String(err.code)));
        return;
      }
      done = true;
      socket.off("data", onData);
      socket.removeAllListeners("close");
      socket.removeAllListeners("error");
      socket.on("error", () => {});
      socket.pause();
      resolve({ socket, decoder, result: m.result as Opened["result"], rest: frames.slice(1) });
    };
    socket.on("data", onData);
  });
}

export class ClientConnection extends Duplex {
  private socket: Socket | undefined;
  private decoder: FrameDecoder | undefined;
  private local: SocketAddressJSON | undefined;
  private peer: SocketAddressJSON | undefined;
  /** a write or the end that waits for the connection to be established */
  private waiting: (() => void) | undefined;
  private gotEnd = false;
  /** @internal the Unix socket being opened (destroy() closes it) */
  opening: Socket | undefined;

  constructor(
    readonly type: ConnectionType,
    private readonly makeError: MakeError,
    hwm?: number,
  ) {
    super({
      allowHalfOpen: false,
      readableObjectMode: type === "seqpacket",
      ...(hwm !== undefined ? { readableHighWaterMark: hwm, writableHighWaterMark: hwm } : {}),
    });
  }

  /** This end in tipcd's node, once connected. */
  get address(): SocketAddressJSON | undefined {
    return this.local === undefined ? undefined : { ...this.local };
  }

  /** The other end, once connected. */
  get remoteAddress(): SocketAddressJSON | undefined {
    return this.peer === undefined ? undefined : { ...this.peer };
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.destroyed;
  }

  /** @internal the socket carries the connection now (after connect's or accept's answer). */
  attach(o: Opened, emitConnect: boolean): void {
    if (this.destroyed) {
      o.socket.destroy();
      return;
    }
    this.socket = o.socket;
    this.decoder = o.decoder;
    this.local = o.result.local;
    this.peer = o.result.peer;
    const socket = o.socket;
    socket.on("data", (chunk: Buffer) => {
      for (const f of (this.decoder as FrameDecoder).push(chunk)) if (!this.onFrame(f)) return;
    });
    socket.on("close", () => {
      if (!this.gotEnd && !this.destroyed)
        this.destroy(this.makeError("CONNECTION_CLOSED", "tipcd closed the connection's socket"));
    });
    for (const f of o.rest) if (!this.onFrame(f)) return;
    // read until the readable side is full (a _read before the attach found no socket)
    socket.resume();
    if (emitConnect) {
      this.emit("connect");
      this.emit("ready");
    }
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  private onFrame(f: Frame): boolean {
    if (this.destroyed) return false;
    if (f.kind === "message" && f.payload !== undefined) {
      const d = f.payload;
      const more = this.push(this.type === "seqpacket" ? d : Buffer.from(d.buffer, d.byteOffset, d.length));
      if (!more) this.socket?.pause();
      return true;
    }
    const m = f.kind === "message" ? (f.message as Record<string, unknown> | null) : null;
    if (m !== null && typeof m === "object" && m.end === true) {
      this.gotEnd = true;
      this.push(null);
      return true;
    }
    const err =
      m !== null && typeof m === "object"
        ? (m.error as { code?: ProtocolErrorCode; message?: string })
        : undefined;
    if (err !== undefined && typeof err === "object") {
      this.gotEnd = true;
      this.destroy(this.makeError(err.code ?? "INTERNAL", err.message ?? "connection failed"));
      return false;
    }
    this.destroy(this.makeError("PROTOCOL", "tipcd sent a frame that is not data, end or error"));
    return false;
  }

  override _read(): void {
    this.socket?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const socket = this.socket;
    if (socket === undefined) {
      this.waiting = () => this._write(chunk, _enc, cb);
      return;
    }
    const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.type === "seqpacket") {
      if (data.length > MAX_PAYLOAD_BYTES) {
        cb(
          this.makeError(
            "MESSAGE_TOO_LARGE",
            `${data.length} bytes; a message holds at most ${MAX_PAYLOAD_BYTES}`,
          ),
        );
        return;
      }
      const [line, payload] = encodeFrame({}, data);
      socket.write(line);
      socket.write(payload as Uint8Array, (e) => cb(e ?? null));
      return;
    }
    if (data.length === 0) {
      cb();
      return;
    }
    for (let o = 0; o < data.length; o += MAX_PAYLOAD_BYTES) {
      const piece = data.subarray(o, o + MAX_PAYLOAD_BYTES);
      const [line, payload] = encodeFrame({}, piece);
      socket.write(line);
      if (o + MAX_PAYLOAD_BYTES >= data.length) socket.write(payload as Uint8Array, (e) => cb(e ?? null));
      else socket.write(payload as Uint8Array);
    }
  }

  /** end(): shutdown; the peer reads end of stream once everything written arrived. */
  override _final(cb: (e?: Error | null) => void): void {
    const socket = this.socket;
    if (socket === undefined) {
      this.waiting = () => this._final(cb);
      return;
    }
    // after the peer's end (TIPC has no half-close: the connection is over) or the socket's loss
    // there is nothing to shut down; a failed write is the socket's close, reported there
    if (this.gotEnd || socket.destroyed) {
      cb();
      return;
    }
    socket.write(`${JSON.stringify({ end: true })}\n`, () => cb());
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.waiting = undefined;
    this.socket?.destroy();
    this.opening?.destroy();
    cb(err);
  }
}

export interface ClientServerOptions extends ClientConnectionOptions {
  /** the service range to listen on, with its scope (default cluster) */
  service: { type: number; lower: number; upper?: number; scope?: "cluster" | "node" };
}

/**
 * A listener in tipcd's node: emits `connection` (a connected ClientConnection) for each
 * incoming connection, as `net.Server` does; `error` when one could not be taken (it is closed).
 */
export class ClientServer extends EventEmitter {
  private closed = false;
  constructor(
    readonly listener: number,
    readonly binding: BindingJSON,
    readonly type: ConnectionType,
    private readonly accept: (connection: number) => Promise<ClientConnection>,
    private readonly onClose: () => Promise<void>,
  ) {
    super();
  }

  get listening(): boolean {
    return !this.closed;
  }

  /** @internal the daemon announced an incoming connection */
  incoming(connection: number): void {
    if (this.closed) return;
    this.accept(connection).then(
      (c) => {
        if (this.closed) c.destroy();
        else this.emit("connection", c);
      },
      (e) => {
        if (!this.closed && this.listenerCount("error") > 0) this.emit("error", e);
      },
    );
  }

  /** @internal the control connection closed */
  ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit("close");
  }

  /** Stops listening; connections already taken stay open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.onClose();
    } finally {
      this.emit("close");
    }
  }
}
