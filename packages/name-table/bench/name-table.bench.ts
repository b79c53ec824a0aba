/**
 * @tipcjs/name-table benchmark: NameTable against a naive baseline (Map type -> array of bindings,
 * scanned linearly), in the same run, at 10,000 and 1,000,000 bindings spread over 1,000 nodes and
 * 10,000 service types.
 *
 *   node --expose-gc --max-old-space-size=4096 --import tsx packages/name-table/bench/name-table.bench.ts
 *     [--sizes=10000,1000000] [--types=10000] [--only=naive] [--inputs=prebuilt]
 *
 * Figures: inserts/s filling an empty table, removes/s emptying it, anycast lookups/s, re-inserts/s
 * (the removed bindings again, into memory the table has held), inserts/s and removes/s at size (the
 * table held at n bindings: one removed, one new inserted, in turn), the minor page faults per
 * binding while filling (first touches of fresh memory), and heap bytes per binding after a forced
 * GC (V8 heap + ArrayBuffer backing stores, since NameTable keeps its records in typed arrays).
 * NameTable is measured three times: through `insert`/`remove` with default options, through the
 * allocation-free `add`/`delete` with `expectedBindings` set to the size loaded, and through
 * `addMany`/`deleteMany` in calls of 64 items (lookups one at a time in every case).
 * The input bindings and withdrawal keys are made as they are inserted or removed, as a distributor
 * decoding items makes them (young garbage for NameTable; the naive table keeps each binding, so
 * it pays for their promotion). With --inputs=prebuilt they are made before the timed loops
 * instead, for every table alike; then every full GC of the run marks those two million objects.
 * Rates are given per second of process CPU time and, in brackets, per second of wall-clock time:
 * on a shared, oversubscribed machine the wall-clock figure mostly measures the other tenants.
 * Each phase runs REPEAT times at 10,000 bindings (best kept) and once at 1,000,000, after a warm-up.
 */

import { loadavg } from "node:os";
import type { Binding, BindingKey, SocketAddress } from "../src/index.js";
import { NameTable } from "../src/index.js";

const NODES = 1000;
/**
 * Service types (--types=N). With --sizes=100000 --types=1000 each type holds as many ranges as at
 * 1,000,000 and 10,000 types (about 100), so the work per operation is the same and only the memory
 * the table spans differs: the difference in rates is what cache and TLB misses cost.
 */
const TYPES = Number(process.argv.find((a) => a.startsWith("--types="))?.slice(8) ?? 10_000);
if (!(Number.isInteger(TYPES) && TYPES > 0)) throw new Error("--types needs a positive integer");
const LOOKUPS = 2_000_000;
/** The naive table is sampled above this many operations per phase (it is O(bindings per type)). */
const NAIVE_SAMPLE = 200_000;
const REPEAT = 5;
/**
 * Steady state: with the table holding all n bindings, this many times (at most n) one binding is
 * removed (in removal order) and a new one inserted, so the table stays at n. Inserts and removes
 * are timed apart, in blocks of STEADY_BLOCK.
 */
const STEADY = 200_000;
const STEADY_BLOCK = 1000;

interface Table {
  insert(b: Binding): unknown;
  remove(k: BindingKey): unknown;
  lookupAnycast(type: number, instance: number): SocketAddress | undefined;
}

/** NameTable through addMany/deleteMany, BATCH items a call (as a distributor applies a bulk). */
class BatchNameTable {
  constructor(readonly t: NameTable) {}
  /** Calls `fn` with items from..to-1, BATCH at a time (one array, refilled); returns the sum. */
  run<T>(from: number, to: number, item: (i: number) => T, fn: (items: T[]) => number): number {
    const items: T[] = [];
    let sum = 0;
    for (let i = from; i < to; i += BATCH) {
      items.length = 0;
      for (let k = i; k < Math.min(to, i + BATCH); k++) items.push(item(k));
      sum += fn(items);
    }
    return sum;
  }
}
const BATCH = 64;

/** NameTable through its allocation-free calls. */
class FastNameTable implements Table {
  constructor(
    private readonly t: NameTable,
    readonly batch?: BatchNameTable,
  ) {}
  insert(b: Binding): unknown {
    return this.t.add(b) === "added" ? true : undefined;
  }
  remove(k: BindingKey): unknown {
    return this.t.delete(k) ? true : undefined;
  }
  lookupAnycast(type: number, instance: number): SocketAddress | undefined {
    return this.t.lookupAnycast(type, instance);
  }
}

