import { NameTableError } from "./errors.js";
import { HashIndex, hashOf, recordHash } from "./hash-index.js";
import { NodeList } from "./node-lists.js";
import { RangePool, Service } from "./ranges.js";
import { BindingRecords, linkBefore, MAX_BINDINGS_LIMIT, MIN_SLOTS, RECORD, unlink } from "./records.js";
import { type SubscriptionState, Subscriptions, TIPC_MAX_SUBSCR } from "./subscriptions.js";
import type {
  AddStatus,
  Binding,
  BindingKey,
  InsertResult,
  NameTableOptions,
  Scope,
  SocketAddress,
  Subscription,
  SubscriptionEvent,
  SubscriptionRequest,
} from "./types.js";
import { checkKey, checkObject, checkRange, checkScope, checkU32 } from "./validate.js";

// The record layout as consts of this module (see RECORD in records.ts for why).
const { NONE, STRIDE, TYPE, LOWER, UPPER, NODE, PORT, KEY, NEXT, PREV, LNEXT, LPREV, META, SEQ } = RECORD;
const { CLUSTER, LOCAL, INDEXED } = RECORD;

/** Default cap on bindings held by one table. */
export const DEFAULT_MAX_BINDINGS = 1 << 24;
/** Items {@link NameTable.addMany} and {@link NameTable.deleteMany} warm up together. */
const BATCH = 32;
/** Where `warm` leaves what it read, so that the reads are not optimised away. */
// biome-ignore lint/correctness/noUnusedVariables: written only, to keep warm's reads
let warmSink = 0;

const DUPLICATE: InsertResult = Object.freeze({ ok: false, reason: "duplicate" });
const LIMIT: InsertResult = Object.freeze({ ok: false, reason: "limit" });

/**
 * TIPC's name table: service bindings with the kernel's identity, lookup and topology rules
 * (shared/docs/tipc-protocol.md §2.3, §3, §4). A pure data structure: no I/O, no timers; time is
 * passed in. Subscription events are queued and handed out by {@link takeEvents}.
 *
 * Layout (see README): each binding is a 48-byte record in one Int32Array, linked into its exact
 * range's circular `all`/`local` lists (`BindingRecords`, records.ts); each type keeps its
 * ranges in sorted arrays with a prefix max of `upper` (`Service`, ranges.ts); each node keeps
 * its bindings' slots in publication order (`NodeList`, node-lists.ts); a hash index on
 * (type, lower, upper, node, key) makes duplicate checks and withdrawals in shared ranges O(1)
 * (`HashIndex`, hash-index.ts). Subscriptions, their timeouts and the event queue are in
 * subscriptions.ts. This class ties them together and follows the kernel's rules.
 */
export class NameTable extends BindingRecords {
  private _ownNode: number;
  private readonly maxBindings: number;
  private _size = 0;
  /** The slot of the last binding {@link add} stored, and the binding object made for its events, if any. */
  private lastSlot: number = NONE;
  private lastAdded: Binding | undefined = undefined;

  /** The bindings of shared exact ranges, by identity. */
  private readonly index = new HashIndex();
  private readonly services = new Map<number, Service>();
  private readonly pool = new RangePool();
  private readonly nodes = new Map<number, NodeList>();
  private readonly subscriptions: Subscriptions;

  constructor(options: NameTableOptions) {
    checkObject(options, "options");
    checkU32(options.ownNode, "ownNode");
    const {
      maxBindings = DEFAULT_MAX_BINDINGS,
      maxSubscriptions = TIPC_MAX_SUBSCR,
      expectedBindings = MIN_SLOTS,
    } = options;
    if (typeof maxBindings !== "number" || !(maxBindings >= 0) || !Number.isInteger(maxBindings)) {
      throw new NameTableError("BAD_ARGUMENT", "maxBindings must be a non-negative integer", "maxBindings");
    }
    if (typeof maxSubscriptions !== "number" || !(maxSubscriptions >= 0)) {
      throw new NameTableError(
        "BAD_ARGUMENT",
        "maxSubscriptions must be a non-negative number",
        "maxSubscriptions",
      );
    }
    if (
      typeof expectedBindings !== "number" ||
      !(expectedBindings >= 0) ||
      !Number.isInteger(expectedBindings)
    ) {
      throw new NameTableError(
        "BAD_ARGUMENT",
        "expectedBindings must be a non-negative integer",
        "expectedBindings",
      );
    }
    // The hash index is not sized from `expectedBindings`: it holds only the bindings of shared
    // ranges, however many those turn out to be, and grows as they come.
    super(Math.max(MIN_SLOTS, Math.min(expectedBindings, maxBindings)));
    this._ownNode = options.ownNode;
    this.maxBindings = Math.min(maxBindings, MAX_BINDINGS_LIMIT);
    this.subscriptions = new Subscriptions(maxSubscriptions);
  }

