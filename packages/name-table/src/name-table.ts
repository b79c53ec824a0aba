import { NameTableError } from "./errors.js";
import { NONE, RangePool, Service, SubscriptionState } from "./service.js";
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

/** `TIPC_WAIT_FOREVER`: a subscription timeout that never fires. */
export const TIPC_WAIT_FOREVER = 0xffffffff;
/** `TIPC_MAX_SUBSCR`: the kernel's cap on subscriptions per namespace. */
export const TIPC_MAX_SUBSCR = 65535;
/** Default cap on bindings held by one table. */
export const DEFAULT_MAX_BINDINGS = 1 << 24;
/**
 * The most bindings a table holds whatever `maxBindings` says (2^27: a binding's position in its
 * node's list must fit in its record's META word beside three flags).
 */
export const MAX_BINDINGS_LIMIT = 1 << 27;
/** Binding records allocated up front when no larger `expectedBindings` is given. */
const MIN_SLOTS = 256;
/** Items {@link NameTable.addMany} and {@link NameTable.deleteMany} warm up together. */
const BATCH = 32;
/** Where `warm` leaves what it read, so that the reads are not optimised away. */
// biome-ignore lint/correctness/noUnusedVariables: written only, to keep warm's reads
let warmSink = 0;

// A binding record: 12 int32 words (48 bytes) in one Int32Array, so everything an operation needs
// about a binding comes with one or two adjacent cache lines. u32 fields are stored as int32
// (`x | 0`) and read back with `>>> 0`. (48 rather than 64 bytes: at a million bindings every byte
// is a byte of memory first touched while the table is loaded, and on this project's VMs a first
// touch of a page costs about 15 us.)
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
 * The position in the node's slot list, shifted left by POS_SHIFT, with the CLUSTER, LOCAL and
 * INDEXED flags in the low bits (NONE once removed). Positions stay below 2^28: a node list is at
 * most twice its live bindings, and a table holds at most MAX_BINDINGS_LIMIT.
 */
const META = 10;
/** Publication order (the kernel's publication id), a u32 counter renumbered before it wraps. */
const SEQ = 11;
const POS_SHIFT = 3;
const FLAG_BITS = 7;

const CLUSTER = 1;
const LOCAL = 2;
/**
 * The binding is in the hash index. Every binding of a range that holds two or more is; the only
 * binding of a range is found from the range itself and is indexed only if it once had company.
 */
const INDEXED = 4;

const DUPLICATE: InsertResult = Object.freeze({ ok: false, reason: "duplicate" });
const LIMIT: InsertResult = Object.freeze({ ok: false, reason: "limit" });

/** One node's bindings in publication order: append-only, removals are skipped lazily and compacted. */
class NodeList {
  slots = new Int32Array(4);
  len = 0;
  live = 0;
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

/** A withdrawal's key: an object of u32 fields with lower <= upper (the port is not part of it). */
function checkKey(key: BindingKey): void {
  checkObject(key, "key");
  checkU32(key.type, "type");
  checkU32(key.lower, "lower");
  checkU32(key.upper, "upper");
  checkU32(key.node, "node");
  checkU32(key.key, "key");
  checkRange(key.lower, key.upper);
}

function checkScope(v: unknown, field = "scope"): asserts v is Scope {
  if (v !== "node" && v !== "cluster") {
    throw new NameTableError("bad_scope", `${field} must be "node" or "cluster", got ${describe(v)}`, field);
  }
}

/** Puts slot `s` just before slot `at` in a circular list whose links are at `next`/`next + 1`. */
function linkBefore(rec: Int32Array, next: number, s: number, at: number): void {
  const p = rec[at * STRIDE + next + 1] as number;
  rec[p * STRIDE + next] = s;
  rec[s * STRIDE + next + 1] = p;
  rec[s * STRIDE + next] = at;
  rec[at * STRIDE + next + 1] = s;
}

/** Takes `s` out of its circular list; returns its successor, or NONE if it was alone. */
function unlink(rec: Int32Array, next: number, s: number): number {
  const n = rec[s * STRIDE + next] as number;
  if (n === s) return NONE;
  const p = rec[s * STRIDE + next + 1] as number;
  rec[p * STRIDE + next] = n;
  rec[n * STRIDE + next + 1] = p;
  return n;
}

/**
 * TIPC's name table: service bindings with the kernel's identity, lookup and topology rules
 * (shared/docs/tipc-protocol.md §2.3, §3, §4). A pure data structure: no I/O, no timers; time is
 * passed in. Subscription events are queued and handed out by {@link takeEvents}.
 *
 * Layout (see README): each binding is a 48-byte record in one Int32Array, linked into its exact
 * range's circular `all`/`local` lists; each type keeps its ranges in sorted arrays with a prefix
 * max of `upper` (`Service`); each node keeps its bindings' slots in publication order; a hash
 * index on (type, lower, upper, node, key) makes duplicate checks and withdrawals O(1).
 */
export class NameTable {
  private _ownNode: number;
  private readonly maxBindings: number;
  private readonly maxSubscriptions: number;
  private _size = 0;
  private nextSeq = 0;
  /** The slot of the last binding {@link add} stored, and the binding object made for its events, if any. */
  private lastSlot = NONE;
  private lastAdded: Binding | undefined = undefined;
  /** The type and exact range of the binding being removed (see {@link locate}). */
  private located: Service | undefined = undefined;
  private locatedRange = NONE;

