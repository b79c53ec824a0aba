/**
 * Model-based property test: any sequence of operations gives the same answers from NameTable
 * as from the deliberately simple reference model below (arrays, linear scans, sorting), which
 * spells out the kernel's rules (shared/docs/tipc-protocol.md §2.3, §3, §4) directly.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Binding, BindingKey, InsertResult, Scope, SocketAddress, SubscriptionMode } from "./index.js";
import { NameTable, NameTableError } from "./index.js";

interface Entry {
  b: Binding;
  seq: number;
}

interface Range {
  type: number;
  lower: number;
  upper: number;
  /** The kernel's all_publ list: newest at the head, a round-robin pick moves the head to the tail. */
  all: Entry[];
  /** local_publ, the same for this node's bindings. */
  local: Entry[];
}

interface ModelSub {
  id: number;
  type: number;
  lower: number;
  upper: number;
  mode: SubscriptionMode;
  scope: Scope | undefined;
  deadline: number | undefined;
  active: boolean;
}

interface Ev {
  kind: string;
  sub: number;
  found: { lower: number; upper: number };
  socket: SocketAddress;
  scope?: Scope;
  binding?: Binding;
}

const bySeq = (a: Entry, b: Entry) => a.seq - b.seq;
const overlaps = (r: { lower: number; upper: number }, lo: number, hi: number) =>
  r.lower <= hi && r.upper >= lo;

class Model {
  ranges: Range[] = [];
  seq = 0;
  subs: ModelSub[] = [];
  nextSubId = 1;
  events: Ev[] = [];

  constructor(
    public ownNode: number,
    readonly maxBindings: number,
  ) {}

  entries(): Entry[] {
    return this.ranges.flatMap((r) => r.all).sort(bySeq);
  }

  size(): number {
    return this.entries().length;
  }

  sorted(type: number): Range[] {
    return this.ranges.filter((r) => r.type === type).sort((a, b) => a.lower - b.lower || a.upper - b.upper);
  }

  exact(type: number, lower: number, upper: number): Range | undefined {
    return this.ranges.find((r) => r.type === type && r.lower === lower && r.upper === upper);
  }

  report(b: Binding, kind: string, must: boolean, only?: ModelSub): void {
    const subs = only ? [only] : this.subs.filter((s) => s.active && s.type === b.type).reverse();
    for (const s of subs) {
      if (!overlaps(b, s.lower, s.upper)) continue;
      if (!must && s.mode !== "ports") continue;
      if (s.scope !== undefined && s.scope !== b.scope) continue;
      this.events.push({
        kind,
        sub: s.id,
        found: { lower: Math.max(b.lower, s.lower), upper: Math.min(b.upper, s.upper) },
        socket: { node: b.node, port: b.port },
        scope: b.scope,
        binding: b,
      });
    }
  }

  insert(b: Binding): InsertResult {
    const r0 = this.exact(b.type, b.lower, b.upper);
    if (r0?.all.some((e) => e.b.key === b.key && e.b.node === b.node))
      return { ok: false, reason: "duplicate" };
    if (this.size() >= this.maxBindings) return { ok: false, reason: "limit" };
    let r = r0;
    if (!r) {
      r = { type: b.type, lower: b.lower, upper: b.upper, all: [], local: [] };
      this.ranges.push(r);
    }
    const stored = { ...b };
    const e = { b: stored, seq: this.seq++ };
    r.all.unshift(e);
    if (b.node === this.ownNode) r.local.unshift(e);
    this.report(stored, "published", r.all.length === 1);
    return { ok: true, binding: stored };
  }

  removeEntry(r: Range, e: Entry): Binding {
    r.all.splice(r.all.indexOf(e), 1);
    const li = r.local.indexOf(e);
    if (li >= 0) r.local.splice(li, 1);
    if (r.all.length === 0) this.ranges.splice(this.ranges.indexOf(r), 1);
    this.report(e.b, "withdrawn", r.all.length === 0);
    return e.b;
  }

  remove(k: BindingKey): Binding | undefined {
    const r = this.exact(k.type, k.lower, k.upper);
    const e = r?.all.find((x) => x.b.key === k.key && x.b.node === k.node);
    return r && e ? this.removeEntry(r, e) : undefined;
  }

