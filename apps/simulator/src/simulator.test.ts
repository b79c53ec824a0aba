import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { namedScenario, RACES } from "./named.js";
import { isScenarioError, loadScenarioFile, parseScenario, ScenarioError } from "./scenario.js";
import { runScenario } from "./sim.js";

const small = (o: Record<string, unknown> = {}) =>
  parseScenario({
    nodes: 20,
    bindingsPerNode: 3,
    duration: 2000,
    updates: { rate: 40 },
    joiners: [{ joinAt: 600, leaveAt: 1400 }],
    crashes: [{ node: 2, at: 500, restartAt: 1600 }],
    detectionDelay: 300,
    sweep: { sizes: [5, 10], duration: 500 },
    ...o,
  });

describe("determinism", () => {
  it("the same scenario and seed give byte-identical JSON; another seed differs", async () => {
    const a = JSON.stringify(await runScenario(small()));
    const b = JSON.stringify(await runScenario(small()));
    const c = JSON.stringify(await runScenario(small({ seed: 2 })));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(JSON.parse(a).checksPassed).toBe(true);
  });
});

describe("transmissions per update at the publisher (protocol fidelity)", () => {
  // Short runs: few bindings, a few updates. N-1 with a legacy node present, as the kernel's
  // rule (rc_dests > 0: replicast to every peer).
  // 1,000 nodes: tests/simulator (system project), too slow for the unit suite.
  for (const n of [100, 500]) {
    it(`${n} nodes: 1 when all are broadcast-capable, N-1 with a legacy node; checks pass`, async () => {
      const sc = parseScenario({
        nodes: n - 1,
        bindingsPerNode: 0,
        startInterval: 0.5,
        warmup: 50,
        duration: (n - 2) * 0.5 + 50 + 100,
        updates: { rate: 100 },
        joiners: [{ joinAt: 0 }],
        modes: ["all-broadcast", "mixed"],
        checks: { interval: 1e9, max: 0 },
      });
      const r = await runScenario(sc);
      const [bc, mixed] = r.modes;
      expect(bc?.updates.count).toBeGreaterThan(5);
      expect(bc?.updates.perUpdateAtPublisher).toBe(1);
      expect(mixed?.updates.perUpdateAtPublisher).toBe(n - 1);
      expect(bc?.updates.deliveries).toBe((bc?.updates.count ?? 0) * (n - 1));
      expect(r.checksPassed).toBe(true);
      expect(bc?.checks.final.differences).toBe(0);
      expect(mixed?.checks.final.differences).toBe(0);
    }, 120_000);
  }
});

describe("the four seed problems", () => {
  for (const name of RACES) {
    it(`${name}: tipcjs ends equal to the truth, the pre-2020 receive path diverges`, async () => {
      const r = await runScenario(namedScenario(name));
      const m = r.modes[0];
      expect(m?.checks.final.differences).toBe(0);
      expect(m?.shadows?.legacy.differences).toBeGreaterThan(0);
      expect(m?.shadows?.legacy.first[0]).toMatchObject({ problem: "extra" });
      expect(m?.updates.count).toBeGreaterThan(0);
    });
  }

  it("Linux's receive path diverges in race 1 (seqno past 32768 before the gate opens) and race 3 (stale gate across a flap)", async () => {
    const r1 = await runScenario(namedScenario("race1-bulk-overtaken"));
    const r3 = await runScenario(namedScenario("race3-bulk-unsequenced"));
    expect(r1.modes[0]?.shadows?.linux.differences).toBeGreaterThan(0);
    expect(r3.modes[0]?.shadows?.linux.differences).toBeGreaterThan(0);
    expect(r1.modes[0]?.held.releasedFromHold).toBe(2);
  });

  it("race 2 switches to replicast and back, on every modern node", async () => {
    const r = await runScenario(namedScenario("race2-method-switch"));
    const m = r.modes[0];
    expect(m?.switchPoints).toEqual([
      { t: 100, toReplicast: 2, toBroadcast: 0 },
      { t: 200, toReplicast: 0, toBroadcast: 2 },
    ]);
    expect(m?.methodSwitches).toBe(4);
  });
});

