/**
 * TIPC connections through the control socket (PROTOCOL.md "Connections"). Each connection rides
 * a Unix socket of its own: a control connection whose first line is `connect` or `accept` gets
 * one answer, and from then on carries only that connection's frames. Both directions are piped
 * with stream backpressure: a client that stops reading leaves the daemon's Unix socket full, the
 * daemon stops reading the TipcConnection, and the TIPC window stops the remote sender; a TIPC
 * peer that stops reading holds the TipcConnection's writes, and the daemon stops reading the
 * Unix socket. One slow connection holds back only itself.
 */
import type { Socket } from "node:net";
import {
  type ConnectionEventMessage,
  type ConnectionType,
  encodeFrame,
  type Frame,
  type FrameDecoder,
  type MethodResults,
  type ProtocolErrorCode,
} from "@tipcjs/client";
import type { Logger, TipcConnection, TipcNode, TipcServer } from "@tipcjs/node";
import { isNodeError } from "@tipcjs/node";
import type { ConnectionState } from "./handlers.js";
import { type Params, ProtocolError, parseParams } from "./schema.js";

export interface ConnectionLimits {
  /** TIPC connections carried at once (established and announced-not-yet-accepted together) */
  maxTipcConnections: number;
  /** ms an announced incoming connection waits for its `accept`; then it is closed (the peer sees a reset) */
  acceptTimeoutMs: number;
  /** listeners per control connection */
  maxListenersPerConnection: number;
}

export interface ConnectionStats {
  /** TIPC connections carried (established and waiting for accept) */
  tipcConnections: number;
  /** incoming connections closed because the limit was reached or nobody accepted them in time */
  tipcDropped: number;
  /**
   * the most bytes one carried connection ever held in tipcd: its Unix socket's unsent output and
   * the TipcConnection's unsent writes and unread data (bounded by the streams' high-water marks,
   * one message and one read of the Unix socket, however slow either side is)
   */
  tipcHeldPeak: number;
}

interface Pending {
  conn: TipcConnection;
  listener: number;
  type: ConnectionType;
  timer: NodeJS.Timeout;
}

interface Listener {
  server: TipcServer;
  owner: ConnectionState;
  type: ConnectionType;
}

/** The codes of a TipcConnection's errors that the protocol passes on as they are. */
const PASSED_CODES = new Set<string>([
  "CONNECTION_REFUSED",
  "CONNECT_TIMEOUT",
  "CONNECTION_RESET",
  "PEER_LOST",
  "CONNECTION_ABORTED",
  "MESSAGE_TOO_LARGE",
  "NO_NODE",
  "NO_SERVICE",
  "LIMIT",
  "BAD_ARGUMENT",
  "CLOSED",
]);

export function errorBody(e: unknown): { code: ProtocolErrorCode; message: string } {
  if (e instanceof ProtocolError) return { code: e.code, message: e.message };
  if (isNodeError(e)) {
    const code = (
      e.code === "BAD_OPTIONS" ? "BAD_ARGUMENT" : PASSED_CODES.has(e.code) ? e.code : "INTERNAL"
    ) as ProtocolErrorCode;
    return { code, message: e.message };
  }
  return { code: "INTERNAL", message: (e as Error)?.message ?? String(e) };
}

export interface ConnectionBroker {
  /** a control connection's first line was `connect` or `accept`: the socket is the connection's now */
  take(socket: Socket, message: Record<string, unknown>, decoder: FrameDecoder, rest: Frame[]): void;
  listen(c: ConnectionState, p: Params<"listen">): MethodResults["listen"];
  listenClose(c: ConnectionState, p: Params<"listenClose">): MethodResults["listenClose"];
  /** the control connection closed: its listeners close */
  release(c: ConnectionState): void;
  stats(): ConnectionStats;
  close(): void;
}