  purge(node: number): Binding[] {
    return this.entries()
      .filter((e) => e.b.node === node)
      .map((e) => this.removeEntry(this.ranges.find((r) => r.all.includes(e)) as Range, e));
  }

  rotate(list: Entry[]): SocketAddress {
    const e = list.shift() as Entry;
    list.push(e);
    return { node: e.b.node, port: e.b.port };
  }

  anycast(type: number, inst: number): SocketAddress | undefined {
    const r = this.sorted(type).find((x) => overlaps(x, inst, inst));
    return r && this.rotate(r.all);
  }

  closest(type: number, inst: number): SocketAddress | undefined {
    const r = this.sorted(type).find((x) => overlaps(x, inst, inst));
    return r && this.rotate(r.local.length > 0 ? r.local : r.all);
  }

  onNode(type: number, inst: number, node: number): SocketAddress | undefined {
    const ranges = this.sorted(type).filter((x) => overlaps(x, inst, inst));
    if (node === this.ownNode) {
      const r = ranges.find((x) => x.local.length > 0);
      return r && this.rotate(r.local);
    }
    const r = ranges.find((x) => x.all.some((e) => e.b.node === node));
    if (!r) return undefined;
    const e = r.all.find((x) => x.b.node === node) as Entry;
    r.all.splice(r.all.indexOf(e), 1);
    r.all.push(e);
    return { node, port: e.b.port };
  }

  inRange(type: number, lo: number, hi: number): Entry[] {
    return this.sorted(type)
      .filter((r) => overlaps(r, lo, hi))
      .flatMap((r) => [...r.all].sort(bySeq));
  }

  multicast(type: number, lo: number, hi: number, nodes?: number[], scope?: Scope): SocketAddress[] {
    const out: SocketAddress[] = [];
    for (const e of this.inRange(type, lo, hi)) {
      if (nodes && !nodes.includes(e.b.node)) continue;
      if (scope && e.b.scope !== scope) continue;
      if (out.some((s) => s.node === e.b.node && s.port === e.b.port)) continue;
      out.push({ node: e.b.node, port: e.b.port });
    }
    return out;
  }

  dump(): Binding[] {
    return [...this.ranges]
      .sort((a, b) => a.type - b.type || a.lower - b.lower || a.upper - b.upper)
      .flatMap((r) => [...r.all].sort(bySeq).map((e) => e.b));
  }

  subscribe(
    req: {
      type: number;
      lower: number;
      upper: number;
      mode: SubscriptionMode;
      scope?: Scope;
      timeout?: number;
      initialEvents: boolean;
    },
    now: number,
  ): number {
    const s: ModelSub = {
      id: this.nextSubId++,
      type: req.type,
      lower: req.lower,
      upper: req.upper,
      mode: req.mode,
      scope: req.scope,
      deadline: req.timeout === undefined ? undefined : now + req.timeout,
      active: true,
    };
    this.subs.push(s);
    if (req.initialEvents) {
      const picked: Entry[] = [];
      for (const r of this.sorted(req.type).filter((x) => overlaps(x, req.lower, req.upper))) {
        if (req.mode === "ports") picked.push(...r.all);
        else picked.push([...r.all].sort(bySeq)[0] as Entry);
      }
      for (const e of picked.sort(bySeq)) this.report(e.b, "published", true, s);
    }
    return s.id;
  }

  unsubscribe(id: number): boolean {
    const s = this.subs.find((x) => x.id === id && x.active);
    if (!s) return false;
    s.active = false;
    return true;
  }

  expire(now: number): void {
    const due = this.subs
      .filter((s) => s.active && s.deadline !== undefined && s.deadline <= now)
      .sort((a, b) => (a.deadline as number) - (b.deadline as number) || a.id - b.id);
    for (const s of due) {
      s.active = false;
      this.events.push({
        kind: "timeout",
        sub: s.id,
        found: { lower: s.lower, upper: s.upper },
        socket: { node: 0, port: 0 },
      });
    }
  }

