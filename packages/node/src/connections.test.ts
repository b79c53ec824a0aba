/**
 * TIPC connections between tipcjs nodes (issue 17): node.connect() and node.listen() as Node.js
 * streams over the memory fabric with a virtual clock.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Cluster } from "./__helpers__/cluster.js";
import { pattern } from "./__helpers__/pattern.js";
import type { TipcConnection } from "./connection.js";
import { isNodeError } from "./errors.js";

const T = 1000;

async function cluster(extra: Partial<ConstructorParameters<typeof Cluster>[0]> = {}) {
  const c = await Cluster.start({ size: 2, ...extra });
  expect(c.runUntil(() => c.allUp() && c.bulksAcked(), 5000)).toBeGreaterThanOrEqual(0);
  return c;
}

/** Moves virtual time in small steps, letting stream callbacks run between, until `cond` or `ms`. */
async function until(c: Cluster, cond: () => boolean, ms: number, step = 1): Promise<boolean> {
  const start = c.clock.now();
  for (;;) {
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
    if (cond()) return true;
    if (c.clock.now() - start > ms) return false;
    c.clock.advance(step);
  }
}

function seen(c: Cluster, i: number, on: number): void {
  expect(
    c.runUntil(
      () =>
        c
          .get(i)
          .lookupInstance(T, 5)
          .some((b) => b.node === on),
      2000,
    ),
  ).toBeGreaterThanOrEqual(0);
}

async function pair(c: Cluster, type: "stream" | "seqpacket" = "stream") {
  const [a, b] = [c.get(0), c.get(1)];
  const server = b.listen({ type, service: { type: T, lower: 5 } });
  seen(c, 0, b.address);
  let accepted: TipcConnection | undefined;
  server.on("connection", (conn: TipcConnection) => {
    accepted = conn;
  });
  const client = a.connect({ type: T, instance: 5 }, { type });
  let connected = false;
  client.on("connect", () => {
    connected = true;
  });
  expect(await until(c, () => connected && accepted !== undefined, 2000)).toBe(true);
  return { a, b, server, client, accepted: accepted as TipcConnection };
}

/** Writes `total` bytes in `chunk`-byte writes with backpressure; returns the SHA-256 and counts. */
async function writeAll(conn: TipcConnection, total: number, chunk: number, seed = 7) {
  const hash = createHash("sha256");
  let falses = 0;
  for (let sent = 0, i = 0; sent < total; i++) {
    const buf = pattern(Math.min(chunk, total - sent), i + seed);
    hash.update(buf);
    sent += buf.length;
    if (!conn.write(buf)) {
      falses++;
      await new Promise((r) => conn.once("drain", r));
    }
  }
  conn.end();
  return { sha: hash.digest("hex"), falses };
}

