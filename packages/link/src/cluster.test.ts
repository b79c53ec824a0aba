import { describe, expect, it } from "vitest";
import { runTraffic, Sim } from "./__helpers__/sim.js";

// The unit suite runs a few thousand messages per case; bench/soak.ts runs a million per run.
describe("16-node cluster over a lossy, duplicating, reordering network", () => {
  for (const canBroadcast of [true, false]) {
    it(`discovers every peer and brings every link up (${canBroadcast ? "broadcast" : "replicast"} bearer)`, () => {
      const sim = new Sim({ nodes: 16, seed: 3, canBroadcast });
      sim.start();
      sim.run(10_000, () => sim.allUp());
      expect(sim.allUp()).toBe(true);
      expect(sim.now).toBeLessThan(2000);
      for (const e of sim.engines) expect(e.stats().linkDowns).toBe(0);
    });
  }

  const cases = [
    { loss: 0, duplicate: 0, jitter: 0, tolerance: 1500 },
    { loss: 0.05, duplicate: 0.05, jitter: 5, tolerance: 1500 },
    { loss: 0.15, duplicate: 0.1, jitter: 10, tolerance: 5000 },
    { loss: 0.3, duplicate: 0.1, jitter: 10, tolerance: 10000 },
  ];
  for (const c of cases) {
    for (const canBroadcast of [true, false]) {
      it(`delivers unicast and broadcast exactly once, in order: loss ${c.loss * 100}%, dup ${c.duplicate * 100}%, jitter ${c.jitter} ms, ${canBroadcast ? "broadcast" : "replicast"}`, () => {
        const sim = new Sim({ nodes: 16, seed: 11, canBroadcast, ...c, engine: { tolerance: c.tolerance } });
        sim.start();
        sim.run(60_000, () => sim.allUp());
        expect(sim.allUp()).toBe(true);
        const r = runTraffic(sim, { total: 3000, broadcastEvery: 5, seed: 5 });
        expect(r.errors).toEqual([]);
        expect(r.missing).toBe(0);
        expect(r.linkDowns).toBe(0);
        expect(r.deliveredBroadcast).toBe(r.sentBroadcast * 15);
        // every broadcast packet released once every peer acked it
        sim.run(5000);
        for (const e of sim.engines) expect(e.stats().broadcastTransmitQueue).toBe(0);
      });
    }
  }

  it("fragments messages over the MTU and reassembles them, under loss", () => {
    const sim = new Sim({ nodes: 4, seed: 2, loss: 0.1, jitter: 3 });
    sim.start();
    sim.run(10_000, () => sim.allUp());
    // 200 items = 4040 bytes: 3 fragments at MTU 1400
    const r = runTraffic(sim, { total: 200, items: 200, broadcastEvery: 3 });
    expect(r.errors).toEqual([]);
    expect(r.missing).toBe(0);
    const st = sim.engines.map((e) => e.stats());
    expect(st.reduce((a, s) => a + s.fragmentsSent, 0)).toBeGreaterThan(400);
    expect(st.reduce((a, s) => a + s.reassembled, 0)).toBe(r.deliveredUnicast + r.deliveredBroadcast);
  });

  it("bundles small messages when the window is full, and unbundles them in order", () => {
    const sim = new Sim({ nodes: 3, seed: 4, engine: { window: 4, broadcastWindow: 4 } });
    sim.start();
    sim.run(10_000, () => sim.allUp());
    const r = runTraffic(sim, { total: 3000, stepMs: 0.01, broadcastEvery: 4 });
    expect(r.errors).toEqual([]);
    expect(r.missing).toBe(0);
    const st = sim.engines.map((e) => e.stats());
    expect(st.reduce((a, s) => a + s.bundlesSent, 0)).toBeGreaterThan(10);
    expect(st.reduce((a, s) => a + s.bundledMessages, 0)).toBeGreaterThan(500);
  });
});

describe("16 nodes over @tipcjs/transport-memory (virtual clock)", () => {
  it("exactly once, in order, with 30% loss, duplication, reordering and jitter", async () => {
    const { MemoryCluster } = await import("./__helpers__/memory-cluster.js");
    const c = new MemoryCluster({
      nodes: 16,
      seed: 21,
      faults: { loss: 0.3, duplicate: 0.05, reorder: 0.1, reorderDelay: 5, delay: 1, jitter: 3 },
      engine: { tolerance: 10_000 },
    });
    c.start();
    c.run(60_000, () => c.allUp());
    expect(c.allUp()).toBe(true);
    const r = runTraffic(c, { total: 2000, broadcastEvery: 5, seed: 9 });
    expect(r.errors).toEqual([]);
    expect(r.missing).toBe(0);
    expect(r.linkDowns).toBe(0);
    expect(c.fabric.counters.drops.loss).toBeGreaterThan(1000);
    expect(c.fabric.counters.duplicates).toBeGreaterThan(100);
  });
});

describe("loss recovery speed (virtual time)", () => {
  it("repairs losses by NACK without waiting for the 375 ms link timer", async () => {
    const { MemoryCluster } = await import("./__helpers__/memory-cluster.js");
    const c = new MemoryCluster({ nodes: 2, seed: 3, faults: { loss: 0.05, delay: 0.5 } });
    c.start();
    c.run(10_000, () => c.allUp());
    const r = runTraffic(c, { total: 5000, broadcastEvery: 1000_000, stepMs: 0.05 });
    expect(r.errors).toEqual([]);
    expect(r.missing).toBe(0);
    // 5000 messages offered over 250 ms of virtual time; a timer-driven repair would add 375 ms each
    expect(r.virtualMs).toBeLessThan(1000);
  });
});