  nextDeadline(): number | undefined {
    const ds = this.subs.filter((s) => s.active && s.deadline !== undefined).map((s) => s.deadline as number);
    return ds.length ? Math.min(...ds) : undefined;
  }

  setOwnNode(addr: number): void {
    if (addr === this.ownNode) return;
    if (this.entries().some((e) => e.b.node === addr)) throw new Error("ADDRESS_IN_USE");
    for (const e of this.entries()) if (e.b.node === this.ownNode) e.b = { ...e.b, node: addr };
    this.ownNode = addr;
  }
}

// A small domain so that duplicates, shared ranges, overlaps and round-robin all happen often.
const TYPES = [0, 1];
const NODES = [1, 2, 3, 4];
const OWN = 1;
const value = fc.integer({ min: 0, max: 4 });
const rangeArb = fc
  .record({ type: fc.constantFrom(...TYPES), a: value, b: value })
  .map(({ type, a, b }) => ({ type, lower: Math.min(a, b), upper: Math.max(a, b) }));
const bindingOf = (ranges: typeof rangeArb, maxKey: number) =>
  fc
    .record({
      range: ranges,
      node: fc.constantFrom(...NODES),
      port: fc.integer({ min: 0, max: 3 }),
      key: fc.integer({ min: 0, max: maxKey }),
      scope: fc.constantFrom<Scope>("node", "cluster"),
    })
    .map(({ range, ...rest }) => ({ ...range, ...rest }));
const bindingArb = bindingOf(rangeArb, 3);
const multicastOf = (ranges: typeof rangeArb) =>
  fc.record({
    op: fc.constant("multicast" as const),
    range: ranges,
    nodes: fc.option(fc.subarray(NODES), { nil: undefined }),
    scope: fc.option(fc.constantFrom<Scope>("node", "cluster"), { nil: undefined }),
  });

const opArb = fc.oneof(
  { weight: 6, arbitrary: bindingArb.map((b) => ({ op: "insert" as const, b })) },
  { weight: 2, arbitrary: bindingArb.map((b) => ({ op: "add" as const, b })) },
  { weight: 1, arbitrary: fc.nat().map((i) => ({ op: "reinsert" as const, i })) },
  { weight: 2, arbitrary: fc.nat().map((i) => ({ op: "deleteExisting" as const, i })) },
  {
    weight: 1,
    arbitrary: fc.array(bindingArb, { maxLength: 40 }).map((bs) => ({ op: "addMany" as const, bs })),
  },
  {
    weight: 1,
    arbitrary: fc.array(fc.nat(), { maxLength: 40 }).map((is) => ({ op: "deleteMany" as const, is })),
  },
  { weight: 3, arbitrary: fc.nat().map((i) => ({ op: "removeExisting" as const, i })) },
  { weight: 1, arbitrary: bindingArb.map((b) => ({ op: "remove" as const, b })) },
  { weight: 1, arbitrary: fc.constantFrom(...NODES).map((node) => ({ op: "purge" as const, node })) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constantFrom("anycast" as const, "closest" as const, "instance" as const),
      type: fc.constantFrom(...TYPES),
      inst: value,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("onNode" as const),
      type: fc.constantFrom(...TYPES),
      inst: value,
      node: fc.constantFrom(...NODES),
    }),
  },
  { weight: 1, arbitrary: multicastOf(rangeArb) },
  { weight: 1, arbitrary: fc.constant({ op: "dump" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "own" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("subscribe" as const),
      range: rangeArb,
      mode: fc.constantFrom<SubscriptionMode>("ports", "service"),
      scope: fc.option(fc.constantFrom<Scope>("node", "cluster"), { nil: undefined }),
      timeout: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
      initialEvents: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.nat().map((i) => ({ op: "unsubscribe" as const, i })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 10 }).map((dt) => ({ op: "expire" as const, dt })) },
  { weight: 1, arbitrary: fc.constantFrom(1, 5, 6).map((addr) => ({ op: "setOwnNode" as const, addr })) },
);

function normalize(table: NameTable): Ev[] {
  return table.takeEvents().map((e) =>
    e.kind === "timeout"
      ? { kind: e.kind, sub: e.subscription.id, found: e.found, socket: e.socket }
      : {
          kind: e.kind,
          sub: e.subscription.id,
          found: e.found,
          socket: e.socket,
          scope: e.scope,
          binding: e.binding,
        },
  );
}

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

