/**
 * The control socket: newline-delimited JSON requests on a local Unix socket (PROTOCOL.md).
 * Bindings made through a connection belong to it and are withdrawn when it closes, unless
 * made with `owner: "daemon"`.
 */
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname, resolve } from "node:path";
import {
  type EventMessage,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FramingError,
  MAX_LINE_BYTES,
  MAX_PAYLOAD_BYTES,
  METHODS,
  type Method,
  type ProtocolErrorCode,
  type SocketEventMessage,
} from "@tipcjs/client";
import type { Binding, Logger, SocketEvent, TipcNode, TipcSocket, TopologySubscription } from "@tipcjs/node";
import { isNodeError } from "@tipcjs/node";
import { type ConnectionBroker, createConnectionBroker } from "./connections.js";
import {
  bindingKey,
  type ConnectionState,
  createHandlers,
  eventToJSON,
  type Handler,
  receivedToJSON,
  SocketSend,
  StreamedList,
} from "./handlers.js";
import { PAYLOAD_METHODS, ProtocolError, parseParams } from "./schema.js";

export { ProtocolError };

/**
 * Bounds of the control socket (README "Control socket", PROTOCOL.md "Limits"). No client can
 * hold the event loop, the node's memory or all of its subscriptions: requests are handled a
 * batch at a time, replies wait for the client to read, and only a client that stops reading
 * for `slowClientMs` (or leaves more than `maxQueuedEvents` events unread) is disconnected.
 */
export interface ControlLimits {
  /** clients connected at once; one more gets a CONNECTION_LIMIT error line and is closed */
  maxConnections: number;
  /** open subscriptions per connection; one more is refused with SUBSCRIPTION_LIMIT */
  maxSubscriptionsPerConnection: number;
  /** requests handled (all connections together) before the event loop gets a turn (setImmediate) */
  requestBatch: number;
  /** ms of request handling after which a turn ends early (a request is never split) */
  requestBudgetMs: number;
  /** received request lines waiting per connection; at this many the connection is not read */
  maxQueuedRequests: number;
  /**
   * bytes of received requests waiting per connection (socket sends carry up to 66,000 bytes of
   * data each); past it the connection is not read
   */
  maxQueuedRequestBytes: number;
  /** sockets open per connection; one more is refused with SOCKET_LIMIT */
  maxSocketsPerConnection: number;
  /**
   * Unsent output per connection (bytes) above which its requests wait, its socket is not read
   * and its subscription events stay queued in the node, until the client has read it.
   */
  outputHighWater: number;
  /** a client that has taken none of its waiting output for this long (ms) is disconnected */
  slowClientMs: number;
  /**
   * subscription events waiting for one connection (all its subscriptions): past it, a client
   * that has taken nothing for `overflowStallMs` is disconnected (one that reads is not)
   */
  maxQueuedEvents: number;
  /**
   * subscription events waiting for all connections together: past it, the connections that
   * have taken nothing for `overflowStallMs` are disconnected, most events first, until the total
   * is back under it (`queued-events`). Without it, 64 silent connections could hold 64 x
   * `maxQueuedEvents` events (a whole-range subscription gets one per binding at once).
   */
  maxQueuedEventsTotal: number;
  overflowStallMs: number;
  /**
   * a long list answer (`bindings`) is written this many items at a time (or `streamBudgetMs`
   * of work), one piece per event-loop turn and only while the output is under `outputHighWater`
   */
  streamChunk: number;
  streamBudgetMs: number;
  /**
   * TIPC connections carried for clients at once (each on a Unix socket of its own), established
   * and announced-not-yet-accepted together: one more `connect` is refused with
   * TIPC_CONNECTION_LIMIT, one more incoming connection is closed (the peer sees a reset)
   */
  maxTipcConnections: number;
  /** ms an incoming connection announced to a listener waits for its `accept` before it is closed */
  acceptTimeoutMs: number;
  /** listeners (`listen`) per control connection; one more is refused with LIMIT */
  maxListenersPerConnection: number;
}