  /** Number of bindings held. */
  get size(): number {
    return this._size;
  }

  /** This node's address. */
  get ownNode(): number {
    return this._ownNode;
  }

  /**
   * Gives this node a new address, as the kernel does when the address is finalised
   * (`tipc_named_reinit`): every binding held for the old address moves to the new one.
   * Throws `ADDRESS_IN_USE` if other bindings already name `addr`.
   */
  setOwnNode(addr: number): void {
    checkU32(addr, "addr");
    const old = this._ownNode;
    if (addr === old) return;
    if (this.nodes.has(addr)) {
      throw new NameTableError("ADDRESS_IN_USE", `the table already holds bindings of node ${addr}`, "addr");
    }
    const list = this.nodes.get(old);
    if (list !== undefined) {
      const rec = this.rec;
      for (const s of list.liveSlots(rec, old)) {
        const indexed = ((rec[s * STRIDE + META] as number) & INDEXED) !== 0;
        if (indexed) this.index.remove(s, recordHash(rec, s, old));
        rec[s * STRIDE + NODE] = addr;
        if (indexed) this.index.add(s, recordHash(rec, s, addr));
      }
      this.nodes.delete(old);
      this.nodes.set(addr, list);
    }
    this._ownNode = addr;
  }

  // ---------------------------------------------------------------- bindings

  /**
   * Adds a binding. A binding whose exact range, key and node are already held is refused with
   * `duplicate`, as the kernel refuses it; beyond `maxBindings`, `limit`. Throws
   * {@link NameTableError} for invalid input (the table is then unchanged).
   */
  insert(binding: Binding): InsertResult {
    const status = this.add(binding);
    if (status !== "added") return status === "duplicate" ? DUPLICATE : LIMIT;
    return { ok: true, binding: this.lastAdded ?? this.bindingAt(this.lastSlot) };
  }

  /**
   * {@link insert} without allocating: the same checks and effects, but the outcome is a constant
   * string, `"added"`, `"duplicate"` or `"limit"`, and no result or stored binding object is made
   * (unless a subscription on the type needs one for its event). For bulk loads, such as a
   * distributor applying a peer's publications.
   */
  add(binding: Binding): AddStatus {
    checkObject(binding, "binding");
    const { type, lower, upper, node, port, key, scope } = binding;
    checkU32(type, "type");
    checkU32(lower, "lower");
    checkU32(upper, "upper");
    checkU32(node, "node");
    checkU32(port, "port");
    checkU32(key, "key");
    checkRange(lower, upper);
    checkScope(scope);

    let svc = this.services.get(type);
    let r = svc === undefined ? NONE : svc.find(lower, upper);
    // Only an exact range already held can hold a duplicate.
    if (r !== NONE && this.findInRange((svc as Service).head(r), type, lower, upper, node, key) !== NONE) {
      return "duplicate";
    }
    if (this._size >= this.maxBindings) return "limit";

    if (svc === undefined) {
      svc = new Service(type, this.pool);
      this.services.set(type, svc);
      svc.find(lower, upper);
    }
    const first = r === NONE;
    if (first) r = svc.insertAt(lower, upper);

    if (this.nextSeq === 0xffffffff) this.renumber();
    const s = this.allocSlot();
    const rec = this.rec;
    const o = s * STRIDE;
    const local = node === this._ownNode;
    rec[o + TYPE] = type;
    rec[o + LOWER] = lower;
    rec[o + UPPER] = upper;
    rec[o + NODE] = node;
    rec[o + PORT] = port;
    rec[o + KEY] = key;
    rec[o + META] = (scope === "cluster" ? CLUSTER : 0) | (local ? LOCAL : 0);
    rec[o + SEQ] = this.nextSeq++;

    // The kernel's list_add: the newest binding goes to the head, so round-robin picks it next.
    const head = svc.head(r);
    if (head === NONE) {
      rec[o + NEXT] = s;
      rec[o + PREV] = s;
    } else {
      linkBefore(rec, NEXT, s, head);
      // The range now holds two or more bindings: all of them go into the index.
      if (((rec[head * STRIDE + META] as number) & INDEXED) === 0) this.indexSlot(head);
      this.indexSlot(s);
    }
    svc.setHead(r, s);
    if (local) {
      const lhead = svc.localHead(r);
      if (lhead === NONE) {
        rec[o + LNEXT] = s;
        rec[o + LPREV] = s;
      } else {
        linkBefore(rec, LNEXT, s, lhead);
      }
      svc.setLocalHead(r, s);
    }

    let list = this.nodes.get(node);
    if (list === undefined) {
      list = new NodeList();
      this.nodes.set(node, list);
    }
    list.append(rec, s, node);

    this._size++;
    this.lastSlot = s;
    if (svc.subs !== null) {
      const stored: Binding = { type, lower, upper, scope, node, port, key };
      this.lastAdded = stored;
      this.subscriptions.report(svc.subs, stored, "published", first);
    } else {
      this.lastAdded = undefined;
    }
    return "added";
  }

