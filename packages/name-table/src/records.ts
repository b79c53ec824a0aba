/**
 * The binding records: every binding is a 48-byte record, 12 int32 words in one Int32Array, so
 * everything an operation needs about a binding comes with one or two adjacent cache lines. u32
 * fields are stored as int32 (`x | 0`) and read back with `>>> 0`. (48 rather than 64 bytes: at a
 * million bindings every byte is a byte of memory first touched while the table is loaded, and on
 * this project's VMs a first touch of a page costs about 15 us.)
 *
 * A record is addressed by its slot `s` (its words start at `s * STRIDE`). This file holds the
 * layout, the two circular lists threaded through the records, and {@link BindingRecords}, the
 * slot store the table is built on.
 */
import type { Binding, SocketAddress } from "./types.js";

/** No slot (and no range, in a type's range segment). */
const NONE = -1;

/** Words per record. */
const STRIDE = 12;
const TYPE = 0;
const LOWER = 1;
const UPPER = 2;
const NODE = 3;
const PORT = 4;
const KEY = 5;
/** Next/previous binding in the exact range's `all_publ` circular list. */
const NEXT = 6;
const PREV = 7;
/** Next/previous binding in the range's `local_publ` circular list (this node's bindings only). */
const LNEXT = 8;
const LPREV = 9;
/**
 * The position in the node's slot list (node-lists.ts), shifted left by POS_SHIFT, with the
 * CLUSTER, LOCAL and INDEXED flags in the low bits (NONE once removed). Positions stay below 2^28:
 * a node list is at most twice its live bindings, and a table holds at most MAX_BINDINGS_LIMIT.
 */
const META = 10;
/** Publication order (the kernel's publication id), a u32 counter renumbered before it wraps. */
const SEQ = 11;
const POS_SHIFT = 3;
const FLAG_BITS = 7;

/** META flag: a cluster-scope binding. */
const CLUSTER = 1;
/** META flag: a binding of this node, linked into its range's `local` list. */
const LOCAL = 2;
/**
 * META flag: the binding is in the hash index. Every binding of a range that holds two or more is;
 * the only binding of a range is found from the range itself and is indexed only if it once had
 * company.
 */
const INDEXED = 4;

/**
 * The layout above, for the other modules of the table. Each binds what it uses to consts of its
 * own (`const { STRIDE, NODE } = RECORD;`): V8 folds a module's own consts into the code it
 * compiles, but reads an imported binding from its module cell on every use (twice the time of a
 * tight record loop under Node 20, when the sources run unbundled as the benchmark runs them).
 */
export const RECORD = Object.freeze({
  NONE,
  STRIDE,
  TYPE,
  LOWER,
  UPPER,
  NODE,
  PORT,
  KEY,
  NEXT,
  PREV,
  LNEXT,
  LPREV,
  META,
  SEQ,
  POS_SHIFT,
  FLAG_BITS,
  CLUSTER,
  LOCAL,
  INDEXED,
});

/**
 * The most bindings a table holds whatever `maxBindings` says (2^27: a binding's position in its
 * node's list must fit in its record's META word beside three flags).
 */
export const MAX_BINDINGS_LIMIT = 1 << 27;
/** Binding records allocated up front when no larger `expectedBindings` is given. */
export const MIN_SLOTS = 256;

/** Puts slot `s` just before slot `at` in a circular list whose links are at `next`/`next + 1`. */
export function linkBefore(rec: Int32Array, next: number, s: number, at: number): void {
  const p = rec[at * STRIDE + next + 1] as number;
  rec[p * STRIDE + next] = s;
  rec[s * STRIDE + next + 1] = p;
  rec[s * STRIDE + next] = at;
  rec[at * STRIDE + next + 1] = s;
}

/** Takes `s` out of its circular list; returns its successor, or NONE if it was alone. */
export function unlink(rec: Int32Array, next: number, s: number): number {
  const n = rec[s * STRIDE + next] as number;
  if (n === s) return NONE;
  const p = rec[s * STRIDE + next + 1] as number;
  rec[p * STRIDE + next] = n;
  rec[n * STRIDE + next + 1] = p;
  return n;
}

/** Records `pos` as slot s's position in its node's list, keeping its flags. */
export function setPos(rec: Int32Array, s: number, pos: number): void {
  const m = s * STRIDE + META;
  rec[m] = (pos << POS_SHIFT) | ((rec[m] as number) & FLAG_BITS);
}

/**
 * The slot store: the records, a stack of freed slots and the publication counter. The name table
 * extends it rather than holding one, so that its hot paths read `this.rec` directly, with no
 * object in between.
 */
export class BindingRecords {
  /** Binding records, STRIDE words per slot. */
  protected rec = new Int32Array(0);
  private capacity = 0;
  /** Slots ever handed out: every slot below this is a record, live or freed (META = NONE). */
  private slotsUsed = 0;
  /**
   * Freed slots, a stack of their own rather than a list threaded through the records: taking one
   * then reads nothing from the (random, likely uncached) record it hands out.
   */
  private freeSlots = new Int32Array(0);
  private freeCount = 0;
  /** The publication number the next binding gets. */
  protected nextSeq = 0;

  constructor(slots: number) {
    this.growSlots(slots);
  }

  protected allocSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount] as number;
    if (this.slotsUsed === this.capacity) this.growSlots(this.capacity * 2);
    return this.slotsUsed++;
  }

  /** Gives slot `s` back once its record is marked removed (META = NONE). */
  protected freeSlot(s: number): void {
    if (this.freeCount === this.freeSlots.length) {
      const grown = new Int32Array(Math.max(MIN_SLOTS, 2 * this.freeCount));
      grown.set(this.freeSlots);
      this.freeSlots = grown;
    }
    this.freeSlots[this.freeCount++] = s;
  }

  private growSlots(n: number): void {
    const rec = new Int32Array(n * STRIDE);
    rec.set(this.rec);
    this.rec = rec;
    this.capacity = n;
  }

  protected socketAt(s: number): SocketAddress {
    const o = s * STRIDE;
    return { node: (this.rec[o + NODE] as number) >>> 0, port: (this.rec[o + PORT] as number) >>> 0 };
  }

  protected bindingAt(s: number): Binding {
    const rec = this.rec;
    const o = s * STRIDE;
    return {
      type: (rec[o + TYPE] as number) >>> 0,
      lower: (rec[o + LOWER] as number) >>> 0,
      upper: (rec[o + UPPER] as number) >>> 0,
      scope: (rec[o + META] as number) & CLUSTER ? "cluster" : "node",
      node: (rec[o + NODE] as number) >>> 0,
      port: (rec[o + PORT] as number) >>> 0,
      key: (rec[o + KEY] as number) >>> 0,
    };
  }

  /** Sorts slots by publication order. */
  protected sortBySeq(slots: number[]): void {
    const rec = this.rec;
    slots.sort(
      (a, b) => ((rec[a * STRIDE + SEQ] as number) >>> 0) - ((rec[b * STRIDE + SEQ] as number) >>> 0),
    );
  }

  /** Before the u32 publication counter wraps: renumber live bindings 0..n-1, keeping their order. */
  protected renumber(): void {
    const live: number[] = [];
    for (let s = 0; s < this.slotsUsed; s++) if (this.rec[s * STRIDE + META] !== NONE) live.push(s);
    this.sortBySeq(live);
    for (let i = 0; i < live.length; i++) this.rec[(live[i] as number) * STRIDE + SEQ] = i;
    this.nextSeq = live.length;
  }
}
