/**
 * The control protocol's methods as plain functions of the node and one connection's state:
 * params arrive checked by schema.ts, results are plain objects (or a StreamedList for a long
 * list, or a SocketSend for a send that may wait). control.ts owns the socket, the framing and
 * the flow control; these can be called, and tested, without either.
 */

import { isIP } from "node:net";
import type {
  BindingJSON,
  LinkStatJSON,
  Method,
  MethodResults,
  ReceivedJSON,
  SocketStateJSON,
  SubscriptionEventJSON,
} from "@tipcjs/client";
import { DEFAULT_RECEIVE_WINDOW, PROTOCOL_VERSION } from "@tipcjs/client";
import type {
  Binding,
  MediaAddress,
  SocketEvent,
  SocketSendOptions,
  SubscriptionEvent,
  TipcNode,
  TipcSocket,
  TopologySubscription,
} from "@tipcjs/node";
import { keyHandlers } from "./key-control.js";
import { type Params, ProtocolError } from "./schema.js";

/**
 * A list answer written in pieces across event-loop turns: one response line,
 * `{"id":..,"result":{"<key>":[...]}}`, built `streamChunk` items at a time. `map` may skip an
 * item (undefined).
 */
export class StreamedList<T> {
  constructor(
    readonly key: string,
    readonly items: readonly T[],
    readonly map: (item: T) => object | undefined,
  ) {}
}

/**
 * A socket send handed to the node: `done` settles once the link took it (at once, or after a
 * congested link's wakeup). `waits`: the node socket queued it behind a congested link; the
 * connection's later requests then wait for it, so a congested link stops the daemon reading
 * the connection (and its sends stay in order with the connection's other requests).
 */
export class SocketSend {
  constructor(
    readonly done: Promise<Record<string, never>>,
    readonly waits: boolean,
  ) {}
}

/** What a connection holds, as the handlers see it. */
export interface ConnectionState {
  id: number;
  /** bindings made with `bind` (owner "connection"), withdrawn when it closes */
  bindings: Map<string, Binding>;
  subscriptions: Map<number, TopologySubscription>;
  /** sockets opened with `socketOpen`, by port, closed when it closes */
  sockets: Map<number, TipcSocket>;
  /** what the client lets the daemon push for each of its sockets */
  credits: Map<number, ReceiveCredit>;
}

/**
 * Bytes of a socket's received messages the daemon may still push to its client: the client
 * grants more as its program reads. A message is pushed while any credit is left (at most one
 * message past it), so the client holds at most its window plus one message per socket.
 */
