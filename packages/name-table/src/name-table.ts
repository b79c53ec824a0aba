import { NameTableError } from "./errors.js";
import { NONE, RangeStore } from "./range-store.js";
import type {
  Binding,
  BindingKey,
  InsertResult,
  NameTableOptions,
  Scope,
  SocketAddress,
  Subscription,
  SubscriptionEvent,
  SubscriptionMode,
  SubscriptionRequest,
} from "./types.js";

/** `TIPC_WAIT_FOREVER`: a subscription timeout that never fires. */
export const TIPC_WAIT_FOREVER = 0xffffffff;
/** `TIPC_MAX_SUBSCR`: the kernel's cap on subscriptions per namespace. */
export const TIPC_MAX_SUBSCR = 65535;
/** Default cap on bindings held by one table. */
export const DEFAULT_MAX_BINDINGS = 1 << 24;

const CLUSTER = 1;
const LOCAL = 2;

interface Service {
  type: number;
  /** Root of this type's range treap. */
  root: number;
  /** Live subscriptions on this type, oldest first (events go newest first, as the kernel's list_add). */
  subs: SubscriptionState[] | null;
}

class SubscriptionState implements Subscription {
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

function describe(v: unknown): string {
  return typeof v === "number" ? String(v) : typeof v;
}

function checkU32(v: unknown, field: string): void {
  if (typeof v !== "number" || v >>> 0 !== v) {
    throw new NameTableError(
      "not_u32",
      `${field} must be an integer in 0..0xFFFFFFFF, got ${describe(v)}`,
      field,
    );
  }
}

function checkObject(v: unknown, what: string): void {
  if (typeof v !== "object" || v === null)
    throw new NameTableError("bad_argument", `${what} must be an object`);
}

function checkRange(lower: number, upper: number): void {
  if (lower > upper) {
    throw new NameTableError("lower_above_upper", `lower ${lower} is above upper ${upper}`, "lower");
  }
}

function checkScope(v: unknown, field = "scope"): asserts v is Scope {
  if (v !== "node" && v !== "cluster") {
    throw new NameTableError("bad_scope", `${field} must be "node" or "cluster", got ${describe(v)}`, field);
  }
}

/** Puts `s` just before `at` in a circular list (at the tail when `at` is the head). */
function linkBefore(next: Int32Array, prev: Int32Array, s: number, at: number): void {
  const p = prev[at] as number;
  next[p] = s;
  prev[s] = p;
  next[s] = at;
  prev[at] = s;
}

/** Takes `s` out of its circular list; returns its successor, or NONE if it was alone. */
function unlink(next: Int32Array, prev: Int32Array, s: number): number {
  const n = next[s] as number;
  if (n === s) return NONE;
  const p = prev[s] as number;
  next[p] = n;
  prev[n] = p;
  return n;
}

/**
 * TIPC's name table: service bindings with the kernel's identity, lookup and topology rules
 * (shared/docs/tipc-protocol.md §2.3, §3, §4). A pure data structure: no I/O, no timers; time is
 * passed in. Subscription events are queued and handed out by {@link takeEvents}.
 *
 * Layout: every binding is a slot in typed-array columns. It sits on three circular lists: its
 * exact range's `all` list (and `local` list if it is this node's), and its node's list in
 * publication order. A hash index on (type, lower, upper, node, key) gives O(1) duplicate checks and
 * withdrawals; each type's ranges live in an interval treap ({@link RangeStore}).
 */
export class NameTable {
  private _ownNode: number;
  private readonly maxBindings: number;
  private readonly maxSubscriptions: number;
  private _size = 0;
  private nextSeq = 0;

  // Binding columns, indexed by slot.
  private bType = new Uint32Array(0);
  private bLower = new Uint32Array(0);
  private bUpper = new Uint32Array(0);
  private bNode = new Uint32Array(0);
  private bPort = new Uint32Array(0);
  private bKey = new Uint32Array(0);
  private bFlags = new Uint8Array(0);
  private bRange = new Int32Array(0);
  private bHash = new Int32Array(0);
  /** Publication order (the kernel's publication id). */
  private bSeq = new Float64Array(0);
  private bNext = new Int32Array(0);
  private bPrev = new Int32Array(0);
  private bLNext = new Int32Array(0);
  private bLPrev = new Int32Array(0);
  private bNNext = new Int32Array(0);
  private bNPrev = new Int32Array(0);
  private slotsUsed = 0;
  private freeSlots = NONE;

