/**
 * Protocol fidelity's results, byte for byte, per seed: the JSON of each run equals the one
 * recorded in __fixtures__/golden (recorded before runProtocol was split into channels, cluster
 * and driver). A change that moves any figure shows here; if it is meant, re-record with
 * `npx vitest run apps/simulator/src/golden.test.ts -u` and say why in the commit.
 */
import { describe, expect, it } from "vitest";
import { NAMED, namedScenario } from "./named.js";
import { parseScenario, type Scenario } from "./scenario.js";
import { runScenario } from "./sim.js";

const cases: Record<string, () => Scenario> = {};
for (const [name, sc] of Object.entries(NAMED))
  if (name !== "default" && name !== "scale" && sc.fidelity !== "full")
    cases[name] = () => namedScenario(name);
cases["default-small"] = () =>
  namedScenario("default", { nodes: 40, duration: 6000, sweep: { sizes: [10, 20], duration: 500 } });
// every action and channel feature at once: joiners, a crash and restart, flaps, a broadcast
// window, bandwidth, a lossy delayed channel, kernel nodes, shadows, the sweep
cases.mix = () =>
  parseScenario({
    nodes: 20,
    bindingsPerNode: 3,
    duration: 3000,
    updates: { rate: 60 },
    joiners: [{ joinAt: 600, leaveAt: 1400 }, { joinAt: 800 }],
    crashes: [{ node: 2, at: 500, restartAt: 1600 }],
    detectionDelay: 300,
    flaps: [
      { a: 0, b: 1, at: 700, upAfter: 5 },
      { a: 3, b: 4, at: 1200, upAfter: 50 },
    ],
    link: { latency: 1, jitter: 0.5, broadcastWindow: 4, bandwidth: 100 },
    delays: [{ from: 0, to: 1, kind: "unicast", extra: 5, start: 100, end: 900, loss: 0.2 }],
    kernelNodes: [5, 6],
    shadows: true,
    sweep: { sizes: [5, 10], duration: 500 },
    checks: { interval: 200, max: 10 },
  });

describe("protocol fidelity: the same bytes per seed as recorded", () => {
  for (const [name, make] of Object.entries(cases)) {
    it(name, async () => {
      const json = JSON.stringify(await runScenario(make()));
      await expect(json).toMatchFileSnapshot(`./__fixtures__/golden/${name}.json`);
    });
  }
});
