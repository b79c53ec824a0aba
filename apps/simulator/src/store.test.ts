import type { Binding } from "@tipcjs/name-table";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BindingRegistry, CompactStore } from "./store.js";

const mk = (node: number, key: number, port = 1000 + key): Binding => ({
  type: 1000 + (key % 7),
  lower: key,
  upper: key,
  node,
  port,
  key,
  scope: "cluster",
});
const id = (b: Binding) => `${b.node}:${b.key}:${b.port}`;

describe("CompactStore", () => {
  it("behaves as a map of bindings (inline words, spill words, unknown bindings), checked against a Map", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(
          fc.record({
            op: fc.constantFrom("insert", "remove", "purge"),
            node: fc.integer({ min: 1, max: 4 }),
            key: fc.integer({ min: 1, max: 120 }),
            oddPort: fc.boolean(),
          }),
          { maxLength: 300 },
        ),
        (words, expectedPublishers, ops) => {
          const registry = new BindingRegistry(words, expectedPublishers);
          // Another store interns first, so the registry's numbering is shared.
          const other = new CompactStore(9, registry);
          const s = new CompactStore(1, registry);
          const ref = new Map<string, Binding>();
          const k = (b: { node: number; key: number }) => `${b.node}:${b.key}`;
          for (const o of ops) {
            // An odd port makes a binding the registry does not know under that key (overflow path).
            const b = mk(o.node, o.key, o.oddPort ? 7 : 1000 + o.key);
            if (!o.oddPort) other.insert(b);
            if (o.op === "insert") {
              const r = s.insert(b);
              const had = ref.has(k(b));
              if (!had) ref.set(k(b), b);
              expect(r.ok).toBe(!had);
            } else if (o.op === "remove") {
              const r = s.remove(b);
              const want = ref.get(k(b));
              expect(r && id(r)).toBe(want && id(want));
              ref.delete(k(b));
            } else {
              const out = s.purgeNode(o.node).map(id).sort();
              const want = [...ref.values()].filter((x) => x.node === o.node);
              for (const x of want) ref.delete(k(x));
              expect(out).toEqual(want.map(id).sort());
            }
            expect(s.size).toBe(ref.size);
          }
          for (let node = 1; node <= 4; node++)
            expect(s.bindingsOf(node).map(id).sort()).toEqual(
              [...ref.values()]
                .filter((x) => x.node === node)
                .map(id)
                .sort(),
            );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("own cluster bindings come in publication order", () => {
    const s = new CompactStore(5, new BindingRegistry(1));
    for (let key = 1; key <= 70; key++) s.insert(mk(5, key));
    s.remove(mk(5, 3));
    const keys = [...s.ownClusterBindings()].map((b) => b.key);
    expect(keys).toEqual(Array.from({ length: 70 }, (_, i) => i + 1).filter((x) => x !== 3));
    expect(s.bitsetBytes).toBeGreaterThan(0);
  });
});
