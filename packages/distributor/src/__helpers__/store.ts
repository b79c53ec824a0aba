/**
 * A small BindingStore for tests: a Map keyed on what the kernel keys a withdrawal on
 * (type, exact lower/upper, node, key), in insertion order.
 */
import type { Binding, BindingKey, InsertResult } from "@tipcjs/name-table";
import type { BindingStore } from "../types.js";

const k = (b: BindingKey) => `${b.type}:${b.lower}:${b.upper}:${b.node}:${b.key}`;

export class MapStore implements BindingStore {
  private readonly map = new Map<string, Binding>();
  constructor(
    readonly ownNode: number,
    private readonly limit = Number.POSITIVE_INFINITY,
  ) {}
  insert(b: Binding): InsertResult {
    const key = k(b);
    if (this.map.has(key)) return { ok: false, reason: "duplicate" };
    if (this.map.size >= this.limit) return { ok: false, reason: "limit" };
    const binding = { ...b };
    this.map.set(key, binding);
    return { ok: true, binding };
  }
  remove(key: BindingKey): Binding | undefined {
    const kk = k(key);
    const b = this.map.get(kk);
    if (b) this.map.delete(kk);
    return b;
  }
  purgeNode(node: number): Binding[] {
    const out: Binding[] = [];
    for (const [kk, b] of this.map) {
      if (b.node === node) {
        this.map.delete(kk);
        out.push(b);
      }
    }
    return out;
  }
  *ownClusterBindings(): IterableIterator<Binding> {
    for (const b of this.map.values()) if (b.node === this.ownNode && b.scope === "cluster") yield b;
  }
  get size(): number {
    return this.map.size;
  }
  all(): Binding[] {
    return [...this.map.values()];
  }
  nodeBindings(node: number): Binding[] {
    return this.all().filter((b) => b.node === node);
  }
}
