/**
 * The ranges of one service type, kept sorted by (lower, upper) in a two-level structure of small
 * fixed-size blocks, so that an operation touches a handful of cache lines instead of chasing tree
 * nodes across the whole table (at a million bindings every scattered access is a cache and TLB
 * miss) or shifting a long array.
 *
 * A block holds up to 16 ranges side by side (lower, upper, head, localHead: 16 bytes each, 256
 * bytes in all). A type's directory lists its blocks in order, with each block's first range, its
 * largest `upper`, the prefix maximum of those, and its count. `pmax` is non-decreasing, so the
 * first range that contains an instance x, or overlaps [x, y], is found by one binary search over
 * the directory for the first block with pmax >= x, then a scan inside that block for the first
 * range with upper >= x; it qualifies if its lower <= y: the same answer as the kernel's interval
 * tree walk. A new range shifts at most 15 ranges inside its block (a full block splits in two);
 * an emptied one likewise, and a block that falls under a quarter full merges with a neighbour.
 *
 * Ranges are named by a handle, `blockIndex * 16 + position`, valid until the next insert or
 * removal of a range in the same type.
 */
import type { Scope, Subscription, SubscriptionMode } from "./types.js";

export const NONE = -1;

/** A subscription as the table keeps it; handed to users as {@link Subscription}. */
export class SubscriptionState implements Subscription {
  active = true;
  constructor(
    readonly id: number,
    readonly type: number,
    readonly lower: number,
    readonly upper: number,
    readonly mode: SubscriptionMode,
    readonly scope: Scope | undefined,
    readonly handle: unknown,
    readonly deadline: number | undefined,
  ) {}
}

/**
 * Int32Array chunks holding every type's blocks and directories (with free lists per size). A
 * million ranges then live in a few large buffers instead of tens of thousands of small typed
 * arrays, which would each cost an allocation and GC work; and since a full chunk is never copied
 * (a new, twice as large one is started, up to 4 MiB), growing the table copies nothing but a
 * directory that grows. A segment too big for a chunk gets a buffer of its own. u32 values are
 * stored as int32 and read back with `>>> 0`.
 */
export class RangePool {
  readonly chunks: Int32Array[] = [];
  /** The chunk being filled, and how far. */
  private current = -1;
  private currentWords = FIRST_CHUNK_WORDS / 2;
  private top = this.currentWords;
  /** Free segments per size in words, as chunk * CHUNK_WORDS + offset. */
  private readonly free = new Map<number, number[]>();

  /** Returns a segment of `words` words as chunk * CHUNK_WORDS + offset (one bigger than CHUNK_WORDS gets a chunk of its own). */
  alloc(words: number): number {
    if (words > CHUNK_WORDS) {
      this.chunks.push(new Int32Array(words));
      return (this.chunks.length - 1) * CHUNK_WORDS;
    }
    const fl = this.free.get(words);
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

  release(segment: number, words: number): void {
    if (words > CHUNK_WORDS) {
      // A buffer of its own: let it go (the slot in `chunks` is left empty).
      this.chunks[Math.floor(segment / CHUNK_WORDS)] = EMPTY;
      return;
    }
    let fl = this.free.get(words);
    if (fl === undefined) {
      fl = [];
      this.free.set(words, fl);
    }
    fl.push(segment);
  }
}

/**
 * Words per pool chunk (4 MiB), once the table has grown; the first one has 64 KiB. A segment is
 * named by chunk * CHUNK_WORDS + offset, an int32 while there are fewer than 2048 chunks (8 GiB).
 */
const CHUNK_BITS = 20;
const CHUNK_WORDS = 1 << CHUNK_BITS;
const FIRST_CHUNK_WORDS = 1 << 14;
const EMPTY = new Int32Array(0);

/** Ranges per block, and words per range in a block: lower, upper, head, localHead. */
const B = 16;
const LOG_B = 4;
const RW = 4;
const BLOCK_WORDS = B * RW;
const UP = 1;
const HEAD = 2;
const LHEAD = 3;
/** A block under this many ranges merges with a neighbour when they fit in MERGE_MAX together. */
const MERGE_BELOW = 4;
const MERGE_MAX = 12;

/** Directory fields, each a run of `dcap` words: the block's first range, its largest upper, the prefix max of those, its count. */
const D_FIELDS = 5;
const D_LOWER = 0;
const D_UPPER = 1;
const D_MAX = 2;
const D_PMAX = 3;
const D_COUNT = 4;
/** A type's segment: for a capacity of c blocks, the directory (D_FIELDS runs of c words), then the c blocks. */
const SEG_WORDS = D_FIELDS + BLOCK_WORDS;
const MIN_DCAP = 1;
const SHRINK_ABOVE = 8;

/** The next segment capacity: half as much again (a doubled one would be a quarter empty on average). */
const grown = (c: number): number => c + Math.max(1, c >>> 1);

/**
 * Where the last missed {@link Service.find} would put the range (block index, position), for the
 * {@link Service.insertAt} that follows it. Kept outside the services so they stay small.
 */
let insBlock = 0;
let insPos = 0;

export class Service {
  // The fields every lookup reads come first, so they share a cache line.
  /** The pool chunk holding the segment, where it starts there, its capacity in blocks, the number of blocks. */
  private dd: Int32Array;
  private db: number;
  private dcap = MIN_DCAP;
  private nb = 0;
  /** Number of ranges. */
  n = 0;
  /** Live subscriptions on this type, oldest first (events go newest first, as the kernel's list_add). */
  subs: SubscriptionState[] | null = null;
  /** The segment's name in the pool. */
  private dseg: number;

