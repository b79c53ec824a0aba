/**
 * How fast one node publishes and a 5-node in-memory cluster converges (virtual clock, no
 * faults, so CPU time is the cost of the whole stack). Side by side: every node broadcast-capable
 * (one broadcast-link message per update) against one legacy node present (4 unicast copies).
 * Run: npx tsx --conditions @tipcjs/source packages/node/bench/publish.bench.ts [count]
 */
import { Cluster } from "../src/__helpers__/cluster.js";

const count = Number(process.argv[2] ?? 10_000);
for (const legacy of [[], [4]]) {
  const c = await Cluster.start({ size: 5, seed: 1, legacy });
  c.runUntil(() => c.allUp(), 5000);
  const pub = c.get(0);
  const want = pub.bindings().length + count;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) pub.publish({ type: 10_000, lower: i, upper: i, port: 1 });
  const t1 = performance.now();
  const vt0 = c.clock.now();
  c.runUntil(() => c.live().every((m) => m.node.stats().bindings.total >= want), 60_000, 1);
  const t2 = performance.now();
  const s = pub.stats();
  console.log(
    `${legacy.length ? "one legacy node (replicast)" : "all broadcast-capable     "}: ` +
      `publish ${count}: ${(t1 - t0).toFixed(0)} ms (${Math.round(count / ((t1 - t0) / 1000))}/s); ` +
      `delivery to all 4 peers: ${(t2 - t1).toFixed(0)} ms CPU, ${(c.clock.now() - vt0).toFixed(0)} ms virtual; ` +
      `total ${Math.round(count / ((t2 - t0) / 1000))} updates/s end to end; ` +
      `sent broadcast ${s.updates.broadcast}, replicast ${s.updates.replicast}, bundles ${s.link.bundlesSent}`,
  );
}
