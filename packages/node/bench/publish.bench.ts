/**
 * How fast a node publishes and a 5-node in-memory cluster converges (virtual clock, no faults).
 * Run: npx tsx packages/node/bench/publish.bench.ts [count]
 */
import { Cluster } from "../src/__helpers__/cluster.js";

const count = Number(process.argv[2] ?? 10_000);
for (const legacy of [[], [4]]) {
  const c = await Cluster.start({ size: 5, seed: 1, legacy });
  c.runUntil(() => c.allUp(), 5000);
  const pub = c.get(0);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) pub.publish({ type: 10_000, lower: i, upper: i, port: 1 });
  const t1 = performance.now();
  const vt0 = c.clock.now();
  const want = count + 5; // plus the node-state binding of every node
  const done = () => c.live().every((m) => m.node.bindings().length >= want + (m.index === 0 ? 0 : 0));
  c.runUntil(done, 60_000, 10);
  const t2 = performance.now();
  const s = pub.stats();
  console.log(
    `${legacy.length ? "with a legacy node" : "all broadcast"}: publish ${count} in ${(t1 - t0).toFixed(0)} ms ` +
      `(${Math.round(count / ((t1 - t0) / 1000))}/s), converged after ${(c.clock.now() - vt0).toFixed(0)} ms virtual, ` +
      `${(t2 - t1).toFixed(0)} ms CPU; updates ${JSON.stringify(s.updates)}; bundles ${s.link.bundlesSent}`,
  );
}
