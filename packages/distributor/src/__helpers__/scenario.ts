/**
 * Random cluster scenarios for the model-based tests: nodes (some legacy), operations
 * (publications, withdrawals, links up and down, joins, leaves, restarts, partial deliveries)
 * and a seed for the order in which everything still in flight is finally delivered.
 */
import fc from "fast-check";
import type { Flavor } from "../types.js";
import { Cluster, type TableKind } from "./cluster.js";

export const ADDRS = [0x1001, 0x1002, 0x1003, 0x1004, 0x1005];

export type Op =
  | { op: "pub"; n: number; type: number; lower: number; width: number; node: boolean }
  | { op: "wd"; n: number; pick: number }
  | { op: "dl"; pick: number; count: number }
  | { op: "up"; a: number; b: number }
  | { op: "down"; a: number; b: number }
  | { op: "join"; n: number }
  | { op: "leave"; n: number }
  | { op: "restart"; n: number; sndNxt: number };

export interface Scenario {
  /** eager: a tipcjs node that broadcasts at once after node up, as a kernel sender does (awaitBulkAck false) */
  nodes: Array<{ legacy: boolean; linux: boolean; eager: boolean; mtu: number; sndNxt: number }>;
  ops: Op[];
  seed: number;
  startLinked: boolean;
}

const nodeIx = fc.nat({ max: ADDRS.length - 1 });
// Start near the top of the 16-bit space often, so runs cross the wrap.
const sndNxt = fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xfff0, max: 0xffff }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("pub" as const),
      n: nodeIx,
      type: fc.integer({ min: 1000, max: 1003 }),
      lower: fc.nat({ max: 6 }),
      width: fc.nat({ max: 2 }),
      node: fc.nat({ max: 7 }).map((x) => x === 0), // 1 in 8 at node scope: stored, never sent
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("wd" as const), n: nodeIx, pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("dl" as const),
      pick: fc.nat(),
      count: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("up" as const), a: nodeIx, b: nodeIx }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("down" as const), a: nodeIx, b: nodeIx }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("join" as const), n: nodeIx }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("leave" as const), n: nodeIx }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("restart" as const), n: nodeIx, sndNxt }) },
);

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  nodes: fc.array(
    fc.record({
      legacy: fc.nat({ max: 2 }).map((x) => x === 0), // about 1 in 3 legacy
      linux: fc.boolean(), // in "mixed" runs, half the others are linux
      eager: fc.boolean(), // half the tipcjs senders time their broadcasts as the kernel does
      mtu: fc.constantFrom(120, 160, 1500),
      sndNxt,
    }),
    { minLength: 2, maxLength: ADDRS.length },
  ),
  ops: fc.array(opArb, { minLength: 1, maxLength: 40 }),
  seed: fc.integer(),
  startLinked: fc.boolean(),
});

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n) as number;
  };
}

/** Run a scenario to quiescence; return the cluster. */
/** `mixed`: each non-legacy node is `linux` or `tipcjs` as the scenario says. */
export function run(sc: Scenario, tableKind: TableKind, flavor: Flavor | "mixed" = "tipcjs"): Cluster {
  const n = sc.nodes.length;
  const addr = (i: number) => ADDRS[i % n] as number;
  const c = new Cluster(
    sc.nodes.map((s, i) => ({
      addr: ADDRS[i] as number,
      legacy: s.legacy,
      mtu: s.mtu,
      initialSndNxt: s.sndNxt,
      flavor: s.legacy ? "legacy" : flavor === "mixed" ? (s.linux ? "linux" : "tipcjs") : flavor,
      awaitBulkAck: !s.eager,
    })),
    tableKind,
  );
  const pick = rng(sc.seed);
  let key = 1;
  if (sc.startLinked) for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) c.up(addr(i), addr(j));
  for (const o of sc.ops) {
    switch (o.op) {
      case "pub": {
        const a = addr(o.n);
        c.publish(a, {
          type: o.type,
          lower: o.lower,
          upper: o.lower + o.width,
          port: 10 + key,
          key: key++,
          scope: o.node ? "node" : "cluster",
        });
        break;
      }
      case "wd": {
        const a = addr(o.n);
        const own = c.node(a).table.nodeBindings(a);
        const b = own[o.pick % Math.max(1, own.length)];
        if (b) c.withdraw(a, { type: b.type, lower: b.lower, upper: b.upper, key: b.key });
        break;
      }
      case "dl": {
        const p = c.pendingChannels();
        const ch = p[o.pick % Math.max(1, p.length)];
        if (ch) c.deliver(ch.from, ch.to, ch.path, o.count);
        break;
      }
      case "up":
        if (addr(o.a) !== addr(o.b)) c.up(addr(o.a), addr(o.b));
        break;
      case "down":
        c.down(addr(o.a), addr(o.b));
        break;
      case "join":
        for (let i = 0; i < n; i++) if (addr(i) !== addr(o.n)) c.up(addr(o.n), addr(i));
        break;
      case "leave":
        for (let i = 0; i < n; i++) c.down(addr(o.n), addr(i));
        break;
      case "restart":
        c.restart(addr(o.n), { initialSndNxt: o.sndNxt });
        break;
    }
  }
  c.drain(pick);
  return c;
}