export const CONTROL_LIMITS: Readonly<ControlLimits> = Object.freeze({
  maxConnections: 64,
  maxSubscriptionsPerConnection: 1024,
  requestBatch: 16,
  requestBudgetMs: 20,
  maxQueuedRequests: 256,
  maxQueuedRequestBytes: 1024 * 1024,
  maxSocketsPerConnection: 256,
  outputHighWater: 1024 * 1024,
  slowClientMs: 30_000,
  maxQueuedEvents: 65_536,
  maxQueuedEventsTotal: 131_072,
  overflowStallMs: 1000,
  streamChunk: 2000,
  streamBudgetMs: 5,
  maxTipcConnections: 1024,
  acceptTimeoutMs: 10_000,
  maxListenersPerConnection: 256,
});

/** Why the daemon ended or refused a control connection (counted in `stats().disconnects`). */
export type ControlDisconnectCause =
  | "connection-limit"
  | "slow-client"
  | "queued-events"
  | "line-too-long"
  /** a request announced a payload length that is not an integer 0..66000 (BAD_PAYLOAD_LENGTH) */
  | "bad-frame";

export interface ControlServerOptions {
  path: string;
  /** file mode of the socket (default 0o600) */
  mode?: number;
  logger: Logger;
  version?: string;
  /** overrides of CONTROL_LIMITS */
  limits?: Partial<ControlLimits>;
}

export interface ControlServerStats {
  connections: number;
  /** request lines handled since start */
  requests: number;
  /** connections refused or ended by the daemon, by cause */
  disconnects: Record<ControlDisconnectCause, number>;
  /** the most output (bytes) that ever waited for one client: bounded by outputHighWater plus one piece */
  unsentPeak: number;
  /**
   * the most bytes of received requests that ever waited for one connection: bounded by
   * maxQueuedRequestBytes plus one read (64 KiB) and its frames' overhead
   */
  queuedRequestPeak: number;
  /** sockets open for the connected clients (`socketOpen`) */
  sockets: number;
  /** TIPC connections carried (established, connecting, and waiting for accept) */
  tipcConnections: number;
  /** incoming TIPC connections closed: over maxTipcConnections, or not accepted in time */
  tipcDropped: number;
  /** the most bytes one carried TIPC connection ever held in tipcd (PROTOCOL.md "Connections") */
  tipcHeldPeak: number;
}

export interface ControlServer {
  readonly path: string;
  readonly connections: number;
  /** bindings held by the daemon itself (owner "daemon") */
  readonly daemonBindings: number;
  readonly limits: Readonly<ControlLimits>;
  stats(): ControlServerStats;
  close(): Promise<void>;
}

/** A `connect` or `accept` line: it makes its control connection a TIPC connection's own. */
const isConnectionRequest = (m: unknown): boolean => {
  const method = (m as { method?: unknown } | null)?.method;
  return (
    typeof m === "object" && m !== null && !Array.isArray(m) && (method === "connect" || method === "accept")
  );
};

/** A received request: its message (parsed JSON, or the framing error) and its data. */
type QueuedRequest = { frame: Frame; bytes: number };

interface Connection extends ConnectionState {
  socket: Socket;
  closed: boolean;
  /** requests received, not yet handled (at most maxQueuedRequests plus one read chunk) */
  queue: QueuedRequest[];
  /** bytes of the queued requests (at most maxQueuedRequestBytes plus one read chunk) */
  queuedBytes: number;
  /** a socket send waits for a congested link: later requests wait for it (in order) */
  blocked: boolean;
  /** resolved when the socket's output drains below the high water mark (or it closes) */
  drainWaiters: (() => void)[];
  /** Date.now() of the last time the client took output, or output began to wait */
  lastProgress: number;
  /** a list answer is being written in pieces: nothing else may be written meanwhile */
  streaming: boolean;
  /** what waits for the list answer to end (writes, the next list answer, the close) */
  afterStream: (() => void)[];
  /** continues the list answer once the output is under the high water mark */
  resumeStream: (() => void) | undefined;
}

