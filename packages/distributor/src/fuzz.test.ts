/**
 * No input from the network makes the receiver throw or store something invalid: random and
 * mutated messages are applied, held or dropped and counted, and the distributor's own
 * bookkeeping stays consistent.
 */
import { type NameDistributorMessage, TIPC_NODE_CAPABILITIES } from "@tipcjs/codec";
import { NameTable } from "@tipcjs/name-table";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createDistributor } from "./distributor.js";

const A = 0x1001;
const B = 0x1002;

const u32ish = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 0xffffffff, 0x7fffffff) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      -1,
      1.5,
      Number.NaN,
      2 ** 32,
      "3" as unknown as number,
      null as unknown as number,
    ),
  },
);
const item = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ type: u32ish, lower: u32ish, upper: u32ish, port: u32ish, key: u32ish }),
  },
  { weight: 1, arbitrary: fc.anything() as fc.Arbitrary<never> },
);
const message: fc.Arbitrary<NameDistributorMessage> = fc.record({
  user: fc.constantFrom("NAME_DISTRIBUTOR", "NAME_DISTRIBUTOR", "NAME_DISTRIBUTOR", "LINK_PROTOCOL"),
  type: fc.constantFrom("PUBLICATION", "WITHDRAWAL", "BOGUS"),
  nonSeq: fc.boolean(),
  bcastAck: fc.nat({ max: 0xffff }),
  ack: fc.nat({ max: 0xffff }),
  seqno: fc.nat({ max: 0xffff }),
  prevNode: fc.constantFrom(0, A),
  origNode: fc.constantFrom(A, A, A, B, 0),
  destNode: fc.constantFrom(0, B),
  bulk: fc.boolean(),
  lastBulk: fc.boolean(),
  nonLegacy: fc.oneof(fc.boolean(), fc.constant(1 as unknown as boolean)),
  namedSeqno: fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 12 }) }, { weight: 1, arbitrary: fc.integer() }),
  bcAckInvalid: fc.boolean(),
  items: fc.oneof(
    { weight: 9, arbitrary: fc.array(item, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.anything() },
  ),
}) as fc.Arbitrary<NameDistributorMessage>;

describe("fuzz: bad network input never throws and never corrupts state", () => {
  it("random messages from up and down peers (300 runs)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            { weight: 12, arbitrary: message },
            { weight: 1, arbitrary: fc.constantFrom("down", "up") },
          ),
          { maxLength: 40 },
        ),
        fc.boolean(),
        (inputs, legacy) => {
          const table = new NameTable({ ownNode: B });
          const d = createDistributor({ ownNode: B, table, legacy, maxHeldPerPeer: 5 });
          d.nodeUp(A, { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 });
          let up = true;
          let received = 0;
          for (const x of inputs) {
            if (x === "down") {
              d.nodeDown(A);
              up = false;
            } else if (x === "up") {
              if (!up) d.nodeUp(A, { capabilities: 0, mtu: 1500 });
              up = true;
            } else {
              received++;
              expect(() => d.receive(A, x)).not.toThrow();
            }
          }
          const s = d.stats();
          expect(s.received.messages).toBe(received);
          expect(s.heldNow).toBe(d.peers().reduce((n, p) => n + p.held, 0));
          expect(s.heldNow).toBeLessThanOrEqual(5);
          for (const p of d.peers()) expect(p.rcvNxt >= 0 && p.rcvNxt <= 0xffff).toBe(true);
          // Everything stored from the network is a valid binding owned by the peer that sent it.
          for (const b of table.nodeBindings(A)) {
            expect(b.lower <= b.upper && b.scope === "cluster").toBe(true);
          }
          expect(table.size).toBe(table.nodeBindings(A).length + table.nodeBindings(B).length);
          // and the owner's view of itself is untouched: only its node-state binding
          expect(table.nodeBindings(B)).toHaveLength(1);
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);
});