  /**
   * Removes the binding a withdrawal names: type, exact lower and upper, node and key (the port
   * is not compared). Returns it, or `undefined` when nothing matches (an expected miss).
   */
  remove(key: BindingKey): Binding | undefined {
    checkKey(key);
    const svc = this.services.get(key.type);
    if (svc === undefined) return undefined;
    const r = svc.find(key.lower, key.upper);
    const s = this.locate(svc, r, key);
    return s === NONE ? undefined : this.removeFrom(svc, r, s, true);
  }

  /**
   * {@link remove} without allocating: removes the binding `key` names and says whether there was
   * one (no binding object is made unless a subscription on the type needs one for its event).
   */
  delete(key: BindingKey): boolean {
    checkKey(key);
    const svc = this.services.get(key.type);
    if (svc === undefined) return false;
    const r = svc.find(key.lower, key.upper);
    const s = this.locate(svc, r, key);
    if (s === NONE) return false;
    this.removeFrom(svc, r, s, false);
    return true;
  }

  /**
   * {@link add} for each binding in turn (as a distributor applies a bulk); returns how many were
   * added. The same checks, effects and events as that many `add` calls, and the same throw for
   * invalid input (the bindings before it are then in the table, those after it are not). Faster
   * than single calls in a large table: each group of bindings has the memory it will touch read
   * first, all together, so that the cache misses overlap instead of coming one after another.
   */
  addMany(bindings: readonly Binding[]): number {
    if (!Array.isArray(bindings)) {
      throw new NameTableError("BAD_ARGUMENT", "bindings must be an array", "bindings");
    }
    let added = 0;
    for (let at = 0; at < bindings.length; at += BATCH) {
      const end = Math.min(bindings.length, at + BATCH);
      this.warm(bindings, at, end, false);
      for (let i = at; i < end; i++) if (this.add(bindings[i] as Binding) === "added") added++;
    }
    return added;
  }

  /** {@link delete} for each key in turn, warmed as in {@link addMany}; returns how many were removed. */
  deleteMany(keys: readonly BindingKey[]): number {
    if (!Array.isArray(keys)) throw new NameTableError("BAD_ARGUMENT", "keys must be an array", "keys");
    let removed = 0;
    for (let at = 0; at < keys.length; at += BATCH) {
      const end = Math.min(keys.length, at + BATCH);
      this.warm(keys, at, end, true);
      for (let i = at; i < end; i++) if (this.delete(keys[i] as BindingKey)) removed++;
    }
    return removed;
  }