/** The withdrawal key of the model's i-th binding (mod its size), or undefined when it is empty. */
function existingKey(model: Model, i: number): BindingKey | undefined {
  const es = model.entries();
  if (es.length === 0) return undefined;
  const { type, lower, upper, node, key } = (es[i % es.length] as Entry).b;
  return { type, lower, upper, node, key };
}

function run(ops: readonly Op[], maxBindings: number): void {
  const table = new NameTable({ ownNode: OWN, maxBindings });
  const model = new Model(OWN, maxBindings);
  const subIds: number[] = [];
  let now = 0;
  for (const op of ops) {
    switch (op.op) {
      case "insert":
        expect(table.insert(op.b)).toEqual(model.insert(op.b));
        break;
      case "add": {
        const r = model.insert(op.b);
        expect(table.add(op.b)).toBe(r.ok ? "added" : r.reason);
        break;
      }
      case "addMany": {
        const added = op.bs.filter((b) => model.insert(b).ok).length;
        expect(table.addMany(op.bs)).toBe(added);
        break;
      }
      case "deleteMany": {
        // Some keys twice, some of bindings already gone: each counts once, as with delete.
        const keys = op.is.map((i) => existingKey(model, i)).filter((k) => k !== undefined);
        const removed = keys.filter((k) => model.remove(k) !== undefined).length;
        expect(table.deleteMany(keys)).toBe(removed);
        break;
      }
      case "deleteExisting": {
        const k = existingKey(model, op.i);
        if (k === undefined) break;
        expect(table.delete(k)).toBe(model.remove(k) !== undefined);
        expect(table.delete(k)).toBe(false);
        break;
      }
      case "reinsert": {
        const es = model.entries();
        if (es.length === 0) break;
        const b = { ...(es[op.i % es.length] as Entry).b, port: 99 };
        expect(table.insert(b)).toEqual(model.insert(b));
        break;
      }
      case "removeExisting": {
        const k = existingKey(model, op.i);
        if (k === undefined) break;
        const { type, lower, upper, node, key } = k;
        expect(table.get(k)).toEqual(
          model.exact(type, lower, upper)?.all.find((e) => e.b.key === key && e.b.node === node)?.b,
        );
        expect(table.remove(k)).toEqual(model.remove(k));
        break;
      }
      case "remove":
        expect(table.remove(op.b)).toEqual(model.remove(op.b));
        break;
      case "purge":
        expect(table.purgeNode(op.node)).toEqual(model.purge(op.node));
        break;
      case "anycast":
        expect(table.lookupAnycast(op.type, op.inst)).toEqual(model.anycast(op.type, op.inst));
        break;
      case "closest":
        expect(table.lookupClosestFirst(op.type, op.inst)).toEqual(model.closest(op.type, op.inst));
        break;
      case "instance":
        expect(table.lookupInstance(op.type, op.inst)).toEqual(
          model.inRange(op.type, op.inst, op.inst).map((e) => e.b),
        );
        break;
      case "onNode":
        expect(table.lookupOnNode(op.type, op.inst, op.node)).toEqual(
          model.onNode(op.type, op.inst, op.node),
        );
        break;
      case "multicast": {
        const { type, lower, upper } = op.range;
        expect(table.lookupMulticast(type, lower, upper, { nodes: op.nodes, scope: op.scope })).toEqual(
          model.multicast(type, lower, upper, op.nodes, op.scope),
        );
        expect(table.lookupMulticastNodes(type, lower, upper)).toEqual(
          [...new Set(model.multicast(type, lower, upper).map((s) => s.node))].sort((a, b) => a - b),
        );
        break;
      }
      case "dump":
        expect(table.dump()).toEqual(model.dump());
        break;
      case "own":
        expect([...table.ownClusterBindings()]).toEqual(
          model
            .entries()
            .filter((e) => e.b.node === model.ownNode && e.b.scope === "cluster")
            .map((e) => e.b),
        );
        break;
      case "subscribe": {
        const req = {
          ...op.range,
          mode: op.mode,
          scope: op.scope,
          timeout: op.timeout,
          initialEvents: op.initialEvents,
        };
        const sub = table.subscribe(req, now);
        expect(sub.id).toBe(model.subscribe(req, now));
        subIds.push(sub.id);
        break;
      }
      case "unsubscribe": {
        if (subIds.length === 0) break;
        const id = subIds[op.i % subIds.length] as number;
        expect(table.unsubscribe(id)).toBe(model.unsubscribe(id));
        break;
      }
      case "expire":
        now += op.dt;
        table.expire(now);
        model.expire(now);
        expect(table.nextDeadline()).toBe(model.nextDeadline());
        break;
      case "setOwnNode": {
        let expected: string | undefined;
        try {
          model.setOwnNode(op.addr);
        } catch (e) {
          expected = (e as Error).message;
        }
        if (expected === undefined) table.setOwnNode(op.addr);
        else expect(() => table.setOwnNode(op.addr)).toThrow(NameTableError);
        expect(table.ownNode).toBe(model.ownNode);
        break;
      }
    }
    expect(normalize(table)).toEqual(model.events.splice(0));
    expect(table.size).toBe(model.size());
  }
  expect(table.dump()).toEqual(model.dump());
  expect(table.activeSubscriptions().map((s) => s.id)).toEqual(
    model.subs.filter((s) => s.active).map((s) => s.id),
  );
}

