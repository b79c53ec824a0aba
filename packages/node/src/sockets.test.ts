/**
 * The connectionless data path between tipcjs nodes (issue 16): sockets of `node.socket()` over
 * the memory fabric with a virtual clock.
 */
import { describe, expect, it } from "vitest";
import { Cluster } from "./__helpers__/cluster.js";
import { pattern } from "./__helpers__/pattern.js";
import { isNodeError } from "./errors.js";
import type { SocketEvent, TipcNode, TipcSocket } from "./types.js";

const T = 1000;

async function cluster(size: number, extra: Partial<ConstructorParameters<typeof Cluster>[0]> = {}) {
  const c = await Cluster.start({ size, ...extra });
  expect(c.runUntil(() => c.allUp() && c.bulksAcked(), 5000)).toBeGreaterThanOrEqual(0);
  return c;
}

/** Runs the clock until `node` sees the binding of {type, instance} on `on`. */
function seen(c: Cluster, node: TipcNode, type: number, instance: number, on: number): void {
  const ok = c.runUntil(() => node.lookupInstance(type, instance).some((b) => b.node === on), 2000);
  expect(ok).toBeGreaterThanOrEqual(0);
}

function drain(s: TipcSocket): SocketEvent[] {
  const out: SocketEvent[] = [];
  for (let e = s.tryReceive(); e !== undefined; e = s.tryReceive()) out.push(e);
  return out;
}

