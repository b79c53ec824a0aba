/**
 * Memory of one node's table holding 1,000 publishers x 101 bindings (what each node holds in
 * the 1,000 x 100 scale run): the real NameTable against tipcsim's CompactStore (bitsets over a
 * shared registry, whose cost is paid once for the cluster and is reported separately).
 *
 *   node --expose-gc --import tsx --conditions=@tipcjs/source apps/simulator/bench/store-memory.bench.ts
 */
import type { Binding } from "@tipcjs/name-table";
import { NameTable } from "@tipcjs/name-table";
import { BindingRegistry, CompactStore } from "../src/store.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
};
const PUBS = 1000;
const PER = 101;
const bindings: Binding[] = [];
for (let p = 0; p < PUBS; p++)
  for (let k = 1; k <= PER; k++)
    bindings.push({
      type: 1000 + (k % 64),
      lower: k,
      upper: k,
      node: 0x01000001 + p,
      port: 1000 + k,
      key: k,
      scope: "cluster",
    });

const h0 = heap();
const registry = new BindingRegistry();
const seed = new CompactStore(1, registry);
for (const b of bindings) seed.insert(b);
const h1 = heap();
const stores: CompactStore[] = [];
for (let i = 0; i < 10; i++) {
  const s = new CompactStore(2 + i, registry);
  for (const b of bindings) s.insert({ ...b });
  stores.push(s);
}
const h2 = heap();
const tables: NameTable[] = [];
for (let i = 0; i < 3; i++) {
  const t = new NameTable({ ownNode: 2 + i });
  for (const b of bindings) t.insert({ ...b });
  tables.push(t);
}
const h3 = heap();
const perCompact = (h2 - h1) / stores.length;
const perTable = (h3 - h2) / tables.length;
console.log(
  JSON.stringify(
    {
      bindingsPerNode: bindings.length,
      registryOnceForTheClusterMiB: +((h1 - h0) / 2 ** 20).toFixed(1),
      compactStorePerNodeKiB: +(perCompact / 1024).toFixed(1),
      nameTablePerNodeMiB: +(perTable / 2 ** 20).toFixed(1),
      ratio: Math.round(perTable / perCompact),
      projected1000NodesNameTableGiB: +((perTable * 1000) / 2 ** 30).toFixed(1),
      projected1000NodesCompactMiB: +((perCompact * 1000 + (h1 - h0)) / 2 ** 20).toFixed(1),
    },
    null,
    2,
  ),
);
void stores.length;
void tables.length;
