/**
 * Each node's bindings in publication order, as slots in a list of their own: what `purgeNode`,
 * `nodeBindings` and `ownClusterBindings` walk, with no per-binding links in the records. A list is
 * append-only; a removed binding's entry is skipped lazily and compacted away when the list fills.
 * Each record keeps its position in its node's list (the META word), which is how an entry is
 * known to be live.
 */
import { RECORD, setPos } from "./records.js";

const { META, NODE, POS_SHIFT, STRIDE } = RECORD;

/** One node's bindings in publication order. */
export class NodeList {
  slots = new Int32Array(4);
  /** Entries used, live or stale. */
  len = 0;
  /** Live bindings: the list is dropped when this falls to 0. */
  live = 0;

  /** Appends slot `s` (a binding of `node`), compacting out stale entries when the list is full. */
  append(rec: Int32Array, s: number, node: number): void {
    if (this.len === this.slots.length) {
      if ((this.len - this.live) * 2 >= this.len) {
        const live = this.liveSlots(rec, node);
        this.slots.set(live);
        this.len = live.length;
        for (let i = 0; i < live.length; i++) setPos(rec, live[i] as number, i);
      } else {
        const slots = new Int32Array(this.slots.length * 2);
        slots.set(this.slots);
        this.slots = slots;
      }
    }
    this.slots[this.len] = s;
    setPos(rec, s, this.len);
    this.len++;
    this.live++;
  }

  /**
   * The live slots, in publication order. An entry is stale once its binding is removed (its
   * position no longer points back at it, or its slot now holds another node's binding).
   */
  liveSlots(rec: Int32Array, node: number): number[] {
    const out: number[] = [];
    const nodeI32 = node | 0;
    for (let i = 0; i < this.len; i++) {
      const s = this.slots[i] as number;
      const o = s * STRIDE;
      if ((rec[o + META] as number) >> POS_SHIFT === i && rec[o + NODE] === nodeI32) out.push(s);
    }
    return out;
  }
}
