/**
 * Runs a scenario: every requested mode with the same seed, then the cluster-size sweep.
 */
import { runFull } from "./full.js";
import { runProtocol } from "./protocol.js";
import type { ModeResult } from "./results.js";
import type { Mode, Scenario } from "./scenario.js";

export interface SweepPoint {
  size: number;
  mode: Mode;
  perUpdateAtPublisher: number;
  perUpdateTotal: number;
  deliveriesPerUpdate: number;
  p99: number;
  checksPassed: boolean;
}

export interface SimResult {
  tool: "tipcsim";
  version: 1;
  scenario: Scenario;
  modes: ModeResult[];
  sweep: SweepPoint[];
  /** every check of every run found every live table equal to the truth */
  checksPassed: boolean;
}

export interface SimOptions {
  /** progress of the whole run in [0, 1], with a label */
  onProgress?: (fraction: number, label: string) => void;
  /** measure wall time, events per second and memory per node pair of each mode (not the sweep) */
  measure?: boolean;
}

export async function runMode(
  sc: Scenario,
  mode: Mode,
  onProgress?: (f: number) => void,
  measure = false,
): Promise<ModeResult> {
  const o = { onProgress, measure };
  return sc.fidelity === "full" ? runFull(sc, mode, o) : runProtocol(sc, mode, o);
}

export async function runScenario(sc: Scenario, opts: SimOptions = {}): Promise<SimResult> {
  const sweepRuns = sc.sweep ? sc.sweep.sizes.length * sc.modes.length : 0;
  const weightMain = sc.nodes * Math.max(sc.duration, 1);
  const weightSweep = sc.sweep
    ? sc.sweep.sizes.reduce((a, s) => a + s, 0) * Math.max(sc.sweep.duration, 1)
    : 0;
  const totalWeight = weightMain * sc.modes.length + weightSweep * sc.modes.length || 1;
  let done = 0;
  const modes: ModeResult[] = [];
  for (const mode of sc.modes) {
    const w = weightMain;
    modes.push(
      await runMode(sc, mode, (f) => opts.onProgress?.((done + f * w) / totalWeight, mode), opts.measure),
    );
    done += w;
  }
  const sweep: SweepPoint[] = [];
  if (sc.sweep && sweepRuns > 0) {
    for (const size of sc.sweep.sizes) {
      for (const mode of sc.modes) {
        const mixed = mode === "mixed";
        const small: Scenario = {
          ...sc,
          nodes: mixed ? size - 1 : size,
          joiners: mixed ? [{ joinAt: 0 }] : [],
          bindingsPerNode: sc.sweep.bindingsPerNode,
          duration: sc.sweep.duration,
          warmup: Math.min(sc.warmup, sc.sweep.duration / 4),
          crashes: [],
          script: [],
          delays: [],
          shadows: false,
          checks: { interval: sc.sweep.duration, max: 0 },
          sweep: undefined,
        };
        const w = size * Math.max(sc.sweep.duration, 1);
        const r = await runMode(small, mode, (f) =>
          opts.onProgress?.((done + f * w) / totalWeight, `sweep ${size} ${mode}`),
        );
        done += w;
        sweep.push({
          size,
          mode,
          perUpdateAtPublisher: r.updates.perUpdateAtPublisher,
          perUpdateTotal: r.updates.perUpdateTotal,
          deliveriesPerUpdate: r.updates.count
            ? Math.round((r.updates.deliveries / r.updates.count) * 1000) / 1000
            : 0,
          p99: r.latency.p99,
          checksPassed: r.checks.failed === 0,
        });
      }
    }
  }
  const checksPassed = modes.every((m) => m.checks.failed === 0) && sweep.every((s) => s.checksPassed);
  return { tool: "tipcsim", version: 1, scenario: sc, modes, sweep, checksPassed };
}
