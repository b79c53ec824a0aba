/**
 * Memory per peer record: D distributors with P peers up each (every peer broadcast-capable,
 * bulk acked), the heap they add divided by D x P. The table is one shared, empty store (its
 * cost is not the distributor's), so the figure is the per-peer record alone: what a cluster of
 * N nodes pays N x (N - 1) times.
 *
 *   node --expose-gc --import tsx --conditions=@tipcjs/source packages/distributor/bench/peer-memory.bench.ts [--distributors 50] [--peers 5000]
 */
import { TIPC_NAMED_BCAST } from "@tipcjs/codec";
import type { Binding, BindingKey, InsertResult } from "@tipcjs/name-table";
import { createDistributor, type Distributor } from "../src/distributor.js";
import type { BindingStore } from "../src/types.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const D = arg("distributors", 50);
const P = arg("peers", 5000);
const heap = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** Holds nothing: the distributor's own state is what is measured. */
const empty: BindingStore = {
  insert: (b: Binding): InsertResult => ({ ok: true, binding: b }),
  remove: (_k: BindingKey) => undefined,
  purgeNode: () => [],
  ownClusterBindings: () => ([] as Binding[])[Symbol.iterator](),
  size: 0,
};

const h0 = heap();
const ds: Distributor[] = [];
for (let d = 0; d < D; d++) {
  const dist = createDistributor({ ownNode: 0x7f000000 + d, table: empty, publishNodeState: false });
  for (let p = 1; p <= P; p++) {
    dist.nodeUp(0x01000000 + p, { capabilities: TIPC_NAMED_BCAST, mtu: 1500 });
    dist.bulkAcked(0x01000000 + p);
  }
  ds.push(dist);
}
const h1 = heap();
console.log(
  JSON.stringify(
    {
      distributors: D,
      peersEach: P,
      bytesPerPeerRecord: +((h1 - h0) / (D * P)).toFixed(1),
      bytesPerNodePair: +((2 * (h1 - h0)) / (D * P)).toFixed(1),
      projected5000NodesMiB: Math.round((((h1 - h0) / (D * P)) * 5000 * 4999) / 2 ** 20),
      projected10000NodesMiB: Math.round((((h1 - h0) / (D * P)) * 10000 * 9999) / 2 ** 20),
    },
    null,
    2,
  ),
);
void ds.length;
