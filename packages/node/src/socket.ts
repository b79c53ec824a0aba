/**
 * A connectionless TIPC socket of a node (rdm or dgram): the promise-and-iterator face of one
 * port of `@tipcjs/socket`'s layer. Sends go out at once unless the link they need is congested;
 * then they wait, in order, in a bounded queue, until the layer's wakeup. Received messages stay
 * in the layer's receive queue (bounded by rcvbuf << importance) until read.
 */
import { isSocketError, type SendResult, type SocketLayer, type SocketOutput } from "@tipcjs/socket";
import { NodeError, type NodeErrorCode } from "./errors.js";
import type {
  Binding,
  BindRange,
  Importance,
  MulticastMethod,
  Scope,
  ServiceAddress,
  ServiceRange,
  SocketAddress,
  SocketEvent,
  SocketSendOptions,
  SocketState,
  TipcSocket,
} from "./types.js";

/** Default bound on sends waiting for a congested link, per socket. */
export const DEFAULT_MAX_PENDING_SENDS = 64;

/** What a socket needs from its node. */
export interface SocketHost {
  /** the node's socket layer; throws NodeError CLOSED when the node is closing */
  layer(): SocketLayer;
  now(): number;
  /** hands a send's outputs to the link (and the rest of the node), then runs the node's loop */
  applySent(outputs: SocketOutput[]): void;
  /** publishes a binding the layer produced; throws NodeError (the layer's binding is undone) */
  publish(port: number, binding: Binding): void;
  /** applies close/unbind outputs (withdrawals, rejections) */
  apply(outputs: SocketOutput[]): void;
  forget(port: number): void;
}

interface PendingSend {
  attempt: (layer: SocketLayer) => SendResult;
  resolve: () => void;
  reject: (e: unknown) => void;
}

const CODES: Record<string, NodeErrorCode> = {
  BAD_OPTIONS: "BAD_ARGUMENT",
  BAD_ARGUMENT: "BAD_ARGUMENT",
  NO_SUCH_SOCKET: "CLOSED",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  NO_SERVICE: "NO_SERVICE",
  NO_NODE: "NO_NODE",
  RESERVED_TYPE: "RESERVED_TYPE",
  DUPLICATE: "DUPLICATE",
  LIMIT: "LIMIT",
  NOT_BOUND: "NOT_BOUND",
  NOT_SUPPORTED: "NOT_SUPPORTED",
  BAD_STATE: "BAD_STATE",
  NOT_CONNECTED: "NOT_CONNECTED",
  CONNECTION_ENDED: "CONNECTION_ENDED",
};

/** A SocketError from the layer as the NodeError with the same meaning; anything else as is. */
export function mapSocketError(e: unknown): unknown {
  if (!isSocketError(e)) return e;
  return new NodeError(CODES[e.code] ?? "BAD_ARGUMENT", e.message, { cause: e });
}

function sendOptions(options: SocketSendOptions | undefined): { importance?: Importance } {
  return options?.importance === undefined ? {} : { importance: options.importance };
}

function u32(v: unknown, what: string): number {
  if (typeof v !== "number" || v >>> 0 !== v)
    throw new NodeError("BAD_ARGUMENT", `${what} must be an integer in 0..4294967295, got ${String(v)}`);
  return v;
}

export class SocketImpl implements TipcSocket {
  private readonly pending: PendingSend[] = [];
  private readonly readers: ((r: IteratorResult<SocketEvent>) => void)[] = [];
  private ended = false;

  constructor(
    private readonly host: SocketHost,
    readonly port: number,
    readonly node: number,
    private readonly maxPending: number,
  ) {}

  get address(): SocketAddress {
    return { node: this.node, port: this.port };
  }

  get closed(): boolean {
    return this.ended;
  }

  get pendingSends(): number {
    return this.pending.length;
  }

  // ---------------------------------------------------------------- bindings

  bind(range: BindRange, scope?: Scope): Binding {
    const layer = this.live();
    const req = this.range(range, scope);
    let outs: SocketOutput[];
    try {
      outs = layer.bind(this.port, req);
    } catch (e) {
      throw mapSocketError(e);
    }
    const pub = outs.find((o) => o.kind === "publish");
    if (pub === undefined) throw new NodeError("BAD_ARGUMENT", "no publication");
    this.host.publish(this.port, pub.binding);
    return { ...pub.binding };
  }

  unbind(range: BindRange, scope?: Scope): void {
    const layer = this.live();
    let outs: SocketOutput[];
    try {
      outs = layer.unbind(this.port, this.range(range, scope));
    } catch (e) {
      throw mapSocketError(e);
    }
    this.host.apply(outs);
  }

  private range(range: BindRange, scope: Scope | undefined) {
    if (typeof range !== "object" || range === null)
      throw new NodeError("BAD_ARGUMENT", "a service range { type, lower, upper? } is required");
    const lower = u32(range.lower, "lower");
    const upper = range.upper === undefined ? lower : u32(range.upper, "upper");
    return { type: u32(range.type, "type"), lower, upper, scope: scope ?? range.scope ?? "cluster" };
  }

  // ---------------------------------------------------------------- sends

  sendTo(address: ServiceAddress, data: Uint8Array, options?: SocketSendOptions): Promise<void> {
    const a = { ...address };
    const o = sendOptions(options);
    return this.send((l, d) => l.sendToService(this.port, a, d, o), data, options);
  }