  /** Open addressing, linear probing: slot + 1, 0 = empty. */
  private index = new Int32Array(2048);
  private indexMask = 2047;

  private readonly ranges = new RangeStore();
  private readonly services = new Map<number, Service>();
  /** Node address -> first binding of its list (publication order). */
  private readonly nodeHead = new Map<number, number>();

  private outbox: SubscriptionEvent[] = [];
  private readonly subscriptions = new Map<number, SubscriptionState>();
  private nextSubscriptionId = 1;
  /** Binary min-heap on (deadline, id); ended subscriptions are dropped lazily. */
  private timeouts: SubscriptionState[] = [];

  constructor(options: NameTableOptions) {
    checkObject(options, "options");
    checkU32(options.ownNode, "ownNode");
    const { maxBindings = DEFAULT_MAX_BINDINGS, maxSubscriptions = TIPC_MAX_SUBSCR } = options;
    if (typeof maxBindings !== "number" || !(maxBindings >= 0) || !Number.isInteger(maxBindings)) {
      throw new NameTableError("bad_argument", "maxBindings must be a non-negative integer", "maxBindings");
    }
    if (typeof maxSubscriptions !== "number" || !(maxSubscriptions >= 0)) {
      throw new NameTableError(
        "bad_argument",
        "maxSubscriptions must be a non-negative number",
        "maxSubscriptions",
      );
    }
    this._ownNode = options.ownNode;
    this.maxBindings = maxBindings;
    this.maxSubscriptions = maxSubscriptions;
    this.growSlots(256);
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
   * Throws `address_in_use` if other bindings already name `addr`.
   */
  setOwnNode(addr: number): void {
    checkU32(addr, "addr");
    const old = this._ownNode;
    if (addr === old) return;
    if (this.nodeHead.has(addr)) {
      throw new NameTableError("address_in_use", `the table already holds bindings of node ${addr}`, "addr");
    }
    const head = this.nodeHead.get(old);
    if (head !== undefined) {
      let s = head;
      do {
        this.indexRemove(s);
        this.bNode[s] = addr;
        this.bHash[s] = hashOf(
          this.bType[s] as number,
          this.bLower[s] as number,
          this.bUpper[s] as number,
          addr,
          this.bKey[s] as number,
        );
        this.indexAdd(s);
        s = this.bNNext[s] as number;
      } while (s !== head);
      this.nodeHead.delete(old);
      this.nodeHead.set(addr, head);
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

    const hash = hashOf(type, lower, upper, node, key);
    if (this.findSlot(hash, type, lower, upper, node, key) !== NONE)
      return { ok: false, reason: "duplicate" };
    if (this._size >= this.maxBindings) return { ok: false, reason: "limit" };

    const s = this.allocSlot();
    this.bType[s] = type;
    this.bLower[s] = lower;
    this.bUpper[s] = upper;
    this.bNode[s] = node;
    this.bPort[s] = port;
    this.bKey[s] = key;
    this.bHash[s] = hash;
    this.bSeq[s] = this.nextSeq++;
    const local = node === this._ownNode;
    this.bFlags[s] = (scope === "cluster" ? CLUSTER : 0) | (local ? LOCAL : 0);

    let svc = this.services.get(type);
    if (svc === undefined) {
      svc = { type, root: NONE, subs: null };
      this.services.set(type, svc);
    }
    const ranges = this.ranges;
    let r = ranges.find(svc.root, lower, upper);
    const first = r === NONE;
    if (first) {
      r = ranges.alloc(lower, upper);
      svc.root = ranges.insert(svc.root, r);
    }
    this.bRange[s] = r;

    // The kernel's list_add: the newest binding goes to the head, so round-robin picks it next.
    const head = ranges.head[r] as number;
    if (head === NONE) {
      this.bNext[s] = s;
      this.bPrev[s] = s;
    } else {
      linkBefore(this.bNext, this.bPrev, s, head);
    }
    ranges.head[r] = s;
    if (local) {
      const lhead = ranges.localHead[r] as number;
      if (lhead === NONE) {
        this.bLNext[s] = s;
        this.bLPrev[s] = s;
      } else {
        linkBefore(this.bLNext, this.bLPrev, s, lhead);
      }
      ranges.localHead[r] = s;
    }

    // Per-node list, appended at the tail: publication order.
    const nhead = this.nodeHead.get(node);
    if (nhead === undefined) {
      this.bNNext[s] = s;
      this.bNPrev[s] = s;
      this.nodeHead.set(node, s);
    } else {
      linkBefore(this.bNNext, this.bNPrev, s, nhead);
    }

    this.indexAdd(s);
    this._size++;
    const stored: Binding = { type, lower, upper, scope, node, port, key };
    if (svc.subs !== null) this.report(svc.subs, stored, "published", first);
    return { ok: true, binding: stored };
  }

  /**
   * Removes the binding a withdrawal names: type, exact lower and upper, node and key (the port
   * is not compared). Returns it, or `undefined` when nothing matches (an expected miss).
   */
  remove(key: BindingKey): Binding | undefined {
    const s = this.slotOf(key);
    return s === NONE ? undefined : this.removeSlot(s);
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
    const out: Binding[] = [];
    for (let s = this.nodeHead.get(node); s !== undefined; s = this.nodeHead.get(node)) {
      out.push(this.removeSlot(s));
    }
    return out;
  }

  /** Every binding of `node`, in publication order. */
  nodeBindings(node: number): Binding[] {
    checkU32(node, "node");
    const out: Binding[] = [];
    const head = this.nodeHead.get(node);
    if (head === undefined) return out;
    let s = head;
    do {
      out.push(this.bindingAt(s));
      s = this.bNNext[s] as number;
    } while (s !== head);
    return out;
  }

  /**
   * This node's cluster-scope bindings in publication order (the distributor's bulk). A snapshot:
   * changing the table while iterating does not disturb it.
   */
  ownClusterBindings(): IterableIterator<Binding> {
    const out: Binding[] = [];
    const head = this.nodeHead.get(this._ownNode);
    if (head !== undefined) {
      let s = head;
      do {
        if ((this.bFlags[s] as number) & CLUSTER) out.push(this.bindingAt(s));
        s = this.bNNext[s] as number;
      } while (s !== head);
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
    const ranges = this.ranges;
    const r = ranges.first(svc.root, instance, instance);
    if (r === NONE) return undefined;
    const s = ranges.head[r] as number;
    ranges.head[r] = this.bNext[s] as number;
    return { node: this.bNode[s] as number, port: this.bPort[s] as number };
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
    const ranges = this.ranges;
    const r = ranges.first(svc.root, instance, instance);
    if (r === NONE) return undefined;
    const l = ranges.localHead[r] as number;
    if (l !== NONE) {
      ranges.localHead[r] = this.bLNext[l] as number;
      return { node: this.bNode[l] as number, port: this.bPort[l] as number };
    }
    const s = ranges.head[r] as number;
    ranges.head[r] = this.bNext[s] as number;
    return { node: this.bNode[s] as number, port: this.bPort[s] as number };
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
    const ranges = this.ranges;
    if (node === this._ownNode) {
      const r = ranges.firstWhere(svc.root, instance, instance, (x) => ranges.localHead[x] !== NONE);
      if (r === NONE) return undefined;
      const l = ranges.localHead[r] as number;
      ranges.localHead[r] = this.bLNext[l] as number;
      return { node, port: this.bPort[l] as number };
    }
    let found = NONE;
    const r = ranges.firstWhere(svc.root, instance, instance, (x) => {
      const head = ranges.head[x] as number;
      let s = head;
      do {
        if (this.bNode[s] === node) {
          found = s;
          return true;
        }
        s = this.bNext[s] as number;
      } while (s !== head);
      return false;
    });
    if (r === NONE) return undefined;
    // Move the chosen binding to the tail of the range's list, as a round-robin pick does.
    const head = ranges.head[r] as number;
    if (found === head) {
      ranges.head[r] = this.bNext[found] as number;
    } else {
      unlink(this.bNext, this.bPrev, found);
      linkBefore(this.bNext, this.bPrev, found, head);
    }
    return { node, port: this.bPort[found] as number };
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
        throw new NameTableError("bad_argument", "nodes must be iterable", "nodes");
      }
      nodeSet = nodes instanceof Set ? nodes : new Set(nodes);
    }
    const out: SocketAddress[] = [];
    const seen = new Map<number, Set<number>>();
    for (const s of this.collect(type, lower, upper, nodeSet, scope)) {
      const node = this.bNode[s] as number;
      const port = this.bPort[s] as number;
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
    for (const s of this.collect(type, lower, upper, undefined, undefined))
      nodes.add(this.bNode[s] as number);
    return [...nodes].sort((a, b) => a - b);
  }

  /** Every binding, ordered by type, lower, upper, then publication (what `tipc nametable show` lists). */
  dump(): Binding[] {
    const out: Binding[] = [];
    const types = [...this.services.keys()].sort((a, b) => a - b);
    const rs: number[] = [];
    for (const type of types) {
      const svc = this.services.get(type) as Service;
      rs.length = 0;
      this.ranges.all(svc.root, rs);
      for (const r of rs) for (const s of this.rangeSlots(r)) out.push(this.bindingAt(s));
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
    checkObject(request, "request");
    const { type, lower, upper, mode, timeout, scope, initialEvents = true, handle } = request;
    checkU32(type, "type");
    checkU32(lower, "lower");
    checkU32(upper, "upper");
    checkRange(lower, upper);
    if (mode !== "ports" && mode !== "service") {
      throw new NameTableError(
        "bad_argument",
        `mode must be "ports" or "service", got ${describe(mode)}`,
        "mode",
      );
    }
    if (scope !== undefined) checkScope(scope);
    let deadline: number | undefined;
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY && timeout !== TIPC_WAIT_FOREVER) {
      checkU32(timeout, "timeout");
      if (typeof now !== "number" || !Number.isFinite(now)) {
        throw new NameTableError("bad_argument", "a subscription with a timeout needs `now`", "now");
      }
      deadline = now + timeout;
    }
    if (this.subscriptions.size >= this.maxSubscriptions) {
      throw new NameTableError("subscription_limit", `at most ${this.maxSubscriptions} subscriptions`);
    }

    const sub = new SubscriptionState(
      this.nextSubscriptionId++,
      type,
      lower,
      upper,
      mode,
      scope,
      handle,
      deadline,
    );
    this.subscriptions.set(sub.id, sub);
    let svc = this.services.get(type);
    if (svc === undefined) {
      svc = { type, root: NONE, subs: null };
      this.services.set(type, svc);
    }
    if (svc.subs === null) svc.subs = [];
    svc.subs.push(sub);

    if (initialEvents) {
      const ranges = this.ranges;
      const rs: number[] = [];
      ranges.overlapping(svc.root, lower, upper, rs);
      const slots: number[] = [];
      const seq = this.bSeq;
      for (const r of rs) {
        const head = ranges.head[r] as number;
        let s = head;
        if (mode === "ports") {
          do {
            slots.push(s);
            s = this.bNext[s] as number;
          } while (s !== head);
        } else {
          let first = s;
          do {
            if ((seq[s] as number) < (seq[first] as number)) first = s;
            s = this.bNext[s] as number;
          } while (s !== head);
          slots.push(first);
        }
      }
      slots.sort((a, b) => (seq[a] as number) - (seq[b] as number));
      const one = [sub];
      for (const s of slots) this.report(one, this.bindingAt(s), "published", true);
    }
    if (deadline !== undefined) this.heapPush(sub);
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
    return [...this.subscriptions.values()];
  }

  /** Queues a `timeout` event for, and ends, every subscription whose deadline is <= `now`. */
  expire(now: number): void {
    if (typeof now !== "number" || Number.isNaN(now)) {
      throw new NameTableError("bad_argument", "now must be a number", "now");
    }
    // endSubscription may rebuild the heap: read this.timeouts afresh on every turn.
    while (this.timeouts.length > 0) {
      const top = this.timeouts[0] as SubscriptionState;
      if (top.active && (top.deadline as number) > now) break;
      this.heapPop();
      if (!top.active) continue;
      this.endSubscription(top);
      this.outbox.push({
        kind: "timeout",
        subscription: top,
        found: { lower: top.lower, upper: top.upper },
        socket: { node: 0, port: 0 },
      });
    }
  }

  /** The earliest pending timeout, or `undefined`: call {@link expire} then. */
  nextDeadline(): number | undefined {
    const heap = this.timeouts;
    while (heap.length > 0 && !(heap[0] as SubscriptionState).active) this.heapPop();
    return heap.length > 0 ? (heap[0] as SubscriptionState).deadline : undefined;
  }

  /** Hands out (and forgets) the subscription events queued since the last call, oldest first. */
  takeEvents(): SubscriptionEvent[] {
    const events = this.outbox;
    this.outbox = [];
    return events;
  }

  /** Number of events waiting for {@link takeEvents}. */
  get pendingEvents(): number {
    return this.outbox.length;
  }

  // ---------------------------------------------------------------- internals

  private slotOf(key: BindingKey): number {
    checkObject(key, "key");
    const { type, lower, upper, node } = key;
    const k = key.key;
    checkU32(type, "type");
    checkU32(lower, "lower");
    checkU32(upper, "upper");
    checkU32(node, "node");
    checkU32(k, "key");
    checkRange(lower, upper);
    return this.findSlot(hashOf(type, lower, upper, node, k), type, lower, upper, node, k);
  }

  private bindingAt(s: number): Binding {
    return {
      type: this.bType[s] as number,
      lower: this.bLower[s] as number,
      upper: this.bUpper[s] as number,
      scope: (this.bFlags[s] as number) & CLUSTER ? "cluster" : "node",
      node: this.bNode[s] as number,
      port: this.bPort[s] as number,
      key: this.bKey[s] as number,
    };
  }

  private removeSlot(s: number): Binding {
    const binding = this.bindingAt(s);
    const ranges = this.ranges;
    const r = this.bRange[s] as number;
    const n = unlink(this.bNext, this.bPrev, s);
    if (ranges.head[r] === s) ranges.head[r] = n;
    if ((this.bFlags[s] as number) & LOCAL) {
      const ln = unlink(this.bLNext, this.bLPrev, s);
      if (ranges.localHead[r] === s) ranges.localHead[r] = ln;
    }
    const svc = this.services.get(binding.type) as Service;
    const last = n === NONE;
    if (last) {
      svc.root = ranges.remove(svc.root, r);
      ranges.release(r);
    }
    const nn = unlink(this.bNNext, this.bNPrev, s);
    if (this.nodeHead.get(binding.node) === s) {
      if (nn === NONE) this.nodeHead.delete(binding.node);
      else this.nodeHead.set(binding.node, nn);
    }
    this.indexRemove(s);
    this.bNext[s] = this.freeSlots;
    this.freeSlots = s;
    this._size--;
    if (svc.subs !== null) this.report(svc.subs, binding, "withdrawn", last);
    else if (svc.root === NONE) this.services.delete(binding.type);
    return binding;
  }

  /** The kernel's tipc_sub_report_overlap for every subscription on the type, newest first. */
  private report(
    subs: SubscriptionState[],
    b: Binding,
    kind: "published" | "withdrawn",
    must: boolean,
  ): void {
    for (let i = subs.length - 1; i >= 0; i--) {
      const sub = subs[i] as SubscriptionState;
      if (b.lower > sub.upper || b.upper < sub.lower) continue;
      if (!must && sub.mode !== "ports") continue;
      if (sub.scope !== undefined && sub.scope !== b.scope) continue;
      this.outbox.push({
        kind,
        subscription: sub,
        found: {
          lower: Math.max(b.lower, sub.lower),
          upper: Math.min(b.upper, sub.upper),
        },
        socket: { node: b.node, port: b.port },
        scope: b.scope,
        binding: b,
      });
    }
  }

  private endSubscription(sub: SubscriptionState): void {
    sub.active = false;
    this.subscriptions.delete(sub.id);
    const svc = this.services.get(sub.type) as Service;
    const subs = svc.subs as SubscriptionState[];
    subs.splice(subs.indexOf(sub), 1);
    if (subs.length === 0) {
      svc.subs = null;
      if (svc.root === NONE) this.services.delete(sub.type);
    }
    // Keep the lazily-cleaned heap from growing without bound under subscribe/unsubscribe churn.
    if (this.timeouts.length > 64 && this.timeouts.length > 2 * this.subscriptions.size) {
      const live = this.timeouts.filter((t) => t.active);
      this.timeouts = [];
      for (const t of live) this.heapPush(t);
    }
  }

  /** Slots of range `r` in publication order. */
  private rangeSlots(r: number): number[] {
    const out: number[] = [];
    const head = this.ranges.head[r] as number;
    let s = head;
    do {
      out.push(s);
      s = this.bNext[s] as number;
    } while (s !== head);
    const seq = this.bSeq;
    if (out.length > 1) out.sort((a, b) => (seq[a] as number) - (seq[b] as number));
    return out;
  }

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
    const rs: number[] = [];
    this.ranges.overlapping(svc.root, lower, upper, rs);
    const want = scope === undefined ? -1 : scope === "cluster" ? CLUSTER : 0;
    for (const r of rs) {
      for (const s of this.rangeSlots(r)) {
        if (nodes !== undefined && !nodes.has(this.bNode[s] as number)) continue;
        if (want !== -1 && ((this.bFlags[s] as number) & CLUSTER) !== want) continue;
        out.push(s);
      }
    }
    return out;
  }

  private allocSlot(): number {
    let s = this.freeSlots;
    if (s !== NONE) {
      this.freeSlots = this.bNext[s] as number;
      return s;
    }
    if (this.slotsUsed === this.bType.length) this.growSlots(this.bType.length * 2);
    s = this.slotsUsed++;
    return s;
  }

  private growSlots(n: number): void {
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
    this.bType = u32(this.bType);
    this.bLower = u32(this.bLower);
    this.bUpper = u32(this.bUpper);
    this.bNode = u32(this.bNode);
    this.bPort = u32(this.bPort);
    this.bKey = u32(this.bKey);
    const flags = new Uint8Array(n);
    flags.set(this.bFlags);
    this.bFlags = flags;
    const seq = new Float64Array(n);
    seq.set(this.bSeq);
    this.bSeq = seq;
    this.bRange = i32(this.bRange);
    this.bHash = i32(this.bHash);
    this.bNext = i32(this.bNext);
    this.bPrev = i32(this.bPrev);
    this.bLNext = i32(this.bLNext);
    this.bLPrev = i32(this.bLPrev);
    this.bNNext = i32(this.bNNext);
    this.bNPrev = i32(this.bNPrev);
  }

  private findSlot(
    hash: number,
    type: number,
    lower: number,
    upper: number,
    node: number,
    key: number,
  ): number {
    const index = this.index;
    const mask = this.indexMask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = index[i] as number;
      if (e === 0) return NONE;
      const s = e - 1;
      if (
        this.bKey[s] === key &&
        this.bNode[s] === node &&
        this.bLower[s] === lower &&
        this.bUpper[s] === upper &&
        this.bType[s] === type
      ) {
        return s;
      }
    }
  }