describe("node.connect() and node.listen(): connections as Duplex streams", () => {
  it("a stream connection carries bytes both ways and ends cleanly on end() (peer sees end of stream)", async () => {
    const c = await cluster();
    const { client, accepted, b } = await pair(c);
    expect(client.remoteAddress).toEqual(accepted.address);
    expect(accepted.remoteAddress).toEqual(client.address);
    const got: Buffer[] = [];
    let ended = false;
    accepted.on("data", (d: Buffer) => got.push(d));
    accepted.on("end", () => {
      ended = true;
    });
    client.write(Buffer.from("hello "));
    client.write(Buffer.from("world"));
    client.end();
    expect(await until(c, () => ended, 2000)).toBe(true);
    expect(Buffer.concat(got).toString()).toBe("hello world");
    expect(b.stats().sockets.sent.unicast).toBeGreaterThan(0);
    await c.settle(Promise.all([c.get(0).close(), b.close()]));
  });

  it("seqpacket keeps message boundaries through the Duplex", async () => {
    const c = await cluster();
    const { client, accepted } = await pair(c, "seqpacket");
    const got: Uint8Array[] = [];
    accepted.on("data", (d: Uint8Array) => got.push(d));
    const sizes = [1, 66_000, 300, 5];
    for (const [i, n] of sizes.entries()) client.write(pattern(n, i));
    expect(await until(c, () => got.length === sizes.length, 2000)).toBe(true);
    expect(got.map((g) => g.length)).toEqual(sizes);
    for (const [i, n] of sizes.entries())
      expect(Buffer.from(got[i] as Uint8Array).equals(pattern(n, i))).toBe(true);
    await c.settle(Promise.all([c.get(0).close(), c.get(1).close()]));
  });

  it("a connect to a service with no listener fails CONNECTION_REFUSED", async () => {
    const c = await cluster();
    const [a, b] = [c.get(0), c.get(1)];
    // a port on b that nobody has
    const conn = a.connect({ node: b.address, port: 12345 });
    let err: unknown;
    conn.on("error", (e) => {
      err = e;
    });
    expect(await until(c, () => err !== undefined, 2000)).toBe(true);
    expect(isNodeError(err) && err.code).toBe("CONNECTION_REFUSED");
    expect(() => a.connect({ type: T, instance: 99 })).toThrow(
      expect.objectContaining({ code: "NO_SERVICE" }),
    );
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("destroy() closes the socket: the peer sees CONNECTION_RESET", async () => {
    const c = await cluster();
    const { client, accepted } = await pair(c);
    let err: unknown;
    accepted.on("error", (e) => {
      err = e;
    });
    accepted.resume();
    client.destroy();
    expect(await until(c, () => err !== undefined, 2000)).toBe(true);
    expect(isNodeError(err) && err.code).toBe("CONNECTION_RESET");
    await c.settle(Promise.all([c.get(0).close(), c.get(1).close()]));
  });

  it("bulk: 100 MB across a stream with loss, duplication and reordering arrive with the same SHA-256", async () => {
    const total = Number(process.env.TIPCJS_CONN_BULK_MB ?? 100) * 1024 * 1024;
    const c = await cluster({ mtu: 1500 });
    const { client, accepted } = await pair(c);
    c.fabric.setFaults({ loss: 0.05, duplicate: 0.02, reorder: 0.05, reorderDelay: 2 });
    const hash = createHash("sha256");
    let received = 0;
    accepted.on("data", (d: Buffer) => {
      hash.update(d);
      received += d.length;
    });
    let ended = false;
    accepted.on("end", () => {
      ended = true;
    });
    const t0 = process.cpuUsage();
    const writing = writeAll(client, total, 64 * 1024);
    let sent: { sha: string; falses: number } | undefined;
    void writing.then((r) => {
      sent = r;
    });
    expect(await until(c, () => ended && sent !== undefined, 600_000)).toBe(true);
    const cpu = process.cpuUsage(t0);
    expect(received).toBe(total);
    expect(hash.digest("hex")).toBe(sent?.sha);
    expect(c.fabric.counters.duplicates).toBeGreaterThan(0);
    expect(c.fabric.counters.drops.loss).toBeGreaterThan(0);
    expect(c.fabric.counters.reordered).toBeGreaterThan(0);
    expect(c.fabric.counters.bytesDelivered).toBeGreaterThan(total);
    console.log(
      `bulk ${total / 1024 / 1024} MB: cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, virtual ${c.clock.now()} ms`,
    );
    c.fabric.setFaults(undefined);
    await c.settle(Promise.all([c.get(0).close(), c.get(1).close()]));
  }, 120_000);

  it("a reader that stops reading stops the writer within one window; everything arrives once it reads", async () => {
    const c = await cluster({ mtu: 1500 });
    const { client, accepted } = await pair(c);
    const chunk = 64 * 1024;
    accepted.pause();
    const total = 20 * 1024 * 1024;
    const sentHash = createHash("sha256");
    let written = 0;
    let falses = 0;
    let done = false;
    void (async () => {
      for (let i = 0; written < total; i++) {
        const buf = pattern(chunk, i + 3);
        sentHash.update(buf);
        written += buf.length;
        if (!client.write(buf)) {
          falses++;
          await new Promise((r) => client.once("drain", r));
        }
      }
      done = true;
    })();
    await until(c, () => false, 2000);
    console.log(
      "DBG",
      written,
      falses,
      accepted.readableLength,
      accepted.readableFlowing,
      JSON.stringify(accepted.info()),
      JSON.stringify(client.info().connection),
    );
    const stalledAt = written;
    await until(c, () => false, 2000);
    // The writer stopped: write() said false and no drain came while nobody read.
    expect(falses).toBeGreaterThan(0);
    expect(written).toBe(stalledAt);
    expect(written).toBeLessThan(total);
    const layerQueue = accepted.info().queuedBytes;
    const window = (accepted.info().connection?.rcvWin ?? 0) * 1024;
    // The receiver's layer holds at most one window plus the message that crossed it; the
    // stream buffers hold their high-water marks; the writer holds what it was allowed to write.
    expect(layerQueue).toBeLessThanOrEqual(window + 66_024);
    expect(accepted.readableLength).toBeLessThanOrEqual(accepted.readableHighWaterMark + 66_000);
    expect(client.writableLength).toBeLessThanOrEqual(client.writableHighWaterMark + chunk);
    expect(client.info().connection?.sntUnacked).toBeGreaterThan(client.info().connection?.sndWin ?? 0);
    // Read again: all of it arrives, in order.
    const got = createHash("sha256");
    let received = 0;
    accepted.on("data", (d: Buffer) => {
      got.update(d);
      received += d.length;
    });
    accepted.resume();
    expect(await until(c, () => done && received === total, 20_000)).toBe(true);
    expect(got.digest("hex")).toBe(sentHash.digest("hex"));
    await c.settle(Promise.all([c.get(0).close(), c.get(1).close()]));
  });

  it("node loss: the peer's connections end with PEER_LOST within the link tolerance", async () => {
    const tolerance = 1500;
    const c = await cluster({ tolerance });
    const { accepted, client } = await pair(c);
    let err: unknown;
    client.on("error", (e) => {
      err = e;
    });
    client.resume();
    const [ma, mb] = [c.members[0], c.members[1]];
    c.fabric.partition([mb?.transport.localAddress as never], [ma?.transport.localAddress as never]);
    const start = c.clock.now();
    expect(await until(c, () => err !== undefined, 3 * tolerance, 10)).toBe(true);
    const took = c.clock.now() - start;
    expect(isNodeError(err) && err.code).toBe("PEER_LOST");
    expect((err as { tipcErrorCode?: number }).tipcErrorCode).toBe(3);
    expect(took).toBeGreaterThanOrEqual(tolerance);
    expect(took).toBeLessThanOrEqual(tolerance + 2 * Math.min(tolerance / 4, 500) + 10);
    void accepted;
    await c.settle(Promise.all([c.get(0).close(), c.get(1).close()]));
  });

  it("a seqpacket write over 66,000 bytes fails MESSAGE_TOO_LARGE", async () => {
    const c = await cluster();
    const { client } = await pair(c, "seqpacket");
    let err: unknown;
    client.on("error", (e) => {
      err = e;
    });
    client.write(new Uint8Array(66_001));
    expect(await until(c, () => err !== undefined, 100)).toBe(true);
    expect(isNodeError(err) && err.code).toBe("MESSAGE_TOO_LARGE");
    await c.settle(Promise.all([c.get(0).close(), c.get(1).close()]));
  });

  it("the server is an async iterable of connections", async () => {
    const c = await cluster();
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.listen({ service: { type: T, lower: 5 } });
    seen(c, 0, b.address);
    const got: TipcConnection[] = [];
    const loop = (async () => {
      for await (const conn of server) {
        got.push(conn);
        if (got.length === 2) break;
      }
    })();
    a.connect({ type: T, instance: 5 });
    a.connect({ type: T, instance: 5 });
    expect(await until(c, () => got.length === 2, 2000)).toBe(true);
    await loop;
    expect(got.every((g) => g.connected)).toBe(true);
    server.close();
    expect(server.listening).toBe(false);
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("10 connections of 10 MB each at 10 % loss with reordering all arrive byte-exact", async () => {
    const mb = Number(process.env.TIPCJS_CONN_PARALLEL_MB ?? 10);
    const total = mb * 1024 * 1024;
    const c = await cluster({ mtu: 1500 });
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.listen({ service: { type: T, lower: 5 } });
    seen(c, 0, b.address);
    const results: { sha: string; bytes: number; ended: boolean }[] = [];
    server.on("connection", (conn: TipcConnection) => {
      const r = { sha: "", bytes: 0, ended: false };
      results.push(r);
      const h = createHash("sha256");
      conn.on("data", (d: Buffer) => {
        h.update(d);
        r.bytes += d.length;
      });
      conn.on("end", () => {
        r.sha = h.digest("hex");
        r.ended = true;
      });
    });
    c.fabric.setFaults({ loss: 0.1, reorder: 0.1, reorderDelay: 3 });
    const sent = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      const conn = a.connect({ type: T, instance: 5 });
      conn.once("connect", () => {
        void writeAll(conn, total, 32 * 1024, i * 1000).then((r) =>
          sent.set(r.sha, (sent.get(r.sha) ?? 0) + 1),
        );
      });
    }
    const ok = await until(c, () => results.length === 10 && results.every((r) => r.ended), 600_000, 2);
    expect(ok).toBe(true);
    expect(c.fabric.counters.drops.loss).toBeGreaterThan(0);
    for (const r of results) {
      expect(r.bytes).toBe(total);
      expect(sent.has(r.sha)).toBe(true);
    }
    expect(new Set(results.map((r) => r.sha)).size).toBe(10);
    c.fabric.setFaults(undefined);
    await c.settle(Promise.all([a.close(), b.close()]));
  }, 120_000);

  it("a SYN that nothing answers fails CONNECT_TIMEOUT at the connect timeout (virtual time)", async () => {
    const c = await cluster();
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.listen({ service: { type: T, lower: 5 } });
    seen(c, 0, b.address);
    // The listener's node stops taking anything from a (the link stays up for its tolerance).
    const [ma, mb] = [c.members[0], c.members[1]];
    c.fabric.setPairFaults(
      ma?.transport.localAddress as never,
      mb?.transport.localAddress as never,
      { loss: 1 },
      {
        oneWay: true,
      },
    );
    const conn = a.connect({ node: b.address, port: server.port }, { connectTimeout: 400 });
    let err: unknown;
    conn.on("error", (e) => {
      err = e;
    });
    const start = c.clock.now();
    expect(await until(c, () => err !== undefined, 1000)).toBe(true);
    expect(isNodeError(err) && err.code).toBe("CONNECT_TIMEOUT");
    expect(c.clock.now() - start).toBeGreaterThanOrEqual(400);
    expect(c.clock.now() - start).toBeLessThanOrEqual(410);
    c.fabric.setPairFaults(
      ma?.transport.localAddress as never,
      mb?.transport.localAddress as never,
      undefined,
    );
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("the peer's end() ends both sides of this stream without an error; node.socket() refuses connection types", async () => {
    const c = await cluster();
    const { client, accepted } = await pair(c);
    accepted.resume();
    let err: unknown;
    client.on("error", (e) => {
      err = e;
    });
    client.resume();
    accepted.end();
    expect(await until(c, () => client.readableEnded, 1000)).toBe(true);
    // allowHalfOpen is false: the client's writable side ended with its readable side.
    expect(client.writableEnded).toBe(true);
    expect(err).toBeUndefined();
    expect(() => c.get(0).socket({ type: "stream" })).toThrow(
      expect.objectContaining({ code: "NOT_SUPPORTED" }),
    );
    await c.settle(Promise.all([c.get(0).close(), c.get(1).close()]));
  });

  it("a connection within one node: connect comes after connect() returns, data flows", async () => {
    const c = await cluster();
    const a = c.get(0);
    const server = a.listen({ service: { type: T, lower: 9, scope: "node" } });
    let accepted: TipcConnection | undefined;
    server.on("connection", (x: TipcConnection) => {
      accepted = x;
    });
    const conn = a.connect({ type: T, instance: 9 });
    let connected = false;
    conn.on("connect", () => {
      connected = true;
    });
    const got: Buffer[] = [];
    expect(await until(c, () => connected && accepted !== undefined, 100)).toBe(true);
    accepted?.on("data", (d: Buffer) => got.push(d));
    conn.end(Buffer.from("local"));
    expect(await until(c, () => Buffer.concat(got).toString() === "local", 100)).toBe(true);
    await c.settle(Promise.all([a.close(), c.get(1).close()]));
  });

  it("a connect that finds the link congested sends its SYN at the wakeup", async () => {
    const c = await cluster();
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.listen({ service: { type: T, lower: 5 } });
    seen(c, 0, b.address);
    let accepted = 0;
    server.on("connection", () => {
      accepted++;
    });
    // No acks come back from b: a's link backlog fills and the link is congested at LOW.
    const [ma, mb] = [c.members[0], c.members[1]];
    c.fabric.setPairFaults(
      mb?.transport.localAddress as never,
      ma?.transport.localAddress as never,
      { loss: 1 },
      {
        oneWay: true,
      },
    );
    const rdm = a.socket({ type: "rdm", maxPendingSends: 1000 });
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 400 && rdm.pendingSends === 0; i++)
      sends.push(rdm.sendTo({ type: T, instance: 5 }, new Uint8Array(13_000)).catch(() => {}));
    expect(rdm.pendingSends).toBeGreaterThan(0);
    const conn = a.connect({ type: T, instance: 5 });
    let connected = false;
    conn.on("connect", () => {
      connected = true;
    });
    expect(conn.info().connection?.state).toBe("open"); // the SYN waits
    c.fabric.setPairFaults(
      mb?.transport.localAddress as never,
      ma?.transport.localAddress as never,
      undefined,
    );
    expect(await until(c, () => connected && accepted === 1, 2000)).toBe(true);
    await Promise.all(sends);
    await c.settle(Promise.all([a.close(), b.close()]));
  });
});