  sendToSocket(address: SocketAddress, data: Uint8Array, options?: SocketSendOptions): Promise<void> {
    const a = { ...address };
    const o = sendOptions(options);
    return this.send((l, d) => l.sendToSocket(this.port, a, d, o), data, options);
  }

  sendToRange(range: ServiceRange, data: Uint8Array, options?: SocketSendOptions): Promise<void> {
    const r = { ...range };
    const o = sendOptions(options);
    return this.send((l, d) => l.sendToRange(this.port, r, d, this.host.now(), o), data, options);
  }

  /**
   * Sends now if nothing waits before this send and the link takes it; otherwise waits in the
   * socket's bounded queue (`dontWait`: rejects WOULD_BLOCK instead of waiting).
   */
  private send(
    attempt: (l: SocketLayer, data: Uint8Array) => SendResult,
    data: Uint8Array,
    options: SocketSendOptions | undefined,
  ): Promise<void> {
    try {
      if (this.ended) throw new NodeError("CLOSED", `socket ${this.port} is closed`);
      if (this.pending.length === 0 && this.tryOnce((l) => attempt(l, data))) return Promise.resolve();
      if (options?.dontWait === true) throw new NodeError("WOULD_BLOCK", "the link is congested (dontWait)");
      if (this.pending.length >= this.maxPending)
        throw new NodeError(
          "WOULD_BLOCK",
          `${this.pending.length} sends already wait for a congested link (maxPendingSends)`,
        );
    } catch (e) {
      return Promise.reject(e);
    }
    // The caller may reuse its buffer once send() returns: keep a copy while waiting.
    const copy = data instanceof Uint8Array ? data.slice() : data;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ attempt: (l) => attempt(l, copy), resolve, reject });
    });
  }

  /** True when sent; false when blocked on a congested link. Throws the mapped error. */
  private tryOnce(attempt: (l: SocketLayer) => SendResult): boolean {
    let r: SendResult;
    try {
      r = attempt(this.host.layer());
    } catch (e) {
      throw mapSocketError(e);
    }
    if (r.status === "blocked") return false;
    this.host.applySent(r.outputs);
    return true;
  }

  /** The layer's wakeup: send what waits, in order, until a send blocks again. */
  onWakeup(): void {
    while (this.pending.length > 0) {
      const p = this.pending[0] as PendingSend;
      let sent: boolean;
      try {
        sent = this.tryOnce(p.attempt);
      } catch (e) {
        this.pending.shift();
        p.reject(e);
        continue;
      }
      if (!sent) return;
      this.pending.shift();
      p.resolve();
    }
  }

  // ---------------------------------------------------------------- receive

  tryReceive(): SocketEvent | undefined {
    if (this.ended) return undefined;
    return this.host.layer().read(this.port);
  }

  receive(): Promise<SocketEvent | undefined> {
    const ev = this.tryReceive();
    if (ev !== undefined || this.ended) return Promise.resolve(ev);
    return new Promise((resolve) => this.readers.push((r) => resolve(r.done ? undefined : r.value)));
  }

  /** The layer's readable: hand queued items to waiting readers, oldest reader first. */
  onReadable(): void {
    while (this.readers.length > 0) {
      const ev = this.host.layer().read(this.port);
      if (ev === undefined) return;
      (this.readers.shift() as (r: IteratorResult<SocketEvent>) => void)({ value: ev, done: false });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SocketEvent> {
    return {
      next: () =>
        this.receive().then((v) =>
          v === undefined ? { value: undefined, done: true } : { value: v, done: false },
        ),
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }

  // ---------------------------------------------------------------- options and state

  setImportance(importance: Importance): void {
    this.call((l) => l.setImportance(this.port, importance));
  }

  setDestDroppable(destDroppable: boolean): void {
    this.call((l) => l.setDestDroppable(this.port, destDroppable));
  }

  setMulticastMethod(method: MulticastMethod | "auto"): void {
    this.call((l) => l.setMulticastMethod(this.port, method));
  }

  info(): SocketState {
    const i = this.call((l) => l.info(this.port));
    return { ...i, pendingSends: this.pending.length };
  }

  private call<T>(f: (l: SocketLayer) => T): T {
    const l = this.live();
    try {
      return f(l);
    } catch (e) {
      throw mapSocketError(e);
    }
  }

  private live(): SocketLayer {
    if (this.ended) throw new NodeError("CLOSED", `socket ${this.port} is closed`);
    return this.host.layer();
  }

  close(): void {
    if (this.ended) return;
    let outs: SocketOutput[] = [];
    try {
      outs = this.host.layer().close(this.port);
    } catch {
      // the node is closing: it withdraws every binding itself
    }
    this.end(new NodeError("CLOSED", `socket ${this.port} closed`));
    this.host.forget(this.port);
    this.host.apply(outs);
  }

  /** No more sends or reads: waiting sends reject with `reason`, waiting readers get done. */
  end(reason: NodeError): void {
    if (this.ended) return;
    this.ended = true;
    for (const p of this.pending.splice(0)) p.reject(reason);
    for (const r of this.readers.splice(0)) r({ value: undefined, done: true });
  }
}
