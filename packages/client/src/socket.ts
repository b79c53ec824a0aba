/**
 * A connectionless TIPC socket held by tipcd for this client: the same methods as
 * `@tipcjs/node`'s `node.socket()`, so code moves between in-process and tipcd. What needs the
 * daemon returns a promise (`await` works on both: the node's `bind` returns at once).
 */
import { MAX_PAYLOAD_BYTES } from "./framing.js";
import type {
  BindingJSON,
  DestinationJSON,
  Importance,
  Method,
  MethodParams,
  MethodResults,
  ReceivedJSON,
  RejectReason,
  Scope,
  SocketAddressJSON,
  SocketStateJSON,
  SocketType,
} from "./protocol.js";

/** A message received, with its data and its sender's socket address. */
export interface ReceivedMessage {
  kind: "message";
  data: Uint8Array;
  source: SocketAddressJSON;
  destination: DestinationJSON;
  importance: Importance;
}

/**
 * A message of this socket that came back (not dest-droppable, and undeliverable): the error
 * (`NO_NAME`, `NO_PORT`, `NO_NODE`, `OVERLOAD`...), its wire code and at most 1,024 bytes of the data.
 */
export interface ReturnedMessage {
  kind: "returned";
  error: RejectReason;
  errorCode: number;
  data: Uint8Array;
  rejectedBy: SocketAddressJSON;
  destination: DestinationJSON;
  importance: Importance;
}

/** What a socket's iterator yields, as `node.socket()`'s does. */
export type SocketEvent = ReceivedMessage | ReturnedMessage;

/** What `client.socket()` takes: `node.socket()`'s options. */
export interface SocketOptions {
  type: SocketType;
  importance?: Importance;
  /** TIPC_DEST_DROPPABLE (default true): false makes undeliverable messages come back as `returned` */
  destDroppable?: boolean;
  /** SO_RCVBUF of the daemon's socket (bytes, default 2 MiB): past rcvbuf << importance, OVERLOAD */
  rcvbuf?: number;
  multicastMethod?: "broadcast" | "replicast";
  /** sends waiting in the client beyond the ones in flight to tipcd (default 64); more: WOULD_BLOCK */
  maxPendingSends?: number;
  /**
   * Bytes of received messages tipcd may send ahead of the program's reads (default 256 KiB):
   * the client holds at most this plus one message for the socket. What is not read waits in
   * tipcd's node socket, whose receive queue rejects the rest with OVERLOAD as the kernel does.
   */
  receiveWindow?: number;
}

export interface SocketSendOptions {
  importance?: Importance;
  /** MSG_DONTWAIT: reject WOULD_BLOCK rather than wait for a congested link */
  dontWait?: boolean;
}

export interface BindRange {
  type: number;
  lower: number;
  upper?: number;
  scope?: Scope;
}

/** A socket of tipcd's node, owned by this client connection (closed when it closes). */
export interface ClientSocket extends AsyncIterable<SocketEvent> {
  readonly port: number;
  readonly address: SocketAddressJSON;
  readonly closed: boolean;
  /** Sends not yet taken by the daemon's node (in flight or waiting in the client). */
  readonly pendingSends: number;
  /** Binds a service range to this socket's port. Rejects BAD_ARGUMENT, RESERVED_TYPE, DUPLICATE, LIMIT. */
  bind(range: BindRange, scope?: Scope): Promise<BindingJSON>;
  /** Rejects NOT_BOUND for a range this socket did not bind. */
  unbind(range: BindRange, scope?: Scope): Promise<void>;
  /** Anycast to `{type, instance}`. Rejects NO_SERVICE, NO_NODE, MESSAGE_TOO_LARGE, WOULD_BLOCK, CLOSED. */
  sendTo(
    address: { type: number; instance: number; node?: number },
    data: Uint8Array,
    options?: SocketSendOptions,
  ): Promise<void>;
  sendToSocket(address: SocketAddressJSON, data: Uint8Array, options?: SocketSendOptions): Promise<void>;
  sendToRange(
    range: { type: number; lower: number; upper: number },
    data: Uint8Array,
    options?: SocketSendOptions,
  ): Promise<void>;
  /** The next received or returned message; undefined once the socket is closed. */
  receive(): Promise<SocketEvent | undefined>;
  tryReceive(): SocketEvent | undefined;
  setImportance(importance: Importance): Promise<void>;
  setDestDroppable(destDroppable: boolean): Promise<void>;
  setMulticastMethod(method: "broadcast" | "replicast" | "auto"): Promise<void>;
  info(): Promise<SocketStateJSON>;
  /** Closes the daemon's socket: its bindings are withdrawn, what it had not read is rejected. */
  close(): Promise<void>;
}

