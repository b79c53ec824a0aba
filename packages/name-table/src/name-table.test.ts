import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Binding } from "./index.js";
import { NameTable, NameTableError } from "./index.js";

const OWN = 0x1001;
const b = (over: Partial<Binding> = {}): Binding => ({
  type: 1000,
  lower: 1,
  upper: 10,
  scope: "cluster",
  node: 2,
  port: 100,
  key: 7,
  ...over,
});

describe("identity, duplicates and withdrawals (tipc-protocol.md §2.3)", () => {
  it("refuses a duplicate (exact range + key + node) without throwing, whatever the port", () => {
    const t = new NameTable({ ownNode: OWN });
    expect(t.insert(b())).toEqual({ ok: true, binding: b() });
    expect(t.insert(b({ port: 999, scope: "node" }))).toEqual({ ok: false, reason: "duplicate" });
    // Any difference in range, key or node is another binding.
    expect(t.insert(b({ upper: 11 })).ok).toBe(true);
    expect(t.insert(b({ key: 8 })).ok).toBe(true);
    expect(t.insert(b({ node: 3 })).ok).toBe(true);
    expect(t.size).toBe(4);
  });

  it("matches a withdrawal on type, exact lower/upper, node and key, never the port", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b());
    expect(t.remove({ type: 1000, lower: 1, upper: 9, node: 2, key: 7 })).toBeUndefined();
    expect(t.remove({ type: 1000, lower: 1, upper: 10, node: 3, key: 7 })).toBeUndefined();
    expect(t.remove({ type: 1000, lower: 1, upper: 10, node: 2, key: 8 })).toBeUndefined();
    expect(t.remove({ type: 1001, lower: 1, upper: 10, node: 2, key: 7 })).toBeUndefined();
    expect(t.size).toBe(1);
    expect(t.remove({ type: 1000, lower: 1, upper: 10, node: 2, key: 7 })).toEqual(b());
    expect(t.remove({ type: 1000, lower: 1, upper: 10, node: 2, key: 7 })).toBeUndefined();
    expect(t.size).toBe(0);
  });

  it("finds a range's only binding and a shared range's bindings alike, as ranges fill and empty", () => {
    // One binding alone in its range is found from the range; once the range holds two, all of its
    // bindings go into the hash index. Every step is checked through each way in: duplicate, has,
    // get, remove, and after setOwnNode.
    const t = new NameTable({ ownNode: OWN });
    const at = (node: number, key: number) => ({ type: 1000, lower: 1, upper: 10, node, key });
    expect(t.add(b({ node: 2, key: 1 }))).toBe("added");
    expect(t.add(b({ node: 2, key: 1, port: 5 }))).toBe("duplicate");
    expect(t.has(at(2, 2))).toBe(false);
    expect(t.has(at(3, 1))).toBe(false);
    expect(t.add(b({ node: 3, key: 1 }))).toBe("added"); // the range is shared now
    expect(t.add(b({ node: 2, key: 1 }))).toBe("duplicate");
    expect(t.add(b({ node: 3, key: 1 }))).toBe("duplicate");
    expect(t.get(at(2, 1))?.node).toBe(2);
    expect(t.delete(at(2, 1))).toBe(true); // alone again, but still indexed
    expect(t.delete(at(2, 1))).toBe(false);
    expect(t.has(at(3, 1))).toBe(true);
    expect(t.add(b({ node: 3, key: 1 }))).toBe("duplicate");
    expect(t.add(b({ node: OWN, key: 4 }))).toBe("added");
    expect(t.add(b({ node: OWN, key: 4 }))).toBe("duplicate");
    t.setOwnNode(0x2002);
    expect(t.has(at(OWN, 4))).toBe(false);
    expect(t.add(b({ node: 0x2002, key: 4 }))).toBe("duplicate");
    expect(t.remove(at(0x2002, 4))?.port).toBe(100);
    expect(t.delete(at(3, 1))).toBe(true);
    expect(t.size).toBe(0);
    // A new range's only binding, after the type was emptied, and the same after setOwnNode.
    expect(t.add(b({ node: 0x2002, key: 9 }))).toBe("added");
    t.setOwnNode(0x3003);
    expect(t.add(b({ node: 0x3003, key: 9 }))).toBe("duplicate");
    expect(t.delete(at(0x3003, 9))).toBe(true);
    expect(t.size).toBe(0);
  });

  it("refuses inserts beyond maxBindings with reason limit", () => {
    const t = new NameTable({ ownNode: OWN, maxBindings: 2 });
    t.insert(b({ key: 1 }));
    t.insert(b({ key: 2 }));
    expect(t.insert(b({ key: 3 }))).toEqual({ ok: false, reason: "limit" });
    expect(t.insert(b({ key: 1 }))).toEqual({ ok: false, reason: "duplicate" });
    t.remove({ type: 1000, lower: 1, upper: 10, node: 2, key: 1 });
    expect(t.insert(b({ key: 3 })).ok).toBe(true);
  });

  it("add and delete: the same effects as insert and remove, with constant results and no objects", () => {
    const t = new NameTable({ ownNode: OWN, maxBindings: 2 });
    expect(t.add(b())).toBe("added");
    expect(t.add(b({ port: 999 }))).toBe("duplicate");
    expect(t.add(b({ key: 8 }))).toBe("added");
    expect(t.add(b({ key: 9 }))).toBe("limit");
    expect(t.get({ type: 1000, lower: 1, upper: 10, node: 2, key: 7 })).toEqual(b());
    expect(t.lookupAnycast(1000, 5)).toEqual({ node: 2, port: 100 });
    expect(t.delete({ type: 1000, lower: 1, upper: 10, node: 2, key: 8 })).toBe(true);
    expect(t.delete({ type: 1000, lower: 1, upper: 10, node: 2, key: 8 })).toBe(false);
    expect(() => t.add(b({ lower: 11 }))).toThrow(NameTableError);
    expect(() => t.delete({ type: 1000, lower: 1, upper: 10, node: -2, key: 7 })).toThrow(NameTableError);
    expect(t.dump()).toEqual([b()]);
    // Subscribers still get their events, with the binding as insert would store it.
    const sub = t.subscribe({ type: 1000, lower: 0, upper: 100, mode: "ports", initialEvents: false });
    expect(t.add(b({ key: 3, port: 5 }))).toBe("added");
    expect(t.delete({ type: 1000, lower: 1, upper: 10, node: 2, key: 7 })).toBe(true);
    expect(t.takeEvents().map((e) => [e.kind, e.subscription, e.kind === "timeout" ? 0 : e.binding])).toEqual(
      [
        ["published", sub, b({ key: 3, port: 5 })],
        ["withdrawn", sub, b()],
      ],
    );
  });

  it("addMany and deleteMany: add and delete for each item, in order, counting successes", () => {
    const t = new NameTable({ ownNode: OWN, maxBindings: 3 });
    const sub = t.subscribe({ type: 1000, lower: 0, upper: 100, mode: "service", initialEvents: false });
    const items = [
      b({ key: 1 }),
      b({ key: 1, port: 5 }),
      b({ key: 2, type: 7 }),
      b({ key: 3 }),
      b({ key: 4 }),
    ];
    expect(t.addMany(items)).toBe(3); // a duplicate and one over the limit
    expect(t.dump().map((x) => x.key)).toEqual([2, 1, 3]); // by type, then range, then publication
    expect(
      t.takeEvents().map((e) => [e.kind, e.subscription, e.kind === "timeout" ? 0 : e.binding.key]),
    ).toEqual([["published", sub, 1]]);
    const k = (key: number, type = 1000) => ({ type, lower: 1, upper: 10, node: 2, key });
    expect(t.deleteMany([k(1), k(1), k(9), k(2, 7)])).toBe(2);
    expect(t.dump().map((x) => x.key)).toEqual([3]);
    expect(t.addMany([])).toBe(0);
    expect(t.deleteMany([])).toBe(0);
    // Invalid input throws at that item: the items before it are applied, the ones after it are not.
    expect(() => t.addMany([b({ key: 5 }), b({ key: 6, lower: 20 }), b({ key: 7 })])).toThrow(NameTableError);
    expect(t.dump().map((x) => x.key)).toEqual([3, 5]);
    expect(() => t.addMany(null as never)).toThrow(NameTableError);
    expect(() => t.deleteMany([k(3), null as never, k(5)])).toThrow(NameTableError);
    expect(t.dump().map((x) => x.key)).toEqual([5]);
    expect(() => t.deleteMany("x" as never)).toThrow(NameTableError);
  });

  it("expectedBindings sizes the table up front and changes nothing else", () => {
    expect(() => new NameTable({ ownNode: OWN, expectedBindings: -1 })).toThrow(NameTableError);
    expect(() => new NameTable({ ownNode: OWN, expectedBindings: 1.5 })).toThrow(NameTableError);
    expect(() => new NameTable({ ownNode: OWN, expectedBindings: "9" as never })).toThrow(NameTableError);
    const sized = new NameTable({ ownNode: OWN, expectedBindings: 3000, maxBindings: 2500 });
    const plain = new NameTable({ ownNode: OWN, maxBindings: 2500 });
    for (let i = 0; i < 3000; i++) {
      const x = b({ type: i % 5, lower: i, upper: i, key: i });
      expect(sized.insert(x)).toEqual(plain.insert(x));
    }
    expect(sized.size).toBe(2500);
    expect(sized.dump()).toEqual(plain.dump());
    // A hint, not a cap: a small one lets the table grow as usual.
    const small = new NameTable({ ownNode: OWN, expectedBindings: 0 });
    for (let i = 0; i < 600; i++) expect(small.add(b({ lower: i, upper: i, key: i }))).toBe("added");
    expect(small.size).toBe(600);
  });

  it("purges one node's bindings in publication order and leaves the others", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b({ key: 1, lower: 50, upper: 50 }));
    t.insert(b({ key: 2, node: 3 }));
    t.insert(b({ key: 3, type: 5 }));
    t.insert(b({ key: 4 }));
    expect(t.purgeNode(2).map((x) => x.key)).toEqual([1, 3, 4]);
    expect(t.purgeNode(2)).toEqual([]);
    expect(t.dump()).toEqual([b({ key: 2, node: 3 })]);
  });
});

