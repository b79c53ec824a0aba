/**
 * A compact BindingStore for protocol-fidelity runs.
 *
 * 1,000 nodes with 100 bindings each means every node's table holds 100,000 bindings: 1e8
 * entries across the cluster, far beyond 4 GB with a general-purpose table per node. So every
 * distinct binding is interned once, cluster-wide, in a {@link BindingRegistry}: the publisher's
 * n-th binding gets number n (publication order). Each simulated node then keeps, per
 * publisher, one bitset indexed by that number: 100 bindings cost 16 bytes per (observer,
 * publisher) pair instead of 100 objects.
 *
 * A binding is matched as the kernel matches a withdrawal (type, lower, upper, node, key). The
 * simulator never reuses a key on a node, so (node, key) finds the interned binding; a binding
 * the registry does not know (or whose fields differ) goes to a small per-store overflow map, so
 * the store stays correct for any input.
 */
import type { BindingStore } from "@tipcjs/distributor";
import type { Binding, BindingKey, InsertResult } from "@tipcjs/name-table";

interface Publisher {
  /** interned bindings in number order */
  bindings: Binding[];
  /** the insert result for each, shared (read-only): no allocation per insert */
  results: InsertResult[];
  /** small keys -> binding number + 1 (0: none), the rest in a map */
  byKey: number[];
  bigKeys: Map<number, number>;
}

/** Keys below this are looked up in an array (the simulator numbers keys 1, 2, 3, ...). */
const DENSE_KEYS = 1 << 22;

/**
 * Every distinct binding of the cluster, interned once, numbered per publisher. Publishers are
 * kept in a Map by address; `slot(node)` gives each a dense number that the stores index by.
 */
export class BindingRegistry {
  private readonly slots = new Map<number, number>();
  private readonly pubs: Publisher[] = [];

  /** The dense number of publisher `node`, allocated on first use. */
  slot(node: number): number {
    let s = this.slots.get(node);
    if (s === undefined) {
      s = this.pubs.length;
      this.slots.set(node, s);
      this.pubs.push({ bindings: [], results: [], byKey: [], bigKeys: new Map() });
    }
    return s;
  }

  /** The slot of `node`, or -1 if it never published. */
  slotIfAny(node: number): number {
    return this.slots.get(node) ?? -1;
  }

  /** The number of `b` on its node, interning it if new; -1 if another binding holds the key. */
  intern(slot: number, b: Binding): number {
    const p = this.pubs[slot] as Publisher;
    const k = b.key;
    const n = k < DENSE_KEYS ? (p.byKey[k] ?? 0) - 1 : (p.bigKeys.get(k) ?? -1);
    if (n >= 0) return same(p.bindings[n] as Binding, b) ? n : -1;
    const idx = p.bindings.length;
    const copy = { ...b };
    p.bindings.push(copy);
    p.results.push({ ok: true, binding: copy });
    if (k < DENSE_KEYS) p.byKey[k] = idx + 1;
    else p.bigKeys.set(k, idx);
    return idx;
  }

  /** The number of the binding matching `k` (withdrawal rule), or -1. */
  find(slot: number, k: BindingKey): number {
    const p = this.pubs[slot];
    if (!p) return -1;
    const n = k.key < DENSE_KEYS ? (p.byKey[k.key] ?? 0) - 1 : (p.bigKeys.get(k.key) ?? -1);
    if (n < 0) return -1;
    const b = p.bindings[n] as Binding;
    return b.type === k.type && b.lower === k.lower && b.upper === k.upper ? n : -1;
  }

  okResult(slot: number, n: number): InsertResult {
    return (this.pubs[slot] as Publisher).results[n] as InsertResult;
  }

  get(slot: number, n: number): Binding {
    return (this.pubs[slot] as Publisher).bindings[n] as Binding;
  }

  /** distinct bindings interned, all publishers */
  get size(): number {
    let s = 0;
    for (const p of this.pubs) s += p.bindings.length;
    return s;
  }
}

function same(a: Binding, b: Binding): boolean {
  return (
    a.type === b.type &&
    a.lower === b.lower &&
    a.upper === b.upper &&
    a.port === b.port &&
    a.key === b.key &&
    a.scope === b.scope
  );
}

const okey = (b: BindingKey) => `${b.type}:${b.lower}:${b.upper}:${b.node}:${b.key}`;

/** One node's table: a bitset per publisher over the registry's numbering. */
export class CompactStore implements BindingStore {
  /** bitset per publisher slot */
  private readonly sets: (Uint32Array | undefined)[] = [];
  /** own cluster bindings in publication order, rebuilt after an own change */
  private ownCache: Binding[] | undefined;
  private readonly overflow = new Map<string, Binding>();
  private count = 0;

