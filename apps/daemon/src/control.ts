/**
 * The control socket: newline-delimited JSON requests on a local Unix socket (PROTOCOL.md).
 * Bindings made through a connection belong to it and are withdrawn when it closes, unless
 * made with `owner: "daemon"`.
 */
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { createConnection, createServer, isIP, type Server, type Socket } from "node:net";
import { dirname, resolve } from "node:path";
import {
  type BindingJSON,
  type EventMessage,
  type LinkStatJSON,
  MAX_LINE_BYTES,
  METHODS,
  type Method,
  PROTOCOL_VERSION,
  type ProtocolErrorCode,
  type SubscriptionEventJSON,
} from "@tipcjs/client";
import type {
  Binding,
  Logger,
  MediaAddress,
  SubscriptionEvent,
  TipcNode,
  TopologySubscription,
} from "@tipcjs/node";
import { isNodeError } from "@tipcjs/node";
import { keyHandlers } from "./key-control.js";

/** A request the daemon refuses: answered with `{ error: { code, message } }`. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

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
}

export const CONTROL_LIMITS: Readonly<ControlLimits> = Object.freeze({
  maxConnections: 64,
  maxSubscriptionsPerConnection: 1024,
  requestBatch: 16,
  requestBudgetMs: 20,
  maxQueuedRequests: 256,
  outputHighWater: 1024 * 1024,
  slowClientMs: 30_000,
  maxQueuedEvents: 65_536,
  maxQueuedEventsTotal: 131_072,
  overflowStallMs: 1000,
  streamChunk: 2000,
  streamBudgetMs: 5,
});

/** Why the daemon ended or refused a control connection (counted in `stats().disconnects`). */
export type ControlDisconnectCause = "connection-limit" | "slow-client" | "queued-events" | "line-too-long";

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

/**
 * A list answer written in pieces across event-loop turns: one response line,
 * `{"id":..,"result":{"<key>":[...]}}`, built `streamChunk` items at a time. `map` may skip an
 * item (undefined).
 */
class StreamedList<T> {
  constructor(
    readonly key: string,
    readonly items: readonly T[],
    readonly map: (item: T) => object | undefined,
  ) {}
}

const bindingKey = (b: { type: number; lower: number; upper: number; key: number }) =>
  `${b.type}:${b.lower}:${b.upper}:${b.key}`;

function toJSON(b: Binding): BindingJSON {
  return {
    type: b.type,
    lower: b.lower,
    upper: b.upper,
    node: b.node,
    port: b.port,
    scope: b.scope,
    key: b.key,
  };
}

function eventToJSON(ev: SubscriptionEvent): SubscriptionEventJSON {
  const out: SubscriptionEventJSON = {
    kind: ev.kind,
    found: { lower: ev.found.lower, upper: ev.found.upper },
    socket: { node: ev.socket.node, port: ev.socket.port },
  };
  if (ev.kind !== "timeout") {
    out.scope = ev.scope;
    out.binding = toJSON(ev.binding);
  }
  return out;
}

// --- parameter checks: every number a u32, every enum one of its values ---

type Params = Record<string, unknown>;

