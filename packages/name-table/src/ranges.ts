/**
 * The ranges of one service type, kept sorted by (lower, upper) in small typed arrays of their own,
 * so that a lookup touches one compact block of memory instead of chasing tree nodes across the
 * whole table (at a million bindings every scattered access is a cache and TLB miss).
 *
 * `pmax[i]` is the largest `upper` among ranges 0..i. It is non-decreasing, so the first range that
 * contains an instance x, or overlaps [x, y], is the first i with pmax[i] >= x (one binary search),
 * provided lower[i] <= y: the same answer as the kernel's interval tree walk. A new or emptied range
 * costs a shift of the ranges after it (a memmove) and a pmax repair that stops as soon as the old
 * values hold again.
 */
import { RECORD } from "./records.js";
import type { SubscriptionState } from "./subscriptions.js";

/** No range (and, as a range's head, no binding). */
const { NONE } = RECORD;

/**
 * Int32Array chunks holding every type's ranges, in per-type segments (power-of-two capacities,
 * with free lists per size). A million ranges then live in a few large buffers instead of tens of
 * thousands of small typed arrays, which would each cost an allocation and GC work; and since a
 * full chunk is never copied (a new, twice as large one is started, up to 4 MiB), growing the table
 * copies nothing but the segment that grows. A segment too big for a chunk gets a buffer of its own.
 * A segment of capacity c at offset o holds five blocks of c words: lower, upper, pmax, head,
 * localHead. u32 values are stored as int32 and read back with `>>> 0`.
 */
export class RangePool {
  readonly chunks: Int32Array[] = [];
  /** The chunk being filled, and how far. */
  private current = -1;
  private currentWords = FIRST_CHUNK_WORDS / 2;
  private top = this.currentWords;
  /** Free segments per capacity class, as chunk * CHUNK_WORDS + offset. */
  private readonly free: number[][] = [];

  /** Returns the segment as chunk * CHUNK_WORDS + offset (a segment bigger than CHUNK_WORDS gets a chunk of its own). */
  alloc(capacity: number): number {
    const words = 5 * capacity;
    if (words > CHUNK_WORDS) {
      this.chunks.push(new Int32Array(words));
      return (this.chunks.length - 1) * CHUNK_WORDS;
    }
    const fl = this.free[Math.clz32(capacity)];
    if (fl !== undefined && fl.length > 0) return fl.pop() as number;
    if (this.top + words > this.currentWords) {
      // Chunks double from 64 KiB up to CHUNK_WORDS, so a small table stays small.
      let size = Math.min(CHUNK_WORDS, this.currentWords * 2);
      while (size < words) size *= 2;
      this.chunks.push(new Int32Array(size));
      this.current = this.chunks.length - 1;
      this.currentWords = size;
      this.top = 0;
    }
    const o = this.top;
    this.top += words;
    return this.current * CHUNK_WORDS + o;
  }

  release(segment: number, capacity: number): void {
    if (5 * capacity > CHUNK_WORDS) {
      // A buffer of its own: let it go (the slot in `chunks` is left empty).
      this.chunks[Math.floor(segment / CHUNK_WORDS)] = EMPTY;
      return;
    }
    const c = Math.clz32(capacity);
    let fl = this.free[c];
    if (fl === undefined) {
      fl = [];
      this.free[c] = fl;
    }
    fl.push(segment);
  }
}

/** Words per pool chunk (4 MiB), once the table has grown; the first one has 64 KiB. */
const CHUNK_WORDS = 1 << 20;
const FIRST_CHUNK_WORDS = 1 << 14;
const EMPTY = new Int32Array(0);

const MIN_CAPACITY = 4;
const SHRINK_ABOVE = 256;

// A builtin copyWithin costs about 16 ns whatever its length, a plain loop about 1.1 ns a word
// (measured on this project's machines): moves longer than SHORT_MOVE words go to the builtin.
const SHORT_MOVE = 12;
/** d[from + 1 .. to] = d[from .. to - 1]. */
function shiftUp(d: Int32Array, from: number, to: number): void {
  if (to - from > SHORT_MOVE) {
    d.copyWithin(from + 1, from, to);
    return;
  }
  for (let k = to; k > from; k--) d[k] = d[k - 1] as number;
}

/** d[from .. to - 1] = d[from + 1 .. to]. */
function shiftDown(d: Int32Array, from: number, to: number): void {
  if (to - from > SHORT_MOVE) {
    d.copyWithin(from, from + 1, to + 1);
    return;
  }
  for (let k = from; k < to; k++) d[k] = d[k + 1] as number;
}

/**
 * Where the last missed {@link Service.find} would put the range, for the {@link Service.insertAt}
 * that follows it (kept outside the services so that they stay small).
 */
let insertionPoint = 0;

export class Service {
  // The fields every lookup reads come first, so they share a cache line.
  /** The pool chunk holding the segment, where it starts there, and its capacity. */
  d: Int32Array;
  base: number;
  cap = MIN_CAPACITY;
  /** Number of ranges. */
  n = 0;
  /** Live subscriptions on this type, oldest first (events go newest first, as the kernel's list_add). */
  subs: SubscriptionState[] | null = null;
  private segment: number;

  constructor(
    readonly type: number,
    private readonly pool: RangePool,
  ) {
    this.segment = pool.alloc(MIN_CAPACITY);
    this.d = pool.chunks[Math.floor(this.segment / CHUNK_WORDS)] as Int32Array;
    this.base = this.segment % CHUNK_WORDS;
  }

  lower(i: number): number {
    return (this.d[this.base + i] as number) >>> 0;
  }

