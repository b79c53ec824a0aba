import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createVirtualClock } from "./clock.js";
import { type Faults, memoryFabric } from "./fabric.js";

const faults: fc.Arbitrary<Faults | undefined> = fc.option(
  fc.record(
    {
      loss: fc.double({ min: 0, max: 1, noNaN: true }),
      duplicate: fc.double({ min: 0, max: 1, noNaN: true }),
      reorder: fc.double({ min: 0, max: 1, noNaN: true }),
      delay: fc.integer({ min: 0, max: 20 }),
      jitter: fc.integer({ min: 0, max: 20 }),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

type Op =
  | { kind: "send"; from: number; to: number; size: number }
  | { kind: "broadcast"; from: number; size: number }
  | { kind: "faults"; target: "fabric" | number; faults: Faults | undefined }
  | { kind: "pair"; a: number; b: number; faults: Faults | undefined }
  | { kind: "partition"; a: number; b: number; healAfter: number }
  | { kind: "advance"; ms: number };

const N = 5;
const member = fc.integer({ min: 0, max: N - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("send" as const),
    from: member,
    to: fc.integer({ min: 0, max: N }),
    size: fc.integer({ min: 1, max: 300 }),
  }),
  fc.record({
    kind: fc.constant("broadcast" as const),
    from: member,
    size: fc.integer({ min: 1, max: 300 }),
  }),
  fc.record({
    kind: fc.constant("faults" as const),
    target: fc.oneof(fc.constant("fabric" as const), member),
    faults,
  }),
  fc.record({ kind: fc.constant("pair" as const), a: member, b: member, faults }),
  fc.record({
    kind: fc.constant("partition" as const),
    a: member,
    b: member,
    healAfter: fc.integer({ min: 0, max: 50 }),
  }),
  fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) }),
);

describe("memory fabric accounting (property)", () => {
  it("under any faults, every routed copy is delivered or dropped by a named cause, exactly once", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(op, { maxLength: 60 }), (seed, ops) => {
        const clock = createVirtualClock(seed);
        // member 4 has a small MTU, so some copies are dropped for size
        const fabric = memoryFabric({ clock });
        const members = Array.from({ length: N }, (_, i) => fabric.join(i === 4 ? { mtu: 200 } : {}));
        let handled = 0;
        for (const m of members) m.onReceive(() => handled++);
        // a sender cannot exceed its own MTU (that throws, by contract); receivers drop for size
        const sized = (from: number, size: number) => new Uint8Array(from === 4 ? Math.min(size, 200) : size);
        let routed = 0;
        let unknown = 0;
        for (const o of ops) {
          const at = (i: number) => members[i] as (typeof members)[number];
          switch (o.kind) {
            case "send":
              if (o.to === N) {
                at(o.from).send({ family: "ipv4", address: "10.1.1.1", port: 1 }, sized(o.from, o.size));
                unknown++;
              } else {
                at(o.from).send(at(o.to).localAddress, sized(o.from, o.size));
                routed++;
              }
              break;
            case "broadcast":
              at(o.from).broadcast(sized(o.from, o.size));
              routed += N - 1;
              break;
            case "faults":
              if (o.target === "fabric") fabric.setFaults(o.faults);
              else fabric.setLinkFaults(at(o.target).localAddress, o.faults);
              break;
            case "pair":
              fabric.setPairFaults(at(o.a).localAddress, at(o.b).localAddress, o.faults);
              break;
            case "partition":
              fabric.partition([at(o.a).localAddress], [at(o.b).localAddress], { healAfter: o.healAfter });
              break;
            case "advance":
              clock.advance(o.ms);
              break;
          }
        }
        clock.runUntilIdle();
        const c = fabric.counters;
        const { "no-route": noRoute, ...rest } = c.drops;
        const dropped = Object.values(rest).reduce((x, y) => x + y, 0);
        expect(noRoute).toBe(unknown);
        expect(c.deliveries + dropped).toBe(routed + c.duplicates);
        expect(handled).toBe(c.deliveries);
        expect(c.transmissions).toBe(ops.filter((x) => x.kind === "send" || x.kind === "broadcast").length);
      }),
      { numRuns: 150 },
    );
  });
});
