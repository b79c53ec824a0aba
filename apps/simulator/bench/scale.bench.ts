/**
 * tipcsim scale benchmark: N nodes x B bindings at protocol fidelity, D ms of virtual time with
 * steady updates (the named scenario "scale": 1,000 x 100, 60 s, 100 updates/s). Prints wall
 * and CPU time, peak RSS, events per second and the heap per node pair at the end of the run,
 * next to the issue's targets (1,000 nodes: 120 s, 4 GB; 5,000 and more: 15 min, 8 GB).
 *
 *   node --max-semi-space-size=64 --import tsx --conditions=@tipcjs/source \
 *     apps/simulator/bench/scale.bench.ts [--nodes 1000] [--bindings 100] [--duration 60000] \
 *     [--rate 100] [--bandwidth 1000] [--seed 1]
 *
 * Issue 20's figures: `--nodes 5000 --bindings 20`, `--nodes 10000 --bindings 10`, and the
 * default 1,000 x 100. Figures go to stdout as JSON; progress to stderr.
 */
import { loadavg } from "node:os";
import { namedScenario } from "../src/named.js";
import { runMode } from "../src/sim.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const nodes = arg("nodes", 1000);
const bindings = arg("bindings", 100);
const duration = arg("duration", 60_000);
const rate = arg("rate", 100);
const bandwidth = arg("bandwidth", 1000);
const seed = arg("seed", 1);

const sc = namedScenario("scale", {
  seed,
  nodes,
  bindingsPerNode: bindings,
  duration,
  updates: { rate },
  link: { bandwidth },
});
const t0 = performance.now();
const c0 = process.cpuUsage();
let lastPct = -1;
let loadMax = 0;
const r = await runMode(
  sc,
  "all-broadcast",
  (f) => {
    const pct = Math.floor(f * 10);
    loadMax = Math.max(loadMax, loadavg()[0] as number);
    if (pct !== lastPct) {
      lastPct = pct;
      process.stderr.write(
        `  ${pct * 10}% virtual time, ${((performance.now() - t0) / 1000).toFixed(0)} s wall, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, load ${(loadavg()[0] as number).toFixed(1)}\n`,
      );
    }
  },
  true,
);
const wall = (performance.now() - t0) / 1000;
const cu = process.cpuUsage(c0);
const cpu = (cu.user + cu.system) / 1e6;
const peakRss = process.resourceUsage().maxRSS / 1024; // KiB -> MiB
const big = nodes >= 5000;
const out = {
  nodes: r.nodes,
  bindingsPerNode: bindings,
  tableEntries: r.nodes * (bindings + 1) * (r.nodes - 1),
  virtualMs: duration,
  updates: r.updates.count,
  perUpdateAtPublisher: r.updates.perUpdateAtPublisher,
  bulkMessages: r.sent.bulk.messages,
  bulkItems: r.sent.bulk.items,
  events: r.events,
  checksFailed: r.checks.failed,
  checksPerformed: r.checks.performed,
  p99ms: r.latency.p99,
  wallSeconds: +wall.toFixed(1),
  cpuSeconds: +cpu.toFixed(1),
  eventsPerWallSecond: Math.round(r.events / wall),
  eventsPerCpuSecond: Math.round(r.events / cpu),
  peakRssMiB: Math.round(peakRss),
  heapAtEndMiB: Math.round((r.measured?.heapBytes ?? 0) / 2 ** 20),
  nodePairs: r.measured?.nodePairs,
  bytesPerNodePair: r.measured?.bytesPerNodePair,
  loadAverageMax: +loadMax.toFixed(1),
  targets: big ? { wallSeconds: 900, peakRssMiB: 8192 } : { wallSeconds: 120, peakRssMiB: 4096 },
};
console.log(JSON.stringify(out, null, 2));
