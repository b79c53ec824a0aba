import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientError, connect, MAX_LINE_BYTES } from "@tipcjs/client";
import type { TipcNode } from "@tipcjs/node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONTROL_LIMITS, type ControlLimits, startControlServer } from "./control.js";
import { type Fixture, silent, startFixture, waitFor } from "./test-helpers.js";

let fx: Fixture;
beforeEach(async () => {
  fx = await startFixture(2);
});
afterEach(async () => {
  await fx.close();
});

/** Sends raw text on a fresh connection and collects the response lines until `count` or close. */
async function raw(
  path: string,
  text: string | Buffer,
  count: number,
): Promise<{ lines: unknown[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ path });
    const lines: unknown[] = [];
    let buf = "";
    let closed = false;
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
      if (lines.length >= count) s.end();
    });
    s.on("close", () => {
      closed = true;
      resolve({ lines, closed });
    });
    s.on("error", reject);
    s.write(text);
  });
}

describe("control socket", () => {
  it("is a socket file of mode 0600", () => {
    const st = statSync(fx.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it("binds, looks up in every mode, lists and unbinds", async () => {
    const [a, b] = fx.nodes;
    const c = await connect(fx.path);
    expect(c.info).toMatchObject({ protocol: 1, nodeId: "unit-1", address: a?.address });
    const bound = await c.bind({ type: 1000, lower: 1, upper: 10, port: 77 });
    expect(bound).toMatchObject({
      type: 1000,
      lower: 1,
      upper: 10,
      port: 77,
      scope: "cluster",
      owner: "connection",
    });
    expect(await c.lookup(1000, 5)).toEqual({ node: a?.address, port: 77 });
    expect(await c.lookup(1000, 5, { mode: "closest" })).toEqual({ node: a?.address, port: 77 });
    expect(await c.lookupOnNode(1000, 5, a?.address ?? 0)).toEqual({ node: a?.address, port: 77 });
    expect(await c.lookup(1000, 11)).toBeUndefined();
    expect(await c.lookupInstance(1000, 3)).toHaveLength(1);
    expect(await c.lookupMulticast(1000, 0, 100)).toEqual([{ node: a?.address, port: 77 }]);
    expect(await c.lookupMulticastNodes(1000, 0, 100)).toEqual([a?.address]);
    expect((await c.bindings({ type: 1000 })).map((x) => x.key)).toEqual([bound.key]);
    expect(await c.bindings({ own: true })).toEqual(expect.arrayContaining([{ ...bound }]));
    await waitFor(() => b?.lookupAnycast(1000, 5) !== undefined, 3000, "peer sees the binding");
    expect(await c.unbind({ type: 1000, lower: 1, upper: 10 })).toEqual([
      expect.objectContaining({ key: bound.key }),
    ]);
    await expect(c.unbind({ type: 1000, lower: 1, upper: 10 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(a?.lookupAnycast(1000, 5)).toBeUndefined();
    await c.close();
  });

  it("withdraws a connection's bindings when it closes, keeps the daemon's", async () => {
    const [a, b] = fx.nodes;
    const c = await connect(fx.path);
    await c.bind({ type: 2000, lower: 1 });
    await c.bind({ type: 2001, lower: 1, owner: "daemon" });
    await waitFor(
      () => b?.lookupAnycast(2000, 1) !== undefined && b?.lookupAnycast(2001, 1) !== undefined,
      3000,
      "peer sees both",
    );
    await c.close();
    await waitFor(() => a?.lookupAnycast(2000, 1) === undefined, 3000, "connection binding withdrawn");
    await waitFor(() => b?.lookupAnycast(2000, 1) === undefined, 3000, "peer sees the withdrawal");
    expect(a?.lookupAnycast(2001, 1)).toBeDefined();
    // another connection withdraws the daemon's binding
    const d = await connect(fx.path);
    expect(await d.unbind({ type: 2001, lower: 1 })).toHaveLength(1);
    await d.close();
    // but not another connection's
    const e = await connect(fx.path);
    const f = await connect(fx.path);
    await e.bind({ type: 2002, lower: 1 });
    await expect(f.unbind({ type: 2002, lower: 1 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await e.close();
    await f.close();
  });

  it("streams subscription events, ends them on cancel", async () => {
    const [, b] = fx.nodes;
    const c = await connect(fx.path);
    await c.bind({ type: 3000, lower: 5, port: 1 });
    const sub = await c.subscribe(3000, 0, 100);
    const it = sub[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({
      kind: "published",
      found: { lower: 5, upper: 5 },
      socket: { port: 1 },
    });
    const remote = b?.publish({ type: 3000, lower: 7, port: 2 });
    expect((await it.next()).value).toMatchObject({
      kind: "published",
      socket: { node: b?.address, port: 2 },
      scope: "cluster",
    });
    if (remote) b?.withdraw(remote);
    expect((await it.next()).value).toMatchObject({ kind: "withdrawn", socket: { port: 2 } });
    await sub.cancel();
    expect((await it.next()).done).toBe(true);
    const timed = await c.subscribe(3000, 0, 100, { timeout: 50, initialEvents: false });
    const events = [];
    for await (const ev of timed) events.push(ev.kind);
    expect(events).toEqual(["timeout"]);
    await c.close();
  });

  it("answers bad input with clear errors and keeps running with its table intact", async () => {
    const c = await connect(fx.path);
    await c.bind({ type: 4000, lower: 1, upper: 9 });
    const before = await c.bindings();

    const { lines } = await raw(
      fx.path,
      [
        "{not json",
        "[1,2]",
        '{"id":1}',
        '{"id":2,"method":"fly"}',
        '{"id":3,"method":"bind","params":{"type":4001,"lower":9,"upper":1}}',
        '{"id":4,"method":"bind","params":{"type":4001,"lower":-1}}',
        '{"id":5,"method":"bind","params":{"type":"x","lower":1}}',
        '{"id":6,"method":"bind","params":{"type":4001,"lower":4294967296}}',
        '{"id":7,"method":"bind","params":{"type":4001,"lower":1.5}}',
        '{"id":8,"method":"bind","params":{"type":10,"lower":1}}',
        '{"id":9,"method":"bind","params":{"type":4000,"lower":1,"upper":9,"scope":"galaxy"}}',
        '{"id":10,"method":"lookup","params":{"type":4000,"lower":1,"mode":"psychic"}}',
        '{"id":11,"method":"bind","params":[]}',
        '{"id":12,"method":"unsubscribe","params":{"subscription":999}}',
        '{"id":13,"method":"hello"}',
        "",
      ].join("\n"),
      14,
    );
    const codes = lines.map((l) => (l as { error?: { code: string } }).error?.code ?? "ok");
    expect(codes).toEqual([
      "PARSE_ERROR",
      "INVALID_REQUEST",
      "INVALID_REQUEST",
      "UNKNOWN_METHOD",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
      "RESERVED_TYPE",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
      "INVALID_REQUEST",
      "NOT_FOUND",
      "ok",
    ]);
    expect((lines[4] as { error: { message: string } }).error.message).toBe(
      "lower (9) is greater than upper (1)",
    );
    expect((lines[3] as { id: number }).id).toBe(2);

    // a line over the limit: one error, the connection closed; the daemon goes on
    const long = await raw(fx.path, Buffer.alloc(MAX_LINE_BYTES + 10, 0x61), 1);
    expect(long.lines).toEqual([{ id: null, error: { code: "LINE_TOO_LONG", message: expect.any(String) } }]);
    expect(long.closed).toBe(true);
    // invalid UTF-8 and a NUL byte are a parse error, not a crash
    const bin = await raw(fx.path, Buffer.from([0xff, 0xfe, 0x00, 0x0a]), 1);
    expect(bin.lines).toEqual([{ id: null, error: { code: "PARSE_ERROR", message: expect.any(String) } }]);

    expect(await c.bindings()).toEqual(before);
    expect(fx.nodes[0]?.closed).toBe(false);
    await expect(
      c.bind({ type: 4000, lower: 1, upper: 9, port: before[1]?.port ?? 0 }),
    ).resolves.toBeDefined();
    await c.close();
  });

  it("gives typed client errors", async () => {
    await expect(connect(`${fx.path}.missing`)).rejects.toMatchObject({
      name: "ClientError",
      code: "CONNECT_FAILED",
    });
    const c = await connect(fx.path);
    const err = await c.bind({ type: 4000, lower: 2, upper: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ code: "BAD_ARGUMENT" });
    await c.close();
    await expect(c.stats()).rejects.toMatchObject({ code: "CONNECTION_CLOSED" });
  });

  it("refuses a second daemon on a live socket", async () => {
    const { startControlServer } = await import("./control.js");
    const { silent } = await import("./test-helpers.js");
    await expect(startControlServer(fx.nodes[1] as never, { path: fx.path, logger: silent })).rejects.toThrow(
      /in use/,
    );
  });

  it("removes only a stale socket: a regular file is refused and kept, an unmakeable directory is an error", async () => {
    const { startControlServer } = await import("./control.js");
    const { silent } = await import("./test-helpers.js");
    const dir = mkdtempSync(join(tmpdir(), "tipcd-path-"));
    const node = fx.nodes[1] as never;

    const file = join(dir, "precious.txt");
    writeFileSync(file, "keep me");
    await expect(startControlServer(node, { path: file, logger: silent })).rejects.toMatchObject({
      name: "ControlSocketError",
      code: "NOT_A_SOCKET",
    });
    expect(readFileSync(file, "utf8")).toBe("keep me");

    // a socket file nobody listens on is stale: replaced
    const stale = join(dir, "stale.sock");
    // a daemon killed with SIGKILL leaves its socket file behind
    spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(statSync(stale).isSocket()).toBe(true);
    const srv = await startControlServer(node, { path: stale, logger: silent });
    expect(statSync(stale).isSocket()).toBe(true);
    await srv.close();

    await expect(
      startControlServer(node, { path: "/proc/tipcd-no-such/dir/t.sock", logger: silent }),
    ).rejects.toMatchObject({ code: "SOCKET_DIR" });
    await expect(
      startControlServer(node, { path: join(file, "t.sock"), logger: silent }),
    ).rejects.toMatchObject({
      code: "SOCKET_DIR",
    });
    await expect(
      startControlServer(node, { path: join(dir, "x".repeat(120)), logger: silent }),
    ).rejects.toMatchObject({ code: "PATH_TOO_LONG" });
  });
});

describe("control socket bounds", () => {
  /** A second control server on the fixture's first node, with these limits. */
  async function limited(limits: Partial<ControlLimits>) {
    const path = join(mkdtempSync(join(tmpdir(), "tipcd-limits-")), "t.sock");
    const server = await startControlServer(fx.nodes[0] as TipcNode, { path, logger: silent, limits });
    return { path, server };
  }

  type Reply = { id: unknown; error?: { code: string }; result?: { bindings: unknown[] } };
  /** Request lines on one connection, read as they come; resolves with every reply line. */
  const burst = async (path: string, lines: string[], want: number) =>
    (await raw(path, `${lines.join("\n")}\n`, want)).lines as Reply[];

  it("refuses a connection past maxConnections with CONNECTION_LIMIT", async () => {
    const { path, server } = await limited({ maxConnections: 2 });
    const a = await connect(path);
    const b = await connect(path);
    await expect(connect(path)).rejects.toMatchObject({ name: "ClientError", code: "CONNECTION_LIMIT" });
    expect(server.stats().disconnects["connection-limit"]).toBe(1);
    await a.close();
    await waitFor(() => server.connections === 1, 3000, "a's connection released");
    const c = await connect(path);
    expect(c.info.nodeId).toBe("unit-1");
    await Promise.all([b.close(), c.close()]);
    await server.close();
  });

  it("refuses a subscription past maxSubscriptionsPerConnection with SUBSCRIPTION_LIMIT", async () => {
    const { path, server } = await limited({ maxSubscriptionsPerConnection: 3 });
    const a = await connect(path);
    for (let i = 0; i < 3; i++) await a.subscribe(6000 + i, 0, 10);
    await expect(a.subscribe(6100, 0, 10)).rejects.toMatchObject({ code: "SUBSCRIPTION_LIMIT" });
    // the limit is per connection: another client still subscribes
    const b = await connect(path);
    await expect(b.subscribe(6100, 0, 10)).resolves.toBeDefined();
    await Promise.all([a.close(), b.close()]);
    await server.close();
  });

  it("handles pipelined bursts one batch per event-loop turn, shared by all connections, and answers every request", async () => {
    const { path, server } = await limited({});
    const samples: number[] = [];
    let sampling = true;
    const sample = () => {
      samples.push(server.stats().requests);
      if (sampling) setImmediate(sample);
    };
    sample();
    const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ id: i, method: "bindings" }));
    // three clients at once: the turn's budget is for all of them together
    const all = await Promise.all([1, 2, 3].map(() => burst(path, lines, 1000)));
    sampling = false;
    for (const replies of all) {
      expect(replies.map((r) => r.id)).toEqual(lines.map((_, i) => i));
      expect(replies.every((r) => r.error === undefined)).toBe(true);
    }
    // between two turns of the event loop the server handled at most one batch
    const steps = samples.slice(1).map((v, i) => v - (samples[i] as number));
    expect(Math.max(...steps)).toBeLessThanOrEqual(CONTROL_LIMITS.requestBatch);
    expect(samples.at(-1)).toBe(3000);
    await server.close();
  });

  it("does not cut off a client that reads: replies wait for it instead", async () => {
    const node = fx.nodes[0] as TipcNode;
    const own = Array.from({ length: 2000 }, (_, i) => node.publish({ type: 8000, lower: i, upper: i }));
    const { path, server } = await limited({});
    // 100 replies of ~200 KB each: far more than the old 16 MiB "slow client" bound at once
    const lines = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ id: i, method: "bindings", params: { type: 8000 } }),
    );
    const replies = await burst(path, lines, 100);
    expect(replies).toHaveLength(100);
    expect(
      replies.every((r) => (r as { result?: { bindings: unknown[] } }).result?.bindings.length === 2000),
    ).toBe(true);
    expect(server.stats().disconnects["slow-client"]).toBe(0);
    for (const b of own) node.withdraw(b);
    await server.close();
  });

  it("keeps a subscriber that reads through a flood of events past maxQueuedEvents", async () => {
    const node = fx.nodes[0] as TipcNode;
    const { path, server } = await limited({ outputHighWater: 16 * 1024, maxQueuedEvents: 100 });
    const c = await connect(path);
    const sub = await c.subscribe(8200, 0, 100000, { initialEvents: false });
    const own = Array.from({ length: 6000 }, (_, i) => node.publish({ type: 8200, lower: i, upper: i }));
    let seen = 0;
    for await (const ev of sub) {
      expect(ev.kind).toBe("published");
      if (++seen === own.length) break;
    }
    expect(server.stats().disconnects).toMatchObject({ "slow-client": 0, "queued-events": 0 });
    expect(c.closed).toBe(false);
    for (const b of own) node.withdraw(b);
    await c.close();
    await server.close();
  }, 30_000);

  it("bounds the events queued for all connections: silent ones go, most first, a reader stays", async () => {
    const node = fx.nodes[0] as TipcNode;
    // each silent connection stays under maxQueuedEvents; together they pass maxQueuedEventsTotal
    const { path, server } = await limited({
      outputHighWater: 16 * 1024,
      maxQueuedEvents: 100_000,
      maxQueuedEventsTotal: 2000,
    });
    const subsBefore = node.stats().subscriptions;
    const silent = [0, 1, 2].map((k) => {
      const s = netConnect({ path });
      s.on("error", () => {});
      // the first connection takes three subscriptions (three events per binding), the others one
      for (let j = 0; j < (k === 0 ? 3 : 1); j++)
        s.write(
          `${JSON.stringify({ id: j, method: "subscribe", params: { type: 8300, lower: 0, upper: 100000 } })}\n`,
        );
      s.pause();
      return s;
    });
    await waitFor(() => node.stats().subscriptions === subsBefore + 5, 3000, "subscribed");
    const reader = await connect(path);
    const sub = await reader.subscribe(8300, 0, 100000, { initialEvents: false });
    const own = Array.from({ length: 2000 }, (_, i) => node.publish({ type: 8300, lower: i, upper: i }));
    let seen = 0;
    for await (const ev of sub) {
      expect(ev.kind).toBe("published");
      if (++seen === own.length) break;
    }
    // up to 10,000 events queued in all (6,000 + 2,000 + 2,000, less what the socket buffers took):
    // past 2,000 the connection holding most (three subscriptions) goes first
    await waitFor(
      () => server.stats().disconnects["queued-events"] >= 1,
      10_000,
      "a queued-events disconnect",
    );
    await waitFor(() => node.stats().subscriptions <= subsBefore + 3, 3000, "the largest silent one gone");
    expect(reader.closed).toBe(false);
    for (const s of silent) s.destroy();
    for (const b of own) node.withdraw(b);
    await reader.close();
    await server.close();
  }, 30_000);

  it("disconnects a subscriber that reads nothing for slowClientMs, or leaves maxQueuedEvents unread", async () => {
    const node = fx.nodes[0] as TipcNode;
    for (const [limits, cause] of [
      [{ outputHighWater: 16 * 1024, slowClientMs: 200 }, "slow-client"],
      [{ outputHighWater: 16 * 1024, maxQueuedEvents: 500 }, "queued-events"],
    ] as const) {
      const { path, server } = await limited(limits);
      const subsBefore = node.stats().subscriptions;
      const s = netConnect({ path });
      s.on("error", () => {});
      s.write(
        `${JSON.stringify({ id: 1, method: "subscribe", params: { type: 8100, lower: 0, upper: 100000 } })}\n`,
      );
      s.pause(); // a silent subscriber: never reads
      await waitFor(() => node.stats().subscriptions === subsBefore + 1, 3000, "subscribed");
      const own = Array.from({ length: 6000 }, (_, i) => node.publish({ type: 8100, lower: i, upper: i }));
      // the client reads nothing, so it sees no close: the server's count and connections tell
      await waitFor(() => server.connections === 0, 10_000, `${cause} disconnect`);
      expect(server.stats().disconnects).toMatchObject({
        [cause]: 1,
        "slow-client": cause === "slow-client" ? 1 : 0,
      });
      s.destroy();
      await waitFor(() => node.stats().subscriptions === subsBefore, 3000, "subscription released");
      for (const b of own) node.withdraw(b);
      await server.close();
    }
  }, 30_000);
});
