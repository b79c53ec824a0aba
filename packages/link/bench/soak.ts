/**
 * Soak: a million messages (unicast and broadcast) through a 16-node cluster over
 * @tipcjs/transport-memory's virtual clock, with loss, duplication, reordering and jitter;
 * checks exactly-once in-order delivery. Bounded: stops after --messages or --max-seconds.
 *
 *   node --conditions=@tipcjs/source --import tsx packages/link/bench/soak.ts \
 *     [--nodes 16] [--messages 1000000] [--loss 0,0.3] [--replicast] [--max-seconds 600]
 */
import { parseArgs } from "node:util";
import { MemoryCluster } from "../src/__helpers__/memory-cluster.js";
import { runTraffic } from "../src/__helpers__/sim.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "16" },
    messages: { type: "string", default: "1000000" },
    loss: { type: "string", default: "0,0.3" },
    duplicate: { type: "string", default: "0.05" },
    reorder: { type: "string", default: "0.1" },
    jitter: { type: "string", default: "3" },
    "broadcast-every": { type: "string", default: "5" },
    "max-seconds": { type: "string", default: "600" },
    seed: { type: "string", default: "1" },
    replicast: { type: "boolean", default: false },
  },
});
const nodes = Number(values.nodes);
const total = Number(values.messages);
const maxMs = Number(values["max-seconds"]) * 1000;
let failed = false;
for (const loss of String(values.loss).split(",").map(Number)) {
  const faults = {
    loss,
    duplicate: Number(values.duplicate),
    reorder: Number(values.reorder),
    reorderDelay: 5,
    delay: 1,
    jitter: Number(values.jitter),
  };
  // kernel supervision at 30% loss would flap links (5 silent intervals of 375 ms are not rare):
  // the tolerance is a per-link setting, raised with the loss rate
  const tolerance = loss >= 0.2 ? 10_000 : loss > 0 ? 5000 : 1500;
  const c = new MemoryCluster({
    nodes,
    seed: Number(values.seed),
    faults,
    engine: { tolerance },
    replicast: values.replicast,
  });
  c.keepEvents = false;
  c.start();
  c.run(60_000, () => c.allUp());
  if (!c.allUp()) throw new Error("cluster did not come up");
  const wallStart = performance.now();
  const r = runTraffic(c, {
    total,
    broadcastEvery: Number(values["broadcast-every"]),
    seed: 7,
    stopSending: () => performance.now() - wallStart > maxMs,
    onProgress: (sent) =>
      process.stderr.write(
        `  loss ${loss}: ${sent} sent, ${((performance.now() - wallStart) / 1000).toFixed(0)} s\n`,
      ),
  });
  const wall = (performance.now() - wallStart) / 1000;
  const st = c.engines.map((e) => e.stats());
  const sum = (f: (s: (typeof st)[number]) => number) => st.reduce((a, s) => a + f(s), 0);
  const ok = r.errors.length === 0 && r.missing === 0 && r.sentUnicast + r.sentBroadcast === total;
  failed ||= !ok;
  console.log(
    JSON.stringify({
      nodes,
      bearer: values.replicast ? "replicast" : "broadcast",
      faults,
      tolerance,
      messagesSent: r.sentUnicast + r.sentBroadcast,
      unicast: r.sentUnicast,
      broadcast: r.sentBroadcast,
      deliveries: r.deliveredUnicast + r.deliveredBroadcast,
      missing: r.missing,
      orderErrors: r.errors.length,
      linkDowns: r.linkDowns,
      unicastRetransmitted: sum((s) => s.unicastRetransmitted),
      broadcastRetransmitted: sum((s) => s.broadcastRetransmitted),
      bundlesSent: sum((s) => s.bundlesSent),
      fabricLoss: c.fabric.counters.drops.loss,
      fabricDuplicates: c.fabric.counters.duplicates,
      virtualSeconds: +(r.virtualMs / 1000).toFixed(1),
      wallSeconds: +wall.toFixed(1),
      result: ok ? "PASS" : "FAIL",
    }),
  );
  if (r.errors.length) console.log(r.errors.slice(0, 5));
}
process.exit(failed ? 1 : 0);
