// Sockets through the control socket: @tipcjs/client's socket() against a control server on a
// node of a memory fabric, talking to an in-process socket of a second node.
import { createConnection } from "node:net";
import type * as C from "@tipcjs/client";
import { type ClientSocket, connect, encodeFrame, type SocketEvent, type TipcClient } from "@tipcjs/client";
import type * as N from "@tipcjs/node";
import type { TipcNode, TipcSocket } from "@tipcjs/node";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import { type Fixture, startFixture, waitFor } from "./test-helpers.js";

let fx: Fixture;
let a: TipcNode;
let b: TipcNode;
let client: TipcClient;

beforeEach(async () => {
  fx = await startFixture(2);
  a = fx.nodes[0] as TipcNode;
  b = fx.nodes[1] as TipcNode;
  await waitFor(() => a.nodes().some((n) => n.up) && b.nodes().some((n) => n.up), 5000, "link up");
  client = await connect(fx.path);
});
afterEach(async () => {
  await client.close();
  await fx.close();
});

const pattern = (n: number, seed: number) => {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = (i * 31 + seed) & 0xff;
  return d;
};

async function next(s: ClientSocket | TipcSocket): Promise<SocketEvent> {
  const ev = await s.receive();
  if (ev === undefined) throw new Error("socket ended");
  return ev as SocketEvent;
}

