// biome-ignore-all lint/style/noNonNullAssertion: test members are started before use
import { describe, expect, it } from "vitest";
import { Cluster, key } from "./__helpers__/cluster.js";
import type { SubscriptionEvent } from "./types.js";

const TOLERANCE = 1500;
/**
 * The kernel's supervision (and @tipcjs/link's) runs every min(tolerance / 4, 500) ms and declares
 * a silent link down when more than tolerance / interval intervals passed without a word: a peer
 * that goes silent just after a tick is noticed after the tolerance plus up to two intervals.
 */
const DETECTION_BOUND = TOLERANCE + 2 * Math.min(TOLERANCE / 4, 500);

function publishSome(c: Cluster, perNode = 10): void {
  for (const m of c.live()) {
    for (let i = 0; i < perNode; i++)
      m.node.publish({ type: 1000 + m.index, lower: i * 10, upper: i * 10 + 9 });
    m.node.publish({ type: 2000, lower: 1, upper: 1, scope: "node" });
  }
}

async function upCluster(o: Parameters<typeof Cluster.start>[0]): Promise<Cluster> {
  const c = await Cluster.start(o);
  expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
  // and every bulk acknowledged: until then updates go by replicast, behind the bulks
  expect(c.runUntil(() => c.bulksAcked(), 2000)).toBeGreaterThanOrEqual(0);
  return c;
}

describe("convergence", () => {
  it("five broadcast-capable nodes: every table equals the truth, updates go on the broadcast link", async () => {
    const c = await upCluster({ size: 5, seed: 1 });
    publishSome(c);
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    // withdraw half of node 2's bindings: the others follow
    const n2 = c.get(2);
    for (const b of n2.ownBindings().filter((b) => b.type === 1002 && b.lower % 20 === 0)) {
      expect(n2.withdraw(b)).toBe(true);
    }
    expect(n2.withdraw({ type: 1002, lower: 0, upper: 9, key: 1 })).toBe(false);
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    expect(c.get(0).lookupInstance(1002, 5)).toEqual([]);
    expect(c.get(0).lookupInstance(1002, 15)).toHaveLength(1);
    for (const m of c.live()) {
      const s = m.node.stats();
      expect(s.updates.method).toBe("broadcast");
      expect(s.updates.replicast).toBe(0);
      expect(s.updates.broadcast).toBe(s.updates.total);
      expect(s.nodes.up).toBe(4);
      expect(s.links.up).toBe(4);
    }
  });

  it("a legacy node mixed in: the method switches to replicast and back, tables converge each time", async () => {
    const c = await upCluster({ size: 6, seed: 2, legacy: [5] });
    publishSome(c, 5);
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const n0 = c.get(0);
    expect(n0.stats().updates.method).toBe("replicast");
    expect(c.get(5).stats().updates.method).toBe("replicast");

    // the legacy node leaves: the others go back to the broadcast link
    await c.settle(c.get(5).close());
    expect(
      c.runUntil(() => c.converged() && n0.stats().updates.method === "broadcast", 2000),
    ).toBeGreaterThanOrEqual(0);
    n0.publish({ type: 3000, lower: 1, upper: 2 });
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const before = n0.stats().updates;

    // it comes back: replicast again, and its bulk brings it up to date
    const back = await c.startMember(5);
    expect(c.runUntil(() => c.allUp() && c.converged(), 5000)).toBeGreaterThanOrEqual(0);
    expect(n0.stats().updates.method).toBe("replicast");
    back.node.publish({ type: 3001, lower: 7 });
    n0.publish({ type: 3000, lower: 3, upper: 4 });
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const after = n0.stats().updates;
    expect(after.methodSwitches).toBeGreaterThanOrEqual(before.methodSwitches + 1);
    expect(after.methodSwitches).toBeGreaterThanOrEqual(2);
    expect(after.replicast).toBeGreaterThan(before.replicast);
  });

  it("converges on a lossy, jittery, duplicating fabric", async () => {
    const c = await Cluster.start({
      size: 5,
      seed: 3,
      faults: { loss: 0.05, jitter: 8, duplicate: 0.02, reorder: 0.05, reorderDelay: 5, delay: 1 },
      legacy: [4],
    });
    expect(c.runUntil(() => c.allUp(), 10_000)).toBeGreaterThanOrEqual(0);
    publishSome(c, 20);
    // churn while the updates are in flight
    for (const b of c
      .get(1)
      .ownBindings()
      .filter((b) => b.type === 1001 && b.lower < 50))
      c.get(1).withdraw(b);
    expect(c.runUntil(() => c.converged(), 10_000)).toBeGreaterThanOrEqual(0);
    const retrans = c
      .live()
      .reduce(
        (n, m) => n + m.node.stats().retransmissions.unicast + m.node.stats().retransmissions.broadcast,
        0,
      );
    expect(retrans).toBeGreaterThan(0);
  });
});