describe("a restart meets Linux's stale receive gate (issue 14 A)", () => {
  it("updates wait behind the slow bulk until it is acked: Linux's receive path ends equal to the truth; sent at once, they freeze it", async () => {
    const fixed = (await runScenario(namedScenario("stale-gate-restart"))).modes[0];
    expect(fixed?.checks.final.differences).toBe(0);
    expect(fixed?.shadows?.linux.differences).toBe(0);
    const eager = (await runScenario(namedScenario("stale-gate-restart", { awaitBulkAck: false }))).modes[0];
    expect(eager?.checks.final.differences).toBe(0); // a tipcjs receiver resets its gate
    expect(eager?.shadows?.linux.differences).toBeGreaterThan(0);
  });
});

describe("mixed cluster measures", () => {
  it("crash, restart, legacy join and leave: bulk cost per join, switch points, checks at quiescent points", async () => {
    const r = await runScenario(small({ sweep: undefined, modes: ["mixed"] }));
    const m = r.modes[0];
    expect(m?.bulk.joins.map((j) => j.t)).toEqual([600, 1600]);
    expect(m?.bulk.joins[0]?.messages).toBe(2 * 19); // one bulk each way with the 19 live peers
    expect(m?.switchPoints.map((p) => p.t)).toEqual([600, 1400]);
    expect(m?.checks.performed).toBeGreaterThan(1);
    expect(m?.checks.failed).toBe(0);
    expect(m?.latency.samples).toBeGreaterThan(0);
    expect(m?.latency.p99).toBeGreaterThanOrEqual(m?.latency.p50 ?? 0);
  });
});

describe("scenario validation", () => {
  it("names the bad field by its path", () => {
    const bad = () =>
      parseScenario({
        nodes: 10,
        link: { latency: -1 },
        crashes: [{ node: 99, at: 5 }],
        modes: ["sometimes"],
      });
    expect(bad).toThrow(ScenarioError);
    try {
      bad();
    } catch (e) {
      const paths = (e as ScenarioError).issues.map((i) => i.path);
      expect(paths).toContain("link.latency");
      expect(paths).toContain("modes[0]");
      expect((e as ScenarioError).message).toContain("link.latency");
    }
    expect(() => parseScenario({ nodes: 3, crashes: [{ node: 5, at: 1 }] })).toThrow(
      /crashes\[0\]\.node: no node 5/,
    );
    expect(() => parseScenario({ nodes: 3, bogus: 1 })).toThrow(/bogus/);
    expect(() => parseScenario({})).toThrow(/nodes/);
    expect(() => parseScenario({ nodes: 3, fidelity: "full", awaitBulkAck: false })).toThrow(/awaitBulkAck/);
    // protocol fidelity has no bearer to take down: an outage there would be silently ignored
    expect(() => parseScenario({ nodes: 3, bearerOutages: [{ bearer: 0, at: 5 }] })).toThrow(
      /bearerOutages\[0\]: bearer outages need fidelity: full/,
    );
  });

  it("reads YAML and JSON files, and reports unreadable or invalid ones", () => {
    const dir = tmpdir();
    const y = join(dir, `tipcsim-${process.pid}.yaml`);
    writeFileSync(y, "name: y\nnodes: 4\nlink:\n  jitter: 0\n");
    expect(loadScenarioFile(y)).toMatchObject({ name: "y", nodes: 4, link: { jitter: 0, latency: 1 } });
    const j = join(dir, `tipcsim-${process.pid}.json`);
    writeFileSync(j, JSON.stringify({ nodes: 4, updates: { rate: "fast" } }));
    expect(() => loadScenarioFile(j)).toThrow(/updates\.rate/);
    expect(() => loadScenarioFile(join(dir, "no-such-file.yaml"))).toThrow(ScenarioError);
    for (const [code, content] of [
      ["BAD_SYNTAX", "nodes: [1,\n"],
      ["BAD_SYNTAX", "- 1\n"],
      ["INVALID_SCENARIO", "nodes: 0\n"],
    ] as const) {
      writeFileSync(y, content);
      try {
        loadScenarioFile(y);
        expect.unreachable();
      } catch (e) {
        expect(isScenarioError(e)).toBe(true);
        expect(e).toMatchObject({ name: "ScenarioError", code });
        expect((e as Error).message).not.toContain(code);
      }
    }
    expect(isScenarioError({ name: "ScenarioError", code: "BAD_SYNTAX" })).toBe(true);
    expect(isScenarioError(new Error("BAD_SYNTAX"))).toBe(false);
    writeFileSync(y, "nodes: [1,\n");
    expect(() => loadScenarioFile(y)).toThrow(/not valid YAML/);
  });
});

