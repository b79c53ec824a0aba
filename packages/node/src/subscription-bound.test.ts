// biome-ignore-all lint/style/noNonNullAssertion: the members are started before use
import { describe, expect, it } from "vitest";
import { Cluster } from "./__helpers__/cluster.js";
import { isNodeError } from "./errors.js";
import type { SubscriptionEvent } from "./types.js";

describe("subscription events are bounded (maxQueuedEvents)", () => {
  it("silent subscribers under churn: the queued events never pass the bound; the furthest behind ends with OVERFLOW", async () => {
    const c = await Cluster.start({ size: 1, seed: 31, node: { maxQueuedEvents: 1000 } });
    const a = c.get(0);
    const silent = Array.from({ length: 5 }, () =>
      a.subscribe({ type: 5000, lower: 0, upper: 0xffffffff, mode: "ports" }),
    );
    // one subscriber that reads everything keeps its subscription
    const reader = a.subscribe({ type: 5000, lower: 0, upper: 0xffffffff, mode: "ports" });
    let read = 0;
    const reading = (async () => {
      for await (const _ of reader) read++;
    })();
    let peak = 0;
    for (let i = 0; i < 2000; i++) {
      const b = a.publish({ type: 5000, lower: i, upper: i });
      a.withdraw(b);
      peak = Math.max(peak, a.stats().subscriptionEvents.queued);
      if (i % 50 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    await new Promise<void>((r) => setImmediate(r));
    const s = a.stats();
    expect(peak).toBeLessThanOrEqual(1000);
    expect(s.subscriptionEvents.peak).toBeLessThanOrEqual(1000);
    expect(s.subscriptionEvents.limit).toBe(1000);
    // every silent subscriber was ended: 4,000 events each, far past 1,000 for all of them
    expect(s.subscriptionEvents.overflows).toBe(5);
    for (const sub of silent) {
      expect(sub.active).toBe(false);
      expect(sub.queued).toBe(0);
      expect(sub.error?.code).toBe("OVERFLOW");
      const it = sub[Symbol.asyncIterator]();
      const err = await it.next().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isNodeError(err) && err.code).toBe("OVERFLOW");
    }
    expect(reader.active).toBe(true);
    expect(read).toBe(4000);
    expect(s.subscriptions).toBe(1);
    reader.cancel();
    await reading;
    expect(a.stats().subscriptionEvents.queued).toBe(0);
  });

  it("a reader within the bound loses nothing, and what it read frees room", async () => {
    const c = await Cluster.start({ size: 1, seed: 32, node: { maxQueuedEvents: 100 } });
    const a = c.get(0);
    const sub = a.subscribe({ type: 5001, lower: 0, upper: 1000, mode: "ports" });
    const got: SubscriptionEvent[] = [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 90; i++) a.publish({ type: 5001, lower: round * 90 + i });
      expect(a.stats().subscriptionEvents.queued).toBe(90);
      got.push(...sub.drain());
    }
    expect(got).toHaveLength(900);
    expect(sub.active).toBe(true);
    expect(a.stats().subscriptionEvents.overflows).toBe(0);
  });

  it("rejects a bad maxQueuedEvents", async () => {
    await expect(Cluster.start({ size: 1, node: { maxQueuedEvents: 0 } })).rejects.toThrow(/maxQueuedEvents/);
  });
});

describe("operator calls", () => {
  it("link counters per link and for the broadcast link, reset to 0; properties; peers need a replicast transport", async () => {
    const c = await Cluster.start({ size: 2, seed: 33, node: { window: 64 } });
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    const a = c.get(0);
    for (let i = 0; i < 5; i++) a.publish({ type: 5100, lower: i });
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const counters = a.linkCounters();
    expect(counters[0]?.name).toBe("broadcast-link");
    const uni = counters[1];
    expect(uni?.txPackets).toBeGreaterThan(0);
    a.resetLinkStats(uni?.name);
    expect(a.linkCounters()[1]).toMatchObject({ name: uni?.name, txPackets: 0, rxPackets: 0 });
    expect(() => a.resetLinkStats("nope")).toThrow(/no link "nope"/);
    expect(a.linkProperties()).toEqual({ tolerance: 1500, window: 64, priority: { udp0: 10 } });
    // the memory fabric broadcasts: no replicast peers to add
    expect(() => a.addPeer("udp0", { family: "ipv4", address: "127.0.0.1", port: 1 })).toThrow(
      /not a replicast bearer/,
    );
    expect(() => a.addPeer("nope", { family: "ipv4", address: "127.0.0.1", port: 1 })).toThrow(/no bearer/);
    expect(a.removePeer({ family: "ipv4", address: "127.0.0.1", port: 1 })).toEqual([]);
    await expect(Cluster.start({ size: 1, node: { window: 8 } })).rejects.toThrow(/window/);
  });

  it("link set: a tolerance reaches the peer's link, a window applies to the link; bad input is BAD_ARGUMENT", async () => {
    const c = await Cluster.start({ size: 2, seed: 34 });
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    const [a, b] = [c.get(0), c.get(1)];
    const name = a.links()[0]?.name as string;
    a.setLinkProperties(name, { tolerance: 5000, window: 100 });
    expect(a.links()[0]).toMatchObject({ tolerance: 5000, window: 100 });
    expect(c.runUntil(() => b.links()[0]?.tolerance === 5000, 100)).toBeGreaterThanOrEqual(0);
    a.setLinkProperties("broadcast-link", { window: 200 });
    for (const [n, p, msg] of [
      ["nope", { window: 100 }, /no link "nope" \(links: broadcast-link, /],
      [name, { tolerance: 10 }, /tolerance 10 is outside 50\.\.30000/],
      [name, { window: 9000 }, /window 9000 is outside 16\.\.8191/],
      ["broadcast-link", { tolerance: 2000 }, /broadcast link has no tolerance/],
    ] as const)
      expect(() => a.setLinkProperties(n, p)).toThrow(
        expect.objectContaining({ code: "BAD_ARGUMENT", message: expect.stringMatching(msg) }),
      );
  });
});
