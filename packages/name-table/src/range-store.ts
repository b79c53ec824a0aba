/**
 * The service ranges of every type, as one pool of treap nodes in typed arrays.
 *
 * Each type's ranges form a treap ordered by (lower, upper) and augmented with the largest
 * `upper` of each subtree, the same interval tree the kernel keeps per service (an augmented
 * rb-tree). Finding the first range that overlaps [lo, hi] is then O(log n + matches) whatever the
 * overlaps. A range id is an index into the columns; `head`/`localHead` point at the first binding of
 * the range's circular lists (kept by the name table).
 */
export const NONE = -1;

export class RangeStore {
  lower: Uint32Array;
  upper: Uint32Array;
  max: Uint32Array;
  left: Int32Array;
  right: Int32Array;
  prio: Int32Array;
  /** First binding of the range's `all_publ` circular list. */
  head: Int32Array;
  /** First binding of the range's `local_publ` circular list, or NONE. */
  localHead: Int32Array;
  private used = 0;
  private freeList = NONE;
  private seed = 0x2545f491;
  /** Live ranges. */
  count = 0;

  constructor(capacity = 64) {
    this.lower = new Uint32Array(capacity);
    this.upper = new Uint32Array(capacity);
    this.max = new Uint32Array(capacity);
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.prio = new Int32Array(capacity);
    this.head = new Int32Array(capacity);
    this.localHead = new Int32Array(capacity);
  }

  alloc(lower: number, upper: number): number {
    let r = this.freeList;
    if (r !== NONE) {
      this.freeList = this.left[r] as number;
    } else {
      if (this.used === this.lower.length) this.grow();
      r = this.used++;
    }
    this.lower[r] = lower;
    this.upper[r] = upper;
    this.max[r] = upper;
    this.left[r] = NONE;
    this.right[r] = NONE;
    // xorshift32: priorities only shape the tree, never the order of anything observable.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x;
    this.prio[r] = x;
    this.head[r] = NONE;
    this.localHead[r] = NONE;
    this.count++;
    return r;
  }

  release(r: number): void {
    this.left[r] = this.freeList;
    this.freeList = r;
    this.count--;
  }

  private grow(): void {
    const n = this.lower.length * 2;
    const u32 = (a: Uint32Array) => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.lower = u32(this.lower);
    this.upper = u32(this.upper);
    this.max = u32(this.max);
    this.left = i32(this.left);
    this.right = i32(this.right);
    this.prio = i32(this.prio);
    this.head = i32(this.head);
    this.localHead = i32(this.localHead);
  }

  /** The range exactly {lower, upper} under `root`, or NONE. */
  find(root: number, lower: number, upper: number): number {
    const lo = this.lower;
    const up = this.upper;
    let t = root;
    while (t !== NONE) {
      const l = lo[t] as number;
      if (lower < l) t = this.left[t] as number;
      else if (lower > l) t = this.right[t] as number;
      else {
        const u = up[t] as number;
        if (upper === u) return t;
        t = upper < u ? (this.left[t] as number) : (this.right[t] as number);
      }
    }
    return NONE;
  }

  private update(t: number): void {
    let m = this.upper[t] as number;
    const l = this.left[t] as number;
    const r = this.right[t] as number;
    if (l !== NONE && (this.max[l] as number) > m) m = this.max[l] as number;
    if (r !== NONE && (this.max[r] as number) > m) m = this.max[r] as number;
    this.max[t] = m;
  }

  private less(a: number, b: number): boolean {
    const la = this.lower[a] as number;
    const lb = this.lower[b] as number;
    return la < lb || (la === lb && (this.upper[a] as number) < (this.upper[b] as number));
  }

  /** Inserts range `r` (not present yet) under `t`; returns the new root. */
  insert(t: number, r: number): number {
    if (t === NONE) return r;
    if (this.less(r, t)) {
      const l = this.insert(this.left[t] as number, r);
      this.left[t] = l;
      if ((this.prio[l] as number) > (this.prio[t] as number)) {
        this.left[t] = this.right[l] as number;
        this.right[l] = t;
        this.update(t);
        this.update(l);
        return l;
      }
    } else {
      const rr = this.insert(this.right[t] as number, r);
      this.right[t] = rr;
      if ((this.prio[rr] as number) > (this.prio[t] as number)) {
        this.right[t] = this.left[rr] as number;
        this.left[rr] = t;
        this.update(t);
        this.update(rr);
        return rr;
      }
    }
    this.update(t);
    return t;
  }

  /** Removes range `r` (present) from under `t`; returns the new root. */
  remove(t: number, r: number): number {
    if (t === r) return this.merge(this.left[t] as number, this.right[t] as number);
    if (this.less(r, t)) this.left[t] = this.remove(this.left[t] as number, r);
    else this.right[t] = this.remove(this.right[t] as number, r);
    this.update(t);
    return t;
  }

  private merge(a: number, b: number): number {
    if (a === NONE) return b;
    if (b === NONE) return a;
    if ((this.prio[a] as number) > (this.prio[b] as number)) {
      this.right[a] = this.merge(this.right[a] as number, b);
      this.update(a);
      return a;
    }
    this.left[b] = this.merge(a, this.left[b] as number);
    this.update(b);
    return b;
  }

  /** The first range, in (lower, upper) order, overlapping [lo, hi]; NONE if none. */
  first(t: number, lo: number, hi: number): number {
    if (t === NONE || (this.max[t] as number) < lo) return NONE;
    const l = this.first(this.left[t] as number, lo, hi);
    if (l !== NONE) return l;
    if ((this.lower[t] as number) > hi) return NONE;
    if ((this.upper[t] as number) >= lo) return t;
    return this.first(this.right[t] as number, lo, hi);
  }

  /** Like {@link first}, for the first overlapping range that `accept` takes. */
  firstWhere(t: number, lo: number, hi: number, accept: (r: number) => boolean): number {
    if (t === NONE || (this.max[t] as number) < lo) return NONE;
    const l = this.firstWhere(this.left[t] as number, lo, hi, accept);
    if (l !== NONE) return l;
    if ((this.lower[t] as number) > hi) return NONE;
    if ((this.upper[t] as number) >= lo && accept(t)) return t;
    return this.firstWhere(this.right[t] as number, lo, hi, accept);
  }

  /** Appends every range overlapping [lo, hi] to `out`, in (lower, upper) order. */
  overlapping(t: number, lo: number, hi: number, out: number[]): void {
    if (t === NONE || (this.max[t] as number) < lo) return;
    this.overlapping(this.left[t] as number, lo, hi, out);
    if ((this.lower[t] as number) > hi) return;
    if ((this.upper[t] as number) >= lo) out.push(t);
    this.overlapping(this.right[t] as number, lo, hi, out);
  }

  /** Appends every range under `t` to `out`, in (lower, upper) order. */
  all(t: number, out: number[]): void {
    while (t !== NONE) {
      this.all(this.left[t] as number, out);
      out.push(t);
      t = this.right[t] as number;
    }
  }
}
