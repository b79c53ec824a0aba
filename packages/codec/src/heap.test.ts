import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MinHeap } from "./heap.js";

interface Item {
  key: number;
  seq: number;
}
const before = (a: Item, b: Item) => a.key < b.key || (a.key === b.key && a.seq < b.seq);
const byOrder = (a: Item, b: Item) => a.key - b.key || a.seq - b.seq;

describe("MinHeap", () => {
  it("is empty at first", () => {
    const h = new MinHeap<Item>(before);
    expect(h.size).toBe(0);
    expect(h.peek()).toBeUndefined();
    expect(h.pop()).toBeUndefined();
  });

  it("pops in order under any mix of pushes, pops and retains (against a sorted array)", () => {
    const op = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 20 }) }),
      fc.constant({ pop: true as const }),
      fc.record({ retainOdd: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const h = new MinHeap<Item>(before);
        let model: Item[] = [];
        let seq = 0;
        for (const o of ops) {
          if ("push" in o) {
            const item = { key: o.push, seq: seq++ };
            h.push(item);
            model.push(item);
            model.sort(byOrder);
          } else if ("pop" in o) {
            expect(h.pop()).toBe(model.shift());
          } else {
            const keep = (x: Item) => (x.seq % 2 === 1) === o.retainOdd;
            h.retain(keep);
            model = model.filter(keep);
          }
          expect(h.size).toBe(model.length);
          expect(h.peek()).toBe(model[0]);
        }
        const rest: Item[] = [];
        for (let x = h.pop(); x !== undefined; x = h.pop()) rest.push(x);
        expect(rest).toEqual(model);
      }),
      { numRuns: 300 },
    );
  });
});
