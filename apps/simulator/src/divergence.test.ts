/**
 * The two ways tables diverged under loss in issue 14, as named scenarios, each with and
 * without its fix: where the tables diverge, how many, and that the same seed gives the same
 * bytes.
 */
import { describe, expect, it } from "vitest";
import { DIVERGENCES, NAMED, namedScenario } from "./named.js";
import { addrOf } from "./protocol.js";
import { parseScenario } from "./scenario.js";
import { runScenario } from "./sim.js";

const run = async (name: string, over: Record<string, unknown> = {}) => {
  const r = await runScenario(namedScenario(name, over));
  return { r, m: r.modes[0] as (typeof r.modes)[number] };
};

describe("issue 14 A: a kernel receiver's stale gate, a restarted sender, a lossy bulk path", () => {
  const kernel = new Set((NAMED["stale-gate-loss"]?.kernelNodes ?? []).map(addrOf));
  const restarted = new Set([1, 2, 3, 4, 5].map(addrOf));

  it("with the sender waiting for the bulk's ack, every table ends equal to the truth", async () => {
    const { r, m } = await run("stale-gate-loss");
    expect(r.checksPassed).toBe(true);
    expect(m.checks.performed).toBeGreaterThan(1);
    expect(m.checks.final).toMatchObject({ differences: 0, pairs: 0 });
  });

  it("without it, every kernel node diverges from every restarted peer, and only there", async () => {
    const { r, m } = await run("stale-gate-loss-unfixed");
    expect(r.checksPassed).toBe(false);
    expect(m.checks.final.pairs).toBe(kernel.size * restarted.size);
    expect(m.checks.final.differences).toBeGreaterThan(m.checks.final.pairs);
    expect(m.checks.final.first.length).toBe(50);
    for (const d of m.checks.final.first) {
      expect(kernel.has(d.node)).toBe(true);
      expect(restarted.has(d.peer)).toBe(true);
    }
  });

  it("the loss on the bulk path is what makes it hit every pair: without it, jitter alone hits few", async () => {
    const delays = (NAMED["stale-gate-loss-unfixed"]?.delays ?? []).map((d) => ({ ...d, loss: 0, extra: 0 }));
    const { m } = await run("stale-gate-loss-unfixed", { delays });
    expect(m.checks.final.pairs).toBeLessThan((kernel.size * restarted.size) / 4);
  });
});

describe("issue 14 A, two nodes: stale-gate-restart and its -unfixed twin", () => {
  it("only the kernel's sender timing leaves Linux's receive path diverged", async () => {
    const fixed = (await run("stale-gate-restart")).m;
    const unfixed = (await run("stale-gate-restart-unfixed")).m;
    expect(fixed.shadows?.linux.differences).toBe(0);
    expect(unfixed.shadows?.linux).toMatchObject({ pairs: 1 });
    expect(unfixed.shadows?.linux.differences).toBeGreaterThan(0);
    expect(unfixed.shadows?.linux.first[0]).toMatchObject({ node: addrOf(1), peer: addrOf(0) });
    // tipcjs's own receiver is right either way
    expect(unfixed.checks.final.differences).toBe(0);
  });
});

describe("issue 14 B: a pre-2020 node joins while a broadcast backlog waits on a slow path", () => {
  const legacy = addrOf(20);

  it("with its synch point past the backlog, every table ends equal to the truth", async () => {
    const { r, m } = await run("backlog-legacy-join");
    expect(r.checksPassed).toBe(true);
    expect(m.checks.final).toMatchObject({ differences: 0, pairs: 0 });
    // the backlog was real: the slow receiver held updates that overtook it
    expect(m.held.peak).toBeGreaterThan(8);
  });

  it("without it, the new node keeps publications withdrawn after its bulk: extra bindings of node 0, nowhere else", async () => {
    const { r, m } = await run("backlog-legacy-join-unfixed");
    expect(r.checksPassed).toBe(false);
    expect(m.checks.final.pairs).toBe(1);
    expect(m.checks.final.differences).toBeGreaterThan(5);
    for (const d of m.checks.final.first)
      expect(d).toMatchObject({ node: legacy, peer: addrOf(0), problem: "extra" });
  });

  it("no window, no backlog: the kernel's link does no harm", async () => {
    const { m } = await run("backlog-legacy-join-unfixed", {
      link: { latency: 1, jitter: 0.5, broadcastWindow: 0 },
    });
    expect(m.checks.final.differences).toBe(0);
  });
});

describe("divergence scenarios: determinism", () => {
  it("each gives byte-identical JSON for the same seed; another seed gives another run", async () => {
    for (const name of DIVERGENCES) {
      const a = JSON.stringify(await runScenario(namedScenario(name)));
      const b = JSON.stringify(await runScenario(namedScenario(name)));
      expect(a).toBe(b);
      const c = JSON.stringify(await runScenario(namedScenario(name, { seed: 2 })));
      expect(c).not.toBe(a);
    }
  });
});

describe("window, loss and kernel nodes in the scenario", () => {
  it("a small broadcast window on a slow path delays updates to every node", async () => {
    const base = {
      nodes: 10,
      bindingsPerNode: 2,
      duration: 2000,
      updates: { rate: 100, publishers: 1 },
      modes: ["all-broadcast"],
      delays: [{ from: 0, to: 9, kind: "broadcast", extra: 50 }],
    };
    const open = (await runScenario(parseScenario(base))).modes[0];
    const narrow = (await runScenario(parseScenario({ ...base, link: { broadcastWindow: 2 } }))).modes[0];
    expect(open?.checks.failed).toBe(0);
    expect(narrow?.checks.failed).toBe(0);
    // without a window only node 9 waits (p50 is the 50 ms path); with it, everyone waits behind it
    expect(narrow?.latency.p50).toBeGreaterThan((open?.latency.p50 ?? 0) * 2);
  });

  it("rejects kernel nodes that do not exist, and with full fidelity", () => {
    expect(() => parseScenario({ nodes: 3, kernelNodes: [3] })).toThrow(/kernelNodes\[0\]: no node 3/);
    expect(() => parseScenario({ nodes: 3, fidelity: "full", kernelNodes: [1] })).toThrow(
      /kernel nodes need/,
    );
  });
});

describe("--measure figures", () => {
  it("are present only when asked, with events per second and memory per node pair", async () => {
    const sc = parseScenario({ nodes: 300, bindingsPerNode: 4, duration: 1000, modes: ["all-broadcast"] });
    const plain = await runScenario(sc);
    expect(JSON.stringify(plain)).not.toContain("measured");
    const m = (await runScenario(sc, { measure: true })).modes[0]?.measured;
    expect(m?.nodePairs).toBe(44850);
    expect(m?.eventsPerSecond).toBeGreaterThan(0);
    // at least the simulator's session table (4 bytes per node and peer) is still held when measured
    expect(m?.heapBytes).toBeGreaterThan(300 * 300 * 4);
    expect(m?.bytesPerNodePair).toBe(Math.round(((m?.heapBytes ?? 0) / 44850) * 10) / 10);
    expect(m?.peakRssMiB).toBeGreaterThan(0);
  });
});