describe("node loss and rejoin", () => {
  it("a partitioned node's bindings are purged on the others within the tolerance", async () => {
    const c = await upCluster({ size: 5, seed: 4 });
    publishSome(c, 5);
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const lost = c.members[3]!;
    const rest = c.live().filter((m) => m !== lost);
    const lostAddr = lost.node.address;
    const p = c.fabric.partition(
      [lost.transport.localAddress],
      rest.map((m) => m.transport.localAddress),
    );
    const purged = () => rest.every((m) => m.node.bindings().every((b) => b.node !== lostAddr));
    const t = c.runUntil(purged, 3 * TOLERANCE, 10);
    expect(t).toBeGreaterThan(0);
    expect(t).toBeGreaterThanOrEqual(TOLERANCE);
    expect(t).toBeLessThanOrEqual(DETECTION_BOUND);
    expect(c.converged(rest)).toBe(true);

    // heal: the node rejoins and re-syncs both ways
    p.heal();
    lost.node.publish({ type: 4000, lower: 1 });
    expect(c.runUntil(() => c.allUp() && c.converged(), 10_000)).toBeGreaterThanOrEqual(0);
    expect(c.get(0).lookupAnycast(4000, 1)?.node).toBe(lostAddr);
  });

  it("an abrupt stop (transport gone, no goodbye) is detected within the tolerance", async () => {
    const c = await upCluster({ size: 5, seed: 5 });
    publishSome(c, 3);
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const lost = c.members[1]!;
    const lostAddr = lost.node.address;
    await lost.transport.close();
    const rest = c.live().filter((m) => m !== lost);
    const t = c.runUntil(
      () => rest.every((m) => m.node.bindings().every((b) => b.node !== lostAddr)),
      3 * TOLERANCE,
      10,
    );
    expect(t).toBeGreaterThanOrEqual(TOLERANCE);
    expect(t).toBeLessThanOrEqual(DETECTION_BOUND);
    expect(lost.node.stats().drops.transport.closed ?? 0).toBeGreaterThan(0);
  });

  it("a graceful close shows its withdrawals on every peer at once, and a restart re-syncs", async () => {
    const c = await upCluster({ size: 5, seed: 6 });
    publishSome(c, 5);
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const leaving = c.members[2]!;
    const addr = leaving.node.address;
    const rest = c.live().filter((m) => m !== leaving);
    const watch = rest[0]!.node.subscribe({ type: 1002, lower: 0, upper: 0xffffffff, mode: "ports" });
    expect(watch.drain()).toHaveLength(5);
    const downs: string[] = [];
    rest[0]!.node.on("linkDown", (e) => downs.push(e.reason));
    const closing = leaving.node.close();
    // the withdrawals reach every peer after one fabric delay, long before any supervision could notice
    const t = c.runUntil(
      () => rest.every((m) => m.node.bindings().every((b) => b.node !== addr)),
      3 * TOLERANCE,
      1,
    );
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThanOrEqual(5);
    expect(rest.every((m) => m.node.stats().nodes.up === 4)).toBe(true); // by withdrawal, not by purge
    await c.settle(closing);
    c.clock.advance(10);
    const withdrawn = watch.drain();
    expect(withdrawn.map((e) => e.kind)).toEqual(Array(5).fill("withdrawn"));
    expect(downs).toEqual(["peer-stopping"]);
    expect(leaving.node.closed).toBe(true);
    expect(() => leaving.node.publish({ type: 1000, lower: 1 })).toThrow(
      expect.objectContaining({ code: "CLOSED" }),
    );
    expect(c.converged(rest)).toBe(true);

    // restart with the same identity: it gets everyone's bindings and they get its new ones
    const again = await c.startMember(2);
    expect(again.node.address).toBe(addr);
    again.node.publish({ type: 1002, lower: 500 });
    expect(c.runUntil(() => c.allUp() && c.converged(), 10_000)).toBeGreaterThanOrEqual(0);
    expect(watch.drain().map((e) => e.kind)).toEqual(["published"]);
  });
});