describe("full fidelity", () => {
  it("a small run of complete nodes over the lossy fabric: checks pass, 1 transmission per update with broadcast, acks counted", async () => {
    const sc = parseScenario({
      fidelity: "full",
      nodes: 5,
      bindingsPerNode: 2,
      duration: 1500,
      updates: { rate: 10 },
      link: { loss: 0.02 },
      modes: ["all-broadcast", "all-legacy"],
    });
    const r = await runScenario(sc);
    const [bc, leg] = r.modes;
    expect(r.checksPassed).toBe(true);
    expect(bc?.updates.perUpdateAtPublisher).toBe(1);
    expect(leg?.updates.perUpdateAtPublisher).toBe(4);
    expect(bc?.updates.perUpdateTotal).toBeGreaterThan(1);
    expect(bc?.extra?.fabricTransmissions).toBeGreaterThan(0);
  }, 120_000);

  it("a link flap takes the pair down (supervision) and up again (discovery, bulks): tables stay whole", async () => {
    const base = {
      fidelity: "full",
      nodes: 5,
      bindingsPerNode: 2,
      duration: 3000,
      updates: { rate: 10 },
      modes: ["all-broadcast"],
    };
    const steady = (await runScenario(parseScenario(base))).modes[0];
    const flapped = (
      await runScenario(parseScenario({ ...base, flaps: [{ a: 0, b: 1, at: 500, upAfter: 200 }] }))
    ).modes[0];
    expect(steady?.extra?.nodeDowns).toBe(0);
    expect(flapped?.extra?.nodeDowns).toBe(2); // each end saw the other down
    // one bulk each way when the link came back
    expect(flapped?.extra?.distributorBulk).toBe((steady?.extra?.distributorBulk as number) + 2);
    expect(flapped?.checks.final.differences).toBe(0);
  }, 120_000);

  it("two bearers, one dark for a while: links fail over, no node goes down, every table stays whole", async () => {
    const sc = namedScenario("bearer-failover", {
      nodes: 8,
      duration: 6000,
      updates: { rate: 20 },
      joiners: [],
    });
    expect(sc.link.bearers).toBe(2);
    const r = await runScenario(sc);
    expect(r.checksPassed).toBe(true);
    for (const m of r.modes) {
      expect(m.checks.final.differences).toBe(0);
      expect(m.extra?.nodeDowns).toBe(0);
      // every node's links on LAN 0 failed over: 8 nodes x 7 peers
      expect(m.extra?.linkFailovers).toBeGreaterThanOrEqual(8 * 7);
      expect(m.updates.count).toBeGreaterThan(50);
    }
    // one bearer only with protocol fidelity
    expect(() => parseScenario({ nodes: 3, link: { bearers: 2 } })).toThrow(/fidelity: full/);
    expect(() =>
      parseScenario({ nodes: 3, fidelity: "full", bearerOutages: [{ bearer: 1, at: 5 }] }),
    ).toThrow(/no bearer 1/);
  }, 120_000);
});