  /**
   * Reads, for items at..end-1, the type's range segment each will need (and, for removals, the
   * record at the head of its exact range), without changing anything: a batch of independent
   * reads the CPU overlaps. Items that are not well-formed are skipped (the call that follows
   * rejects them).
   */
  private warm(items: readonly BindingKey[], at: number, end: number, records: boolean): void {
    let sink = 0;
    for (let i = at; i < end; i++) {
      const x = items[i];
      if (typeof x !== "object" || x === null || typeof x.type !== "number") continue;
      const svc = this.services.get(x.type);
      if (svc !== undefined) sink ^= svc.warm();
    }
    if (records) {
      // Second round: the segments are in cache now; read the record each exact range starts with.
      const rec = this.rec;
      for (let i = at; i < end; i++) {
        const x = items[i];
        if (typeof x !== "object" || x === null) continue;
        const { type, lower, upper } = x;
        if (typeof type !== "number" || typeof lower !== "number" || typeof upper !== "number") continue;
        const svc = this.services.get(type);
        if (svc === undefined) continue;
        const r = svc.find(lower >>> 0, upper >>> 0);
        if (r !== NONE) sink ^= rec[svc.head(r) * STRIDE + KEY] as number;
      }
    }
    warmSink = sink;
  }

  /** The binding `key` names, or `undefined`. */
  get(key: BindingKey): Binding | undefined {
    const s = this.slotOf(key);
    return s === NONE ? undefined : this.bindingAt(s);
  }

  /** Whether a binding with this identity is held. */
  has(key: BindingKey): boolean {
    return this.slotOf(key) !== NONE;
  }

  /** Removes every binding of `node` (node loss) and returns them, in publication order. */
  purgeNode(node: number): Binding[] {
    checkU32(node, "node");
    const list = this.nodes.get(node);
    if (list === undefined) return [];
    return list.liveSlots(this.rec, node).map((s) => this.removeSlot(s, true) as Binding);
  }

  /** Every binding of `node`, in publication order. */
  nodeBindings(node: number): Binding[] {
    checkU32(node, "node");
    const list = this.nodes.get(node);
    if (list === undefined) return [];
    return list.liveSlots(this.rec, node).map((s) => this.bindingAt(s));
  }

  /**
   * This node's cluster-scope bindings in publication order (the distributor's bulk). A snapshot:
   * changing the table while iterating does not disturb it.
   */
  ownClusterBindings(): IterableIterator<Binding> {
    const out: Binding[] = [];
    const list = this.nodes.get(this._ownNode);
    if (list !== undefined) {
      for (const s of list.liveSlots(this.rec, this._ownNode)) {
        if ((this.rec[s * STRIDE + META] as number) & CLUSTER) out.push(this.bindingAt(s));
      }
    }
    return out.values();
  }

  // ---------------------------------------------------------------- lookups

  /**
   * Anycast (`tipc_nametbl_lookup_anycast`, the default for 128-bit-id nodes): the first range
   * (by lower, then upper) containing `instance`, round-robin over all of its bindings.
   */
  lookupAnycast(type: number, instance: number): SocketAddress | undefined {
    checkU32(type, "type");
    checkU32(instance, "instance");
    const svc = this.services.get(type);
    if (svc === undefined) return undefined;
    const r = svc.firstContaining(instance);
    if (r === NONE) return undefined;
    const s = svc.head(r);
    const o = s * STRIDE;
    const rec = this.rec;
    svc.setHead(r, rec[o + NEXT] as number);
    return { node: (rec[o + NODE] as number) >>> 0, port: (rec[o + PORT] as number) >>> 0 };
  }

  /**
   * Closest first (legacy Z.C.N nodes): in the first range containing `instance`, round-robin over
   * this node's bindings if it has any, otherwise over all.
   */
  lookupClosestFirst(type: number, instance: number): SocketAddress | undefined {
    checkU32(type, "type");
    checkU32(instance, "instance");
    const svc = this.services.get(type);
    if (svc === undefined) return undefined;
    const r = svc.firstContaining(instance);
    if (r === NONE) return undefined;
    const rec = this.rec;
    const l = svc.localHead(r);
    if (l !== NONE) {
      svc.setLocalHead(r, rec[l * STRIDE + LNEXT] as number);
      return this.socketAt(l);
    }
    const s = svc.head(r);
    svc.setHead(r, rec[s * STRIDE + NEXT] as number);
    return this.socketAt(s);
  }