  /** Binding records, STRIDE words per slot. */
  private rec = new Int32Array(0);
  private capacity = 0;
  private slotsUsed = 0;
  /**
   * Freed slots, a stack of their own rather than a list threaded through the records: taking one
   * then reads nothing from the (random, likely uncached) record it hands out.
   */
  private freeSlots = new Int32Array(0);
  private freeCount = 0;

  /**
   * The hash index on (type, lower, upper, node, key), for the bindings flagged INDEXED: open
   * addressing, linear probing, pairs [slot + 1, hash]; 0 = empty. Load factor <= 1/2.
   */
  private index = new Int32Array(2 * 1024);
  private indexMask = 1023;
  private indexed = 0;

  private readonly services = new Map<number, Service>();
  private readonly pool = new RangePool();
  private readonly nodes = new Map<number, NodeList>();

  private outbox: SubscriptionEvent[] = [];
  private readonly subscriptions = new Map<number, SubscriptionState>();
  private nextSubscriptionId = 1;
  /** Binary min-heap on (deadline, id); ended subscriptions are dropped lazily. */
  private timeouts: SubscriptionState[] = [];

  constructor(options: NameTableOptions) {
    checkObject(options, "options");
    checkU32(options.ownNode, "ownNode");
    const {
      maxBindings = DEFAULT_MAX_BINDINGS,
      maxSubscriptions = TIPC_MAX_SUBSCR,
      expectedBindings = MIN_SLOTS,
    } = options;
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
    if (
      typeof expectedBindings !== "number" ||
      !(expectedBindings >= 0) ||
      !Number.isInteger(expectedBindings)
    ) {
      throw new NameTableError(
        "bad_argument",
        "expectedBindings must be a non-negative integer",
        "expectedBindings",
      );
    }
    this._ownNode = options.ownNode;
    this.maxBindings = Math.min(maxBindings, MAX_BINDINGS_LIMIT);
    this.maxSubscriptions = maxSubscriptions;
    const expected = Math.min(expectedBindings, maxBindings);
    this.growSlots(Math.max(MIN_SLOTS, expected));
    // The hash index is not sized from `expected`: it holds only the bindings of shared ranges,
    // however many those turn out to be, and grows as they come.
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
    if (this.nodes.has(addr)) {
      throw new NameTableError("address_in_use", `the table already holds bindings of node ${addr}`, "addr");
    }
    const list = this.nodes.get(old);
    if (list !== undefined) {
      for (const s of this.liveSlots(list, old)) {
        const indexed = ((this.rec[s * STRIDE + META] as number) & INDEXED) !== 0;
        if (indexed) this.indexRemove(s, this.recordHash(s, old));
        this.rec[s * STRIDE + NODE] = addr;
        if (indexed) this.indexAdd(s, this.recordHash(s, addr));
      }
      this.nodes.delete(old);
      this.nodes.set(addr, list);
    }
    this._ownNode = addr;
  }