export function createConnectionBroker(options: {
  node: TipcNode;
  logger: Logger;
  limits: ConnectionLimits;
  /** pushes an event line on a control connection */
  send(c: ConnectionState, msg: object): void;
}): ConnectionBroker {
  const { node, logger, limits } = options;
  const pending = new Map<number, Pending>();
  const listeners = new Map<number, Listener>();
  /** connections carried (or connecting), with their Unix socket */
  const active = new Map<TipcConnection, Socket | undefined>();
  let dropped = 0;
  let heldPeak = 0;
  const held = (socket: Socket, conn: TipcConnection) => {
    const n = socket.writableLength + conn.writableLength + conn.readableLength;
    if (n > heldPeak) heldPeak = n;
  };
  let closing = false;

  const count = () => active.size + pending.size;

  const answer = (socket: Socket, id: unknown, body: object) =>
    socket.write(`${JSON.stringify({ id, ...body })}\n`);

  const refuse = (socket: Socket, id: unknown, e: unknown) => {
    answer(socket, id, { error: errorBody(e) });
    socket.end();
    socket.resume();
  };

  /**
   * Pipes a connected TipcConnection and its Unix socket into each other. What the daemon holds
   * per connection: the socket's writable buffer past its high-water mark by at most one
   * message, the TipcConnection's buffers (high-water marks), one read of the Unix socket.
   */
  const bridge = (socket: Socket, conn: TipcConnection, decoder: FrameDecoder, rest: Frame[]) => {
    active.set(conn, socket);
    let over = false;
    const out = (pieces: (string | Uint8Array)[]) => {
      let ok = true;
      for (const p of pieces) ok = socket.write(p);
      return ok;
    };
    /** the connection ended: its reason goes to the client, then the socket closes */
    const finish = (body: object) => {
      if (over) return;
      over = true;
      if (!socket.destroyed) {
        out([`${JSON.stringify(body)}\n`]);
        socket.end();
      }
    };
    conn.on("data", (d: Uint8Array) => {
      if (over || socket.destroyed) return;
      if (!out(encodeFrame({}, d))) conn.pause();
      held(socket, conn);
    });
    socket.on("drain", () => {
      if (!over) conn.resume();
    });
    conn.on("end", () => finish({ end: true }));
    conn.on("error", (e) => finish({ error: errorBody(e) }));
    conn.on("close", () => {
      active.delete(conn);
      // destroyed without an error (the node closing): the client sees the socket close
      if (!over) {
        over = true;
        if (!socket.destroyed) socket.end();
      }
    });
    conn.on("drain", () => socket.resume());
    const onFrame = (f: Frame): boolean => {
      const m = f.kind === "message" ? (f.message as Record<string, unknown> | null) : undefined;
      if (f.kind === "message" && f.payload !== undefined) {
        if (!conn.writableEnded && !conn.destroyed && !conn.write(f.payload)) socket.pause();
        held(socket, conn);
        return true;
      }
      if (m !== undefined && m !== null && typeof m === "object" && m.end === true) {
        if (!conn.writableEnded) conn.end();
        return true;
      }
      // anything else cannot be delimited or meant: the connection is aborted
      const error =
        f.kind === "error"
          ? { code: f.error.code, message: f.error.message }
          : {
              code: "INVALID_REQUEST",
              message: 'a connection carries data frames ({"bytes":N}) and {"end":true}',
            };
      finish({ error });
      conn.destroy();
      return false;
    };
    for (const f of rest) if (!onFrame(f)) return;
    socket.on("data", (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) if (!onFrame(f)) return;
    });
    // the client closed its end without `end` (destroy, exit): the peer sees the socket closed
    socket.on("close", () => {
      if (!conn.destroyed) conn.destroy();
    });
    socket.resume();
  };

  const take = (socket: Socket, message: Record<string, unknown>, decoder: FrameDecoder, rest: Frame[]) => {
    const id = message.id;
    socket.pause();
    try {
      if (typeof id !== "number" && typeof id !== "string")
        throw new ProtocolError("INVALID_REQUEST", "id must be a number or a string");
      if (closing) throw new ProtocolError("CLOSED", "tipcd is stopping");
      const raw = message.params ?? {};
      if (typeof raw !== "object" || raw === null || Array.isArray(raw))
        throw new ProtocolError("INVALID_REQUEST", "params must be an object");
      if (message.method === "accept") {
        const p = parseParams("accept", raw);
        const entry = pending.get(p.connection);
        if (entry === undefined)
          throw new ProtocolError(
            "NOT_FOUND",
            `no incoming connection ${p.connection} waits for accept (unknown, taken, or closed)`,
          );
        pending.delete(p.connection);
        clearTimeout(entry.timer);
        const conn = entry.conn;
        conn.removeAllListeners("error");
        conn.removeAllListeners("close");
        if (conn.destroyed)
          throw new ProtocolError("CONNECTION_ABORTED", "the connection ended before accept");
        answer(socket, id, {
          result: {
            local: conn.address,
            peer: conn.remoteAddress as { node: number; port: number },
            connType: entry.type,
          } satisfies MethodResults["accept"],
        });
        bridge(socket, conn, decoder, rest);
        return;
      }
      const p = parseParams("connect", raw);
      if (count() >= limits.maxTipcConnections)
        throw new ProtocolError(
          "TIPC_CONNECTION_LIMIT",
          `tipcd carries at most ${limits.maxTipcConnections} TIPC connections at once`,
        );
      const type = p.connType ?? "stream";
      const address =
        p.port !== undefined
          ? { node: p.node as number, port: p.port }
          : {
              type: p.type as number,
              instance: p.instance as number,
              ...(p.node !== undefined ? { node: p.node } : {}),
            };
      const conn = node.connect(address, {
        type,
        ...(p.connectTimeout !== undefined ? { connectTimeout: p.connectTimeout } : {}),
        ...(p.nodelay !== undefined ? { nodelay: p.nodelay } : {}),
      });
      active.set(conn, socket);
      const onError = (e: unknown) => {
        active.delete(conn);
        socket.off("close", onGone);
        refuse(socket, id, e);
      };
      // the client went away while the SYN was out: the attempt is abandoned
      const onGone = () => {
        conn.off("error", onError);
        active.delete(conn);
        conn.on("error", () => {});
        conn.destroy();
      };
      conn.once("error", onError);
      socket.once("close", onGone);
      conn.once("connect", () => {
        conn.off("error", onError);
        socket.off("close", onGone);
        answer(socket, id, {
          result: {
            local: conn.address,
            peer: conn.remoteAddress as { node: number; port: number },
            connType: type,
          } satisfies MethodResults["connect"],
        });
        bridge(socket, conn, decoder, rest);
      });
    } catch (e) {
      refuse(socket, id ?? null, e);
    }
  };

  const listen = (c: ConnectionState, p: Params<"listen">): MethodResults["listen"] => {
    let own = 0;
    for (const l of listeners.values()) if (l.owner === c) own++;
    if (own >= limits.maxListenersPerConnection)
      throw new ProtocolError(
        "LIMIT",
        `a control connection holds at most ${limits.maxListenersPerConnection} listeners`,
      );
    const type = p.connType ?? "stream";
    const server = node.listen({
      type,
      service: {
        type: p.type,
        lower: p.lower,
        upper: p.upper ?? p.lower,
        ...(p.scope !== undefined ? { scope: p.scope } : {}),
      },
    });
    const listener = server.port;
    listeners.set(listener, { server, owner: c, type });
    server.on("error", (e) => logger.warn({ err: e, listener }, "listener failed"));
    server.on("connection", (conn: TipcConnection) => {
      conn.on("error", () => {});
      if (closing || count() >= limits.maxTipcConnections) {
        dropped++;
        logger.warn({ listener, limit: limits.maxTipcConnections }, "incoming TIPC connection closed: limit");
        conn.destroy();
        return;
      }
      const id = conn.port;
      const timer = setTimeout(() => {
        if (pending.delete(id)) {
          dropped++;
          logger.warn({ listener, connection: id }, "incoming TIPC connection not accepted in time; closed");
          conn.destroy();
        }
      }, limits.acceptTimeoutMs);
      timer.unref();
      pending.set(id, { conn, listener, type, timer });
      conn.on("close", () => {
        const e = pending.get(id);
        if (e?.conn === conn) {
          clearTimeout(e.timer);
          pending.delete(id);
        }
      });
      options.send(c, {
        event: "connection",
        listener,
        connection: id,
        peer: conn.remoteAddress as { node: number; port: number },
      } satisfies ConnectionEventMessage);
    });
    const b = server.binding;
    return {
      listener,
      binding: {
        type: b.type,
        lower: b.lower,
        upper: b.upper,
        node: b.node,
        port: b.port,
        scope: b.scope,
        key: b.key,
      },
      connType: type,
    };
  };

  const closeListener = (id: number) => {
    const l = listeners.get(id);
    if (l === undefined) return false;
    listeners.delete(id);
    l.server.close();
    for (const [cid, e] of [...pending])
      if (e.listener === id) {
        pending.delete(cid);
        clearTimeout(e.timer);
        e.conn.destroy();
      }
    return true;
  };

  return {
    take,
    listen,
    listenClose: (c, p) => {
      const l = listeners.get(p.listener);
      if (l === undefined || l.owner !== c) return { closed: false };
      return { closed: closeListener(p.listener) };
    },
    release: (c) => {
      for (const [id, l] of [...listeners]) if (l.owner === c) closeListener(id);
    },
    stats: () => ({ tipcConnections: count(), tipcDropped: dropped, tipcHeldPeak: heldPeak }),
    close: () => {
      closing = true;
      // carried connections are closed as a process's sockets are when it exits (the peers see
      // a reset); the clients get the reason first
      for (const [conn, socket] of [...active]) {
        if (socket !== undefined && !socket.destroyed) {
          socket.write(`${JSON.stringify({ error: { code: "CLOSED", message: "tipcd is stopping" } })}\n`);
          socket.end();
          setTimeout(() => socket.destroy(), 200).unref();
        }
        conn.destroy();
      }
      active.clear();
      for (const id of [...listeners.keys()]) closeListener(id);
      for (const [, e] of pending) {
        clearTimeout(e.timer);
        e.conn.destroy();
      }
      pending.clear();
    },
  };
}
