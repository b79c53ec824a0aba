/**
 * A binary min-heap ordered by a caller's `before(a, b)`. Not a wire primitive: it is here because
 * the codec is the one package at the root of the dependency graph (it depends on no other
 * tipcjs package), so every package that needs a priority queue can import it without a new
 * direction of dependency. Its users: the memory fabric's virtual clock (events by time, then
 * scheduling order), the name table's subscription timeouts and the link tests' network.
 *
 * `before` must be a strict order (never true both ways); with a total order (ties broken by a
 * sequence number or an id, as every user does) the order of `pop` is fully determined.
 */
export class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  /** Items held. */
  get size(): number {
    return this.items.length;
  }

  /** The first item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    this.up(a.length - 1, item);
  }

  /** Takes the first item away and returns it (`undefined` when empty). */
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    if (a.length === 0) return undefined;
    const last = a.pop() as T;
    if (a.length > 0) this.down(0, last);
    return top;
  }

  /** Keeps only the items for which `keep` is true, and restores the heap in O(n). */
  retain(keep: (item: T) => boolean): void {
    const a = this.items.filter(keep);
    this.items = a;
    for (let i = (a.length >> 1) - 1; i >= 0; i--) this.down(i, a[i] as T);
  }

  private up(i: number, item: T): void {
    const a = this.items;
    const before = this.before;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p] as T;
      if (!before(item, parent)) break;
      a[i] = parent;
      i = p;
    }
    a[i] = item;
  }

  private down(i: number, item: T): void {
    const a = this.items;
    const n = a.length;
    const before = this.before;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(a[r] as T, a[l] as T)) c = r;
      const child = a[c] as T;
      if (!before(child, item)) break;
      a[i] = child;
      i = c;
    }
    a[i] = item;
  }
}