  private indexAdd(s: number): void {
    if ((this._size + 1) * 2 > this.index.length) this.rehash(this.index.length * 2);
    const index = this.index;
    const mask = this.indexMask;
    let i = (this.bHash[s] as number) & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = s + 1;
  }

  /** Backward-shift deletion: no tombstones, so probes stay short under churn. */
  private indexRemove(s: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let i = (this.bHash[s] as number) & mask;
    while (index[i] !== s + 1) i = (i + 1) & mask;
    index[i] = 0;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = index[j] as number;
      if (e === 0) return;
      const k = (this.bHash[e - 1] as number) & mask;
      // e stays if its home k lies cyclically in (i, j]; otherwise it moves into the hole.
      if (i <= j ? k <= i || k > j : k <= i && k > j) {
        index[i] = e;
        index[j] = 0;
        i = j;
      }
    }
  }

  private rehash(n: number): void {
    const old = this.index;
    const index = new Int32Array(n);
    const mask = n - 1;
    for (let x = 0; x < old.length; x++) {
      const e = old[x] as number;
      if (e === 0) continue;
      let i = (this.bHash[e - 1] as number) & mask;
      while (index[i] !== 0) i = (i + 1) & mask;
      index[i] = e;
    }
    this.index = index;
    this.indexMask = mask;
  }

  private heapPush(sub: SubscriptionState): void {
    const heap = this.timeouts;
    heap.push(sub);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(sub, heap[p] as SubscriptionState)) break;
      heap[i] = heap[p] as SubscriptionState;
      i = p;
    }
    heap[i] = sub;
  }

  private heapPop(): void {
    const heap = this.timeouts;
    const last = heap.pop() as SubscriptionState;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c =
        r < heap.length && earlier(heap[r] as SubscriptionState, heap[l] as SubscriptionState) ? r : l;
      if (!earlier(heap[c] as SubscriptionState, last)) break;
      heap[i] = heap[c] as SubscriptionState;
      i = c;
    }
    heap[i] = last;
  }
}

function earlier(a: SubscriptionState, b: SubscriptionState): boolean {
  const da = a.deadline as number;
  const db = b.deadline as number;
  return da < db || (da === db && a.id < b.id);
}

/** Mixes the identity (type, lower, upper, node, key) into 32 bits. */
function hashOf(type: number, lower: number, upper: number, node: number, key: number): number {
  let h = Math.imul(type ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ lower, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13) ^ upper, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16) ^ node, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ key, 0x165667b1);
  return h ^ (h >>> 16);
}
