// The control methods as plain functions: a node on a memory fabric and a connection's state,
// no Unix socket, no framing.
import { createNode, type TipcNode, type TipcSocket, type TopologySubscription } from "@tipcjs/node";
import { memoryFabric } from "@tipcjs/transport-memory";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ConnectionState, createHandlers, type Handlers, SocketSend, StreamedList } from "./handlers.js";
import { parseParams } from "./schema.js";

let node: TipcNode;
let handlers: Handlers;
let started: { subscriptions: TopologySubscription[]; sockets: TipcSocket[] };
const conn = (): ConnectionState => ({
  id: 1,
  bindings: new Map(),
  subscriptions: new Map(),
  sockets: new Map(),
  credits: new Map(),
});

beforeEach(async () => {
  node = await createNode({ nodeId: "handlers-1", transport: memoryFabric().join(), skipTrial: true });
  started = { subscriptions: [], sockets: [] };
  handlers = createHandlers({
    node,
    version: "test",
    daemonOwned: new Map(),
    limits: { maxSubscriptionsPerConnection: 1, maxSocketsPerConnection: 2 },
    ownerOf: () => "connection",
    startSubscription: (_c, sub) => started.subscriptions.push(sub),
    startSocket: (_c, s) => started.sockets.push(s),
    listen: () => {
      throw new Error("listen is the control server's (connections.ts)");
    },
    listenClose: () => ({ closed: false }),
  });
});
afterEach(async () => {
  await node.close();
});

describe("control handlers, without a socket", () => {
  it("bind, lookup, bindings and unbind act on the node and the connection's state", () => {
    const c = conn();
    const b = handlers.bind(c, parseParams("bind", { type: 1000, lower: 1, upper: 5 }), undefined);
    expect(b).toMatchObject({ type: 1000, lower: 1, upper: 5, node: node.address, owner: "connection" });
    expect(c.bindings.size).toBe(1);
    expect(handlers.lookup(c, parseParams("lookup", { type: 1000, lower: 3 }), undefined)).toMatchObject({
      mode: "anycast",
      sockets: [{ node: node.address }],
    });
    const list = handlers.bindings(c, parseParams("bindings", { type: 1000 }), undefined);
    expect(list).toBeInstanceOf(StreamedList);
    expect(() => handlers.unbind(c, parseParams("unbind", { type: 1000, lower: 1 }), undefined)).toThrow(
      expect.objectContaining({ code: "NOT_FOUND" }),
    );
    expect(
      handlers.unbind(c, parseParams("unbind", { type: 1000, lower: 1, upper: 5 }), undefined),
    ).toMatchObject({
      withdrawn: [{ type: 1000 }],
    });
    expect(node.lookupAnycast(1000, 3)).toBeUndefined();
  });

  it("subscriptions and sockets are counted per connection and started once made", () => {
    const c = conn();
    handlers.subscribe(c, parseParams("subscribe", { type: 1000, lower: 0, upper: 9 }), undefined);
    expect(started.subscriptions).toHaveLength(1);
    expect(() =>
      handlers.subscribe(c, parseParams("subscribe", { type: 1000, lower: 0, upper: 9 }), undefined),
    ).toThrow(expect.objectContaining({ code: "SUBSCRIPTION_LIMIT" }));
    const opened = [1, 2].map(() =>
      handlers.socketOpen(c, parseParams("socketOpen", { type: "rdm" }), undefined),
    );
    expect(started.sockets.map((s) => s.port)).toEqual(opened.map((o) => (o as { socket: number }).socket));
    expect(c.credits.get(started.sockets[0]?.port as number)?.bytes).toBe(256 * 1024);
    expect(() => handlers.socketOpen(c, parseParams("socketOpen", { type: "dgram" }), undefined)).toThrow(
      expect.objectContaining({ code: "SOCKET_LIMIT" }),
    );
  });

  it("a socket send is a SocketSend that settles with the node's answer", async () => {
    const c = conn();
    const { socket } = handlers.socketOpen(c, parseParams("socketOpen", { type: "rdm" }), undefined) as {
      socket: number;
    };
    handlers.socketBind(c, parseParams("socketBind", { socket, type: 2000, lower: 1 }), undefined);
    const ok = handlers.socketSendTo(
      c,
      parseParams("socketSendTo", { socket, type: 2000, instance: 1 }),
      new Uint8Array([1, 2, 3]),
    );
    expect(ok).toBeInstanceOf(SocketSend);
    await expect((ok as SocketSend).done).resolves.toEqual({});
    expect((await c.sockets.get(socket)?.receive())?.data).toEqual(new Uint8Array([1, 2, 3]));
    const missing = handlers.socketSendTo(
      c,
      parseParams("socketSendTo", { socket, type: 2999, instance: 1 }),
      new Uint8Array(1),
    ) as SocketSend;
    await expect(missing.done).rejects.toMatchObject({ code: "NO_SERVICE" });
    expect(() =>
      handlers.socketInfo(c, parseParams("socketInfo", { socket: socket + 1 }), undefined),
    ).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
    expect(handlers.socketClose(c, parseParams("socketClose", { socket }), undefined)).toEqual({
      closed: true,
    });
    expect(node.lookupAnycast(2000, 1)).toBeUndefined();
  });
});