  /** The identity hash of the record in slot `s`, as if it belonged to `node`. */
  private recordHash(s: number, node: number): number {
    const o = s * STRIDE;
    const rec = this.rec;
    return hashOf(
      rec[o + TYPE] as number,
      rec[o + LOWER] as number,
      rec[o + UPPER] as number,
      node,
      rec[o + KEY] as number,
    );
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
    this.nodeAppend(list, s, node);

    this._size++;
    this.lastSlot = s;
    if (svc.subs !== null) {
      const stored: Binding = { type, lower, upper, scope, node, port, key };
      this.lastAdded = stored;
      this.report(svc.subs, stored, "published", first);
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
    const s = this.locate(key);
    return s === NONE ? undefined : this.removeLocated(s, true);
  }

  /**
   * {@link remove} without allocating: removes the binding `key` names and says whether there was
   * one (no binding object is made unless a subscription on the type needs one for its event).
   */
  delete(key: BindingKey): boolean {
    const s = this.locate(key);
    if (s === NONE) return false;
    this.removeLocated(s, false);
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
      throw new NameTableError("bad_argument", "bindings must be an array", "bindings");
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
    if (!Array.isArray(keys)) throw new NameTableError("bad_argument", "keys must be an array", "keys");
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
    return this.liveSlots(list, node).map((s) => this.removeSlot(s, true) as Binding);
  }

  /** Every binding of `node`, in publication order. */
  nodeBindings(node: number): Binding[] {
    checkU32(node, "node");
    const list = this.nodes.get(node);
    if (list === undefined) return [];
    return this.liveSlots(list, node).map((s) => this.bindingAt(s));
  }

  /**
   * This node's cluster-scope bindings in publication order (the distributor's bulk). A snapshot:
   * changing the table while iterating does not disturb it.
   */
  ownClusterBindings(): IterableIterator<Binding> {
    const out: Binding[] = [];
    const list = this.nodes.get(this._ownNode);
    if (list !== undefined) {
      for (const s of this.liveSlots(list, this._ownNode)) {
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
        throw new NameTableError("bad_argument", "nodes must be iterable", "nodes");
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
      svc = new Service(type, this.pool);
      this.services.set(type, svc);
    }
    if (svc.subs === null) svc.subs = [];
    svc.subs.push(sub);

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
    const s = this.locate(key);
    this.located = undefined;
    return s;
  }

  /**
   * The slot of the binding `key` names, or NONE. Also leaves its type and exact range in
   * `located` for {@link removeLocated}: a type or exact range not held means no such binding.
   */
  private locate(key: BindingKey): number {
    checkKey(key);
    const { type, lower, upper, node } = key;
    const svc = this.services.get(type);
    if (svc === undefined) return NONE;
    const r = svc.find(lower, upper);
    if (r === NONE) return NONE;
    this.located = svc;
    this.locatedRange = r;
    return this.findInRange(svc.head(r), type, lower, upper, node, key.key);
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
    return this.findSlot(hashOf(type, lower, upper, node, key), type, lower, upper, node, key);
  }

  /** Puts slot s into the hash index. */
  private indexSlot(s: number): void {
    const m = s * STRIDE + META;
    this.rec[m] = (this.rec[m] as number) | INDEXED;
    this.indexAdd(s, this.recordHash(s, (this.rec[s * STRIDE + NODE] as number) >>> 0));
  }

  private socketAt(s: number): SocketAddress {
    const o = s * STRIDE;
    return { node: (this.rec[o + NODE] as number) >>> 0, port: (this.rec[o + PORT] as number) >>> 0 };
  }

  private bindingAt(s: number): Binding {
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

  /** Removes slot `s`; returns its binding if `want` (made only then, or for a subscriber's event). */
  private removeSlot(s: number, want: boolean): Binding | undefined {
    const o = s * STRIDE;
    const svc = this.services.get((this.rec[o + TYPE] as number) >>> 0) as Service;
    this.located = svc;
    this.locatedRange = svc.find(
      (this.rec[o + LOWER] as number) >>> 0,
      (this.rec[o + UPPER] as number) >>> 0,
    );
    return this.removeLocated(s, want);
  }

  /** {@link removeSlot} once `located` and `locatedRange` name slot s's type and exact range. */
  private removeLocated(s: number, want: boolean): Binding | undefined {
    const rec = this.rec;
    const o = s * STRIDE;
    const type = (rec[o + TYPE] as number) >>> 0;
    const lower = (rec[o + LOWER] as number) >>> 0;
    const upper = (rec[o + UPPER] as number) >>> 0;
    const node = (rec[o + NODE] as number) >>> 0;
    const svc = this.located as Service;
    const r = this.locatedRange;
    this.located = undefined;
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
      this.indexRemove(s, hashOf(type, lower, upper, node, (rec[o + KEY] as number) >>> 0));
    }
    rec[o + META] = NONE;
    this.freeSlot(s);
    this._size--;
    if (svc.subs !== null) this.report(svc.subs, binding as Binding, "withdrawn", last);
    else if (svc.n === 0) this.dropService(svc);
    return binding;
  }

  private dropService(svc: Service): void {
    this.services.delete(svc.type);
    svc.dispose();
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
        found: { lower: Math.max(b.lower, sub.lower), upper: Math.min(b.upper, sub.upper) },
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
      if (svc.n === 0) this.dropService(svc);
    }
    // Keep the lazily-cleaned heap from growing without bound under subscribe/unsubscribe churn.
    if (this.timeouts.length > 64 && this.timeouts.length > 2 * this.subscriptions.size) {
      const live = this.timeouts.filter((t) => t.active);
      this.timeouts = [];
      for (const t of live) this.heapPush(t);
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

  private sortBySeq(slots: number[]): void {
    const rec = this.rec;
    slots.sort(
      (a, b) => ((rec[a * STRIDE + SEQ] as number) >>> 0) - ((rec[b * STRIDE + SEQ] as number) >>> 0),
    );
  }

  /** Before the u32 publication counter wraps: renumber live bindings 0..n-1, keeping their order. */
  private renumber(): void {
    const live: number[] = [];
    for (let s = 0; s < this.slotsUsed; s++) if (this.rec[s * STRIDE + META] !== NONE) live.push(s);
    this.sortBySeq(live);
    for (let i = 0; i < live.length; i++) this.rec[(live[i] as number) * STRIDE + SEQ] = i;
    this.nextSeq = live.length;
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

  /** Appends slot `s` to a node's list, compacting out removed entries when the list is full. */
  private nodeAppend(list: NodeList, s: number, node: number): void {
    if (list.len === list.slots.length) {
      if ((list.len - list.live) * 2 >= list.len) {
        const live = this.liveSlots(list, node);
        list.slots.set(live);
        list.len = live.length;
        for (let i = 0; i < live.length; i++) this.setPos(live[i] as number, i);
      } else {
        const slots = new Int32Array(list.slots.length * 2);
        slots.set(list.slots);
        list.slots = slots;
      }
    }
    list.slots[list.len] = s;
    this.setPos(s, list.len);
    list.len++;
    list.live++;
  }

  /**
   * The live slots of a node's list, in publication order. An entry is stale once its binding is
   * removed (its position no longer points back at it, or its slot now holds another node's binding).
   */
  private liveSlots(list: NodeList, node: number): number[] {
    const out: number[] = [];
    const rec = this.rec;
    const nodeI32 = node | 0;
    for (let i = 0; i < list.len; i++) {
      const s = list.slots[i] as number;
      const o = s * STRIDE;
      if ((rec[o + META] as number) >> POS_SHIFT === i && rec[o + NODE] === nodeI32) out.push(s);
    }
    return out;
  }

  /** Records `pos` as slot s's position in its node's list, keeping its flags. */
  private setPos(s: number, pos: number): void {
    const m = s * STRIDE + META;
    this.rec[m] = (pos << POS_SHIFT) | ((this.rec[m] as number) & FLAG_BITS);
  }

  private allocSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount] as number;
    if (this.slotsUsed === this.capacity) this.growSlots(this.capacity * 2);
    return this.slotsUsed++;
  }

  private freeSlot(s: number): void {
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
    const rec = this.rec;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = index[2 * i] as number;
      if (e === 0) return NONE;
      if (index[2 * i + 1] !== hash) continue;
      const o = (e - 1) * STRIDE;
      if (
        rec[o + KEY] === (key | 0) &&
        rec[o + NODE] === (node | 0) &&
        rec[o + LOWER] === (lower | 0) &&
        rec[o + UPPER] === (upper | 0) &&
        rec[o + TYPE] === (type | 0)
      ) {
        return e - 1;
      }
    }
  }

  private indexAdd(s: number, hash: number): void {
    if (++this.indexed * 4 > this.index.length) this.rehash(this.index.length);
    const index = this.index;
    const mask = this.indexMask;
    let i = hash & mask;
    while (index[2 * i] !== 0) i = (i + 1) & mask;
    index[2 * i] = s + 1;
    index[2 * i + 1] = hash;
  }

  /** Backward-shift deletion: no tombstones, so probes stay short under churn. */
  private indexRemove(s: number, hash: number): void {
    this.indexed--;
    const index = this.index;
    const mask = this.indexMask;
    let i = hash & mask;
    while (index[2 * i] !== s + 1) i = (i + 1) & mask;
    index[2 * i] = 0;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = index[2 * j] as number;
      if (e === 0) return;
      const k = (index[2 * j + 1] as number) & mask;
      // The entry at j stays if its home k lies cyclically in (i, j]; otherwise it fills the hole.
      if (i <= j ? k <= i || k > j : k <= i && k > j) {
        index[2 * i] = e;
        index[2 * i + 1] = index[2 * j + 1] as number;
        index[2 * j] = 0;
        i = j;
      }
    }
  }

  /** Doubles the number of buckets (`pairs` = current Int32Array length = 2 x buckets). */
  private rehash(pairs: number): void {
    const old = this.index;
    const buckets = pairs; // twice the old bucket count
    const index = new Int32Array(2 * buckets);
    const mask = buckets - 1;
    for (let x = 0; x < old.length; x += 2) {
      const e = old[x] as number;
      if (e === 0) continue;
      const h = old[x + 1] as number;
      let i = h & mask;
      while (index[2 * i] !== 0) i = (i + 1) & mask;
      index[2 * i] = e;
      index[2 * i + 1] = h;
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