/** Why the control socket's path cannot be used. */
export type ControlSocketErrorCode =
  /** longer than a Unix socket address takes (MAX_SOCKET_PATH_BYTES) */
  | "PATH_TOO_LONG"
  /** its directory does not exist and cannot be made, or is not a directory */
  | "SOCKET_DIR"
  /** a file that is not a socket is at the path: it is left alone */
  | "NOT_A_SOCKET"
  /** a daemon answers on the socket */
  | "IN_USE";

/** The control socket's path cannot be used; tipcd exits 2 (1 for IN_USE). */
export class ControlSocketError extends Error {
  override readonly name = "ControlSocketError";
  constructor(
    readonly code: ControlSocketErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isControlSocketError(e: unknown): e is ControlSocketError {
  return e instanceof ControlSocketError || (e as { name?: unknown } | null)?.name === "ControlSocketError";
}

/** Longest Unix socket path Linux takes (sun_path is 108 bytes with its NUL); longer is truncated. */
export const MAX_SOCKET_PATH_BYTES = 107;

const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e);

/**
 * Makes the socket's directory one level at a time (mode 0755). Not `mkdirSync(recursive)`:
 * under /proc it loops for ever instead of failing.
 */
function makeSocketDir(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT")
        throw new ControlSocketError("SOCKET_DIR", `cannot use directory ${at}: ${errnoOf(e)}`);
    }
    if (st) {
      if (!st.isDirectory()) throw new ControlSocketError("SOCKET_DIR", `${at} is not a directory`);
      break;
    }
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && statSync(d).isDirectory()) continue;
      throw new ControlSocketError("SOCKET_DIR", `cannot make directory ${d}: ${errnoOf(e)}`);
    }
  }
}