describe("fast restart", () => {
  it("a node killed and restarted within the tolerance: peers drop the old instance's bindings and take the new ones", async () => {
    const c = await upCluster({ size: 5, seed: 18 });
    publishSome(c, 5);
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const old = c.members[3]!;
    const addr = old.node.address;
    await old.transport.close(); // SIGKILL: not a word to anyone
    c.clock.advance(200);
    const again = await c.startMember(3);
    expect(again.node.address).toBe(addr);
    again.node.publish({ type: 1003, lower: 777 }); // the new instance has only this one
    const t = c.runUntil(
      () => c.allUp(c.live().filter((m) => m !== old)) && c.converged(c.live().filter((m) => m !== old)),
      10_000,
    );
    expect(t).toBeGreaterThanOrEqual(0);
    for (const m of c.live().filter((m) => m !== old && m !== again)) {
      expect(
        m.node
          .bindings()
          .filter((b) => b.node === addr)
          .map((b) => b.lower)
          .sort(),
      ).toEqual([addr, 777].sort());
    }
    await c.settle(old.node.close(), 5000);
  });
});

describe("update count on the wire", () => {
  it("one broadcast datagram per update when every node can take it and the fabric broadcasts", async () => {
    const c = await upCluster({ size: 5, seed: 7 });
    c.clock.advance(100);
    const pub = c.live()[0]!;
    const n = c.countUpdates(pub, () => {
      const b = pub.node.publish({ type: 5000, lower: 1 });
      c.clock.advance(20);
      pub.node.withdraw(b);
    });
    // two updates, each one datagram on the wire, each reaching all four peers
    expect(n).toEqual({ broadcast: 2, unicast: 0, delivered: 8 });
    expect(c.converged()).toBe(true);
  });

  it("N-1 unicast datagrams per update with a legacy node present", async () => {
    const c = await upCluster({ size: 5, seed: 8, legacy: [3] });
    c.clock.advance(100);
    const pub = c.live()[0]!;
    const n = c.countUpdates(pub, () => {
      pub.node.publish({ type: 5000, lower: 1 });
    });
    expect(n).toEqual({ broadcast: 0, unicast: 4, delivered: 4 });
    expect(c.converged()).toBe(true);
  });
});