describe("lookups (tipc-protocol.md §3)", () => {
  it("anycast: first range by lower containing the instance, round-robin newest first", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b({ lower: 0, upper: 100, node: 9, port: 1, key: 1 }));
    t.insert(b({ lower: 5, upper: 5, node: 2, port: 2, key: 2 }));
    t.insert(b({ lower: 5, upper: 5, node: 3, port: 3, key: 3 }));
    // [0,100] comes first; it has a single binding.
    expect(t.lookupAnycast(1000, 5)).toEqual({ node: 9, port: 1 });
    t.purgeNode(9);
    // The kernel's list_add puts the newest first; each pick moves the head to the tail.
    expect([1, 2, 3].map(() => t.lookupAnycast(1000, 5)?.port)).toEqual([3, 2, 3]);
    t.insert(b({ lower: 5, upper: 5, node: 4, port: 4, key: 4 }));
    expect([1, 2, 3].map(() => t.lookupAnycast(1000, 5)?.port)).toEqual([4, 2, 3]);
    expect(t.lookupAnycast(1000, 6)).toBeUndefined();
    expect(t.lookupAnycast(77, 5)).toBeUndefined();
  });

  it("closest first prefers this node's bindings, then round-robin over all", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b({ node: 2, port: 2, key: 2 }));
    expect(t.lookupClosestFirst(1000, 3)).toEqual({ node: 2, port: 2 });
    t.insert(b({ node: OWN, port: 10, key: 10 }));
    t.insert(b({ node: OWN, port: 11, key: 11 }));
    expect([1, 2, 3].map(() => t.lookupClosestFirst(1000, 3)?.port)).toEqual([11, 10, 11]);
  });

  it("restricted to one node: own node skips ranges without local bindings; others rotate", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b({ lower: 0, upper: 9, node: 2, port: 1, key: 1 }));
    t.insert(b({ lower: 3, upper: 3, node: OWN, port: 2, key: 2 }));
    t.insert(b({ lower: 3, upper: 3, node: 2, port: 3, key: 3 }));
    t.insert(b({ lower: 3, upper: 3, node: 2, port: 4, key: 4 }));
    expect(t.lookupOnNode(1000, 3, OWN)).toEqual({ node: OWN, port: 2 });
    expect(t.lookupOnNode(1000, 3, 2)).toEqual({ node: 2, port: 1 });
    t.purgeNode(2);
    t.insert(b({ lower: 3, upper: 3, node: 2, port: 3, key: 3 }));
    t.insert(b({ lower: 3, upper: 3, node: 2, port: 4, key: 4 }));
    expect([1, 2, 3].map(() => t.lookupOnNode(1000, 3, 2)?.port)).toEqual([4, 3, 4]);
    expect(t.lookupOnNode(1000, 3, 5)).toBeUndefined();
    expect(t.lookupOnNode(1000, 4, OWN)).toBeUndefined();
  });

  it("all bindings for an instance, multicast sockets and nodes, and the ordered dump", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b({ type: 2, lower: 0, upper: 0, node: 1, port: 1, key: 1 }));
    t.insert(b({ lower: 20, upper: 30, node: 3, port: 5, key: 1 }));
    t.insert(b({ lower: 1, upper: 25, node: 4, port: 6, key: 2 }));
    t.insert(b({ lower: 1, upper: 25, node: 3, port: 5, key: 3, scope: "node" })); // same socket again
    t.insert(b({ lower: 26, upper: 40, node: 4, port: 7, key: 4 }));
    expect(t.lookupInstance(1000, 22).map((x) => x.key)).toEqual([2, 3, 1]);
    expect(t.lookupMulticast(1000, 0, 25)).toEqual([
      { node: 4, port: 6 },
      { node: 3, port: 5 },
    ]);
    expect(t.lookupMulticast(1000, 0, 100, { nodes: [4] })).toEqual([
      { node: 4, port: 6 },
      { node: 4, port: 7 },
    ]);
    expect(t.lookupMulticast(1000, 0, 100, { scope: "cluster", nodes: new Set([3]) })).toEqual([
      { node: 3, port: 5 },
    ]);
    expect(t.lookupMulticastNodes(1000, 26, 26)).toEqual([3, 4]);
    expect(t.dump().map((x) => [x.type, x.lower, x.upper, x.key])).toEqual([
      [2, 0, 0, 1],
      [1000, 1, 25, 2],
      [1000, 1, 25, 3],
      [1000, 20, 30, 1],
      [1000, 26, 40, 4],
    ]);
    expect([...t]).toEqual(t.dump());
  });
});