describe("node.socket(): the connectionless data path", () => {
  it("payloads of 1, 1,024, 14,000, 60,000 and 66,000 bytes arrive byte for byte (fragmented)", async () => {
    const c = await cluster(2, { mtu: 1500 });
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.socket({ type: "rdm" });
    server.bind({ type: T, lower: 5 });
    seen(c, a, T, 5, b.address);
    const client = a.socket({ type: "rdm" });
    const sizes = [1, 1024, 14_000, 60_000, 66_000];
    for (const [i, n] of sizes.entries()) await client.sendTo({ type: T, instance: 5 }, pattern(n, i + 1));
    const got: SocketEvent[] = [];
    c.runUntil(() => {
      got.push(...drain(server));
      return got.length >= sizes.length;
    }, 2000);
    expect(got.map((e) => e.kind)).toEqual(sizes.map(() => "message"));
    for (const [i, e] of got.entries()) {
      if (e.kind !== "message") throw new Error("not a message");
      expect(e.data.length).toBe(sizes[i]);
      expect(Buffer.from(e.data).equals(Buffer.from(pattern(sizes[i] as number, i + 1)))).toBe(true);
      expect(e.source).toEqual({ node: a.address, port: client.port });
      expect(e.destination).toEqual({ kind: "service", type: T, instance: 5 });
    }
    // the link fragmented what exceeds its MTU and the receiver put it together
    expect(a.stats().link.fragmentsSent).toBeGreaterThan(0);
    expect(b.stats().link.reassembled).toBe(3);
    await expect(client.sendTo({ type: T, instance: 5 }, new Uint8Array(66_001))).rejects.toMatchObject({
      code: "MESSAGE_TOO_LARGE",
    });
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("reads through the async iterator, with the source address", async () => {
    const c = await cluster(2);
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.socket({ type: "dgram" });
    const client = a.socket({ type: "dgram" });
    const got: string[] = [];
    const reader = (async () => {
      for await (const e of server) {
        if (e.kind === "message") got.push(`${new TextDecoder().decode(e.data)}@${e.source.port}`);
        if (got.length === 3) break;
      }
    })();
    for (const w of ["one", "two", "three"])
      await client.sendToSocket(server.address, new TextEncoder().encode(w));
    await c.settle(reader);
    expect(got).toEqual([`one@${client.port}`, `two@${client.port}`, `three@${client.port}`]);
    expect(server.closed).toBe(false); // leaving the loop does not close the socket
    server.close();
    await expect(server.receive()).resolves.toBeUndefined();
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("anycast shares {type, instance} round-robin between sockets on two nodes", async () => {
    const c = await cluster(3);
    const [a, b, d] = [c.get(0), c.get(1), c.get(2)];
    const sb = b.socket({ type: "rdm" });
    const sd = d.socket({ type: "rdm" });
    sb.bind({ type: T, lower: 0, upper: 9 });
    sd.bind({ type: T, lower: 0, upper: 9 });
    seen(c, a, T, 3, b.address);
    seen(c, a, T, 3, d.address);
    const client = a.socket({ type: "rdm" });
    for (let i = 0; i < 200; i++) await client.sendTo({ type: T, instance: 3 }, pattern(8, i + 1));
    const gb: SocketEvent[] = [];
    const gd: SocketEvent[] = [];
    c.runUntil(() => {
      gb.push(...drain(sb));
      gd.push(...drain(sd));
      return gb.length + gd.length >= 200;
    }, 2000);
    expect(gb.length).toBe(100);
    expect(gd.length).toBe(100);
    // a lookup restricted to one node ({type, instance, node}) goes to that node only
    for (let i = 0; i < 10; i++)
      await client.sendTo({ type: T, instance: 3, node: d.address }, pattern(8, i));
    c.runUntil(() => {
      gd.push(...drain(sd));
      return gd.length >= 110;
    }, 2000);
    expect(gd.length).toBe(110);
    expect(drain(sb)).toEqual([]);
    await c.settle(Promise.all([a.close(), b.close(), d.close()]));
  });

  for (const method of ["broadcast", "replicast"] as const) {
    it(`multicast reaches every socket bound in the range once (${method})`, async () => {
      const c = await cluster(3);
      const [a, b, d] = [c.get(0), c.get(1), c.get(2)];
      const socks = [
        b.socket({ type: "rdm" }),
        b.socket({ type: "rdm" }),
        d.socket({ type: "rdm" }),
        a.socket({ type: "rdm" }),
      ];
      const outside = d.socket({ type: "rdm" });
      socks[0]?.bind({ type: T, lower: 0, upper: 9 });
      socks[1]?.bind({ type: T, lower: 50, upper: 60 });
      socks[1]?.bind({ type: T, lower: 70, upper: 80 }); // two ranges, still one copy
      socks[2]?.bind({ type: T, lower: 99, upper: 99 });
      socks[3]?.bind({ type: T, lower: 5, upper: 5 });
      outside.bind({ type: T, lower: 100, upper: 200 });
      seen(c, a, T, 55, b.address);
      seen(c, a, T, 99, d.address);
      const client = a.socket({ type: "rdm", multicastMethod: method });
      for (let i = 0; i < 20; i++)
        await client.sendToRange({ type: T, lower: 0, upper: 99 }, pattern(100, i));
      const got = socks.map(() => [] as SocketEvent[]);
      c.runUntil(() => {
        for (const [i, s] of socks.entries()) got[i]?.push(...drain(s));
        return got.every((g) => g.length >= 20);
      }, 2000);
      c.clock.advance(100);
      for (const [i, s] of socks.entries()) got[i]?.push(...drain(s));
      for (const g of got) {
        expect(g.length).toBe(20);
        expect(g.map((e) => (e.kind === "message" ? e.data[0] : -1))).toEqual(
          Array.from({ length: 20 }, (_, i) => pattern(100, i)[0]),
        );
      }
      expect(drain(outside)).toEqual([]);
      const sent = a.stats().sockets.sent;
      if (method === "broadcast") {
        expect(sent.broadcast).toBe(20);
        expect(sent.replicast).toBe(0);
      } else {
        expect(sent.replicast).toBe(40); // one copy per destination node
        expect(sent.broadcast).toBe(0);
      }
      await c.settle(Promise.all([a.close(), b.close(), d.close()]));
    });
  }

  it("setBroadcastMode switches a stream's multicast method with a SYN twin each time; order kept", async () => {
    const c = await cluster(2);
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.socket({ type: "rdm" });
    server.bind({ type: T, lower: 0, upper: 9 });
    seen(c, a, T, 5, b.address);
    const client = a.socket({ type: "rdm" });
    const got: SocketEvent[] = [];
    for (let i = 0; i < 60; i++) {
      // one destination node: autoselect replicasts (1 <= bc_threshold 1); switch every 10
      if (i % 10 === 0) a.setBroadcastMode(i % 20 === 0 ? "broadcast" : "autoselect");
      await client.sendToRange({ type: T, lower: 0, upper: 99 }, pattern(100, i));
      got.push(...drain(server));
    }
    c.runUntil(() => {
      got.push(...drain(server));
      return got.length >= 60;
    }, 2000);
    expect(got.map((e) => (e.kind === "message" ? e.data[0] : -1))).toEqual(
      Array.from({ length: 60 }, (_, i) => pattern(100, i)[0]),
    );
    const sent = a.stats().sockets.sent;
    expect(sent.synTwins).toBe(5);
    expect(sent.broadcast).toBe(30 + 3); // 3 x 10 messages, and the twins of the 3 switches to replicast
    expect(sent.replicast).toBe(30 + 2); // and the twins of the 2 switches to broadcast
    expect(() => a.setBroadcastMode("autoselect", 0)).toThrow(/ratio/);
    expect(() => a.setBroadcastMode("sometimes" as "autoselect")).toThrow(/mode/);
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("returns undeliverable messages as typed events: NO_PORT, NO_NAME; dest-droppable ones are dropped", async () => {
    const c = await cluster(2);
    const [a, b] = [c.get(0), c.get(1)];
    const gone = b.socket({ type: "rdm" });
    const goneAddress = gone.address;
    gone.close();
    const client = a.socket({ type: "rdm", destDroppable: false });
    const data = pattern(3000, 7);
    await client.sendToSocket(goneAddress, data);
    // lookup at the destination node (destport 0): b finds no binding there
    await client.sendTo({ type: T, instance: 42, node: b.address }, pattern(10, 9));
    const got: SocketEvent[] = [];
    c.runUntil(() => {
      got.push(...drain(client));
      return got.length >= 2;
    }, 2000);
    expect(got).toHaveLength(2);
    const [r1, r2] = got;
    if (r1?.kind !== "returned" || r2?.kind !== "returned") throw new Error("expected returned messages");
    expect(r1.error).toBe("NO_PORT");
    expect(r1.errorCode).toBe(2); // TIPC_ERR_NO_PORT
    expect(r1.data).toEqual(data.subarray(0, 1024)); // TIPC_RETDATA: at most 1,024 bytes
    expect(r1.rejectedBy).toEqual(goneAddress);
    expect(r2.error).toBe("NO_NAME");
    expect(r2.errorCode).toBe(1);
    expect(r2.data).toEqual(pattern(10, 9));
    expect(r2.destination).toEqual({ kind: "service", type: T, instance: 42 });

    // the default (dest-droppable) loses them silently, as the kernel does, and counts them
    const droppable = a.socket({ type: "rdm" });
    await droppable.sendToSocket(goneAddress, data);
    c.clock.advance(200);
    expect(drain(droppable)).toEqual([]);
    expect(b.stats().sockets.drops.unreturnable).toBe(1);
    // no binding anywhere: the send itself fails
    await expect(client.sendTo({ type: T, instance: 1 }, data)).rejects.toMatchObject({ code: "NO_SERVICE" });
    await expect(client.sendToRange({ type: T, lower: 0, upper: 5 }, data)).rejects.toMatchObject({
      code: "NO_SERVICE",
    });
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("closing a socket withdraws its bindings everywhere and returns what it had not read", async () => {
    const c = await cluster(2);
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.socket({ type: "rdm" });
    const binding = server.bind({ type: T, lower: 1, upper: 3 });
    expect(binding).toMatchObject({ type: T, lower: 1, upper: 3, node: b.address, port: server.port });
    seen(c, a, T, 2, b.address);
    const client = a.socket({ type: "rdm", destDroppable: false });
    await client.sendTo({ type: T, instance: 2 }, pattern(5, 1));
    c.runUntil(() => server.info().queuedMessages === 1, 1000);
    server.close();
    expect(() => server.bind({ type: T, lower: 9 })).toThrow(expect.objectContaining({ code: "CLOSED" }));
    expect(c.runUntil(() => a.lookupInstance(T, 2).length === 0, 2000)).toBeGreaterThanOrEqual(0);
    const back: SocketEvent[] = [];
    c.runUntil(() => {
      back.push(...drain(client));
      return back.length > 0;
    }, 1000);
    expect(back).toMatchObject([{ kind: "returned", error: "NO_PORT", data: pattern(5, 1) }]);
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("a node that goes down: sends fail NO_NODE, a waiting send rejects NO_NODE, nothing is delivered twice", async () => {
    const c = await cluster(2, { tolerance: 300 });
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.socket({ type: "rdm" });
    server.bind({ type: T, lower: 1 });
    seen(c, a, T, 1, b.address);
    const client = a.socket({ type: "rdm" });
    const received: number[] = [];
    const take = () => {
      for (const e of drain(server)) if (e.kind === "message") received.push(e.data[0] as number);
    };
    for (let i = 0; i < 10; i++) await client.sendToSocket(server.address, new Uint8Array([i]));
    c.runUntil(() => {
      take();
      return received.length === 10;
    }, 1000);
    // cut b off: nothing is acknowledged, the backlog reaches its limit and a send waits
    const cut = c.fabric.partition(
      [c.members[0]?.transport.localAddress as never],
      [c.members[1]?.transport.localAddress as never],
    );
    let sent = 10;
    let waiting: Promise<void> | undefined;
    while (waiting === undefined && sent < 10_000) {
      const data = new Uint8Array(1000);
      data[0] = sent & 0xff;
      const p = client.sendToSocket(server.address, data);
      if (client.pendingSends > 0) waiting = p;
      else await p;
      sent++;
    }
    expect(waiting).toBeDefined();
    const rejected = (waiting as Promise<void>).catch((e: unknown) => e);
    expect(c.runUntil(() => a.stats().nodes.up === 0, 3000)).toBeGreaterThanOrEqual(0);
    const err = await rejected;
    expect(isNodeError(err) && err.code).toBe("NO_NODE");
    await expect(client.sendToSocket(server.address, new Uint8Array([1]))).rejects.toMatchObject({
      code: "NO_NODE",
    });
    cut.heal();
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    c.clock.advance(500);
    take();
    // what was acknowledged before the loss arrived once; nothing came twice after the return
    expect(received.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(received).size).toBe(received.length);
    await c.settle(Promise.all([a.close(), b.close()]));
  });
});