describe("subscriptions, lookups and errors", () => {
  it("subscriptions report published, withdrawn and timeout events, as an async iterable", async () => {
    const c = await upCluster({ size: 2, seed: 9 });
    const [a, b] = [c.get(0), c.get(1)];
    a.publish({ type: 7000, lower: 1, upper: 5, port: 77 });
    c.runUntil(() => c.converged(), 1000);
    const sub = b.subscribe({ type: 7000, lower: 0, upper: 100, mode: "ports", timeout: 500 });
    const got: SubscriptionEvent[] = [];
    const reader = (async () => {
      for await (const ev of sub) got.push(ev);
    })();
    const x = a.publish({ type: 7000, lower: 50, upper: 60 });
    c.clock.advance(20);
    a.withdraw(x);
    c.clock.advance(600);
    await reader;
    expect(got.map((e) => e.kind)).toEqual(["published", "published", "withdrawn", "timeout"]);
    expect(got[0]!.kind === "published" && got[0]!.socket).toEqual({ node: a.address, port: 77 });
    expect(sub.active).toBe(false);

    const svc = b.subscribe({ type: 7000, lower: 0, upper: 10, mode: "service", initialEvents: false });
    a.publish({ type: 7000, lower: 1, upper: 5, port: 78 }); // same range, second binding: no service event
    c.clock.advance(20);
    expect(svc.drain()).toEqual([]);
    svc.cancel();
    expect(b.stats().subscriptions).toBe(0);
  });

  it("every lookup mode of the name table", async () => {
    const c = await upCluster({ size: 3, seed: 10 });
    const [a, b, d] = [c.get(0), c.get(1), c.get(2)];
    a.publish({ type: 100, lower: 0, upper: 9, port: 1 });
    b.publish({ type: 100, lower: 0, upper: 9, port: 2 });
    b.publish({ type: 100, lower: 20, upper: 29, port: 3, scope: "node" });
    c.runUntil(() => c.converged(), 1000);
    const picks = new Set([d.lookupAnycast(100, 5)?.port, d.lookupAnycast(100, 5)?.port]);
    expect(picks).toEqual(new Set([1, 2]));
    expect(b.lookupClosestFirst(100, 5)).toEqual({ node: b.address, port: 2 });
    expect(d.lookupOnNode(100, 5, a.address)).toEqual({ node: a.address, port: 1 });
    expect(d.lookupInstance(100, 5).map((x) => x.port)).toEqual([1, 2]);
    expect(d.lookupAnycast(100, 25)).toBeUndefined();
    expect(b.lookupAnycast(100, 25)).toEqual({ node: b.address, port: 3 });
    expect(
      b
        .lookupMulticast(100, 0, 30)
        .map((s) => s.port)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(b.lookupMulticast(100, 0, 30, { scope: "node" }).map((s) => s.port)).toEqual([3]);
    expect(d.lookupMulticastNodes(100, 0, 30)).toEqual([a.address, b.address].sort((x, y) => x - y));
    expect(d.bindings().filter((x) => x.type === 100)).toHaveLength(2);
  });

  it("bad input gets a typed error and changes nothing", async () => {
    const c = await upCluster({ size: 2, seed: 11 });
    const a = c.get(0);
    const before = a.bindings().map(key);
    const bad: [unknown, string][] = [
      [{ type: 1000, lower: 5, upper: 4 }, "BAD_ARGUMENT"],
      [{ type: -1, lower: 1 }, "BAD_ARGUMENT"],
      [{ type: 1000, lower: 1.5 }, "BAD_ARGUMENT"],
      [{ type: 1000, lower: 2 ** 32 }, "BAD_ARGUMENT"],
      [{ type: 1000, lower: 1, scope: "world" }, "BAD_ARGUMENT"],
      [{ type: 1, lower: 1 }, "RESERVED_TYPE"],
      [null, "BAD_ARGUMENT"],
    ];
    for (const [req, code] of bad) {
      expect(() => a.publish(req as never)).toThrow(expect.objectContaining({ name: "NodeError", code }));
    }
    a.publish({ type: 1000, lower: 1, key: 9 });
    expect(() => a.publish({ type: 1000, lower: 1, key: 9 })).toThrow(
      expect.objectContaining({ code: "DUPLICATE" }),
    );
    expect(() => a.subscribe({ type: 1, lower: 2, upper: 1, mode: "ports" })).toThrow(
      expect.objectContaining({ code: "BAD_ARGUMENT" }),
    );
    expect(() => a.subscribe({ type: 1, lower: 0, upper: 1, mode: "x" as never })).toThrow(
      expect.objectContaining({ code: "BAD_ARGUMENT" }),
    );
    expect(() => a.lookupAnycast(-5, 0)).toThrow(expect.objectContaining({ code: "BAD_ARGUMENT" }));
    expect(() => a.withdraw({ type: 1000, lower: 1, upper: 0, key: 9 })).toThrow(
      expect.objectContaining({ code: "BAD_ARGUMENT" }),
    );
    expect(a.bindings().map(key).sort()).toEqual(
      [
        ...before,
        key({
          type: 1000,
          lower: 1,
          upper: 1,
          node: a.address,
          port: a.ownBindings().at(-1)!.port,
          key: 9,
          scope: "cluster",
        }),
      ].sort(),
    );
    // garbage from the network is a counted drop
    const t = c.members[1]!.transport;
    t.send(c.members[0]!.transport.localAddress, new Uint8Array([1, 2, 3]));
    t.send(c.members[0]!.transport.localAddress, new Uint8Array(200).fill(0xff));
    c.clock.advance(10);
    const drops = Object.values(a.stats().drops.link).reduce((x, y) => x + y, 0);
    expect(drops).toBeGreaterThanOrEqual(2);
    expect(c.converged()).toBe(true);
  });

  it("createNode rejects bad options with BAD_OPTIONS", async () => {
    const c = await Cluster.start({ size: 1, seed: 12 });
    const transport = c.fabric.join();
    const cases: unknown[] = [
      { nodeId: "", transport },
      { nodeId: "x".repeat(40), transport },
      { nodeId: new Uint8Array(17), transport },
      { nodeId: "a", transport: {} },
      { nodeId: "a", transport, tolerance: 10 },
      { nodeId: "a", transport, bearerName: "x".repeat(16) },
      { nodeId: "a", transport, netId: -1 },
      null,
    ];
    const { createNode } = await import("./node.js");
    for (const o of cases) {
      await expect(createNode(o as never)).rejects.toMatchObject({ name: "NodeError", code: "BAD_OPTIONS" });
    }
  });

  it("events: nodeUp, linkUp, bindingChange, nodeDown, linkDown; a throwing handler does not break the node", async () => {
    const c = await Cluster.start({ size: 1, seed: 13 });
    const a = c.get(0);
    const seen: string[] = [];
    a.on("nodeUp", (e) => seen.push(`nodeUp ${e.nodeId}`));
    a.on("linkUp", () => seen.push("linkUp"));
    a.on("nodeDown", () => seen.push("nodeDown"));
    a.on("linkDown", (e) => seen.push(`linkDown ${e.reason}`));
    a.on("bindingChange", (e) => {
      if (e.binding.type === 1001) seen.push(`${e.kind} ${e.origin.source}`);
    });
    a.on("bindingChange", () => {
      throw new Error("handler bug");
    });
    const b = await c.startMember(1);
    b.node.publish({ type: 1001, lower: 1 });
    c.runUntil(() => c.allUp() && c.converged(), 3000);
    await c.settle(b.node.close());
    c.clock.advance(50);
    expect(seen).toEqual([
      "linkUp",
      "nodeUp node1",
      "bound peer",
      "unbound peer",
      "linkDown peer-stopping",
      "nodeDown",
    ]);
  });
});

describe("driving with time", () => {
  it("createNode resolves after the 1 s address trial when the clock runs", async () => {
    const c = await Cluster.start({ size: 0, seed: 14 });
    const { createNode } = await import("./node.js");
    let resolved = false;
    const p = createNode({
      nodeId: "trial",
      transport: c.fabric.join(),
      clock: c.clock,
      random: () => 0.5,
    }).then((n) => {
      resolved = true;
      return n;
    });
    c.clock.advance(500);
    await Promise.resolve();
    expect(resolved).toBe(false);
    const node = await c.settle(p, 3000);
    expect(resolved).toBe(true);
    expect(c.clock.now()).toBeGreaterThanOrEqual(1000);
    expect(node.address).not.toBe(0);
    await c.settle(node.close());
  });

  it("an idle cluster runs a bounded number of timer events (one timer per node, no spinning)", async () => {
    const c = await upCluster({ size: 5, seed: 15 });
    publishSome(c, 2);
    c.clock.advance(1000);
    expect(c.clock.pending).toBeLessThanOrEqual(5 * 2);
    const events = c.clock.advance(10_000);
    // supervision ticks, probes and their replies, discovery: a few dozen per node per second at most
    expect(events / 5 / 10).toBeLessThan(40);
    expect(c.converged()).toBe(true);
  });

  it("a graceful close on a lossy link still gets every withdrawal through before the RESET", async () => {
    const c = await upCluster({ size: 5, seed: 16, node: { closeTimeout: 10_000 } });
    publishSome(c, 10);
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const leaving = c.members[4]!;
    const addr = leaving.node.address;
    const rest = c.live().filter((m) => m !== leaving);
    const origins: string[] = [];
    for (const m of rest) {
      m.node.on("bindingChange", (e) => {
        if (e.binding.node === addr && e.kind === "unbound") origins.push(e.origin.source);
      });
    }
    c.fabric.setLinkFaults(leaving.transport.localAddress, { loss: 0.15 });
    await c.settle(leaving.node.close(), 20_000);
    // close resolved after every peer acknowledged: they all hold nothing of it
    expect(rest.every((m) => m.node.bindings().every((b) => b.node !== addr))).toBe(true);
    c.clock.advance(3 * TOLERANCE);
    // 11 cluster bindings (10 + the node-state binding; node scope stays home) on each of 4 peers
    expect(origins.length).toBe(4 * 11);
    expect(new Set(origins)).toEqual(new Set(["peer"]));
    expect(
      leaving.node.stats().retransmissions.broadcast + leaving.node.stats().retransmissions.unicast,
    ).toBeGreaterThan(0);
  });

  it("handlers can be removed; events stop", async () => {
    const c = await upCluster({ size: 2, seed: 17 });
    let n = 0;
    const off = c.get(1).on("bindingChange", () => n++);
    c.get(0).publish({ type: 900, lower: 1 });
    c.clock.advance(20);
    off();
    c.get(0).publish({ type: 900, lower: 2 });
    c.clock.advance(20);
    expect(n).toBe(1);
  });
});