describe("own bindings and addressing", () => {
  it("iterates this node's cluster-scope bindings in publication order, as a snapshot", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b({ node: OWN, key: 1, type: 9 }));
    t.insert(b({ node: OWN, key: 2, scope: "node" }));
    t.insert(b({ node: 2, key: 3 }));
    t.insert(b({ node: OWN, key: 4, type: 1 }));
    const it = t.ownClusterBindings();
    t.remove({ type: 9, lower: 1, upper: 10, node: OWN, key: 1 });
    expect([...it].map((x) => x.key)).toEqual([1, 4]);
    expect([...t.ownClusterBindings()].map((x) => x.key)).toEqual([4]);
  });

  it("setOwnNode moves this node's bindings to the new address (tipc_named_reinit)", () => {
    const t = new NameTable({ ownNode: 0 });
    t.insert(b({ node: 0, key: 1 }));
    t.insert(b({ node: 0, key: 2, scope: "node" }));
    t.insert(b({ node: 5, key: 3 }));
    expect(() => t.setOwnNode(5)).toThrow(expect.objectContaining({ code: "ADDRESS_IN_USE" }));
    expect(t.ownNode).toBe(0);
    t.setOwnNode(OWN);
    expect(t.ownNode).toBe(OWN);
    expect(t.nodeBindings(0)).toEqual([]);
    expect(t.nodeBindings(OWN).map((x) => x.key)).toEqual([1, 2]);
    expect([...t.ownClusterBindings()].map((x) => [x.node, x.key])).toEqual([[OWN, 1]]);
    expect(t.remove({ type: 1000, lower: 1, upper: 10, node: OWN, key: 2 })?.scope).toBe("node");
    expect(t.lookupOnNode(1000, 1, OWN)).toEqual({ node: OWN, port: 100 });
  });

  it("keeps publication order when the u32 publication counter is renumbered before it wraps", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b({ node: OWN, key: 1 }));
    t.insert(b({ node: OWN, key: 2 }));
    t.insert(b({ node: OWN, key: 3 }));
    t.remove({ type: 1000, lower: 1, upper: 10, node: OWN, key: 2 });
    (t as unknown as { nextSeq: number }).nextSeq = 0xfffffffe;
    t.insert(b({ node: OWN, key: 4 }));
    t.insert(b({ node: OWN, key: 5 })); // renumbers 1, 3, 4 to 0, 1, 2 first
    expect((t as unknown as { nextSeq: number }).nextSeq).toBe(4);
    t.insert(b({ node: OWN, key: 6 }));
    expect(t.dump().map((x) => x.key)).toEqual([1, 3, 4, 5, 6]);
    t.subscribe({ type: 1000, lower: 0, upper: 100, mode: "service" });
    expect(t.takeEvents().map((e) => (e.kind === "published" ? e.binding.key : -1))).toEqual([1]);
  });

  it("finds every range of a type as it grows to 200 ranges in random order and shrinks back, lowers tied", () => {
    // The type's segment grows and shrinks through several capacities, ranges with equal lowers sit
    // side by side, and every step is checked against the set of bindings held.
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({ lower: fc.integer({ min: 0, max: 40 }), width: fc.integer({ min: 0, max: 6 }) }),
          { minLength: 140, maxLength: 200, selector: (r) => `${r.lower}/${r.width}` },
        ),
        fc.infiniteStream(fc.nat()),
        (ranges, picks) => {
          const t = new NameTable({ ownNode: OWN });
          const at = (i: number) => {
            const r = ranges[i] as { lower: number; width: number };
            return { type: 5, lower: r.lower, upper: r.lower + r.width, node: 2, key: i };
          };
          const held = new Set<number>();
          const check = () => {
            for (let i = 0; i < ranges.length; i++) {
              if (t.has(at(i)) !== held.has(i)) return false;
            }
            return true;
          };
          const pick = picks[Symbol.iterator]();
          for (let i = 0; i < ranges.length; i++) {
            expect(t.add({ ...at(i), port: i, scope: "cluster" })).toBe("added");
            held.add(i);
            if (i % 10 === 9 && !check()) return false;
          }
          for (let i = 0; i < ranges.length; i++) {
            expect(t.add({ ...at(i), port: 0, scope: "node" })).toBe("duplicate");
          }
          const order = [...held];
          while (order.length > 0) {
            const i = order.splice((pick.next().value as number) % order.length, 1)[0] as number;
            expect(t.delete(at(i))).toBe(true);
            held.delete(i);
            if (order.length % 10 === 0 && !check()) return false;
          }
          return t.size === 0;
        },
      ),
      { numRuns: 25 },
    );
  });

  it("keeps working through slot, range and index growth and churn", () => {
    const t = new NameTable({ ownNode: OWN });
    const n = 5000;
    const key = (i: number) => ({ type: i % 7, lower: i, upper: i + (i % 3), node: 1 + (i % 13), key: i });
    let inserted = 0;
    for (let i = 0; i < n; i++) if (t.insert({ ...key(i), port: i, scope: "cluster" }).ok) inserted++;
    expect(inserted).toBe(n);
    let removed = 0;
    for (let i = 0; i < n; i += 2) if (t.remove(key(i))?.key === i) removed++;
    expect(removed).toBe(n / 2);
    expect(t.size).toBe(n / 2);
    let found = 0;
    for (let i = 1; i < n; i += 2) {
      if (t.lookupAnycast(i % 7, i)?.port === i && t.has(key(i)) && !t.has(key(i - 1))) found++;
    }
    expect(found).toBe(n / 2);
    let purged = 0;
    for (let node = 1; node <= 13; node++) purged += t.purgeNode(node).length;
    expect(purged).toBe(n / 2);
    expect(t.size).toBe(0);
    expect(t.dump()).toEqual([]);
  });
});