  constructor(
    readonly type: number,
    private readonly pool: RangePool,
  ) {
    this.dseg = pool.alloc(SEG_WORDS * MIN_DCAP);
    this.dd = pool.chunks[Math.floor(this.dseg / CHUNK_WORDS)] as Int32Array;
    this.db = this.dseg % CHUNK_WORDS;
  }

  // Directory fields of block j.
  private dget(f: number, j: number): number {
    return this.dd[this.db + f * this.dcap + j] as number;
  }

  private dset(f: number, j: number, v: number): void {
    this.dd[this.db + f * this.dcap + j] = v;
  }

  /** Where block j starts in the segment's chunk (blocks lie in order after the directory). */
  private boff(j: number): number {
    return this.db + D_FIELDS * this.dcap + BLOCK_WORDS * j;
  }

  /** Where range r starts: a handle is block * 16 + position, so this is plain arithmetic. */
  private at(r: number): number {
    return this.db + D_FIELDS * this.dcap + RW * r;
  }

  lower(r: number): number {
    return (this.dd[this.at(r)] as number) >>> 0;
  }

  upper(r: number): number {
    return (this.dd[this.at(r) + UP] as number) >>> 0;
  }

  head(r: number): number {
    return this.dd[this.at(r) + HEAD] as number;
  }

  setHead(r: number, s: number): void {
    this.dd[this.at(r) + HEAD] = s;
  }

  localHead(r: number): number {
    return this.dd[this.at(r) + LHEAD] as number;
  }

  setLocalHead(r: number, s: number): void {
    this.dd[this.at(r) + LHEAD] = s;
  }

  /** The first range in (lower, upper) order, or NONE. */
  first(): number {
    return this.nb === 0 ? NONE : 0;
  }

  /** The range after r in (lower, upper) order, or NONE. */
  next(r: number): number {
    const j = r >>> LOG_B;
    if ((r & (B - 1)) + 1 < this.dget(D_COUNT, j)) return r + 1;
    return j + 1 < this.nb ? (j + 1) << LOG_B : NONE;
  }

  /**
   * The range exactly {lower, upper}, or NONE; after a miss, {@link insertAt} puts it where it
   * belongs.
   */
  find(lower: number, upper: number): number {
    const nb = this.nb;
    if (nb === 0) {
      insBlock = 0;
      insPos = 0;
      return NONE;
    }
    // The last block whose first range is <= {lower, upper} (block 0 if none is).
    const d = this.dd;
    const lo = this.db + D_LOWER * this.dcap;
    const up = this.db + D_UPPER * this.dcap;
    let a = 1;
    let b = nb;
    while (a < b) {
      const m = (a + b) >>> 1;
      const l = (d[lo + m] as number) >>> 0;
      if (l < lower || (l === lower && (d[up + m] as number) >>> 0 <= upper)) a = m + 1;
      else b = m;
    }
    const j = a - 1;
    // The first position in block j whose range is >= {lower, upper}.
    const c = this.dd;
    const o = this.boff(j);
    let x = 0;
    let y = this.dget(D_COUNT, j);
    while (x < y) {
      const m = (x + y) >>> 1;
      const p = o + RW * m;
      const l = (c[p] as number) >>> 0;
      if (l < lower || (l === lower && (c[p + UP] as number) >>> 0 < upper)) x = m + 1;
      else y = m;
    }
    if (x < this.dget(D_COUNT, j)) {
      const p = o + RW * x;
      if ((c[p] as number) >>> 0 === lower && (c[p + UP] as number) >>> 0 === upper) return (j << LOG_B) | x;
    }
    insBlock = j;
    insPos = x;
    return NONE;
  }