export class ReceiveCredit {
  private waiter: (() => void) | undefined;
  constructor(public bytes: number) {}
  grant(bytes: number): void {
    this.bytes = Math.min(this.bytes + bytes, 2 ** 40);
    this.wake();
  }
  /** Resolves once there is credit, or at once; undefined when there is credit now. */
  available(): Promise<void> | undefined {
    if (this.bytes > 0) return undefined;
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
  /** Ends a wait (the socket or the connection closed). */
  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

export interface HandlerContext {
  node: TipcNode;
  version?: string;
  /** bindings held by the daemon itself (owner "daemon") */
  daemonOwned: Map<string, Binding>;
  limits: { maxSubscriptionsPerConnection: number; maxSocketsPerConnection: number };
  /** who owns one of this node's bindings (for `bindings`) */
  ownerOf(b: Binding): "connection" | "daemon" | undefined;
  /** starts writing a new subscription's events to the connection (after the response) */
  startSubscription(c: ConnectionState, sub: TopologySubscription): void;
  /** starts writing a new socket's received messages to the connection (after the response) */
  startSocket(c: ConnectionState, socket: TipcSocket): void;
  /** `listen` and `listenClose`: TIPC connection servers of the connection (connections.ts) */
  listen(c: ConnectionState, p: Params<"listen">): MethodResults["listen"];
  listenClose(c: ConnectionState, p: Params<"listenClose">): MethodResults["listenClose"];
}

export type Handler<M extends Method> = (
  c: ConnectionState,
  p: Params<M>,
  payload: Uint8Array | undefined,
) => MethodResults[M] | StreamedList<Binding> | SocketSend;

export type Handlers = { [M in Method]: Handler<M> };

export const bindingKey = (b: { type: number; lower: number; upper: number; key: number }) =>
  `${b.type}:${b.lower}:${b.upper}:${b.key}`;

export function toJSON(b: Binding): BindingJSON {
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

export function eventToJSON(ev: SubscriptionEvent): SubscriptionEventJSON {
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

/** A socket event without its data (which goes after the line). */
export function receivedToJSON(ev: SocketEvent): ReceivedJSON {
  const destination = { ...ev.destination };
  if (ev.kind === "message")
    return {
      kind: "message",
      source: { node: ev.source.node, port: ev.source.port },
      destination,
      importance: ev.importance,
    };
  return {
    kind: "returned",
    error: ev.error,
    errorCode: ev.errorCode,
    rejectedBy: { node: ev.rejectedBy.node, port: ev.rejectedBy.port },
    destination,
    importance: ev.importance,
  };
}

const EMPTY = new Uint8Array(0);

/** The broadcast link's name, as the kernel's `tipc link list` prints it. */
const BROADCAST_LINK = "broadcast-link";

export function createHandlers(ctx: HandlerContext): Handlers {
  const { node, daemonOwned, limits } = ctx;

  /** bearerDisable / bearerEnable: by name, NOT_FOUND for a name the node does not have */
  const switchBearer = (name: string, enable: boolean) => {
    if (!node.bearers().some((b) => b.name === name)) {
      const names = node
        .bearers()
        .map((b) => b.name)
        .join(", ");
      throw new ProtocolError("NOT_FOUND", `no bearer ${JSON.stringify(name)} (bearers: ${names})`);
    }
    if (enable) node.enableBearer(name);
    else node.disableBearer(name);
    return node.bearers().find((b) => b.name === name) as MethodResults["bearerEnable"]["bearer"];
  };

  /** A UDP address from params.ip (an IP literal) and params.port (default 6118). */
  const udpAddress = (p: { ip?: string | undefined; port?: number | undefined }): MediaAddress => {
    const ip = p.ip;
    if (typeof ip !== "string" || isIP(ip) === 0)
      throw new ProtocolError(
        "BAD_ARGUMENT",
        `params.ip must be an IPv4 or IPv6 address, got ${JSON.stringify(ip)}`,
      );
    const port = p.port ?? 6118;
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
        window: l.window,
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

  /** The connection's socket with this port, or NOT_FOUND. */
  const socketOf = (c: ConnectionState, port: number): TipcSocket => {
    const s = c.sockets.get(port);
    if (s === undefined) throw new ProtocolError("NOT_FOUND", `no socket ${port} on this connection`);
    return s;
  };

  const sendOptions = (p: {
    importance?: 0 | 1 | 2 | 3 | undefined;
    dontWait?: boolean | undefined;
  }): SocketSendOptions => ({
    ...(p.importance !== undefined ? { importance: p.importance } : {}),
    ...(p.dontWait === true ? { dontWait: true } : {}),
  });

  /** the send's promise, and whether the node socket holds it for a congested link */
  const sent = (s: TipcSocket, done: Promise<void>) =>
    new SocketSend(
      done.then(() => ({})),
      s.pendingSends > 0,
    );

  return {
    ...keyHandlers(node),
    hello: () => ({
      protocol: PROTOCOL_VERSION,
      daemon: `tipcd ${ctx.version ?? ""}`.trim(),
      nodeId: node.nodeId,
      address: node.address,
      addressHex: node.address.toString(16).padStart(8, "0"),
      netId: node.netId,
      legacy: node.legacy,
    }),
    bind: (c, p) => {
      const owner = p.owner ?? "connection";
      const b = node.publish({
        type: p.type,
        lower: p.lower,
        upper: p.upper ?? p.lower,
        scope: p.scope ?? "cluster",
        ...(p.port !== undefined ? { port: p.port } : {}),
      });
      (owner === "daemon" ? daemonOwned : c.bindings).set(bindingKey(b), b);
      return { ...toJSON(b), owner };
    },
    unbind: (c, p) => {
      const upper = p.upper ?? p.lower;
      const withdrawn: BindingJSON[] = [];
      for (const map of [c.bindings, daemonOwned]) {
        for (const [k, b] of map) {
          if (b.type !== p.type || b.lower !== p.lower || b.upper !== upper) continue;
          if (p.key !== undefined && b.key !== p.key) continue;
          map.delete(k);
          if (node.withdraw(b)) withdrawn.push(toJSON(b));
        }
      }
      if (withdrawn.length === 0) {
        throw new ProtocolError(
          "NOT_FOUND",
          `no binding {${p.type}, ${p.lower}, ${upper}}${p.key !== undefined ? ` with key ${p.key}` : ""} owned by this connection or the daemon`,
        );
      }
      return { withdrawn };
    },
    lookup: (_c, p) => {
      const { type, lower } = p;
      const mode = p.mode ?? "anycast";
      const upper = p.upper ?? lower;
      const one = (s: { node: number; port: number } | undefined) =>
        s ? [{ node: s.node, port: s.port }] : [];
      switch (mode) {
        case "anycast":
          return { mode, sockets: one(node.lookupAnycast(type, lower)) };
        case "closest":
          return { mode, sockets: one(node.lookupClosestFirst(type, lower)) };
        case "node":
          return { mode, sockets: one(node.lookupOnNode(type, lower, p.node as number)) };
        case "instance":
          return { mode, bindings: node.lookupInstance(type, lower).map(toJSON) };
        case "multicast":
          return {
            mode,
            sockets: node.lookupMulticast(type, lower, upper).map((s) => ({ node: s.node, port: s.port })),
          };
        default:
          return { mode, nodes: node.lookupMulticastNodes(type, lower, upper) };
      }
    },
    bindings: (_c, p) => {
      const type = p.type;
      // a snapshot (references only); written in pieces across event-loop turns
      const list = p.own === true ? node.ownBindings() : node.bindings();
      const self = node.address;
      return new StreamedList("bindings", list, (b) => {
        if (type !== undefined && b.type !== type) return undefined;
        const owner = b.node === self ? ctx.ownerOf(b) : undefined;
        return owner ? { ...toJSON(b), owner } : toJSON(b);
      });
    },
    subscribe: (c, p) => {
      if (c.subscriptions.size >= limits.maxSubscriptionsPerConnection) {
        throw new ProtocolError(
          "SUBSCRIPTION_LIMIT",
          `a connection holds at most ${limits.maxSubscriptionsPerConnection} subscriptions`,
        );
      }
      const sub = node.subscribe({
        type: p.type,
        lower: p.lower,
        upper: p.upper,
        mode: p.mode ?? "ports",
        ...(p.timeout !== undefined ? { timeout: p.timeout } : {}),
        ...(p.initialEvents === false ? { initialEvents: false } : {}),
      });
      c.subscriptions.set(sub.id, sub);
      ctx.startSubscription(c, sub);
      return { subscription: sub.id };
    },
    unsubscribe: (c, p) => {
      const sub = c.subscriptions.get(p.subscription);
      if (!sub) throw new ProtocolError("NOT_FOUND", `no subscription ${p.subscription} on this connection`);
      sub.cancel();
      return { cancelled: true };
    },
    nodes: () => ({ nodes: node.nodes() }),
    links: () => ({ links: node.links() as unknown as MethodResults["links"]["links"] }),
    bearers: () => ({ bearers: node.bearers() }),
    bearerDisable: (_c, p) => ({ bearer: switchBearer(p.name, false) }),
    bearerEnable: (_c, p) => ({ bearer: switchBearer(p.name, true) }),
    stats: () => node.stats() as unknown as Record<string, unknown>,
    linkStats: (_c, p) => ({ links: linkStats(p.link) }),
    linkStatsReset: (_c, p) => {
      const names = linkStats(p.link).map((l) => l.name);
      node.resetLinkStats(p.link);
      return { reset: names };
    },
    linkGet: () => node.linkProperties(),
    linkSet: (_c, p) => {
      const property = p.property;
      if (property === "priority")
        throw new ProtocolError(
          "NOT_SUPPORTED",
          "a link's priority cannot be changed at run time by this node (set the bearer priority in the configuration and restart tipcd)",
        );
      // one link by name, or every link (the broadcast link takes a window only)
      const names = linkStats(p.link)
        .map((l) => l.name)
        .filter((n) => p.link !== undefined || property === "window" || n !== BROADCAST_LINK);
      for (const n of names) node.setLinkProperties(n, { [property]: p.value });
      return {};
    },
    peerAdd: (_c, p) => {
      const bearer = p.bearer;
      if (!node.bearers().some((b) => b.name === bearer))
        throw new ProtocolError(
          "NOT_FOUND",
          `no bearer ${JSON.stringify(bearer)} (bearers: ${node
            .bearers()
            .map((b) => b.name)
            .join(", ")})`,
        );
      node.addPeer(bearer, udpAddress(p));
      return { bearer: node.bearers().find((b) => b.name === bearer) as MethodResults["peerAdd"]["bearer"] };
    },
    peerRemove: (_c, p) => {
      const targets: MediaAddress[] = [];
      const given = [p.address, p.identity, p.ip].filter((v) => v !== undefined);
      if (given.length !== 1)
        throw new ProtocolError(
          "BAD_ARGUMENT",
          "give exactly one of params.address, params.identity, params.ip",
        );
      if (p.ip !== undefined) targets.push(udpAddress(p));
      else {
        const { address, identity } = p;
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

    // ---------------------------------------------------------------- sockets

    socketOpen: (c, p) => {
      if (c.sockets.size >= limits.maxSocketsPerConnection)
        throw new ProtocolError(
          "SOCKET_LIMIT",
          `a connection holds at most ${limits.maxSocketsPerConnection} sockets`,
        );
      const s = node.socket({
        type: p.type,
        ...(p.importance !== undefined ? { importance: p.importance } : {}),
        ...(p.destDroppable !== undefined ? { destDroppable: p.destDroppable } : {}),
        ...(p.rcvbuf !== undefined ? { rcvbuf: p.rcvbuf } : {}),
        ...(p.multicastMethod !== undefined ? { multicastMethod: p.multicastMethod } : {}),
      });
      c.sockets.set(s.port, s);
      c.credits.set(s.port, new ReceiveCredit(p.window ?? DEFAULT_RECEIVE_WINDOW));
      ctx.startSocket(c, s);
      return { socket: s.port, address: { node: s.address.node, port: s.address.port } };
    },
    socketCredit: (c, p) => {
      socketOf(c, p.socket);
      c.credits.get(p.socket)?.grant(p.bytes);
      return {};
    },
    socketBind: (c, p) =>
      toJSON(
        socketOf(c, p.socket).bind({ type: p.type, lower: p.lower, upper: p.upper ?? p.lower }, p.scope),
      ),
    socketUnbind: (c, p) => {
      socketOf(c, p.socket).unbind({ type: p.type, lower: p.lower, upper: p.upper ?? p.lower }, p.scope);
      return {};
    },
    socketSendTo: (c, p, payload) => {
      const s = socketOf(c, p.socket);
      const to = { type: p.type, instance: p.instance, ...(p.node !== undefined ? { node: p.node } : {}) };
      return sent(s, s.sendTo(to, payload ?? EMPTY, sendOptions(p)));
    },
    socketSendToSocket: (c, p, payload) => {
      const s = socketOf(c, p.socket);
      return sent(s, s.sendToSocket({ node: p.node, port: p.port }, payload ?? EMPTY, sendOptions(p)));
    },
    socketSendToRange: (c, p, payload) => {
      const s = socketOf(c, p.socket);
      const range = { type: p.type, lower: p.lower, upper: p.upper };
      return sent(s, s.sendToRange(range, payload ?? EMPTY, sendOptions(p)));
    },
    socketSet: (c, p) => {
      const s = socketOf(c, p.socket);
      if (p.importance !== undefined) s.setImportance(p.importance);
      if (p.destDroppable !== undefined) s.setDestDroppable(p.destDroppable);
      if (p.multicastMethod !== undefined) s.setMulticastMethod(p.multicastMethod);
      return {};
    },
    socketInfo: (c, p): SocketStateJSON => {
      const i = socketOf(c, p.socket).info();
      return {
        port: i.port,
        // sockets opened through tipcd are connectionless (socketOpen's schema)
        type: i.type as SocketStateJSON["type"],
        importance: i.importance,
        destDroppable: i.destDroppable,
        rcvbuf: i.rcvbuf,
        queuedBytes: i.queuedBytes,
        queuedMessages: i.queuedMessages,
        bindings: i.bindings.map(toJSON),
        blockedOn: i.blockedOn.map((b) => ({ node: b.node, importance: b.importance })),
        pendingSends: i.pendingSends,
      };
    },
    // connect and accept come here only when they are not the first line of their connection
    connect: () => {
      throw new ProtocolError(
        "INVALID_REQUEST",
        "connect is the first request of a control connection of its own (it then carries the connection's data)",
      );
    },
    accept: () => {
      throw new ProtocolError(
        "INVALID_REQUEST",
        "accept is the first request of a control connection of its own (it then carries the connection's data)",
      );
    },
    listen: (c, p) => ctx.listen(c, p),
    listenClose: (c, p) => ctx.listenClose(c, p),
    socketClose: (c, p) => {
      const s = c.sockets.get(p.socket);
      if (s === undefined) return { closed: false };
      c.sockets.delete(p.socket);
      s.close();
      c.credits.get(p.socket)?.wake();
      return { closed: true };
    },
  };
}