  constructor(
    readonly ownNode: number,
    private readonly registry: BindingRegistry,
  ) {}

  insert(binding: Binding): InsertResult {
    const slot = this.registry.slot(binding.node);
    if (binding.node === this.ownNode) this.ownCache = undefined;
    const n = this.registry.intern(slot, binding);
    if (n < 0) {
      const k = okey(binding);
      if (this.overflow.has(k)) return { ok: false, reason: "duplicate" };
      const b = { ...binding };
      this.overflow.set(k, b);
      this.count++;
      return { ok: true, binding: b };
    }
    let set = this.sets[slot];
    const w = n >>> 5;
    if (!set || set.length <= w) {
      const grown = new Uint32Array(Math.max(4, (w + 1) * 2));
      if (set) grown.set(set);
      set = grown;
      this.sets[slot] = set;
    }
    const bit = 1 << (n & 31);
    if ((set[w] as number) & bit) return { ok: false, reason: "duplicate" };
    set[w] = (set[w] as number) | bit;
    this.count++;
    return this.registry.okResult(slot, n);
  }

  remove(key: BindingKey): Binding | undefined {
    if (key.node === this.ownNode) this.ownCache = undefined;
    const slot = this.registry.slotIfAny(key.node);
    const n = slot < 0 ? -1 : this.registry.find(slot, key);
    if (n >= 0) {
      const set = this.sets[slot];
      const w = n >>> 5;
      const bit = 1 << (n & 31);
      if (set && w < set.length && (set[w] as number) & bit) {
        set[w] = (set[w] as number) & ~bit;
        this.count--;
        return this.registry.get(slot, n);
      }
    }
    if (this.overflow.size === 0) return undefined;
    const k = okey(key);
    const b = this.overflow.get(k);
    if (b) {
      this.overflow.delete(k);
      this.count--;
    }
    return b;
  }

  purgeNode(node: number): Binding[] {
    if (node === this.ownNode) this.ownCache = undefined;
    const out = this.bindingsOf(node);
    const slot = this.registry.slotIfAny(node);
    if (slot >= 0) this.sets[slot] = undefined;
    for (const [k, b] of this.overflow) if (b.node === node) this.overflow.delete(k);
    this.count -= out.length;
    return out;
  }

  ownClusterBindings(): IterableIterator<Binding> {
    this.ownCache ??= this.bindingsOf(this.ownNode).filter((b) => b.scope === "cluster");
    return this.ownCache.values();
  }

  get size(): number {
    return this.count;
  }

  /** The bitset of `node`'s bindings held here (shared, do not modify), or undefined. */
  bitset(node: number): Uint32Array | undefined {
    const slot = this.registry.slotIfAny(node);
    return slot < 0 ? undefined : this.sets[slot];
  }

  /** Publishers with at least one binding here (bitset or overflow). */
  publishers(): number[] {
    const s = new Set<number>();
    this.sets.forEach((set, slot) => {
      if (set?.some((w) => w !== 0)) s.add(this.registry.get(slot, 0).node);
    });
    for (const b of this.overflow.values()) s.add(b.node);
    return [...s].sort((a, b) => a - b);
  }

  /** `node`'s bindings held here, in registry order, then the overflow ones. */
  bindingsOf(node: number): Binding[] {
    const out: Binding[] = [];
    const slot = this.registry.slotIfAny(node);
    const set = slot < 0 ? undefined : this.sets[slot];
    if (set) {
      for (let w = 0; w < set.length; w++) {
        let word = set[w] as number;
        while (word !== 0) {
          const low = word & -word;
          const bit = 31 - Math.clz32(low);
          out.push(this.registry.get(slot, w * 32 + bit));
          word ^= low;
        }
      }
    }
    for (const b of this.overflow.values()) if (b.node === node) out.push(b);
    return out;
  }

  /** The interned binding number `n` of `node`. */
  bindingAtNumber(node: number, n: number): Binding {
    return this.registry.get(this.registry.slot(node), n);
  }

  /** Bindings of `node` kept outside the bitsets (0 in a correct run). */
  overflowCount(node: number): number {
    if (this.overflow.size === 0) return 0;
    let c = 0;
    for (const b of this.overflow.values()) if (b.node === node) c++;
    return c;
  }

  /** Bytes held by the bitsets (for the memory note in the results). */
  get bitsetBytes(): number {
    let n = 0;
    for (const s of this.sets) n += s ? s.byteLength : 0;
    return n;
  }
}