  /**
   * Anycast restricted to one node. For this node, the kernel's lookup with domain = self: the first
   * range containing `instance` that has local bindings, round-robin over them. For another node,
   * what that node's own lookup would pick: the first such range with a binding of `node`, rotating
   * among that node's bindings in it.
   */
  lookupOnNode(type: number, instance: number, node: number): SocketAddress | undefined {
    checkU32(type, "type");
    checkU32(instance, "instance");
    checkU32(node, "node");
    const svc = this.services.get(type);
    if (svc === undefined) return undefined;
    const rec = this.rec;
    for (let r = svc.start(instance); r !== NONE && svc.lower(r) <= instance; r = svc.next(r)) {
      if (svc.upper(r) < instance) continue;
      if (node === this._ownNode) {
        const l = svc.localHead(r);
        if (l === NONE) continue;
        svc.setLocalHead(r, rec[l * STRIDE + LNEXT] as number);
        return this.socketAt(l);
      }
      const head = svc.head(r);
      let s = head;
      do {
        if ((rec[s * STRIDE + NODE] as number) >>> 0 === node) {
          // Move the pick to the tail of the range's list, as a round-robin pick does.
          if (s === head) {
            svc.setHead(r, rec[s * STRIDE + NEXT] as number);
          } else {
            unlink(rec, NEXT, s);
            linkBefore(rec, NEXT, s, head);
          }
          return this.socketAt(s);
        }
        s = rec[s * STRIDE + NEXT] as number;
      } while (s !== head);
    }
    return undefined;
  }

  /**
   * Every binding whose range contains `instance`: ranges in (lower, upper) order, bindings of a
   * range in publication order. Does not disturb round-robin.
   */
  lookupInstance(type: number, instance: number): Binding[] {
    checkU32(type, "type");
    checkU32(instance, "instance");
    return this.collect(type, instance, instance, undefined, undefined).map((s) => this.bindingAt(s));
  }

  /**
   * Multicast lookup: every distinct socket with a binding overlapping [lower, upper], optionally
   * only on the given nodes and of one scope. Ordered by range, then publication.
   */
  lookupMulticast(
    type: number,
    lower: number,
    upper: number,
    options: { nodes?: Iterable<number>; scope?: Scope } = {},
  ): SocketAddress[] {
    checkU32(type, "type");
    checkU32(lower, "lower");
    checkU32(upper, "upper");
    checkRange(lower, upper);
    checkObject(options, "options");
    const { nodes, scope } = options;
    if (scope !== undefined) checkScope(scope);
    let nodeSet: ReadonlySet<number> | undefined;
    if (nodes !== undefined) {
      if (nodes === null || typeof (nodes as Iterable<number>)[Symbol.iterator] !== "function") {
        throw new NameTableError("BAD_ARGUMENT", "nodes must be iterable", "nodes");
      }
      nodeSet = nodes instanceof Set ? nodes : new Set(nodes);
    }
    const out: SocketAddress[] = [];
    const seen = new Map<number, Set<number>>();
    for (const s of this.collect(type, lower, upper, nodeSet, scope)) {
      const { node, port } = this.socketAt(s);
      let ports = seen.get(node);
      if (ports === undefined) {
        ports = new Set();
        seen.set(node, ports);
      } else if (ports.has(port)) continue;
      ports.add(port);
      out.push({ node, port });
    }
    return out;
  }

  /** Every distinct node with a binding overlapping [lower, upper], ascending (the multicast sender's node list). */
  lookupMulticastNodes(type: number, lower: number, upper: number): number[] {
    checkU32(type, "type");
    checkU32(lower, "lower");
    checkU32(upper, "upper");
    checkRange(lower, upper);
    const nodes = new Set<number>();
    for (const s of this.collect(type, lower, upper, undefined, undefined)) {
      nodes.add((this.rec[s * STRIDE + NODE] as number) >>> 0);
    }
    return [...nodes].sort((a, b) => a - b);
  }

  /** Every binding, ordered by type, lower, upper, then publication (what `tipc nametable show` lists). */
  dump(): Binding[] {
    const out: Binding[] = [];
    const types = [...this.services.keys()].sort((a, b) => a - b);
    for (const type of types) {
      const svc = this.services.get(type) as Service;
      for (let r = svc.first(); r !== NONE; r = svc.next(r))
        for (const s of this.rangeSlots(svc, r)) out.push(this.bindingAt(s));
    }
    return out;
  }