describe("invalid input", () => {
  const bad: Array<[string, unknown, string]> = [
    ["lower > upper", b({ lower: 11, upper: 10 }), "LOWER_ABOVE_UPPER"],
    ["negative type", b({ type: -1 }), "NOT_U32"],
    ["type above u32", b({ type: 2 ** 32 }), "NOT_U32"],
    ["fractional lower", b({ lower: 1.5 }), "NOT_U32"],
    ["NaN upper", b({ upper: Number.NaN }), "NOT_U32"],
    ["string node", b({ node: "2" as never }), "NOT_U32"],
    ["missing port", { ...b(), port: undefined }, "NOT_U32"],
    ["bigint key", b({ key: 7n as never }), "NOT_U32"],
    ["bad scope", b({ scope: "zone" as never }), "BAD_SCOPE"],
    ["null", null, "BAD_ARGUMENT"],
    ["number", 42, "BAD_ARGUMENT"],
  ];

  it.each(bad)("insert with %s throws NameTableError and changes nothing", (_, input, code) => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b({ key: 1 }));
    const sub = t.subscribe({ type: 1000, lower: 0, upper: 100, mode: "ports" });
    t.takeEvents();
    const before = t.dump();
    expect(() => t.insert(input as Binding)).toThrow(
      expect.objectContaining({ name: "NameTableError", code }),
    );
    expect(t.dump()).toEqual(before);
    expect(t.size).toBe(1);
    expect(t.takeEvents()).toEqual([]);
    expect(t.activeSubscriptions()).toEqual([sub]);
  });

  it("every entry point refuses malformed arguments with NameTableError", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(b());
    const before = t.dump();
    const calls: Array<() => unknown> = [
      () => t.remove({ type: 1000, lower: 10, upper: 1, node: 2, key: 7 }),
      () => t.remove(null as never),
      () => t.get({ type: 1000, lower: 1, upper: 10, node: -2, key: 7 }),
      () => t.purgeNode(2 ** 32),
      () => t.lookupAnycast(1000, -1),
      () => t.lookupClosestFirst(Number.NaN, 1),
      () => t.lookupOnNode(1000, 1, 1.5),
      () => t.lookupInstance("1000" as never, 1),
      () => t.lookupMulticast(1000, 5, 4),
      () => t.lookupMulticast(1000, 1, 4, { nodes: 5 as never }),
      () => t.lookupMulticast(1000, 1, 4, { scope: "any" as never }),
      () => t.lookupMulticastNodes(1000, 9, 1),
      () => t.setOwnNode(-1),
      () => t.expire(Number.NaN),
      () => new NameTable({ ownNode: -1 }),
      () => new NameTable({ ownNode: 1, maxBindings: -1 }),
    ];
    for (const call of calls) expect(call).toThrow(NameTableError);
    expect(t.dump()).toEqual(before);
  });

  it("no random input to insert or remove breaks the table", () => {
    const anyField = fc.oneof(
      fc.integer({ min: 0, max: 20 }),
      fc.double(),
      fc.integer(),
      fc.string(),
      fc.constant(undefined),
      fc.constant(null),
    );
    const input = fc.record({
      type: anyField,
      lower: anyField,
      upper: anyField,
      node: anyField,
      port: anyField,
      key: anyField,
      scope: fc.oneof(fc.constantFrom("node", "cluster"), fc.string()),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), input), { maxLength: 40 }), (ops) => {
        const t = new NameTable({ ownNode: OWN });
        const held = new Map<string, Binding>();
        for (const [isInsert, x] of ops) {
          const valid =
            [x.type, x.lower, x.upper, x.node, x.port, x.key].every(
              (v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff,
            ) &&
            (x.lower as number) <= (x.upper as number) &&
            (x.scope === "node" || x.scope === "cluster");
          const id = JSON.stringify([x.type, x.lower, x.upper, x.node, x.key]);
          const call = () => (isInsert ? t.insert(x as Binding) : t.remove(x as Binding));
          let threw: unknown;
          try {
            const r = call();
            if (isInsert && (r as { ok: boolean }).ok) held.set(id, x as Binding);
            if (!isInsert && r !== undefined) held.delete(id);
          } catch (e) {
            threw = e;
          }
          if (threw !== undefined) expect(threw).toBeInstanceOf(NameTableError);
          if (isInsert) expect(threw === undefined).toBe(valid);
          expect(t.size).toBe(held.size);
        }
      }),
      { numRuns: 200 },
    );
  });
});
