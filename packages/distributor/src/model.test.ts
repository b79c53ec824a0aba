/**
 * Model-based property test: random publications and withdrawals, links up and down, nodes
 * restarting, legacy nodes joining and leaving (so senders switch between broadcast and
 * replicast), and random delivery orders across every unicast and broadcast path. After
 * everything in flight is delivered, every node's view of every peer it is linked to equals
 * that peer's own cluster bindings, and it holds nothing of the peers it is not linked to.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Cluster, type TableKind, viewOf } from "./__helpers__/cluster.js";

const ADDRS = [0x1001, 0x1002, 0x1003, 0x1004, 0x1005];

type Op =
  | { op: "pub"; n: number; type: number; lower: number; width: number; node: boolean }
  | { op: "wd"; n: number; pick: number }
  | { op: "dl"; pick: number; count: number }
  | { op: "up"; a: number; b: number }
  | { op: "down"; a: number; b: number }
  | { op: "join"; n: number }
  | { op: "leave"; n: number }
  | { op: "restart"; n: number; sndNxt: number };

interface Scenario {
  nodes: Array<{ legacy: boolean; mtu: number; sndNxt: number }>;
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

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  nodes: fc.array(
    fc.record({
      legacy: fc.nat({ max: 2 }).map((x) => x === 0), // about 1 in 3 legacy
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
function run(sc: Scenario, tableKind: TableKind): Cluster {
  const n = sc.nodes.length;
  const addr = (i: number) => ADDRS[i % n] as number;
  const c = new Cluster(
    sc.nodes.map((s, i) => ({
      addr: ADDRS[i] as number,
      legacy: s.legacy,
      mtu: s.mtu,
      initialSndNxt: s.sndNxt,
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

// The small map store runs the most cases; the real NameTable (which preallocates, so each
// run costs more to set up) runs fewer of the same kind.
describe.each([
  { tableKind: "map" as const, runs: 5000 },
  { tableKind: "name-table" as const, runs: 1000 },
])(
  "model with $tableKind tables: any interleaving of broadcast and unicast paths converges to the truth",
  ({ tableKind, runs }) => {
    it(`every live node's view of every peer equals that peer's own bindings (${runs} random runs)`, () => {
      // How often the races the protocol exists for actually happen in the generated runs.
      const seen = {
        releasedFromHold: 0,
        methodSwitch: 0,
        legacyApplied: 0,
        wrapped: 0,
        multiMessageBulk: 0,
      };
      fc.assert(
        fc.property(scenarioArb, (sc) => {
          const c = run(sc, tableKind);
          expect(c.mismatches()).toEqual([]);
          const all = [...c.nodes.values()].map((n) => n.d.stats());
          if (all.some((s) => s.received.releasedFromHold > 0)) seen.releasedFromHold++;
          if (all.some((s) => s.methodSwitches > 0 && s.sent.broadcast > 0 && s.sent.replicast > 0))
            seen.methodSwitch++;
          if (all.some((s) => s.received.legacy > 0)) seen.legacyApplied++;
          if (
            sc.nodes.some(
              (n, i) =>
                (c.node(ADDRS[i] as number).d.stats().sndNxt - n.sndNxt) & 0x8000 && n.sndNxt > 0xff00,
            )
          )
            seen.wrapped++;
          if (
            [...c.nodes.values()].some((n) =>
              n.outputs.some((o) => o.kind === "send" && o.method === "bulk" && !o.message.lastBulk),
            )
          ) {
            seen.multiMessageBulk++;
          }
          for (const node of c.nodes.values()) {
            const s = node.d.stats();
            expect(s.heldNow).toBe(0);
            expect(s.drops).toMatchObject({
              heldOverflow: 0,
              peerNotUp: 0,
              malformedMessage: 0,
              malformedItem: 0,
              stale: 0,
            });
            // replicastDestinations counts exactly the linked legacy peers
            const legacyPeers = [...c.nodes.values()].filter(
              (p) => p !== node && p.spec.legacy && c.linked(node.spec.addr, p.spec.addr),
            );
            expect(s.replicastDestinations).toBe(legacyPeers.length);
          }
        }),
        { numRuns: runs },
      );
      // Observed per 5,000 runs: about 540 / 155 / 2600 / 370 / 2750. The floors keep the generator honest.
      const per5000 = (n: number) => (n * runs) / 5000;
      expect(seen.releasedFromHold).toBeGreaterThan(per5000(300));
      expect(seen.methodSwitch).toBeGreaterThan(per5000(80));
      expect(seen.legacyApplied).toBeGreaterThan(per5000(1500));
      expect(seen.wrapped).toBeGreaterThan(per5000(200));
      expect(seen.multiMessageBulk).toBeGreaterThan(per5000(1500));
    }, 120_000);

    it("the property can fail: the same arrival orders fed to pre-2020 receivers break it", () => {
      const result = fc.check(
        fc.property(scenarioArb, (sc) => {
          const c = run(sc, tableKind);
          for (const x of c.nodes.keys()) {
            const legacy = c.replayLegacy(x);
            for (const y of c.nodes.keys()) {
              if (x === y) continue;
              const expected = c.linked(x, y) ? c.truth(y) : [];
              if (viewOf(legacy, y).join() !== expected.join()) return false;
            }
          }
          return true;
        }),
        { numRuns: runs / 5, seed: 42 },
      );
      expect(result.failed).toBe(true);
    });
  },
);