  /** The first range whose upper reaches x (where every search for ranges overlapping [x, ...] starts), or NONE. */
  start(x: number): number {
    const d = this.dd;
    const pm = this.db + D_PMAX * this.dcap;
    let a = 0;
    let b = this.nb;
    while (a < b) {
      const m = (a + b) >>> 1;
      if ((d[pm + m] as number) >>> 0 < x) a = m + 1;
      else b = m;
    }
    if (a === this.nb) return NONE;
    // pmax[a-1] < x <= pmax[a]: block a holds a range with upper >= x, and the first such comes first.
    const c = this.dd;
    const o = this.boff(a) + UP;
    let p = 0;
    while ((c[o + RW * p] as number) >>> 0 < x) p++;
    return (a << LOG_B) | p;
  }

  /** The first range (by lower, then upper) that contains x, or NONE. */
  firstContaining(x: number): number {
    const r = this.start(x);
    // Its upper is >= x and every earlier range's is < x: only its lower is left to check.
    return r !== NONE && this.lower(r) <= x ? r : NONE;
  }

  /** Adds {lower, upper} where the last (missed) {@link find} for it would have it; returns its handle. */
  insertAt(lower: number, upper: number): number {
    if (this.nb === 0) this.dirInsert(0);
    let j = insBlock;
    let p = insPos;
    let n = this.dget(D_COUNT, j);
    if (n === B) {
      this.split(j);
      n = B / 2;
      if (p > n) {
        j++;
        p -= n;
      }
    }
    const c = this.dd;
    const o = this.boff(j);
    for (let k = o + RW * n - 1; k >= o + RW * p; k--) c[k + RW] = c[k] as number;
    const q = o + RW * p;
    c[q] = lower;
    c[q + UP] = upper;
    c[q + HEAD] = NONE;
    c[q + LHEAD] = NONE;
    this.dset(D_COUNT, j, n + 1);
    if (p === 0) {
      this.dset(D_LOWER, j, lower);
      this.dset(D_UPPER, j, upper);
    }
    if (n === 0 || upper > this.dget(D_MAX, j) >>> 0) {
      this.dset(D_MAX, j, upper);
      this.repair(j);
    }
    this.n++;
    return (j << LOG_B) | p;
  }

  removeAt(r: number): void {
    const j = r >>> LOG_B;
    const p = r & (B - 1);
    const c = this.dd;
    const o = this.boff(j);
    const n = this.dget(D_COUNT, j) - 1;
    const upper = (c[o + RW * p + UP] as number) >>> 0;
    for (let k = o + RW * p; k < o + RW * n; k++) c[k] = c[k + RW] as number;
    this.dset(D_COUNT, j, n);
    this.n--;
    if (n === 0) {
      this.dirRemove(j);
      if (j < this.nb) this.repair(j);
      return;
    }
    if (p === 0) {
      this.dset(D_LOWER, j, c[o] as number);
      this.dset(D_UPPER, j, c[o + UP] as number);
    }
    if (upper === this.dget(D_MAX, j) >>> 0) {
      this.dset(D_MAX, j, this.blockMax(j));
      this.repair(j);
    }
    if (n < MERGE_BELOW && this.nb > 1) {
      // Merge with the smaller neighbour, the later block into the earlier one.
      const k =
        j === 0 ? 0 : j === this.nb - 1 || this.dget(D_COUNT, j - 1) <= this.dget(D_COUNT, j + 1) ? j - 1 : j;
      if (this.dget(D_COUNT, k) + this.dget(D_COUNT, k + 1) <= MERGE_MAX) this.merge(k);
    }
  }

  /** Gives the directory and blocks back to the pool (the service is being dropped). */
  dispose(): void {
    this.pool.release(this.dseg, SEG_WORDS * this.dcap);
  }

  /** The largest upper in block j. */
  private blockMax(j: number): number {
    const c = this.dd;
    const o = this.boff(j) + UP;
    const n = this.dget(D_COUNT, j);
    let m = 0;
    for (let p = 0; p < n; p++) {
      const u = (c[o + RW * p] as number) >>> 0;
      if (u > m) m = u;
    }
    return m;
  }