  upper(i: number): number {
    return (this.d[this.base + this.cap + i] as number) >>> 0;
  }

  head(i: number): number {
    return this.d[this.base + 3 * this.cap + i] as number;
  }

  setHead(i: number, s: number): void {
    this.d[this.base + 3 * this.cap + i] = s;
  }

  localHead(i: number): number {
    return this.d[this.base + 4 * this.cap + i] as number;
  }

  setLocalHead(i: number, s: number): void {
    this.d[this.base + 4 * this.cap + i] = s;
  }

  /**
   * Reads one word in each cache line of the `lower` run (what a search reads first), for
   * {@link NameTable.addMany}: independent reads whose misses overlap. Returns their XOR.
   */
  warm(): number {
    const d = this.d;
    let x = 0;
    for (let i = this.base; i < this.base + this.n; i += 16) x ^= d[i] as number;
    return x;
  }

  /** The first range in (lower, upper) order, or NONE. */
  first(): number {
    return this.n > 0 ? 0 : NONE;
  }

  /** The range after r in (lower, upper) order, or NONE. */
  next(r: number): number {
    return r + 1 < this.n ? r + 1 : NONE;
  }

  /**
   * Index of the range exactly {lower, upper}, or NONE; after a miss, {@link insertAt} puts it
   * where it belongs.
   */
  find(lower: number, upper: number): number {
    const d = this.d;
    const lo = this.base;
    const up = this.base + this.cap;
    let a = 0;
    let b = this.n;
    while (a < b) {
      const m = (a + b) >>> 1;
      const l = (d[lo + m] as number) >>> 0;
      if (l < lower || (l === lower && (d[up + m] as number) >>> 0 < upper)) a = m + 1;
      else b = m;
    }
    if (a < this.n && (d[lo + a] as number) >>> 0 === lower && (d[up + a] as number) >>> 0 === upper) {
      return a;
    }
    insertionPoint = a;
    return NONE;
  }

  /** The first range whose pmax reaches x (where every search for ranges overlapping [x, ...] starts), or NONE. */
  start(x: number): number {
    const d = this.d;
    const pm = this.base + 2 * this.cap;
    let a = 0;
    let b = this.n;
    while (a < b) {
      const m = (a + b) >>> 1;
      if ((d[pm + m] as number) >>> 0 < x) a = m + 1;
      else b = m;
    }
    return a < this.n ? a : NONE;
  }

  /** The first range (by lower, then upper) that contains x, or NONE. */
  firstContaining(x: number): number {
    const i = this.start(x);
    // pmax[i-1] < x <= pmax[i], so upper[i] = pmax[i] >= x: only lower[i] is left to check.
    return i !== NONE && (this.d[this.base + i] as number) >>> 0 <= x ? i : NONE;
  }

  /** Adds {lower, upper} where the last (missed) {@link find} for it would have it; returns its index. */
  insertAt(lower: number, upper: number): number {
    const i = insertionPoint;
    if (this.n === this.cap) this.resize(this.cap * 2);
    const d = this.d;
    const n = this.n;
    const c = this.cap;
    if (i < n) for (let f = this.base; f < this.base + 5 * c; f += c) shiftUp(d, f + i, f + n);
    d[this.base + i] = lower;
    d[this.base + c + i] = upper;
    d[this.base + 3 * c + i] = NONE;
    d[this.base + 4 * c + i] = NONE;
    this.n = n + 1;
    this.repair(i);
    return i;
  }

  removeAt(i: number): void {
    const d = this.d;
    const n = this.n - 1;
    const c = this.cap;
    if (i < n) {
      for (let f = this.base; f < this.base + 5 * c; f += c) shiftDown(d, f + i, f + n);
    }
    this.n = n;
    if (i < n) this.repair(i);
    // Only big segments give memory back: shrinking small ones would just churn the pool while a
    // node's bindings are purged (an emptied type returns its whole segment anyway).
    if (n * 4 <= c && c > SHRINK_ABOVE) this.resize(c >>> 1);
  }

  /** Gives the segment back to the pool (the service is being dropped). */
  dispose(): void {
    this.pool.release(this.segment, this.cap);
  }

  /**
   * Recomputes pmax from i on. Once a recomputed value equals the stored one (shifted from before
   * the change), every later value is unchanged too, so the loop stops there.
   */
  private repair(i: number): void {
    const d = this.d;
    const up = this.base + this.cap;
    const pm = this.base + 2 * this.cap;
    let m = i > 0 ? (d[pm + i - 1] as number) >>> 0 : 0;
    for (let j = i; j < this.n; j++) {
      const u = (d[up + j] as number) >>> 0;
      if (u > m) m = u;
      if (j > i && (d[pm + j] as number) >>> 0 === m) return;
      d[pm + j] = m;
    }
  }

  private resize(capacity: number): void {
    const segment = this.pool.alloc(capacity);
    const d = this.pool.chunks[Math.floor(segment / CHUNK_WORDS)] as Int32Array;
    const base = segment % CHUNK_WORDS;
    const from = this.d;
    const n = this.n;
    for (let f = 0; f < 5; f++) {
      const o = this.base + f * this.cap;
      const to = base + f * capacity;
      // Within one chunk copyWithin allocates nothing; across chunks, short runs go word by word.
      if (d === from) d.copyWithin(to, o, o + n);
      else if (n <= SHORT_MOVE) for (let k = 0; k < n; k++) d[to + k] = from[o + k] as number;
      else d.set(from.subarray(o, o + n), to);
    }
    this.pool.release(this.segment, this.cap);
    this.segment = segment;
    this.d = d;
    this.base = base;
    this.cap = capacity;
  }
}