/** What a socket needs from its client connection. */
export interface SocketConnection {
  request<M extends Method>(
    method: M,
    params: MethodParams[M],
    payload?: Uint8Array,
  ): Promise<MethodResults[M]>;
  forget(port: number): void;
  /** a ClientError with this code */
  error(code: "WOULD_BLOCK" | "CLOSED" | "MESSAGE_TOO_LARGE", message: string): Error;
}

/** Sends written to tipcd at once per socket; more wait in the client (bounded by maxPendingSends). */
const IN_FLIGHT = 32;

interface WaitingSend {
  write: () => Promise<unknown>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class ClientSocketImpl implements ClientSocket {
  private readonly queue: SocketEvent[] = [];
  private readonly readers: ((ev: SocketEvent | undefined) => void)[] = [];
  private readonly waiting: WaitingSend[] = [];
  private inFlight = 0;
  private ended = false;
  private readonly maxPending: number;
  /** bytes read by the program since the last grant (each message counts its data + 1) */
  private consumed = 0;

  constructor(
    private readonly conn: SocketConnection,
    readonly port: number,
    readonly address: SocketAddressJSON,
    maxPendingSends: number,
    private readonly window: number,
  ) {
    this.maxPending = maxPendingSends;
  }

  get closed(): boolean {
    return this.ended;
  }

  get pendingSends(): number {
    return this.inFlight + this.waiting.length;
  }

  async bind(range: BindRange, scope?: Scope): Promise<BindingJSON> {
    return this.conn.request("socketBind", { socket: this.port, ...this.range(range, scope) });
  }

  async unbind(range: BindRange, scope?: Scope): Promise<void> {
    await this.conn.request("socketUnbind", { socket: this.port, ...this.range(range, scope) });
  }

  private range(range: BindRange, scope: Scope | undefined) {
    const s = scope ?? range.scope;
    return {
      type: range.type,
      lower: range.lower,
      ...(range.upper !== undefined ? { upper: range.upper } : {}),
      ...(s !== undefined ? { scope: s } : {}),
    };
  }

  sendTo(
    address: { type: number; instance: number; node?: number },
    data: Uint8Array,
    options?: SocketSendOptions,
  ): Promise<void> {
    const params = {
      socket: this.port,
      type: address.type,
      instance: address.instance,
      ...(address.node !== undefined ? { node: address.node } : {}),
      ...sendParams(options),
    };
    return this.send(data, (d) => this.conn.request("socketSendTo", params, d));
  }

  sendToSocket(address: SocketAddressJSON, data: Uint8Array, options?: SocketSendOptions): Promise<void> {
    const params = { socket: this.port, node: address.node, port: address.port, ...sendParams(options) };
    return this.send(data, (d) => this.conn.request("socketSendToSocket", params, d));
  }

  sendToRange(
    range: { type: number; lower: number; upper: number },
    data: Uint8Array,
    options?: SocketSendOptions,
  ): Promise<void> {
    const params = {
      socket: this.port,
      type: range.type,
      lower: range.lower,
      upper: range.upper,
      ...sendParams(options),
    };
    return this.send(data, (d) => this.conn.request("socketSendToRange", params, d));
  }

  /**
   * Up to IN_FLIGHT sends are written to tipcd at once (pipelined, answered in order); more wait
   * here, in order, up to maxPendingSends, then WOULD_BLOCK. The data is copied: the caller may
   * reuse its buffer once the call returns.
   */
  private send(data: Uint8Array, request: (data: Uint8Array) => Promise<unknown>): Promise<void> {
    if (this.ended) return Promise.reject(this.conn.error("CLOSED", `socket ${this.port} is closed`));
    if (!(data instanceof Uint8Array)) return Promise.reject(new TypeError("data must be a Uint8Array"));
    if (data.length > MAX_PAYLOAD_BYTES)
      return Promise.reject(
        this.conn.error(
          "MESSAGE_TOO_LARGE",
          `${data.length} bytes: a message carries at most ${MAX_PAYLOAD_BYTES}`,
        ),
      );
    const copy = data.slice();
    if (this.inFlight < IN_FLIGHT && this.waiting.length === 0) return this.write(() => request(copy));
    if (this.waiting.length >= this.maxPending)
      return Promise.reject(
        this.conn.error(
          "WOULD_BLOCK",
          `${this.waiting.length} sends already wait for tipcd (maxPendingSends)`,
        ),
      );
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ write: () => request(copy), resolve, reject });
    });
  }

  private write(request: () => Promise<unknown>): Promise<void> {
    this.inFlight++;
    return request().then(
      () => {
        this.done();
      },
      (e) => {
        this.done();
        throw e;
      },
    );
  }

  private done(): void {
    this.inFlight--;
    while (this.inFlight < IN_FLIGHT && this.waiting.length > 0) {
      const w = this.waiting.shift() as WaitingSend;
      this.write(w.write).then(w.resolve, w.reject);
    }
  }

  // ---------------------------------------------------------------- receive

  /** A frame for this socket from the daemon. */
  push(meta: ReceivedJSON, data: Uint8Array): void {
    if (this.ended) return;
    const ev = { ...meta, data } as SocketEvent;
    const reader = this.readers.shift();
    if (reader) {
      this.taken(ev);
      reader(ev);
    } else this.queue.push(ev);
  }

  /** The program has the message: once half the window is read, tipcd may send that much more. */
  private taken(ev: SocketEvent): void {
    this.consumed += ev.data.length + 1;
    if (this.consumed * 2 < this.window || this.ended) return;
    const bytes = this.consumed;
    this.consumed = 0;
    this.conn.request("socketCredit", { socket: this.port, bytes }).catch(() => {
      // the socket or the connection closed meanwhile
    });
  }

  tryReceive(): SocketEvent | undefined {
    const ev = this.queue.shift();
    if (ev !== undefined) this.taken(ev);
    return ev;
  }

  receive(): Promise<SocketEvent | undefined> {
    const ev = this.tryReceive();
    if (ev !== undefined || this.ended) return Promise.resolve(ev);
    return new Promise((resolve) => this.readers.push(resolve));
  }

  /** Leaving the loop does not close the socket (as the node's). */
  async *[Symbol.asyncIterator](): AsyncGenerator<SocketEvent, void, undefined> {
    for (let ev = await this.receive(); ev !== undefined; ev = await this.receive()) yield ev;
  }

  // ---------------------------------------------------------------- options and state

  async setImportance(importance: Importance): Promise<void> {
    await this.conn.request("socketSet", { socket: this.port, importance });
  }

  async setDestDroppable(destDroppable: boolean): Promise<void> {
    await this.conn.request("socketSet", { socket: this.port, destDroppable });
  }

  async setMulticastMethod(method: "broadcast" | "replicast" | "auto"): Promise<void> {
    await this.conn.request("socketSet", { socket: this.port, multicastMethod: method });
  }

  info(): Promise<SocketStateJSON> {
    return this.conn.request("socketInfo", { socket: this.port });
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.end();
    await this.conn.request("socketClose", { socket: this.port }).catch(() => {
      // the connection is gone: the daemon closed the socket with it
    });
  }

  /** No more reads: queued messages are dropped, readers get the end, waiting sends reject. */
  end(reason?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.conn.forget(this.port);
    this.queue.length = 0;
    for (const r of this.readers.splice(0)) r(undefined);
    const e = reason ?? this.conn.error("CLOSED", `socket ${this.port} closed`);
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
}

function sendParams(o: SocketSendOptions | undefined): { importance?: Importance; dontWait?: boolean } {
  return {
    ...(o?.importance !== undefined ? { importance: o.importance } : {}),
    ...(o?.dontWait === true ? { dontWait: true } : {}),
  };
}