  [Symbol.iterator](): IterableIterator<Binding> {
    return this.dump().values();
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Adds a topology subscription. Unless `initialEvents` is false, a `published` event for what
   * already matches is queued at once (ports: every binding; service: each range's first binding),
   * in publication order. With a finite `timeout`, pass `now`: a `timeout` event is queued by
   * {@link expire} at `now + timeout` and the subscription ends.
   */
  subscribe(request: SubscriptionRequest, now?: number): Subscription {
    const sub = this.subscriptions.open(request, now);
    const { type, lower, upper, mode } = sub;
    let svc = this.services.get(type);
    if (svc === undefined) {
      svc = new Service(type, this.pool);
      this.services.set(type, svc);
    }
    if (svc.subs === null) svc.subs = [];
    svc.subs.push(sub);

    const { initialEvents = true } = request;
    if (initialEvents) {
      const slots: number[] = [];
      for (let r = svc.start(lower); r !== NONE && svc.lower(r) <= upper; r = svc.next(r)) {
        if (svc.upper(r) < lower) continue;
        const inRange = this.rangeSlots(svc, r);
        if (mode === "ports") slots.push(...inRange);
        else slots.push(inRange[0] as number);
      }
      this.sortBySeq(slots);
      const one = [sub];
      for (const s of slots) this.subscriptions.report(one, this.bindingAt(s), "published", true);
    }
    return sub;
  }

  /** Ends a subscription (TIPC_SUB_CANCEL). Returns false if it had already ended. */
  unsubscribe(subscription: Subscription | number): boolean {
    const id = typeof subscription === "number" ? subscription : subscription?.id;
    const sub = typeof id === "number" ? this.subscriptions.get(id) : undefined;
    if (sub === undefined) return false;
    this.endSubscription(sub);
    return true;
  }

  /** Live subscriptions, oldest first. */
  activeSubscriptions(): Subscription[] {
    return this.subscriptions.all();
  }

  /** Queues a `timeout` event for, and ends, every subscription whose deadline is <= `now`. */
  expire(now: number): void {
    if (typeof now !== "number" || Number.isNaN(now)) {
      throw new NameTableError("BAD_ARGUMENT", "now must be a number", "now");
    }
    for (let sub = this.subscriptions.due(now); sub !== undefined; sub = this.subscriptions.due(now)) {
      this.endSubscription(sub);
      this.subscriptions.reportTimeout(sub);
    }
  }

  /** The earliest pending timeout, or `undefined`: call {@link expire} then. */
  nextDeadline(): number | undefined {
    return this.subscriptions.nextDeadline();
  }

  /** Hands out (and forgets) the subscription events queued since the last call, oldest first. */
  takeEvents(): SubscriptionEvent[] {
    return this.subscriptions.take();
  }

  /** Number of events waiting for {@link takeEvents}. */
  get pendingEvents(): number {
    return this.subscriptions.pending;
  }

  // ---------------------------------------------------------------- internals

  /** The slot of the binding `key` names, or NONE. */
  private slotOf(key: BindingKey): number {
    checkKey(key);
    const svc = this.services.get(key.type);
    return svc === undefined ? NONE : this.locate(svc, svc.find(key.lower, key.upper), key);
  }

  /**
   * The slot of the binding `key` names in its type's `svc`, where `r` is the exact range
   * {key.lower, key.upper} (NONE if that range is not held: then there is no such binding).
   */
  private locate(svc: Service, r: number, key: BindingKey): number {
    if (r === NONE) return NONE;
    return this.findInRange(svc.head(r), key.type, key.lower, key.upper, key.node, key.key);
  }

  /**
   * The binding of node `node` with key `key` in the exact range {type, lower, upper} whose list
   * starts at `head`, or NONE. A range's only binding is compared directly (no index probe, so no
   * cache miss there); the bindings of a range that holds two or more are all in the index.
   */
  private findInRange(
    head: number,
    type: number,
    lower: number,
    upper: number,
    node: number,
    key: number,
  ): number {
    const rec = this.rec;
    const o = head * STRIDE;
    if (((rec[o + META] as number) & INDEXED) === 0) {
      return rec[o + NODE] === (node | 0) && rec[o + KEY] === (key | 0) ? head : NONE;
    }
    return this.index.find(rec, hashOf(type, lower, upper, node, key), type, lower, upper, node, key);
  }

  /** Puts slot s into the hash index. */
  private indexSlot(s: number): void {
    const rec = this.rec;
    const m = s * STRIDE + META;
    rec[m] = (rec[m] as number) | INDEXED;
    this.index.add(s, recordHash(rec, s, (rec[s * STRIDE + NODE] as number) >>> 0));
  }

  /** Removes slot `s`; returns its binding if `want` (made only then, or for a subscriber's event). */
  private removeSlot(s: number, want: boolean): Binding | undefined {
    const o = s * STRIDE;
    const svc = this.services.get((this.rec[o + TYPE] as number) >>> 0) as Service;
    const r = svc.find((this.rec[o + LOWER] as number) >>> 0, (this.rec[o + UPPER] as number) >>> 0);
    return this.removeFrom(svc, r, s, want);
  }

  /** {@link removeSlot} where `svc` and `r` are slot s's type and exact range. */
  private removeFrom(svc: Service, r: number, s: number, want: boolean): Binding | undefined {
    const rec = this.rec;
    const o = s * STRIDE;
    const type = (rec[o + TYPE] as number) >>> 0;
    const lower = (rec[o + LOWER] as number) >>> 0;
    const upper = (rec[o + UPPER] as number) >>> 0;
    const node = (rec[o + NODE] as number) >>> 0;
    const binding = want || svc.subs !== null ? this.bindingAt(s) : undefined;
    const n = unlink(rec, NEXT, s);
    if (svc.head(r) === s) svc.setHead(r, n);
    if ((rec[o + META] as number) & LOCAL) {
      const ln = unlink(rec, LNEXT, s);
      if (svc.localHead(r) === s) svc.setLocalHead(r, ln);
    }
    const last = n === NONE;
    if (last) svc.removeAt(r);

    const list = this.nodes.get(node) as NodeList;
    if (--list.live === 0) this.nodes.delete(node);

    if ((rec[o + META] as number) & INDEXED) {
      this.index.remove(s, hashOf(type, lower, upper, node, (rec[o + KEY] as number) >>> 0));
    }
    rec[o + META] = NONE;
    this.freeSlot(s);
    this._size--;
    if (svc.subs !== null) this.subscriptions.report(svc.subs, binding as Binding, "withdrawn", last);
    else if (svc.n === 0) this.dropService(svc);
    return binding;
  }

  private dropService(svc: Service): void {
    this.services.delete(svc.type);
    svc.dispose();
  }

  private endSubscription(sub: SubscriptionState): void {
    this.subscriptions.end(sub);
    const svc = this.services.get(sub.type) as Service;
    const subs = svc.subs as SubscriptionState[];
    subs.splice(subs.indexOf(sub), 1);
    if (subs.length === 0) {
      svc.subs = null;
      if (svc.n === 0) this.dropService(svc);
    }
  }

  /** Slots of range `r` of `svc`, in publication order. */
  private rangeSlots(svc: Service, r: number): number[] {
    const out: number[] = [];
    const rec = this.rec;
    const head = svc.head(r);
    let s = head;
    do {
      out.push(s);
      s = rec[s * STRIDE + NEXT] as number;
    } while (s !== head);
    if (out.length > 1) this.sortBySeq(out);
    return out;
  }

  /** Slots of every binding overlapping [lower, upper]: by range, then publication. */
  private collect(
    type: number,
    lower: number,
    upper: number,
    nodes: ReadonlySet<number> | undefined,
    scope: Scope | undefined,
  ): number[] {
    const out: number[] = [];
    const svc = this.services.get(type);
    if (svc === undefined) return out;
    const rec = this.rec;
    const want = scope === undefined ? -1 : scope === "cluster" ? CLUSTER : 0;
    for (let r = svc.start(lower); r !== NONE && svc.lower(r) <= upper; r = svc.next(r)) {
      if (svc.upper(r) < lower) continue;
      for (const s of this.rangeSlots(svc, r)) {
        const o = s * STRIDE;
        if (nodes !== undefined && !nodes.has((rec[o + NODE] as number) >>> 0)) continue;
        if (want !== -1 && ((rec[o + META] as number) & CLUSTER) !== want) continue;
        out.push(s);
      }
    }
    return out;
  }
}