// A wide domain: a type gets dozens of distinct ranges, so its segment grows and shifts a lot.
const wide = fc.integer({ min: 0, max: 120 });
const wideRangeArb = fc
  .record({ type: fc.constant(0), a: wide, b: fc.integer({ min: 0, max: 3 }) })
  .map(({ type, a, b }) => ({ type, lower: a, upper: a + b }));
const wideBindingArb = bindingOf(wideRangeArb, 1);
const wideOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: wideBindingArb.map((b) => ({ op: "insert" as const, b })) },
  { weight: 6, arbitrary: fc.nat().map((i) => ({ op: "removeExisting" as const, i })) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom("anycast" as const, "closest" as const, "instance" as const),
      type: fc.constant(0),
      inst: fc.integer({ min: 0, max: 125 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("onNode" as const),
      type: fc.constant(0),
      inst: fc.integer({ min: 0, max: 125 }),
      node: fc.constantFrom(...NODES),
    }),
  },
  { weight: 1, arbitrary: multicastOf(wideRangeArb) },
  { weight: 1, arbitrary: fc.constant({ op: "dump" as const }) },
  { weight: 1, arbitrary: fc.constantFrom(...NODES).map((node) => ({ op: "purge" as const, node })) },
);

describe("NameTable against the reference model", () => {
  it("agrees on every answer and every event for any sequence of operations", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => run(ops, Number.MAX_SAFE_INTEGER)),
      { numRuns: 300 },
    );
  });

  it("agrees when the binding limit is hit", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.integer({ min: 0, max: 6 }), (ops, max) =>
        run(ops, max),
      ),
      { numRuns: 100 },
    );
  });

  it("agrees with dozens of distinct ranges in one type (segment growth and shifts)", () => {
    fc.assert(
      fc.property(fc.array(wideOpArb, { minLength: 200, maxLength: 500 }), (ops) =>
        run(ops, Number.MAX_SAFE_INTEGER),
      ),
      { numRuns: 20, endOnFailure: true },
    );
  });

  it("agrees at scale with many bindings per range (round-robin lists, node lists, hash index growth)", () => {
    const many = fc.array(
      fc.oneof(
        {
          weight: 8,
          arbitrary: bindingArb.map((b) => ({
            op: "insert" as const,
            b: { ...b, key: b.key * 1000 + b.port },
          })),
        },
        { weight: 4, arbitrary: fc.nat().map((i) => ({ op: "removeExisting" as const, i })) },
        { weight: 2, arbitrary: opArb },
      ),
      { minLength: 100, maxLength: 300 },
    );
    fc.assert(
      fc.property(many, (ops) => run(ops, Number.MAX_SAFE_INTEGER)),
      { numRuns: 10, endOnFailure: true },
    );
  });
});