  /** Moves the upper half of the full block j into a new block j + 1. */
  private split(j: number): void {
    this.dirInsert(j + 1);
    const d = this.dd;
    const fo = this.boff(j);
    const to = this.boff(j + 1);
    const h = B / 2;
    for (let k = 0; k < RW * h; k++) d[to + k] = d[fo + RW * h + k] as number;
    this.dset(D_COUNT, j, h);
    this.dset(D_COUNT, j + 1, h);
    this.dset(D_LOWER, j + 1, d[to] as number);
    this.dset(D_UPPER, j + 1, d[to + UP] as number);
    this.dset(D_MAX, j, this.blockMax(j));
    this.dset(D_MAX, j + 1, this.blockMax(j + 1));
    this.repair(j);
  }

  /** Appends block k + 1's ranges to block k and drops block k + 1. */
  private merge(k: number): void {
    const d = this.dd;
    const to = this.boff(k) + RW * this.dget(D_COUNT, k);
    const from = this.boff(k + 1);
    const n = this.dget(D_COUNT, k);
    const m = this.dget(D_COUNT, k + 1);
    for (let w = 0; w < RW * m; w++) d[to + w] = d[from + w] as number;
    this.dset(D_COUNT, k, n + m);
    const max = Math.max(this.dget(D_MAX, k) >>> 0, this.dget(D_MAX, k + 1) >>> 0);
    this.dset(D_MAX, k, max);
    this.dirRemove(k + 1);
    this.repair(k);
  }

  /** Opens block j (empty, count 0), moving the blocks from j on up by one. */
  private dirInsert(j: number): void {
    if (this.nb === this.dcap) this.resize(grown(this.dcap));
    const d = this.dd;
    const c = this.dcap;
    for (let f = 0; f < D_FIELDS; f++) {
      const o = this.db + f * c;
      for (let k = o + this.nb; k > o + j; k--) d[k] = d[k - 1] as number;
    }
    if (j < this.nb) d.copyWithin(this.boff(j + 1), this.boff(j), this.boff(this.nb));
    this.nb++;
    this.dset(D_COUNT, j, 0);
    this.dset(D_MAX, j, 0);
  }

  /** Drops block j, moving the blocks after it down by one. */
  private dirRemove(j: number): void {
    const d = this.dd;
    const c = this.dcap;
    this.nb--;
    for (let f = 0; f < D_FIELDS; f++) {
      const o = this.db + f * c;
      for (let k = o + j; k < o + this.nb; k++) d[k] = d[k + 1] as number;
    }
    if (j < this.nb) d.copyWithin(this.boff(j), this.boff(j + 1), this.boff(this.nb + 1));
    if (this.nb * 4 <= c && c > SHRINK_ABOVE) this.resize(c >>> 1);
  }

  /**
   * Recomputes pmax from block j on. Once a recomputed value equals the stored one (shifted from
   * before the change), every later value is unchanged too, so the loop stops there.
   */
  private repair(j: number): void {
    const d = this.dd;
    const mx = this.db + D_MAX * this.dcap;
    const pm = this.db + D_PMAX * this.dcap;
    let m = j > 0 ? (d[pm + j - 1] as number) >>> 0 : 0;
    for (let k = j; k < this.nb; k++) {
      const u = (d[mx + k] as number) >>> 0;
      if (u > m) m = u;
      if (k > j && (d[pm + k] as number) >>> 0 === m) return;
      d[pm + k] = m;
    }
  }

  /** Moves the directory and blocks to a segment for `capacity` blocks. */
  private resize(capacity: number): void {
    const seg = this.pool.alloc(SEG_WORDS * capacity);
    const d = this.pool.chunks[Math.floor(seg / CHUNK_WORDS)] as Int32Array;
    const base = seg % CHUNK_WORDS;
    const from = this.dd;
    for (let f = 0; f < D_FIELDS; f++) {
      const o = this.db + f * this.dcap;
      d.set(from.subarray(o, o + this.nb), base + f * capacity);
    }
    const blocks = this.db + D_FIELDS * this.dcap;
    d.set(from.subarray(blocks, blocks + BLOCK_WORDS * this.nb), base + D_FIELDS * capacity);
    this.pool.release(this.dseg, SEG_WORDS * this.dcap);
    this.dseg = seg;
    this.dd = d;
    this.db = base;
    this.dcap = capacity;
  }
}