/** The baseline: one array per type, every operation a linear scan. */
class NaiveTable implements Table {
  private readonly byType = new Map<number, Binding[]>();
  private rr = 0;
  insert(b: Binding): boolean {
    let list = this.byType.get(b.type);
    if (list === undefined) {
      list = [];
      this.byType.set(b.type, list);
    }
    for (const x of list) {
      if (x.lower === b.lower && x.upper === b.upper && x.node === b.node && x.key === b.key) return false;
    }
    list.push(b);
    return true;
  }
  remove(k: BindingKey): Binding | undefined {
    const list = this.byType.get(k.type);
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const x = list[i] as Binding;
      if (x.lower === k.lower && x.upper === k.upper && x.node === k.node && x.key === k.key) {
        list.splice(i, 1);
        return x;
      }
    }
    return undefined;
  }
  lookupAnycast(type: number, instance: number): SocketAddress | undefined {
    const list = this.byType.get(type);
    if (list === undefined) return undefined;
    let matches = 0;
    for (const x of list) if (x.lower <= instance && instance <= x.upper) matches++;
    if (matches === 0) return undefined;
    let pick = this.rr++ % matches;
    for (const x of list) {
      if (x.lower <= instance && instance <= x.upper && pick-- === 0) return { node: x.node, port: x.port };
    }
    return undefined;
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Decoded bindings, one field an array. */
interface Items {
  type: Uint32Array;
  lower: Uint32Array;
  upper: Uint32Array;
  node: Uint32Array;
  port: Uint32Array;
  key: Uint32Array;
  cluster: Uint8Array;
}

interface Workload extends Items {
  n: number;
  /** A random permutation of 0..n-1: the removal order. */
  removeOrder: Uint32Array;
  /**
   * The same bindings laid out in removal order, so that the withdrawals (and re-inserts) are read
   * one after another, as a distributor reads items from a message, not by random index: the
   * harness's own cache misses would otherwise be counted as the tables'.
   */
  removal: Items;
  lookupType: Uint32Array;
  lookupInstance: Uint32Array;
  /** Bindings not in the table, for the steady-state phase: each replaces one removed. */
  fresh: Items;
  ownNode: number;
}

/** Empty item columns for n bindings. */
function items(n: number): Items {
  return {
    type: new Uint32Array(n),
    lower: new Uint32Array(n),
    upper: new Uint32Array(n),
    node: new Uint32Array(n),
    port: new Uint32Array(n),
    key: new Uint32Array(n),
    cluster: new Uint8Array(n),
  };
}

function workload(n: number): Workload {
  const rnd = mulberry32(0x7199 + n);
  const nodes = Array.from({ length: NODES }, () => (rnd() | 1) >>> 0);
  const types = Array.from({ length: TYPES }, (_, i) => 64 + i);
  const w: Workload = {
    n,
    ...items(n),
    removeOrder: new Uint32Array(n),
    removal: items(n),
    lookupType: new Uint32Array(LOOKUPS),
    lookupInstance: new Uint32Array(LOOKUPS),
    fresh: items(Math.min(n, STEADY)),
    ownNode: nodes[0] as number,
  };
  for (let i = 0; i < n; i++) {
    w.type[i] = types[rnd() % TYPES] as number;
    const lower = rnd() % 1_000_000;
    w.lower[i] = lower;
    // Mostly single instances, some small ranges, so ranges overlap now and then.
    w.upper[i] = rnd() % 4 === 0 ? lower + (rnd() % 16) : lower;
    w.node[i] = nodes[rnd() % NODES] as number;
    w.port[i] = rnd();
    w.key[i] = i + 1;
    w.cluster[i] = rnd() % 8 === 0 ? 0 : 1;
    w.removeOrder[i] = i;
  }
  for (let i = n - 1; i > 0; i--) {
    const j = rnd() % (i + 1);
    const t = w.removeOrder[i] as number;
    w.removeOrder[i] = w.removeOrder[j] as number;
    w.removeOrder[j] = t;
  }
  for (let i = 0; i < n; i++) {
    const j = w.removeOrder[i] as number;
    for (const f of ["type", "lower", "upper", "node", "port", "key", "cluster"] as const) {
      w.removal[f][i] = w[f][j] as number;
    }
  }
  for (let i = 0; i < w.fresh.type.length; i++) {
    const lower = rnd() % 1_000_000;
    w.fresh.type[i] = types[rnd() % TYPES] as number;
    w.fresh.lower[i] = lower;
    w.fresh.upper[i] = rnd() % 4 === 0 ? lower + (rnd() % 16) : lower;
    w.fresh.node[i] = nodes[rnd() % NODES] as number;
    w.fresh.port[i] = rnd();
    w.fresh.key[i] = n + i + 1;
    w.fresh.cluster[i] = rnd() % 8 === 0 ? 0 : 1;
  }
  for (let i = 0; i < LOOKUPS; i++) {
    const j = rnd() % n;
    const lo = w.lower[j] as number;
    w.lookupType[i] = w.type[j] as number;
    w.lookupInstance[i] = lo + (rnd() % ((w.upper[j] as number) - lo + 1));
  }
  return w;
}

const bindingAt = (w: Items, i: number): Binding => ({
  type: w.type[i] as number,
  lower: w.lower[i] as number,
  upper: w.upper[i] as number,
  scope: w.cluster[i] ? "cluster" : "node",
  node: w.node[i] as number,
  port: w.port[i] as number,
  key: w.key[i] as number,
});

const keyAt = (w: Items, i: number): BindingKey => ({
  type: w.type[i] as number,
  lower: w.lower[i] as number,
  upper: w.upper[i] as number,
  node: w.node[i] as number,
  key: w.key[i] as number,
});

const gc = (globalThis as { gc?: () => void }).gc;
function memory(): { heap: number; buffers: number } {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

const keepAlive: object[] = [];
const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

/** Runs `fn` (which does `ops` operations) and returns [ops per CPU second, ops per wall second]. */
function rate(ops: number, fn: () => void): [number, number] {
  const c0 = cpuNow();
  const w0 = performance.now();
  fn();
  return [ops / (cpuNow() - c0), ops / ((performance.now() - w0) / 1000)];
}

const best = (a: [number, number], b: [number, number] | undefined): [number, number] =>
  b === undefined || a[0] > b[0] ? a : b;

interface Result {
  inserts: [number, number];
  reinserts: [number, number];
  removes: [number, number];
  lookups: [number, number];
  /** Inserts and removes with the table held at n bindings. */
  steadyInserts: [number, number];
  steadyRemoves: [number, number];
  /** Minor page faults per binding while the table was first filled (first touches of memory). */
  faultsPerBinding: number;
  heapPerBinding: number;
  buffersPerBinding: number;
  sampled: string[];
}

function measure(name: string, w: Workload, make: () => Table): Result {
  const sampled: string[] = [];
  const naive = name === "naive";
  // The naive table keeps the input objects themselves; so its heap is measured with inputs made
  // as they are inserted, and the same for NameTable (which keeps none of them).
  // Heap: build from the typed-array workload so the inputs are not counted, and keep the table.
  const m0 = memory();
  const holder: { table?: Table } = {};
  keepAlive.push(holder);
  holder.table = make();
  for (let i = 0; i < w.n; i++) holder.table.insert(bindingAt(w, i));
  const m1 = memory(); // holder is reachable from keepAlive, so the table is still counted
  const heapPerBinding = (m1.heap - m0.heap) / w.n;
  const buffersPerBinding = (m1.buffers - m0.buffers) / w.n;
  keepAlive.pop();
  memory();

  // With --inputs=prebuilt, the inputs are made before the clock starts, for every table alike:
  // the bindings in insertion order, the keys in removal order.
  const inputs = prebuilt ? Array.from({ length: w.n }, (_, i) => bindingAt(w, i)) : [];
  const keys = prebuilt ? Array.from({ length: w.n }, (_, i) => keyAt(w.removal, i)) : [];
  const lookups = naive && w.n > 10_000 ? NAIVE_SAMPLE : LOOKUPS;
  if (lookups < LOOKUPS)
    sampled.push(`lookups sampled: ${lookups.toLocaleString("en")} of ${LOOKUPS.toLocaleString("en")}`);
  const removes = naive && w.n > NAIVE_SAMPLE ? NAIVE_SAMPLE : w.n;
  if (removes < w.n)
    sampled.push(
      `removes and re-inserts sampled: ${removes.toLocaleString("en")} of ${w.n.toLocaleString("en")}`,
    );
  let inserts: [number, number] | undefined;
  let lookupRate: [number, number] | undefined;
  let removeRate: [number, number] | undefined;
  let reinsertRate: [number, number] | undefined;
  let steadyInserts: [number, number] | undefined;
  let steadyRemoves: [number, number] | undefined;
  let faultsPerBinding = 0;
  for (let rep = 0; rep < (w.n <= 10_000 ? REPEAT : 1); rep++) {
    const t = make();
    const many = t instanceof FastNameTable && t.batch !== undefined ? t.batch : undefined;
    const input = prebuilt ? (i: number) => inputs[i] as Binding : (i: number) => bindingAt(w, i);
    const faults0 = process.resourceUsage().minorPageFault;
    inserts = best(
      rate(w.n, () => {
        if (many) many.run(0, w.n, input, (bs) => many.t.addMany(bs));
        else if (prebuilt) for (let i = 0; i < w.n; i++) t.insert(inputs[i] as Binding);
        else for (let i = 0; i < w.n; i++) t.insert(bindingAt(w, i));
      }),
      inserts,
    );
    faultsPerBinding = (process.resourceUsage().minorPageFault - faults0) / w.n;
    // Anycast lookups of instances that are bound (a random binding's range).
    let hits = 0;
    lookupRate = best(
      rate(lookups, () => {
        for (let i = 0; i < lookups; i++) {
          if (t.lookupAnycast(w.lookupType[i] as number, w.lookupInstance[i] as number) !== undefined) hits++;
        }
      }),
      lookupRate,
    );
    if (hits !== lookups) throw new Error(`${name}: ${lookups - hits} lookups missed`);
    // Removes in random order (the naive table is sampled: the first NAIVE_SAMPLE of the order).
    let removed = 0;
    removeRate = best(
      rate(removes, () => {
        if (many) {
          const key = prebuilt ? (i: number) => keys[i] as BindingKey : (i: number) => keyAt(w.removal, i);
          removed = many.run(0, removes, key, (ks) => many.t.deleteMany(ks));
        } else if (prebuilt) {
          for (let i = 0; i < removes; i++) if (t.remove(keys[i] as BindingKey) !== undefined) removed++;
        } else {
          for (let i = 0; i < removes; i++) if (t.remove(keyAt(w.removal, i)) !== undefined) removed++;
        }
      }),
      removeRate,
    );
    if (removed !== removes) throw new Error(`${name}: ${removes - removed} removes missed`);
    // The removed bindings again, into the same table: memory the table has held before, as in a
    // long-running node whose peers come and go (no first touch of fresh pages, no growth).
    reinsertRate = best(
      rate(removes, () => {
        if (many) {
          const again = prebuilt
            ? (i: number) => inputs[w.removeOrder[i] as number] as Binding
            : (i: number) => bindingAt(w.removal, i);
          many.run(0, removes, again, (bs) => many.t.addMany(bs));
        } else if (prebuilt) {
          for (let i = 0; i < removes; i++) t.insert(inputs[w.removeOrder[i] as number] as Binding);
        } else {
          for (let i = 0; i < removes; i++) t.insert(bindingAt(w.removal, i));
        }
      }),
      reinsertRate,
    );
    const steady = steadyState(w, t, prebuilt);
    steadyInserts = best(steady.inserts, steadyInserts);
    steadyRemoves = best(steady.removes, steadyRemoves);
  }
  return {
    steadyInserts: steadyInserts as [number, number],
    steadyRemoves: steadyRemoves as [number, number],
    faultsPerBinding,
    inserts: inserts as [number, number],
    reinserts: reinsertRate as [number, number],
    removes: removeRate as [number, number],
    lookups: lookupRate as [number, number],
    heapPerBinding,
    buffersPerBinding,
    sampled,
  };
}

/** Whether an insert's result says the binding went in (NameTable: `{ ok: true }`; the others: true). */
const inserted = (r: unknown): boolean =>
  r === true || (typeof r === "object" && r !== null && (r as { ok?: unknown }).ok === true);

/**
 * The table full (all n bindings in): removes binding i of the removal order and inserts fresh
 * binding i, STEADY_BLOCK of each in turn, each block timed on its own. The table holds n - 1 to n
 * bindings throughout. Inputs are made in the timed loops unless prebuilt, as in the other phases.
 */
function steadyState(
  w: Workload,
  t: Table,
  prebuilt: boolean,
): { inserts: [number, number]; removes: [number, number] } {
  const count = w.fresh.type.length;
  const keys = prebuilt ? Array.from({ length: count }, (_, i) => keyAt(w.removal, i)) : [];
  const fresh = prebuilt ? Array.from({ length: count }, (_, i) => bindingAt(w.fresh, i)) : [];
  let cpuIn = 0;
  let wallIn = 0;
  let cpuOut = 0;
  let wallOut = 0;
  let removed = 0;
  let added = 0;
  for (let at = 0; at < count; at += STEADY_BLOCK) {
    const end = Math.min(count, at + STEADY_BLOCK);
    let c = cpuNow();
    let wt = performance.now();
    if (prebuilt)
      for (let i = at; i < end; i++) removed += t.remove(keys[i] as BindingKey) !== undefined ? 1 : 0;
    else for (let i = at; i < end; i++) removed += t.remove(keyAt(w.removal, i)) !== undefined ? 1 : 0;
    cpuOut += cpuNow() - c;
    wallOut += performance.now() - wt;
    c = cpuNow();
    wt = performance.now();
    if (prebuilt) for (let i = at; i < end; i++) added += inserted(t.insert(fresh[i] as Binding)) ? 1 : 0;
    else for (let i = at; i < end; i++) added += inserted(t.insert(bindingAt(w.fresh, i))) ? 1 : 0;
    cpuIn += cpuNow() - c;
    wallIn += performance.now() - wt;
  }
  if (removed !== count || added !== count) {
    throw new Error(`steady state: ${count - removed} removes and ${count - added} inserts missed`);
  }
  return {
    inserts: [count / cpuIn, count / (wallIn / 1000)],
    removes: [count / cpuOut, count / (wallOut / 1000)],
  };
}

const fmt1 = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);
const fmt = ([cpu, wall]: [number, number]) => `${fmt1(cpu)} (${fmt1(wall)})`;

const sizesArg = process.argv.find((a) => a.startsWith("--sizes="));
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
const prebuilt = process.argv.includes("--inputs=prebuilt");
const sizes = sizesArg ? sizesArg.slice(8).split(",").map(Number) : [10_000, 1_000_000];
if (!gc) console.warn("run with node --expose-gc for heap figures");
console.log(
  `node ${process.version}, ${NODES} nodes, ${TYPES} types, ${LOOKUPS.toLocaleString("en")} lookups, inputs ${prebuilt ? "prebuilt" : "made inline"}`,
);
console.log(
  `load average at start: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
{
  // Warm-up: let the JIT see every path before anything is measured.
  const w = workload(20_000);
  for (let k = 0; k < 3; k++) {
    for (const t of [
      new NameTable({ ownNode: w.ownNode }),
      new FastNameTable(new NameTable({ ownNode: w.ownNode, expectedBindings: w.n })),
      new NaiveTable(),
    ] as Table[]) {
      for (let i = 0; i < w.n; i++) t.insert(bindingAt(w, i));
      for (let i = 0; i < w.n; i++) t.lookupAnycast(w.lookupType[i] as number, w.lookupInstance[i] as number);
      for (let i = 0; i < w.n; i++) t.remove(keyAt(w.removal, i));
    }
    const many = new BatchNameTable(new NameTable({ ownNode: w.ownNode }));
    many.run(
      0,
      w.n,
      (i) => bindingAt(w, i),
      (bs) => many.t.addMany(bs),
    );
    many.run(
      0,
      w.n,
      (i) => keyAt(w.removal, i),
      (ks) => many.t.deleteMany(ks),
    );
  }
}
console.log("rates per CPU second (per wall-clock second)");
console.log(
  "| bindings | table | inserts/s (fill) | removes/s (empty) | anycast lookups/s | re-inserts/s | inserts/s at size | removes/s at size | page faults/binding in fill | heap B/binding (V8 + ArrayBuffers) |",
);
console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
const notes: string[] = [];
for (const n of sizes) {
  const w = workload(n);
  for (const [name, make] of [
    ["NameTable", () => new NameTable({ ownNode: w.ownNode })],
    [
      "NameTable add/delete, expectedBindings",
      () => new FastNameTable(new NameTable({ ownNode: w.ownNode, expectedBindings: n })),
    ],
    [
      `NameTable addMany/deleteMany (${BATCH} a call), expectedBindings`,
      () => {
        const table = new NameTable({ ownNode: w.ownNode, expectedBindings: n });
        return new FastNameTable(table, new BatchNameTable(table));
      },
    ],
    ["naive", () => new NaiveTable()],
  ] as const) {
    if (only !== undefined && name !== only) continue;
    const r = measure(name, w, make);
    const total = r.heapPerBinding + r.buffersPerBinding;
    console.log(
      `| ${n.toLocaleString("en")} | ${name} | ${fmt(r.inserts)} | ${fmt(r.removes)} | ${fmt(r.lookups)} | ${fmt(r.reinserts)} | ${fmt(r.steadyInserts)} | ${fmt(r.steadyRemoves)} | ${r.faultsPerBinding.toFixed(3)} | ${total.toFixed(0)} (${r.heapPerBinding.toFixed(0)} + ${r.buffersPerBinding.toFixed(0)}) |`,
    );
    for (const s of r.sampled) notes.push(`${name} at ${n.toLocaleString("en")}: ${s}`);
  }
}
for (const note of notes) console.log(`- ${note}`);