describe("sockets through tipcd", () => {
  it("the client's socket types are the node's, checked by tsc (the client does not depend on the node stack)", () => {
    expectTypeOf<C.SocketSendOptions>().toEqualTypeOf<N.SocketSendOptions>();
    expectTypeOf<C.BindRange>().toEqualTypeOf<N.BindRange>();
    expectTypeOf<C.SocketEvent["kind"]>().toEqualTypeOf<N.SocketEvent["kind"]>();
    expectTypeOf<N.ReceivedMessage>().toMatchTypeOf<C.ReceivedMessage>();
    expectTypeOf<N.ReturnedMessage>().toMatchTypeOf<C.ReturnedMessage>();
    // node.socket() is connectionless (seqpacket and stream are node.connect/listen's)
    expectTypeOf<C.SocketOptions["type"]>().toEqualTypeOf<
      Exclude<N.SocketOptions["type"], "seqpacket" | "stream">
    >();
  });

  it("exchanges messages of 1 to 66,000 bytes both ways with their source and destination", async () => {
    // a fixed method: the first auto-method multicast (its SYN twin) is not delivered on the
    // memory fabric today (@tipcjs/socket, reported); the method choice is not this test's subject
    const cs = await client.socket({ type: "rdm", multicastMethod: "replicast" });
    expect(cs.address).toEqual({ node: a.address, port: cs.port });
    const bound = await cs.bind({ type: 5000, lower: 1 });
    expect(bound).toMatchObject({ type: 5000, lower: 1, upper: 1, port: cs.port, node: a.address });
    const ns = b.socket({ type: "rdm" });
    ns.bind({ type: 5001, lower: 0, upper: 10 });
    await waitFor(
      () => a.lookupAnycast(5001, 3) !== undefined && b.lookupAnycast(5000, 1) !== undefined,
      5000,
      "bound",
    );

    // (no 0: the kernel's recvmsg steps past an empty message, and so does the node)
    for (const size of [1, 1024, 14_000, 60_000, 66_000]) {
      const out = pattern(size, size);
      await cs.sendTo({ type: 5001, instance: 3 }, out);
      const got = await next(ns);
      expect(got).toMatchObject({
        kind: "message",
        source: cs.address,
        destination: { kind: "service", type: 5001, instance: 3 },
      });
      expect(Buffer.from(got.data).equals(Buffer.from(out))).toBe(true);

      await ns.sendTo({ type: 5000, instance: 1 }, out);
      const back = await next(cs);
      expect(back).toMatchObject({ kind: "message", source: ns.address });
      expect(Buffer.from(back.data).equals(Buffer.from(out))).toBe(true);
    }
    await cs.sendToSocket(ns.address, pattern(10, 1));
    expect(await next(ns)).toMatchObject({ destination: { kind: "socket" } });
    await cs.sendToRange({ type: 5001, lower: 0, upper: 99 }, pattern(10, 2));
    expect(await next(ns)).toMatchObject({ destination: { kind: "range", type: 5001, lower: 0, upper: 99 } });
    await expect(cs.sendTo({ type: 5001, instance: 3 }, new Uint8Array(66_001))).rejects.toMatchObject({
      code: "MESSAGE_TOO_LARGE",
    });
    await expect(cs.sendTo({ type: 5999, instance: 3 }, new Uint8Array(1))).rejects.toMatchObject({
      code: "NO_SERVICE",
    });
    ns.close();
  });

  it("keeps 10,000 pipelined messages in order, exactly once", async () => {
    const cs = await client.socket({ type: "rdm" });
    const ns = b.socket({ type: "rdm" });
    ns.bind({ type: 5002, lower: 1 });
    await waitFor(() => a.lookupAnycast(5002, 1) !== undefined, 5000, "bound");
    const N = 10_000;
    const sends: Promise<void>[] = [];
    const received: number[] = [];
    const reader = (async () => {
      while (received.length < N) {
        const ev = await next(ns);
        received.push(new DataView(ev.data.buffer, ev.data.byteOffset).getUint32(0));
      }
    })();
    for (let i = 0; i < N; i++) {
      const d = new Uint8Array(100);
      new DataView(d.buffer).setUint32(0, i);
      sends.push(cs.sendTo({ type: 5002, instance: 1 }, d));
      if (sends.length % 50 === 0) await sends[sends.length - 1];
    }
    await Promise.all(sends);
    await reader;
    expect(received).toEqual(Array.from({ length: N }, (_, i) => i));
    ns.close();
  }, 60_000);

  it("sends through a congested link wait for it and all arrive in order; with dontWait they fail WOULD_BLOCK", async () => {
    const cs = await client.socket({ type: "rdm" });
    const ns = b.socket({ type: "rdm", rcvbuf: 16 * 1024 * 1024 });
    ns.bind({ type: 5008, lower: 1 });
    await waitFor(() => a.lookupAnycast(5008, 1) !== undefined, 5000, "bound");
    const N = 200;
    const got: number[] = [];
    const reader = (async () => {
      while (got.length < N) got.push((await next(ns)).data[0] as number);
    })();
    // 32 of 60,000 bytes at once (160 packets), acknowledged 200 ms later: past the link's
    // window and backlog limit (150 packets), so sends wait in the node socket for its wakeup
    fx.fabric.setFaults({ delay: 100 });
    for (let i = 0; i < N; i += 32) {
      const batch = Array.from({ length: Math.min(32, N - i) }, (_, j) => {
        const d = pattern(60_000, 0);
        d[0] = (i + j) & 0xff;
        return cs.sendTo({ type: 5008, instance: 1 }, d);
      });
      await Promise.all(batch);
    }
    await reader;
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i & 0xff));
    // the same burst with dontWait: the link is congested by it (so the sends above waited)
    const probe = await Promise.allSettled(
      Array.from({ length: 32 }, () =>
        cs.sendTo({ type: 5008, instance: 1 }, pattern(60_000, 1), { dontWait: true }),
      ),
    );
    fx.fabric.setFaults(undefined);
    expect(
      probe.some((r) => r.status === "rejected" && (r.reason as { code?: string }).code === "WOULD_BLOCK"),
    ).toBe(true);
    ns.close();
  }, 30_000);

  it("returns an undeliverable message as a typed event; closing the connection withdraws the socket's bindings", async () => {
    const cs = await client.socket({ type: "rdm", destDroppable: false });
    const ns = b.socket({ type: "rdm" });
    ns.bind({ type: 5003, lower: 1 });
    await waitFor(() => a.lookupAnycast(5003, 1) !== undefined, 5000, "bound");
    const target = ns.address;
    ns.close();
    await cs.sendToSocket(target, pattern(2000, 3));
    const ev = await next(cs);
    expect(ev).toMatchObject({ kind: "returned", error: "NO_PORT", rejectedBy: target });
    expect(ev.data.length).toBe(1024);

    await cs.bind({ type: 5004, lower: 7 });
    const other = await connect(fx.path);
    const os = await other.socket({ type: "dgram" });
    await os.bind({ type: 5004, lower: 8 });
    await waitFor(
      () => b.lookupAnycast(5004, 7) !== undefined && b.lookupAnycast(5004, 8) !== undefined,
      5000,
      "bound",
    );
    expect(fx.control.stats().sockets).toBe(2);
    await other.close();
    await waitFor(() => b.lookupAnycast(5004, 8) === undefined, 5000, "withdrawn on the peer");
    await waitFor(() => fx.control.stats().sockets === 1, 5000, "its socket closed");
    expect(b.lookupAnycast(5004, 7)).toBeDefined();
    await expect(os.sendTo({ type: 5004, instance: 7 }, new Uint8Array(1))).rejects.toMatchObject({
      code: "CLOSED",
    });
    expect(os.closed).toBe(true);
  });

  it("a client that does not read: the node socket's queue fills and OVERLOAD comes back; nothing grows past its bound", async () => {
    const cs = await client.socket({ type: "rdm", rcvbuf: 64 * 1024 });
    await cs.bind({ type: 5005, lower: 1 });
    const ns = b.socket({ type: "rdm", destDroppable: false });
    await waitFor(() => b.lookupAnycast(5005, 1) !== undefined, 5000, "bound");
    const data = pattern(60_000, 5);
    let overloads = 0;
    for (let i = 0; i < 400 && overloads === 0; i++) {
      await ns.sendTo({ type: 5005, instance: 1 }, data);
      for (let ev = ns.tryReceive(); ev !== undefined; ev = ns.tryReceive())
        if (ev.kind === "returned" && ev.error === "OVERLOAD") overloads++;
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(
      () => {
        for (let ev = ns.tryReceive(); ev !== undefined; ev = ns.tryReceive())
          if (ev.kind === "returned" && ev.error === "OVERLOAD") overloads++;
        return overloads > 0;
      },
      10_000,
      "OVERLOAD returned",
    );
    // what waits: the client's bound, the daemon's output bound, the node socket's rcvbuf
    expect(fx.control.stats().unsentPeak).toBeLessThan(fx.control.limits.outputHighWater + 200_000);
    const info = await cs.info();
    expect(info.queuedBytes).toBeLessThanOrEqual(64 * 1024 + 70_000);
    // reading drains it: what was queued arrives intact
    const ev = await next(cs);
    expect(Buffer.from(ev.data).equals(Buffer.from(data))).toBe(true);
    ns.close();
  }, 30_000);

  it("an unread socket holds back only its own messages: other sockets and requests of the connection go on", async () => {
    const flooded = await client.socket({ type: "rdm", rcvbuf: 16 * 1024 * 1024 });
    await flooded.bind({ type: 5006, lower: 1 });
    const other = await client.socket({ type: "rdm" });
    await other.bind({ type: 5007, lower: 1 });
    const ns = b.socket({ type: "rdm" });
    await waitFor(
      () => b.lookupAnycast(5006, 1) !== undefined && b.lookupAnycast(5007, 1) !== undefined,
      5000,
      "bound",
    );
    // 8 MB for a socket nobody reads: more than the client, the daemon's output and its reads hold
    const N = 130;
    for (let i = 0; i < N; i++) await ns.sendTo({ type: 5006, instance: 1 }, pattern(60_000, i));
    await waitFor(
      () => (flooded as unknown as { queue: unknown[] }).queue.length > 0,
      5000,
      "first messages pushed",
    );
    // the connection still answers, sends and receives for the other socket
    expect((await client.stats()).sockets).toBeDefined();
    await other.sendToSocket(ns.address, pattern(100, 1));
    expect(await next(ns)).toMatchObject({ source: other.address });
    await ns.sendTo({ type: 5007, instance: 1 }, pattern(100, 2));
    expect(await next(other)).toMatchObject({ source: ns.address });
    // what the daemon pushed ahead for the unread socket is its window, not the flood
    expect((flooded as unknown as { queue: unknown[] }).queue.length).toBeLessThanOrEqual(6);
    // then reading it gets every message, in order
    for (let i = 0; i < N; i++) {
      const ev = await next(flooded);
      expect(Buffer.from(ev.data).equals(Buffer.from(pattern(60_000, i)))).toBe(true);
    }
    ns.close();
  }, 30_000);

  it("a flood of sends to a congested link: the daemon stops reading the connection at its bound, then takes every one", async () => {
    const ns = b.socket({ type: "rdm", rcvbuf: 16 * 1024 * 1024 });
    ns.bind({ type: 5009, lower: 1 });
    await waitFor(() => a.lookupAnycast(5009, 1) !== undefined, 5000, "bound");
    const raw = createConnection({ path: fx.path });
    let text = "";
    raw.setEncoding("utf8");
    raw.on("data", (t: string) => {
      text += t;
    });
    raw.write(`${JSON.stringify({ id: "open", method: "socketOpen", params: { type: "rdm" } })}\n`);
    await waitFor(() => text.includes("\n"), 5000, "socketOpen answered");
    const socket = (JSON.parse(text.split("\n")[0] as string) as { result: { socket: number } }).result
      .socket;
    text = "";
    // 200 sends of 66,000 bytes (13 MB) written at once, over a link acknowledged 200 ms later
    fx.fabric.setFaults({ delay: 100 });
    const N = 200;
    for (let i = 0; i < N; i++) {
      const d = pattern(66_000, 0);
      d[0] = i & 0xff;
      for (const piece of encodeFrame(
        { id: i, method: "socketSendTo", params: { socket, type: 5009, instance: 1 } },
        d,
      ))
        raw.write(piece);
    }
    const got: number[] = [];
    while (got.length < N) got.push((await next(ns)).data[0] as number);
    fx.fabric.setFaults(undefined);
    await waitFor(() => text.trim().split("\n").length >= N, 10_000, "every answer");
    expect(
      text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: number; result?: object }),
    ).toEqual(Array.from({ length: N }, (_, i) => ({ id: i, result: {} })));
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i & 0xff));
    // what waited in the daemon: its request bound (1 MiB) plus one read and its frames' overhead
    const peak = fx.control.stats().queuedRequestPeak;
    expect(peak).toBeGreaterThan(fx.control.limits.maxQueuedRequestBytes / 2);
    expect(peak).toBeLessThanOrEqual(fx.control.limits.maxQueuedRequestBytes + 64 * 1024 + 66_000 + 2 * 64);
    raw.destroy();
    ns.close();
  }, 30_000);

  it("bad socket requests get typed errors, never a crash; a lying payload length closes the connection", async () => {
    await expect(client.request("socketBind", { socket: 12345, type: 5000, lower: 1 })).rejects.toMatchObject(
      {
        code: "NOT_FOUND",
      },
    );
    await expect(client.request("socketOpen", { type: "stream" as never })).rejects.toMatchObject({
      code: "BAD_ARGUMENT",
    });
    const cs = await client.socket({ type: "rdm" });
    await expect(cs.bind({ type: 10, lower: 1 })).rejects.toMatchObject({ code: "RESERVED_TYPE" });
    await expect(cs.unbind({ type: 5000, lower: 1 })).rejects.toMatchObject({ code: "NOT_BOUND" });
    // a send without its data, and data on a method that takes none
    await expect(
      client.request("socketSendTo", { socket: cs.port, type: 5000, instance: 1 }),
    ).rejects.toMatchObject({ code: "BAD_ARGUMENT" });

    const replies = await rawExchange(
      Buffer.concat([
        ...encodeFrame({ id: 1, method: "hello", params: {} }, new Uint8Array(3)).map((p) => Buffer.from(p)),
        Buffer.from(`${JSON.stringify({ id: 2, method: "hello", bytes: 70_000 })}\n`),
        Buffer.from("x".repeat(100)),
      ]),
    );
    expect(replies.lines.map((l) => (l as { error?: { code: string } }).error?.code)).toEqual([
      "BAD_ARGUMENT",
      "BAD_PAYLOAD_LENGTH",
    ]);
    expect(replies.closed).toBe(true);
    expect(fx.control.stats().disconnects["bad-frame"]).toBe(1);
    expect((await client.stats()).sockets).toBeDefined();
  });
});

function rawExchange(input: Buffer): Promise<{ lines: unknown[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path: fx.path });
    let buf = "";
    s.on("data", (d: Buffer) => {
      buf += d.toString();
    });
    s.on("close", () =>
      resolve({
        lines: buf
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l)),
        closed: true,
      }),
    );
    s.on("end", () => s.end());
    s.on("error", reject);
    s.write(input);
  });
}
