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
  /**
   * @param wordsPerPublisher 32-bit words each store keeps inline per publisher (its first
   * 32 x this binding numbers); numbers beyond go to a per-publisher spill array.
   */
  constructor(
    readonly wordsPerPublisher = 4,
    /** publishers expected: each store sizes its inline words for this many at once */
    readonly expectedPublishers = 0,
  ) {}
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

/**
 * One node's table: a bitset per publisher over the registry's numbering, all publishers' first
 * W words in one flat array (slot * W), the rest of a busy publisher's bits in a spill array.
 */
export class CompactStore implements BindingStore {
  private readonly W: number;
  private flat = new Uint32Array(0);
  private readonly spill: (Uint32Array | undefined)[] = [];
  /** own cluster bindings in publication order, rebuilt after an own change */
  private ownCache: Binding[] | undefined;
  private readonly overflow = new Map<string, Binding>();
  private count = 0;

  constructor(
    readonly ownNode: number,
    private readonly registry: BindingRegistry,
  ) {
    this.W = Math.max(1, registry.wordsPerPublisher | 0);
  }

  private word(slot: number, w: number): number {
    if (w < this.W) {
      const i = slot * this.W + w;
      return i < this.flat.length ? (this.flat[i] as number) : 0;
    }
    const sp = this.spill[slot];
    const j = w - this.W;
    return sp && j < sp.length ? (sp[j] as number) : 0;
  }

  private setWord(slot: number, w: number, v: number): void {
    if (w < this.W) {
      const i = slot * this.W + w;
      if (i >= this.flat.length) {
        // Room for every expected publisher at once (no doubling slack at 10,000 nodes), else x2.
        const expected = this.registry.expectedPublishers * this.W;
        const grown = new Uint32Array(
          Math.max((slot + 1) * this.W, expected > i ? expected : this.flat.length * 2, 64 * this.W),
        );
        grown.set(this.flat);
        this.flat = grown;
      }
      this.flat[i] = v;
      return;
    }
    const j = w - this.W;
    let sp = this.spill[slot];
    if (!sp || j >= sp.length) {
      const grown = new Uint32Array(Math.max(4, (j + 1) * 2));
      if (sp) grown.set(sp);
      sp = grown;
      this.spill[slot] = sp;
    }
    sp[j] = v;
  }

  /** words in use for `slot` (inline plus spill) */
  private wordCount(slot: number): number {
    return this.W + (this.spill[slot]?.length ?? 0);
  }

  private clearSlot(slot: number): void {
    const i = slot * this.W;
    if (i < this.flat.length) this.flat.fill(0, i, i + this.W);
    this.spill[slot] = undefined;
  }

  insert(binding: Binding): InsertResult {
    const slot = this.registry.slot(binding.node);
    if (binding.node === this.ownNode) this.ownCache = undefined;
    const n = this.registry.intern(slot, binding);
    // Identity is the kernel's (type, lower, upper, node, key): the port is not compared.
    if (this.overflow.size > 0 && this.overflow.has(okey(binding))) return { ok: false, reason: "duplicate" };
    if (n < 0) {
      const k = okey(binding);
      const known = this.registry.find(slot, binding);
      if (known >= 0 && this.word(slot, known >>> 5) & (1 << (known & 31)))
        return { ok: false, reason: "duplicate" };
      const b = { ...binding };
      this.overflow.set(k, b);
      this.count++;
      return { ok: true, binding: b };
    }
    const w = n >>> 5;
    const bit = 1 << (n & 31);
    const cur = this.word(slot, w);
    if (cur & bit) return { ok: false, reason: "duplicate" };
    this.setWord(slot, w, cur | bit);
    this.count++;
    return this.registry.okResult(slot, n);
  }

  remove(key: BindingKey): Binding | undefined {
    if (key.node === this.ownNode) this.ownCache = undefined;
    const slot = this.registry.slotIfAny(key.node);
    const n = slot < 0 ? -1 : this.registry.find(slot, key);
    if (n >= 0) {
      const w = n >>> 5;
      const bit = 1 << (n & 31);
      const cur = this.word(slot, w);
      if (cur & bit) {
        this.setWord(slot, w, cur & ~bit);
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
    if (slot >= 0) this.clearSlot(slot);
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
    if (slot < 0) return undefined;
    const n = this.wordCount(slot);
    const out = new Uint32Array(n);
    for (let w = 0; w < n; w++) out[w] = this.word(slot, w);
    return out;
  }

  /**
   * Whether this store holds exactly the bindings of `node` that `other` holds (nothing, when
   * `other` is undefined), both over the same registry. No allocation: the table checks call
   * it for every node pair.
   */
  sameBindingsOf(node: number, other: CompactStore | undefined): boolean {
    const slot = this.registry.slotIfAny(node);
    if (slot < 0) return !other || other.registry.slotIfAny(node) < 0 || other.emptyFor(node);
    const n = Math.max(this.wordCount(slot), other ? other.wordCount(slot) : 0);
    for (let w = 0; w < n; w++) if (this.word(slot, w) !== (other ? other.word(slot, w) : 0)) return false;
    return true;
  }

  private emptyFor(node: number): boolean {
    const slot = this.registry.slotIfAny(node);
    if (slot < 0) return true;
    for (let w = 0; w < this.wordCount(slot); w++) if (this.word(slot, w) !== 0) return false;
    return true;
  }

  /** Publishers with at least one binding here (bitset or overflow). */
  publishers(): number[] {
    const s = new Set<number>();
    const slots = Math.ceil(this.flat.length / this.W);
    for (let slot = 0; slot < Math.max(slots, this.spill.length); slot++) {
      for (let w = 0; w < this.wordCount(slot); w++)
        if (this.word(slot, w) !== 0) {
          s.add(this.registry.get(slot, 0).node);
          break;
        }
    }
    for (const b of this.overflow.values()) s.add(b.node);
    return [...s].sort((a, b) => a - b);
  }

  /** `node`'s bindings held here, in registry order, then the overflow ones. */
  bindingsOf(node: number): Binding[] {
    const out: Binding[] = [];
    const slot = this.registry.slotIfAny(node);
    if (slot >= 0) {
      const n = this.wordCount(slot);
      for (let w = 0; w < n; w++) {
        let word = this.word(slot, w);
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
    n += this.flat.byteLength;
    for (const s of this.spill) n += s ? s.byteLength : 0;
    return n;
  }
}