/**
 * Readies the control socket's path: its length is checked, its directory made, and a stale
 * socket file (nobody listens on it) removed. Anything else at the path is refused, never removed.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES)
    throw new ControlSocketError(
      "PATH_TOO_LONG",
      `${path} is ${bytes} bytes; a Unix socket path takes at most ${MAX_SOCKET_PATH_BYTES}`,
    );
  makeSocketDir(dirname(path));
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new ControlSocketError("SOCKET_DIR", `cannot use ${path}: ${errnoOf(e)}`);
  }
  if (!st.isSocket())
    throw new ControlSocketError(
      "NOT_A_SOCKET",
      `${path} exists and is not a socket; tipcd does not replace it (remove it or choose another path)`,
    );
  const probe = await new Promise<string | undefined>((done) => {
    const s = createConnection({ path });
    s.once("connect", () => {
      s.destroy();
      done("connected");
    });
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code));
  });
  if (probe === "connected")
    throw new ControlSocketError("IN_USE", `control socket ${path} is in use by a running daemon`);
  // only a socket nobody listens on is stale; EACCES and the like leave it alone
  if (probe !== "ECONNREFUSED")
    throw new ControlSocketError("SOCKET_DIR", `cannot probe ${path}: ${probe ?? "unknown error"}`);
  unlinkSync(path);
}

export async function startControlServer(
  node: TipcNode,
  options: ControlServerOptions,
): Promise<ControlServer> {
  const { path, logger } = options;
  const mode = options.mode ?? 0o600;
  const daemonOwned = new Map<string, Binding>();
  const connections = new Set<Connection>();
  let nextConnection = 1;
  let closing = false;

  await prepareSocketPath(path);

  const limits: Readonly<ControlLimits> = { ...CONTROL_LIMITS, ...options.limits };
  let requests = 0;
  let unsentPeak = 0;
  let queuedRequestPeak = 0;
  const disconnects: Record<ControlDisconnectCause, number> = {
    "connection-limit": 0,
    "slow-client": 0,
    "queued-events": 0,
    "line-too-long": 0,
    "bad-frame": 0,
  };

  const writeRaw = (c: Connection, text: string | Uint8Array) => {
    if (c.closed || c.socket.destroyed) return;
    if (c.socket.writableLength === 0) c.lastProgress = Date.now();
    c.socket.write(text, () => progress(c));
    if (c.socket.writableLength > unsentPeak) unsentPeak = c.socket.writableLength;
  };

  const send = (c: Connection, msg: object) => {
    if (c.streaming) {
      c.afterStream.push(() => send(c, msg));
      return;
    }
    writeRaw(c, `${JSON.stringify(msg)}\n`);
  };

  /** A message followed by its data (a socket event): the line announces `bytes`. */
  const sendFrame = (c: Connection, msg: object, payload: Uint8Array) => {
    if (c.streaming) {
      c.afterStream.push(() => sendFrame(c, msg, payload));
      return;
    }
    for (const piece of encodeFrame(msg, payload)) writeRaw(c, piece);
  };

  /** The client took output: waiting events and requests go on once it is under the bound. */
  const progress = (c: Connection) => {
    c.lastProgress = Date.now();
    if (c.closed) return;
    if (c.resumeStream !== undefined && c.socket.writableLength <= limits.outputHighWater) {
      const resume = c.resumeStream;
      c.resumeStream = undefined;
      setImmediate(resume);
    }
    if (overHighWater(c)) return;
    for (const w of c.drainWaiters.splice(0)) w();
    if (c.queue.length > 0) schedule(c);
    updateFlow(c);
  };

  /** over its output bound, or writing a list answer (which holds everything else back) */
  const overHighWater = (c: Connection) => c.streaming || c.socket.writableLength > limits.outputHighWater;

  /**
   * Writes a list answer in pieces, one per event-loop turn (link timers, datagrams and other
   * clients are served in between), each only once the client has read its output down to the
   * high water mark. Subscription events and later answers of the connection wait until it ends.
   */
  const streamList = <T>(c: Connection, id: number | string, list: StreamedList<T>) => {
    if (c.streaming) {
      c.afterStream.push(() => streamList(c, id, list));
      return;
    }
    c.streaming = true;
    let i = 0;
    let first = true;
    writeRaw(c, `{"id":${JSON.stringify(id)},"result":{${JSON.stringify(list.key)}:[`);
    const finish = () => {
      c.streaming = false;
      c.resumeStream = undefined;
      while (!c.streaming && c.afterStream.length > 0 && !c.closed) (c.afterStream.shift() as () => void)();
      if (c.closed) c.afterStream.length = 0;
      else if (!c.streaming) progress(c);
    };
    const step = () => {
      if (c.closed) {
        finish();
        return;
      }
      const started = performance.now();
      const parts: string[] = [];
      let n = 0;
      while (
        i < list.items.length &&
        n < limits.streamChunk &&
        (n === 0 || performance.now() - started < limits.streamBudgetMs)
      ) {
        const v = list.map(list.items[i++] as T);
        n++;
        if (v !== undefined) parts.push(JSON.stringify(v));
      }
      if (parts.length > 0) {
        writeRaw(c, (first ? "" : ",") + parts.join(","));
        first = false;
      }
      if (i >= list.items.length) {
        writeRaw(c, "]}}\n");
        finish();
        return;
      }
      if (c.socket.writableLength > limits.outputHighWater) c.resumeStream = step;
      else setImmediate(step);
    };
    setImmediate(step);
  };

  /** Resolves once the client has read its output down to the high water mark, or is gone. */
  const writable = (c: Connection): Promise<void> | undefined => {
    if (!overHighWater(c) || c.closed) return undefined;
    return new Promise<void>((resolve) => c.drainWaiters.push(resolve));
  };

  /** Reads the connection only while its request queue and its output are under their bounds. */
  const updateFlow = (c: Connection) => {
    if (c.closed) return;
    const read =
      c.queue.length < limits.maxQueuedRequests &&
      c.queuedBytes < limits.maxQueuedRequestBytes &&
      !overHighWater(c);
    if (read && c.socket.isPaused()) c.socket.resume();
    else if (!read && !c.socket.isPaused()) c.socket.pause();
  };

  // Connections with requests to handle, served in turn by one task per event-loop turn: the
  // budget of a turn is shared by every connection, however many there are.
  const ready = new Set<Connection>();
  let turnScheduled = false;

  const schedule = (c: Connection) => {
    if (c.closed) return;
    ready.add(c);
    if (turnScheduled) return;
    turnScheduled = true;
    setImmediate(turn);
  };

  /**
   * Handles up to requestBatch requests (or requestBudgetMs of work, at least one request), one
   * from each ready connection in turn, then yields to the event loop. A connection whose output
   * is over its bound leaves the round until the client has read it (progress() brings it back).
   */
  const turn = () => {
    turnScheduled = false;
    const started = performance.now();
    let handled = 0;
    while (
      ready.size > 0 &&
      handled < limits.requestBatch &&
      (handled === 0 || performance.now() - started < limits.requestBudgetMs)
    ) {
      // round robin: the first in line is served one request, then goes to the back
      const c = ready.values().next().value as Connection;
      ready.delete(c);
      if (c.closed || c.queue.length === 0 || c.blocked || overHighWater(c)) {
        updateFlow(c);
        continue;
      }
      const next = c.queue.shift() as QueuedRequest;
      c.queuedBytes -= next.bytes;
      handleFrame(c, next.frame);
      handled++;
      if (!c.closed && c.queue.length > 0) ready.add(c);
      else updateFlow(c);
    }
    for (const c of ready) updateFlow(c);
    if (ready.size > 0 && !turnScheduled) {
      turnScheduled = true;
      setImmediate(turn);
    }
  };

  const disconnect = (c: Connection, cause: ControlDisconnectCause, fields: object, msg: string) => {
    disconnects[cause]++;
    logger.warn({ connection: c.id, cause, ...fields }, msg);
    c.socket.destroy();
  };

  /** A client that took none of its output for slowClientMs, or left too many events unread. */
  const checkClients = () => {
    const now = Date.now();
    const queued = new Map<Connection, number>();
    let total = 0;
    for (const c of connections) {
      let n = 0;
      for (const sub of c.subscriptions.values()) n += sub.queued;
      queued.set(c, n);
      total += n;
    }
    if (total > limits.maxQueuedEventsTotal) {
      // the daemon-wide bound: stalled connections go, the ones holding most first
      const stalled = [...queued]
        .filter(([c, n]) => n > 0 && now - c.lastProgress > limits.overflowStallMs)
        .sort((x, y) => y[1] - x[1]);
      for (const [c, n] of stalled) {
        if (total <= limits.maxQueuedEventsTotal) break;
        disconnect(
          c,
          "queued-events",
          { queuedEvents: n, total, limit: limits.maxQueuedEventsTotal },
          "control clients left too many subscription events unread; the one holding most disconnected",
        );
        queued.delete(c);
        total -= n;
      }
    }
    for (const [c, queuedEvents] of queued) {
      if (c.socket.writableLength === 0 && queuedEvents === 0) continue;
      const stalled = now - c.lastProgress;
      if (queuedEvents > limits.maxQueuedEvents && stalled > limits.overflowStallMs) {
        disconnect(
          c,
          "queued-events",
          { queuedEvents, limit: limits.maxQueuedEvents },
          "control client left too many subscription events unread; disconnected",
        );
      } else if (stalled > limits.slowClientMs) {
        disconnect(
          c,
          "slow-client",
          { unsent: c.socket.writableLength, queuedEvents, ms: limits.slowClientMs },
          "control client read nothing of its output in time; disconnected",
        );
      }
    }
  };
  const checker = setInterval(
    checkClients,
    Math.max(10, Math.min(1000, limits.slowClientMs / 4, limits.overflowStallMs / 2)),
  );
  checker.unref();

  const ownerOf = (b: Binding): "connection" | "daemon" | undefined => {
    const k = bindingKey(b);
    if (daemonOwned.has(k)) return "daemon";
    for (const c of connections) if (c.bindings.has(k)) return "connection";
    return undefined;
  };

  const pump = async (c: Connection, sub: TopologySubscription) => {
    let endSent = false;
    let overflow: { code: "SUBSCRIPTION_OVERFLOW"; message: string } | undefined;
    try {
      for await (const ev of sub) {
        const msg: EventMessage = { event: "subscription", subscription: sub.id, data: eventToJSON(ev) };
        if (ev.kind === "timeout") msg.end = endSent = true;
        send(c, msg);
        if (endSent) break;
        // events wait in the subscription's queue (bounded by maxQueuedEvents) until the client reads
        const wait = writable(c);
        if (wait) await wait;
        if (c.closed) break;
      }
    } catch (e) {
      // the node ended it: its reader fell too far behind (NodeError OVERFLOW)
      if (!(isNodeError(e) && e.code === "OVERFLOW")) throw e;
      overflow = { code: "SUBSCRIPTION_OVERFLOW", message: e.message };
      logger.warn(
        { connection: c.id, subscription: sub.id },
        "subscription ended: its events were not read in time",
      );
    } finally {
      c.subscriptions.delete(sub.id);
      if (!endSent && !c.closed)
        send(c, {
          event: "subscription",
          subscription: sub.id,
          end: true,
          ...(overflow ? { error: overflow } : {}),
        } satisfies EventMessage);
    }
  };

  const broker: ConnectionBroker = createConnectionBroker({
    node,
    logger,
    limits,
    send: (c, msg) => send(c as Connection, msg),
  });

  const handlers = createHandlers({
    node,
    ...(options.version !== undefined ? { version: options.version } : {}),
    daemonOwned,
    limits,
    ownerOf: (b) => ownerOf(b),
    // the response is written before the first event: the pumps await before they send anything
    startSubscription: (c, sub) => queueMicrotask(() => void pump(c as Connection, sub)),
    startSocket: (c, socket) => queueMicrotask(() => void pumpSocket(c as Connection, socket)),
    listen: (c, p) => broker.listen(c, p),
    listenClose: (c, p) => broker.listenClose(c, p),
  });

  const fail = (c: Connection, id: number | string | null, e: unknown) => {
    if (e instanceof ProtocolError) {
      send(c, { id, error: { code: e.code, message: e.message } });
    } else if (isNodeError(e)) {
      const code: ProtocolErrorCode =
        e.code === "BAD_OPTIONS" ? "BAD_ARGUMENT" : (e.code as ProtocolErrorCode);
      send(c, { id, error: { code, message: e.message } });
    } else {
      logger.error({ err: e, connection: c.id }, "control request failed");
      send(c, { id, error: { code: "INTERNAL", message: (e as Error)?.message ?? String(e) } });
    }
  };

  const handleFrame = (c: Connection, frame: Frame) => {
    requests++;
    if (frame.kind === "error") {
      send(c, { id: null, error: { code: frame.error.code, message: frame.error.message } });
      return;
    }
    const req = frame.message;
    const r = (typeof req === "object" && req !== null ? req : {}) as Record<string, unknown>;
    const id = typeof r.id === "number" || typeof r.id === "string" ? r.id : null;
    try {
      if (typeof req !== "object" || req === null || Array.isArray(req)) {
        throw new ProtocolError("INVALID_REQUEST", "a request is a JSON object {id, method, params}");
      }
      if (id === null) throw new ProtocolError("INVALID_REQUEST", "id must be a number or a string");
      if (typeof r.method !== "string") throw new ProtocolError("INVALID_REQUEST", "method must be a string");
      if (!(METHODS as readonly string[]).includes(r.method)) {
        throw new ProtocolError(
          "UNKNOWN_METHOD",
          `unknown method ${JSON.stringify(r.method)} (methods: ${METHODS.join(", ")})`,
        );
      }
      const method = r.method as Method;
      const raw = r.params ?? {};
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new ProtocolError("INVALID_REQUEST", "params must be an object");
      }
      if (PAYLOAD_METHODS.has(method) !== (frame.payload !== undefined)) {
        throw new ProtocolError(
          "BAD_ARGUMENT",
          PAYLOAD_METHODS.has(method)
            ? `${method} carries its data after the line: give "bytes" (0..66000) and the data`
            : `${method} carries no data ("bytes" is for socket sends)`,
        );
      }
      if (closing) throw new ProtocolError("CLOSED", "tipcd is stopping");
      const params = parseParams(method, raw);
      const result = (handlers[method] as Handler<Method>)(c, params as never, frame.payload);
      if (result instanceof StreamedList) streamList(c, id, result);
      else if (result instanceof SocketSend) {
        // The answer follows the node's promise (a microtask later: after the answers of the
        // requests handled in this turn). A send held for a congested link holds the
        // connection's later requests too: the daemon stops reading it.
        const answered = result.done.then(
          (v) => send(c, { id, result: v }),
          (e) => fail(c, id, e),
        );
        if (result.waits) {
          c.blocked = true;
          void answered.finally(() => {
            c.blocked = false;
            if (c.queue.length > 0) schedule(c);
            updateFlow(c);
          });
        }
      } else send(c, { id, result });
    } catch (e) {
      fail(c, id, e);
    }
  };

  /**
   * Writes a socket's received and returned messages to its connection, one at a time, while
   * the client has granted credit for them and the connection's output is under its bound: what
   * a program does not read stays in the node socket's receive queue, whose limit
   * (rcvbuf << importance) rejects the rest with OVERLOAD as the kernel does. An unread socket
   * holds back only its own messages. The socket's `end` follows its last message.
   */
  const pumpSocket = async (c: Connection, socket: TipcSocket) => {
    const credit = c.credits.get(socket.port);
    try {
      for (;;) {
        const wait = writable(c);
        if (wait) await wait;
        const granted = credit?.available();
        if (granted) await granted;
        if (c.closed || socket.closed) break;
        const ev: SocketEvent | undefined = await socket.receive();
        if (ev === undefined || c.closed) break;
        if (credit) credit.bytes -= ev.data.length + 1;
        const msg: SocketEventMessage = { event: "socket", socket: socket.port, data: receivedToJSON(ev) };
        sendFrame(c, msg, ev.data);
      }
    } catch (e) {
      logger.warn({ err: e, connection: c.id, socket: socket.port }, "socket reader failed");
    }
    c.sockets.delete(socket.port);
    c.credits.delete(socket.port);
    if (!c.closed) send(c, { event: "socket", socket: socket.port, end: true } satisfies SocketEventMessage);
  };

  const release = (c: Connection) => {
    if (c.closed) return;
    c.closed = true;
    connections.delete(c);
    ready.delete(c);
    c.queue.length = 0;
    c.afterStream.length = 0;
    c.resumeStream = undefined;
    for (const w of c.drainWaiters.splice(0)) w();
    for (const sub of c.subscriptions.values()) sub.cancel();
    c.subscriptions.clear();
    let withdrawn = 0;
    if (!node.closed) {
      for (const b of c.bindings.values()) {
        try {
          if (node.withdraw(b)) withdrawn++;
        } catch (e) {
          logger.warn({ err: e }, "withdraw on disconnect failed");
        }
      }
    }
    c.bindings.clear();
    broker.release(c);
    // a closed socket withdraws its bindings and rejects what it had not read (as a process's
    // sockets when it exits)
    const sockets = c.sockets.size;
    for (const s of c.sockets.values()) s.close();
    c.sockets.clear();
    for (const k of c.credits.values()) k.wake();
    c.queuedBytes = 0;
    logger.debug({ connection: c.id, withdrawn, sockets }, "control connection closed");
  };

  const server: Server = createServer((socket) => {
    socket.on("error", () => {});
    // a refused connection is read and its input dropped, so that its close is seen
    const refuse = (text: string) => {
      socket.resume();
      socket.end(text);
    };
    if (closing) {
      socket.end(
        `${JSON.stringify({ id: null, error: { code: "CLOSED", message: "tipcd is stopping" } })}\n`,
      );
      return;
    }
    if (connections.size >= limits.maxConnections) {
      disconnects["connection-limit"]++;
      logger.warn({ limit: limits.maxConnections }, "control connection refused: too many connections");
      refuse(
        `${JSON.stringify({
          id: null,
          error: {
            code: "CONNECTION_LIMIT",
            message: `tipcd serves at most ${limits.maxConnections} control connections at once`,
          },
        })}\n`,
      );
      return;
    }
    const c: Connection = {
      id: nextConnection++,
      socket,
      bindings: new Map(),
      subscriptions: new Map(),
      closed: false,
      queue: [],
      queuedBytes: 0,
      sockets: new Map(),
      credits: new Map(),
      blocked: false,
      drainWaiters: [],
      lastProgress: Date.now(),
      streaming: false,
      afterStream: [],
      resumeStream: undefined,
    };
    connections.add(c);
    logger.debug({ connection: c.id }, "control connection");
    const decoder = new FrameDecoder({ maxLineBytes: MAX_LINE_BYTES, maxPayloadBytes: MAX_PAYLOAD_BYTES });
    let first = true;
    socket.on("data", (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      for (let i = 0; i < frames.length; i++) {
        const frame = frames[i] as Frame;
        if (first && frame.kind === "message" && isConnectionRequest(frame.message)) {
          // connect/accept: from now on this Unix socket carries one TIPC connection
          socket.removeAllListeners("data");
          socket.removeAllListeners("drain");
          socket.removeAllListeners("close");
          requests++;
          release(c);
          broker.take(socket, frame.message as Record<string, unknown>, decoder, frames.slice(i + 1));
          return;
        }
        first = false;
        if (frame.kind === "error" && frame.fatal) {
          fatal(frame.error.code === "LINE_TOO_LONG" ? "line-too-long" : "bad-frame", frame.error);
          return;
        }
        const bytes = frame.kind === "message" ? (frame.payload?.length ?? 0) + 64 : 64;
        c.queue.push({ frame, bytes });
        c.queuedBytes += bytes;
        if (c.queuedBytes > queuedRequestPeak) queuedRequestPeak = c.queuedBytes;
      }
      if (c.queue.length > 0) schedule(c);
      updateFlow(c);
    });
    socket.on("drain", () => progress(c));
    /** A line over the bound, or a payload length that cannot be trusted: nothing after it is read. */
    const fatal = (cause: "line-too-long" | "bad-frame", error: FramingError) => {
      // the requests before it are still answered, then the error, then the close
      const queued = c.queue.splice(0);
      c.queuedBytes = 0;
      for (const q of queued) handleFrame(c, q.frame);
      disconnects[cause]++;
      send(c, {
        id: null,
        error: {
          code: error.code,
          message:
            error.code === "LINE_TOO_LONG"
              ? `a request line is limited to ${MAX_LINE_BYTES} bytes`
              : error.message,
        },
      });
      // after a list answer being written, if there is one
      if (c.streaming) c.afterStream.push(() => socket.end());
      else socket.end();
      socket.removeAllListeners("data");
      socket.resume();
    };
    socket.on("close", () => release(c));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const oldMask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      process.umask(oldMask);
    }
  });
  try {
    chmodSync(path, mode);
  } catch (e) {
    await new Promise<void>((done) => server.close(() => done()));
    throw new ControlSocketError("SOCKET_DIR", `cannot set the mode of ${path}: ${errnoOf(e)}`);
  }
  server.on("error", (e) => logger.error({ err: e }, "control socket error"));

  return {
    path,
    get connections() {
      return connections.size;
    },
    get daemonBindings() {
      return daemonOwned.size;
    },
    limits,
    stats: () => {
      let sockets = 0;
      for (const c of connections) sockets += c.sockets.size;
      return {
        connections: connections.size,
        requests,
        disconnects: { ...disconnects },
        unsentPeak,
        queuedRequestPeak,
        sockets,
        ...broker.stats(),
      };
    },
    close: async () => {
      closing = true;
      broker.close();
      clearInterval(checker);
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of [...connections]) {
        for (const sub of c.subscriptions.values()) sub.cancel();
        c.socket.end();
      }
      setTimeout(() => {
        for (const c of connections) c.socket.destroy();
      }, 200).unref();
      await done;
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