function u32(p: Params, name: string, optional: true): number | undefined;
function u32(p: Params, name: string, optional?: false): number;
function u32(p: Params, name: string, optional = false): number | undefined {
  const v = p[name];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new ProtocolError("BAD_ARGUMENT", `params.${name} is required`);
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new ProtocolError(
      "BAD_ARGUMENT",
      `params.${name} must be an integer 0..4294967295, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function oneOf<T extends string>(p: Params, name: string, values: readonly T[], fallback: T): T {
  const v = p[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
    throw new ProtocolError(
      "BAD_ARGUMENT",
      `params.${name} must be one of ${values.join(", ")}, got ${JSON.stringify(v)}`,
    );
  }
  return v as T;
}

function range(p: Params): { type: number; lower: number; upper: number } {
  const type = u32(p, "type");
  const lower = u32(p, "lower");
  const upper = u32(p, "upper", true) ?? lower;
  if (lower > upper)
    throw new ProtocolError("BAD_ARGUMENT", `lower (${lower}) is greater than upper (${upper})`);
  return { type, lower, upper };
}

interface Connection {
  id: number;
  socket: Socket;
  bindings: Map<string, Binding>;
  subscriptions: Map<number, TopologySubscription>;
  closed: boolean;
  /** request lines received, not yet handled (at most maxQueuedRequests plus one read chunk) */
  queue: string[];
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
  const disconnects: Record<ControlDisconnectCause, number> = {
    "connection-limit": 0,
    "slow-client": 0,
    "queued-events": 0,
    "line-too-long": 0,
  };

  const writeRaw = (c: Connection, text: string) => {
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
    const read = c.queue.length < limits.maxQueuedRequests && !overHighWater(c);
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
      if (c.closed || c.queue.length === 0 || overHighWater(c)) {
        updateFlow(c);
        continue;
      }
      handleLine(c, c.queue.shift() as string);
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

  /** bearerDisable / bearerEnable: by name, NOT_FOUND for a name the node does not have */
  const switchBearer = (p: Params, enable: boolean) => {
    const name = p.name;
    if (typeof name !== "string" || name.length === 0)
      throw new ProtocolError("BAD_ARGUMENT", "params.name must be a bearer name");
    if (!node.bearers().some((b) => b.name === name)) {
      const names = node
        .bearers()
        .map((b) => b.name)
        .join(", ");
      throw new ProtocolError("NOT_FOUND", `no bearer ${JSON.stringify(name)} (bearers: ${names})`);
    }
    if (enable) node.enableBearer(name);
    else node.disableBearer(name);
    return node.bearers().find((b) => b.name === name);
  };

  /** A UDP address from params.ip (an IP literal) and params.port (default 6118). */
  const udpAddress = (p: Params): MediaAddress => {
    const ip = p.ip;
    if (typeof ip !== "string" || isIP(ip) === 0)
      throw new ProtocolError(
        "BAD_ARGUMENT",
        `params.ip must be an IPv4 or IPv6 address, got ${JSON.stringify(ip)}`,
      );
    const port = u32(p, "port", true) ?? 6118;
    if (port < 1 || port > 65535)
      throw new ProtocolError("BAD_ARGUMENT", `params.port must be 1..65535, got ${port}`);
    return { family: isIP(ip) === 6 ? "ipv6" : "ipv4", address: ip, port };
  };

  const linkStats = (only?: string): LinkStatJSON[] => {
    const props = node.linkProperties();
    const links = new Map(node.links().map((l) => [l.name, l]));
    const anyUp = node.nodes().some((n) => n.up);
    const out = node.linkCounters().map((k): LinkStatJSON => {
      const l = links.get(k.name);
      if (l === undefined) return { ...k, state: anyUp ? "up" : "down", window: props.window };
      const up = l.state === "ESTABLISHED";
      return {
        ...k,
        state: !up ? "DEFUNCT" : l.active ? "ACTIVE" : "STANDBY",
        mtu: l.mtu,
        priority: props.priority[l.bearerName] ?? 10,
        tolerance: l.tolerance,
        window: props.window,
        transmitQueue: l.transmitQueue,
        backlog: l.backlog,
        deferred: l.deferred,
      };
    });
    if (only === undefined) return out;
    const one = out.filter((l) => l.name === only);
    if (one.length === 0)
      throw new ProtocolError(
        "NOT_FOUND",
        `no link ${JSON.stringify(only)} (links: ${out.map((l) => l.name).join(", ")})`,
      );
    return one;
  };

  const linkName = (p: Params): string | undefined => {
    const v = p.link;
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string" || v.length === 0)
      throw new ProtocolError("BAD_ARGUMENT", "params.link must be a link name");
    return v;
  };

  const handlers: Record<Method, (c: Connection, p: Params) => unknown> = {
    ...keyHandlers(node),
    hello: () => ({
      protocol: PROTOCOL_VERSION,
      daemon: `tipcd ${options.version ?? ""}`.trim(),
      nodeId: node.nodeId,
      address: node.address,
      addressHex: node.address.toString(16).padStart(8, "0"),
      netId: node.netId,
      legacy: node.legacy,
    }),
    bind: (c, p) => {
      const r = range(p);
      const scope = oneOf(p, "scope", ["cluster", "node"] as const, "cluster");
      const owner = oneOf(p, "owner", ["connection", "daemon"] as const, "connection");
      const port = u32(p, "port", true);
      const b = node.publish({ ...r, scope, ...(port !== undefined ? { port } : {}) });
      (owner === "daemon" ? daemonOwned : c.bindings).set(bindingKey(b), b);
      return { ...toJSON(b), owner };
    },
    unbind: (c, p) => {
      const r = range(p);
      const key = u32(p, "key", true);
      const withdrawn: BindingJSON[] = [];
      for (const map of [c.bindings, daemonOwned]) {
        for (const [k, b] of map) {
          if (b.type !== r.type || b.lower !== r.lower || b.upper !== r.upper) continue;
          if (key !== undefined && b.key !== key) continue;
          map.delete(k);
          if (node.withdraw(b)) withdrawn.push(toJSON(b));
        }
      }
      if (withdrawn.length === 0) {
        throw new ProtocolError(
          "NOT_FOUND",
          `no binding {${r.type}, ${r.lower}, ${r.upper}}${key !== undefined ? ` with key ${key}` : ""} owned by this connection or the daemon`,
        );
      }
      return { withdrawn };
    },
    lookup: (_c, p) => {
      const mode = oneOf(
        p,
        "mode",
        ["anycast", "closest", "node", "instance", "multicast", "nodes"] as const,
        "anycast",
      );
      const type = u32(p, "type");
      const lower = u32(p, "lower");
      const upper = u32(p, "upper", true) ?? lower;
      if (lower > upper)
        throw new ProtocolError("BAD_ARGUMENT", `lower (${lower}) is greater than upper (${upper})`);
      const one = (s: { node: number; port: number } | undefined) =>
        s ? [{ node: s.node, port: s.port }] : [];
      switch (mode) {
        case "anycast":
          return { mode, sockets: one(node.lookupAnycast(type, lower)) };
        case "closest":
          return { mode, sockets: one(node.lookupClosestFirst(type, lower)) };
        case "node":
          return { mode, sockets: one(node.lookupOnNode(type, lower, u32(p, "node"))) };
        case "instance":
          return { mode, bindings: node.lookupInstance(type, lower).map(toJSON) };
        case "multicast":
          return {
            mode,
            sockets: node.lookupMulticast(type, lower, upper).map((s) => ({ node: s.node, port: s.port })),
          };
        case "nodes":
          return { mode, nodes: node.lookupMulticastNodes(type, lower, upper) };
      }
    },
    bindings: (_c, p) => {
      const type = u32(p, "type", true);
      const own = p.own === true;
      // a snapshot (references only); written in pieces across event-loop turns
      const list = own ? node.ownBindings() : node.bindings();
      const self = node.address;
      return new StreamedList("bindings", list, (b) => {
        if (type !== undefined && b.type !== type) return undefined;
        const owner = b.node === self ? ownerOf(b) : undefined;
        return owner ? { ...toJSON(b), owner } : toJSON(b);
      });
    },
    subscribe: (c, p) => {
      const r = range(p);
      if (p.upper === undefined) throw new ProtocolError("BAD_ARGUMENT", "params.upper is required");
      const mode = oneOf(p, "mode", ["ports", "service"] as const, "ports");
      const timeout = u32(p, "timeout", true);
      if (p.initialEvents !== undefined && typeof p.initialEvents !== "boolean") {
        throw new ProtocolError("BAD_ARGUMENT", "params.initialEvents must be true or false");
      }
      if (c.subscriptions.size >= limits.maxSubscriptionsPerConnection) {
        throw new ProtocolError(
          "SUBSCRIPTION_LIMIT",
          `a connection holds at most ${limits.maxSubscriptionsPerConnection} subscriptions`,
        );
      }
      const sub = node.subscribe({
        ...r,
        mode,
        ...(timeout !== undefined ? { timeout } : {}),
        ...(p.initialEvents === false ? { initialEvents: false } : {}),
      });
      c.subscriptions.set(sub.id, sub);
      // the response is written before the first event: pump awaits before it sends anything
      queueMicrotask(() => void pump(c, sub));
      return { subscription: sub.id };
    },
    unsubscribe: (c, p) => {
      const id = u32(p, "subscription");
      const sub = c.subscriptions.get(id);
      if (!sub) throw new ProtocolError("NOT_FOUND", `no subscription ${id} on this connection`);
      sub.cancel();
      return { cancelled: true };
    },
    nodes: () => ({ nodes: node.nodes() }),
    links: () => ({ links: node.links() }),
    bearers: () => ({ bearers: node.bearers() }),
    bearerDisable: (_c, p) => ({ bearer: switchBearer(p, false) }),
    bearerEnable: (_c, p) => ({ bearer: switchBearer(p, true) }),
    stats: () => node.stats(),
    linkStats: (_c, p) => ({ links: linkStats(linkName(p)) }),
    linkStatsReset: (_c, p) => {
      const name = linkName(p);
      const names = linkStats(name).map((l) => l.name);
      node.resetLinkStats(name);
      return { reset: names };
    },
    linkGet: () => node.linkProperties(),
    linkSet: (_c, p) => {
      const property = oneOf(p, "property", ["tolerance", "priority", "window"] as const, "tolerance");
      u32(p, "value");
      linkName(p);
      throw new ProtocolError(
        "NOT_SUPPORTED",
        `the link ${property} cannot be changed at run time by this node (set ${property === "tolerance" ? "tolerance (--tolerance)" : property === "window" ? "window" : "bearer priority"} in the configuration and restart tipcd)`,
      );
    },
    peerAdd: (_c, p) => {
      const bearer = p.bearer;
      if (typeof bearer !== "string" || bearer.length === 0)
        throw new ProtocolError("BAD_ARGUMENT", "params.bearer must be a bearer name");
      if (!node.bearers().some((b) => b.name === bearer))
        throw new ProtocolError(
          "NOT_FOUND",
          `no bearer ${JSON.stringify(bearer)} (bearers: ${node
            .bearers()
            .map((b) => b.name)
            .join(", ")})`,
        );
      node.addPeer(bearer, udpAddress(p));
      return { bearer: node.bearers().find((b) => b.name === bearer) };
    },
    peerRemove: (_c, p) => {
      const targets: MediaAddress[] = [];
      const given = ["address", "identity", "ip"].filter((k) => p[k] !== undefined && p[k] !== null);
      if (given.length !== 1)
        throw new ProtocolError(
          "BAD_ARGUMENT",
          "give exactly one of params.address, params.identity, params.ip",
        );
      if (p.ip !== undefined) targets.push(udpAddress(p));
      else {
        const address = p.address !== undefined ? u32(p, "address") : undefined;
        const identity = p.identity;
        if (address === undefined && typeof identity !== "string")
          throw new ProtocolError("BAD_ARGUMENT", "params.identity must be a node identity");
        if (address === node.address || identity === node.nodeId)
          throw new ProtocolError("BAD_ARGUMENT", "this node cannot remove itself");
        const peer = node.nodes().find((n) => n.address === address || n.nodeId === identity);
        if (peer === undefined)
          throw new ProtocolError(
            "NOT_FOUND",
            `no peer ${address !== undefined ? address.toString(16) : String(identity)}`,
          );
        if (peer.up)
          throw new ProtocolError(
            "BUSY",
            `peer ${peer.address.toString(16).padStart(8, "0")} is up; it can be removed once it is down`,
          );
        targets.push(peer.mediaAddress);
      }
      const removed: { bearer: string; ip: string; port: number }[] = [];
      for (const t of targets)
        for (const bearer of node.removePeer(t)) removed.push({ bearer, ip: t.address, port: t.port });
      if (removed.length === 0)
        throw new ProtocolError(
          "NOT_FOUND",
          `${targets.map((t) => `${t.address}:${t.port}`).join(", ")} is no peer of any bearer`,
        );
      return { removed };
    },
  };

  const handleLine = (c: Connection, line: string) => {
    requests++;
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch (e) {
      send(c, { id: null, error: { code: "PARSE_ERROR", message: `not JSON: ${(e as Error).message}` } });
      return;
    }
    const id =
      typeof req === "object" &&
      req !== null &&
      (typeof (req as Params).id === "number" || typeof (req as Params).id === "string")
        ? ((req as Params).id as number | string)
        : null;
    try {
      if (typeof req !== "object" || req === null || Array.isArray(req)) {
        throw new ProtocolError("INVALID_REQUEST", "a request is a JSON object {id, method, params}");
      }
      const r = req as Params;
      if (id === null) throw new ProtocolError("INVALID_REQUEST", "id must be a number or a string");
      if (typeof r.method !== "string") throw new ProtocolError("INVALID_REQUEST", "method must be a string");
      if (!(METHODS as readonly string[]).includes(r.method)) {
        throw new ProtocolError(
          "UNKNOWN_METHOD",
          `unknown method ${JSON.stringify(r.method)} (methods: ${METHODS.join(", ")})`,
        );
      }
      const params = r.params ?? {};
      if (typeof params !== "object" || params === null || Array.isArray(params)) {
        throw new ProtocolError("INVALID_REQUEST", "params must be an object");
      }
      if (closing) throw new ProtocolError("CLOSED", "tipcd is stopping");
      const result = handlers[r.method as Method](c, params as Params);
      if (result instanceof StreamedList) streamList(c, id, result);
      else send(c, { id, result });
    } catch (e) {
      if (e instanceof ProtocolError) {
        send(c, { id, error: { code: e.code, message: e.message } });
      } else if (isNodeError(e)) {
        const code = e.code === "BAD_OPTIONS" ? "BAD_ARGUMENT" : e.code;
        send(c, { id, error: { code, message: e.message } });
      } else {
        logger.error({ err: e, connection: c.id }, "control request failed");
        send(c, { id, error: { code: "INTERNAL", message: (e as Error)?.message ?? String(e) } });
      }
    }
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
    logger.debug({ connection: c.id, withdrawn }, "control connection closed");
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
      drainWaiters: [],
      lastProgress: Date.now(),
      streaming: false,
      afterStream: [],
      resumeStream: undefined,
    };
    connections.add(c);
    logger.debug({ connection: c.id }, "control connection");
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    socket.on("data", (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
        const part = chunk.subarray(start, nl);
        start = nl + 1;
        if (pendingBytes + part.length > MAX_LINE_BYTES) {
          tooLong();
          return;
        }
        const line = pendingBytes
          ? Buffer.concat([...pending, part]).toString("utf8")
          : part.toString("utf8");
        pending = [];
        pendingBytes = 0;
        if (line.trim() !== "") c.queue.push(line.replace(/\r$/, ""));
      }
      const rest = chunk.subarray(start);
      if (pendingBytes + rest.length > MAX_LINE_BYTES) {
        tooLong();
        return;
      }
      if (rest.length) {
        pending.push(Buffer.from(rest));
        pendingBytes += rest.length;
      }
      if (c.queue.length > 0) schedule(c);
      updateFlow(c);
    });
    socket.on("drain", () => progress(c));
    const tooLong = () => {
      // the requests before the long line are still answered, then the error, then the close
      const queued = c.queue.splice(0);
      for (const line of queued) handleLine(c, line);
      disconnects["line-too-long"]++;
      send(c, {
        id: null,
        error: { code: "LINE_TOO_LONG", message: `a request line is limited to ${MAX_LINE_BYTES} bytes` },
      });
      pending = [];
      pendingBytes = 0;
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
    stats: () => ({ connections: connections.size, requests, disconnects: { ...disconnects }, unsentPeak }),
    close: async () => {
      closing = true;
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
