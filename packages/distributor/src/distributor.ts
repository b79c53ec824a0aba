/**
 * The name distribution state machine (shared/docs/tipc-protocol.md §2), sans-I/O.
 *
 * Sender: one 16-bit sndNxt; single updates go once on the broadcast link when every up peer
 * advertises TIPC_NAMED_BCAST (replicastDestinations == 0) and has acknowledged its bulk
 * (`bulkAcked`), else one unicast copy per peer; at node up a unicast bulk of every own
 * cluster binding, the last message with lastBulk and the current sndNxt (never an empty bulk:
 * a header-only lastBulk instead).
 *
 * Receiver, per peer: bulk and legacy messages apply at once; lastBulk opens the gate at its
 * seqno; sequenced messages apply in order, early ones wait in a map keyed by seqno (O(1) per
 * message, where the kernel walks its whole queue), old ones are dropped. Node down resets the
 * gate (the kernel keeps a stale one).
 */
import {
  INT_H_SIZE,
  ITEM_SIZE,
  less,
  mod16,
  type NameDistributorMessage,
  type NameDistributorType,
  type NameItem,
  TIPC_NAMED_BCAST,
  TIPC_NODE_STATE,
} from "@tipcjs/codec";
import type { Binding, BindingKey } from "@tipcjs/name-table";
import { DistributorError } from "./errors.js";
import { KernelNamedQueue } from "./kernel-queue-receiver.js";
import type {
  BindingStore,
  ChangeOrigin,
  Distributor,
  DistributorDropCause,
  DistributorOptions,
  DistributorOutput,
  DistributorStats,
  Flavor,
  NodeUpInfo,
  PeerState,
  SendMethod,
  SendTarget,
} from "./types.js";

export const DEFAULT_MAX_HELD_PER_PEER = 16384;
export const DEFAULT_MTU = 1500;

/** Every {@link DistributorDropCause}, in the order `stats().drops` lists them. */
export const DISTRIBUTOR_DROP_CAUSES: readonly DistributorDropCause[] = [
  "stale",
  "held-overflow",
  "duplicate-seqno",
  "flushed-at-node-down",
  "peer-not-up",
  "malformed-message",
  "foreign-type",
  "orig-node-mismatch",
  "malformed-item",
  "lower-above-upper",
  "table-limit",
];

const F_UP = 1;
const F_OPEN = 2;
const F_AWAIT = 4;

/**
 * Every peer's record, struct-of-arrays: peer i (dense, in order of first node up; records are
 * never removed, as before) has its address, flags, rcvNxt and link profile at index i of typed
 * arrays, found by address through an open-addressing hash of indices. A profile is one distinct
 * (capabilities, mtu) pair, numbered in a palette: a cluster has a handful. About 17 bytes per
 * peer where an object and a Map entry took 134: a 5,000-node cluster has 25 million records.
 * Held messages live in a map per peer, allocated only while that peer holds one.
 */
class PeerTable {
  count = 0;
  addr = new Uint32Array(8);
  flags = new Uint8Array(8);
  rcvNxt = new Uint16Array(8);
  /** profile number per peer: 16 bits until the palette outgrows them */
  profile: Uint16Array | Uint32Array = new Uint16Array(8);
  private readonly pCaps: number[] = [];
  private readonly pMtu: number[] = [];
  private readonly pIndex = new Map<string, number>();
  private lastProfile = -1;
  /** peer index + 1 by hash of the address, 0: empty; at most 3/4 full */
  private slots = new Int32Array(16);
  /** sequenced messages waiting, by peer index: only peers holding some have a map */
  readonly held = new Map<number, Map<number, NameDistributorMessage>>();

  find(addr: number): number {
    const mask = this.slots.length - 1;
    for (let h = hashAddr(addr) & mask; ; h = (h + 1) & mask) {
      const v = this.slots[h] as number;
      if (v === 0) return -1;
      if (this.addr[v - 1] === addr) return v - 1;
    }
  }

  add(addr: number): number {
    const i = this.count;
    if (i === this.addr.length) this.grow();
    this.count++;
    this.addr[i] = addr;
    if (this.count * 4 > this.slots.length * 3) this.rehash(this.slots.length * 2);
    else this.place(i);
    return i;
  }

  getCaps(i: number): number {
    return this.pCaps[this.profile[i] as number] as number;
  }

  getMtu(i: number): number {
    return this.pMtu[this.profile[i] as number] as number;
  }

  setCapsMtu(i: number, caps: number, mtu: number): void {
    let k = this.lastProfile;
    if (k < 0 || this.pCaps[k] !== caps || this.pMtu[k] !== mtu) {
      const key = `${caps}/${mtu}`;
      k = this.pIndex.get(key) ?? -1;
      if (k < 0) {
        k = this.pCaps.length;
        this.pCaps.push(caps);
        this.pMtu.push(mtu);
        this.pIndex.set(key, k);
        if (k > 0xffff && this.profile instanceof Uint16Array) this.profile = Uint32Array.from(this.profile);
      }
      this.lastProfile = k;
    }
    this.profile[i] = k;
  }

  heldSize(i: number): number {
    return this.held.get(i)?.size ?? 0;
  }

  private place(i: number): void {
    const mask = this.slots.length - 1;
    let h = hashAddr(this.addr[i] as number) & mask;
    while (this.slots[h] !== 0) h = (h + 1) & mask;
    this.slots[h] = i + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let i = 0; i < this.count; i++) this.place(i);
  }

  private grow(): void {
    // x1.5: the spare capacity is at most half of what is used
    const n = Math.ceil(this.addr.length * 1.5);
    const widen = <T extends Uint32Array | Uint16Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.addr = widen(this.addr, (k) => new Uint32Array(k));
    this.flags = widen(this.flags, (k) => new Uint8Array(k));
    this.rcvNxt = widen(this.rcvNxt, (k) => new Uint16Array(k));
    const p = this.profile;
    this.profile =
      p instanceof Uint16Array ? widen(p, (k) => new Uint16Array(k)) : widen(p, (k) => new Uint32Array(k));
  }
}

const hashAddr = (addr: number) => Math.imul(addr, 0x9e3779b1) >>> 7;

const isU32 = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** Items per bulk message for a link MTU: floor((mtu - 40 - 40) / 20), as the kernel sizes it; at least 1. */
export function bulkItemsPerMessage(mtu: number): number {
  return Math.max(1, Math.floor((mtu - INT_H_SIZE - INT_H_SIZE) / ITEM_SIZE));
}

export function createDistributor(options: DistributorOptions): Distributor {
  return new NameDistributor(options);
}

class NameDistributor implements Distributor {
  readonly ownNode: number;
  readonly flavor: Flavor;
  readonly legacy: boolean;
  readonly capabilities: number;
  private readonly table: BindingStore;
  private readonly maxHeld: number;
  private readonly forceReplicast: boolean;
  private readonly awaitBulkAck: boolean;
  private sndNxt: number;
  private rcDests = 0;
  /** up peers whose bulk is not acknowledged yet: updates go by replicast while any is */
  private bulkWaits = 0;
  private readonly pt = new PeerTable();
  /** the linux flavour's queue and gate per peer index, instead of the flags, rcvNxt and held */
  private readonly queues: KernelNamedQueue[] = [];
  private peersUp = 0;
  private heldNow = 0;
  private readonly st: Omit<
    DistributorStats,
    "sndNxt" | "replicastDestinations" | "awaitingBulkAck" | "method" | "peersUp" | "heldNow"
  >;

  constructor(o: DistributorOptions) {
    if (typeof o !== "object" || o === null)
      throw new DistributorError("INVALID_OPTIONS", "options are required");
    if (!isU32(o.ownNode) || o.ownNode === 0)
      throw new DistributorError("INVALID_OPTIONS", "ownNode must be a non-zero u32");
    if (!o.table) throw new DistributorError("INVALID_OPTIONS", "table is required");
    const maxHeld = o.maxHeldPerPeer ?? DEFAULT_MAX_HELD_PER_PEER;
    if (!Number.isInteger(maxHeld) || maxHeld < 0)
      throw new DistributorError("INVALID_OPTIONS", "maxHeldPerPeer must be an integer >= 0");
    this.ownNode = o.ownNode;
    this.table = o.table;
    const flavor = o.legacy ? "legacy" : (o.flavor ?? "tipcjs");
    if (flavor !== "tipcjs" && flavor !== "linux" && flavor !== "legacy") {
      throw new DistributorError("INVALID_OPTIONS", "flavor must be tipcjs, linux or legacy");
    }
    this.flavor = flavor;
    this.legacy = flavor === "legacy";
    this.capabilities = this.legacy ? 0 : TIPC_NAMED_BCAST;
    this.maxHeld = maxHeld;
    this.forceReplicast = o.forceReplicast ?? false;
    this.awaitBulkAck = flavor === "tipcjs" && (o.awaitBulkAck ?? true);
    this.sndNxt = mod16(o.initialSndNxt ?? 0);
    this.st = {
      methodSwitches: 0,
      sent: { updates: 0, broadcast: 0, replicast: 0, bulk: 0, bulkItems: 0, emptyBulks: 0 },
      received: { messages: 0, bulk: 0, legacy: 0, sequenced: 0, releasedFromHold: 0, gateOpens: 0 },
      heldPeak: 0,
      duplicateInserts: 0,
      withdrawalsNotFound: 0,
      drops: Object.fromEntries(DISTRIBUTOR_DROP_CAUSES.map((c) => [c, 0])) as Record<
        DistributorDropCause,
        number
      >,
    };
    if (o.publishNodeState ?? true) {
      // Like the kernel at address finalisation: {0, addr, addr}, cluster scope, port 0, key addr.
      // There is no peer yet, so nothing is sent; every later bulk carries it. (The kernel also
      // spends a named seqno on it, sent to nobody; we do not, which no peer can tell.)
      this.table.insert({
        type: TIPC_NODE_STATE,
        lower: this.ownNode,
        upper: this.ownNode,
        node: this.ownNode,
        port: 0,
        key: this.ownNode,
        scope: "cluster",
      });
    }
  }

  // ---------------------------------------------------------------- sender

  publish(binding: Binding): DistributorOutput[] {
    checkBinding(binding);
    if (binding.node !== this.ownNode)
      throw new DistributorError("NOT_OWN_BINDING", `binding.node ${binding.node} is not ${this.ownNode}`);
    const r = this.table.insert(binding);
    if (!r.ok) {
      throw r.reason === "duplicate"
        ? new DistributorError("DUPLICATE", "a binding with this type, range, node and key exists")
        : new DistributorError("LIMIT", "the name table is full");
    }
    const out: DistributorOutput[] = [{ kind: "bound", binding: r.binding, origin: LOCAL }];
    if (r.binding.scope === "cluster") this.distribute("PUBLICATION", toItem(r.binding), out);
    return out;
  }

  withdraw(key: BindingKey): DistributorOutput[] {
    if (typeof key !== "object" || key === null)
      throw new DistributorError("INVALID_BINDING", "a binding key is required");
    if (key.node !== this.ownNode)
      throw new DistributorError("NOT_OWN_BINDING", `key.node ${key.node} is not ${this.ownNode}`);
    const removed = this.table.remove(key);
    if (!removed) throw new DistributorError("NOT_FOUND", "no such own binding");
    const out: DistributorOutput[] = [{ kind: "unbound", binding: removed, origin: LOCAL }];
    if (removed.scope === "cluster") this.distribute("WITHDRAWAL", toItem(removed), out);
    return out;
  }

  private method(): "broadcast" | "replicast" {
    return this.legacy || this.forceReplicast || this.rcDests > 0 || this.bulkWaits > 0
      ? "replicast"
      : "broadcast";
  }

  private distribute(type: NameDistributorType, item: NameItem, out: DistributorOutput[]): void {
    this.st.sent.updates++;
    let namedSeqno = 0;
    if (!this.legacy) {
      namedSeqno = this.sndNxt;
      this.sndNxt = mod16(this.sndNxt + 1);
    }
    const nonLegacy = !this.legacy;
    if (this.method() === "broadcast") {
      this.st.sent.broadcast++;
      const message = this.message(type, 0, [item], { nonLegacy, namedSeqno });
      out.push(send("broadcast", "broadcast", message));
      return;
    }
    const pt = this.pt;
    for (let i = 0; i < pt.count; i++) {
      if (!((pt.flags[i] as number) & F_UP)) continue;
      const addr = pt.addr[i] as number;
      this.st.sent.replicast++;
      const message = this.message(type, addr, [{ ...item }], { nonLegacy, namedSeqno });
      out.push(send(addr, "replicast", message));
    }
  }

  private message(
    type: NameDistributorType,
    destNode: number,
    items: NameItem[],
    f: { bulk?: boolean; lastBulk?: boolean; nonLegacy: boolean; namedSeqno: number; bcAckInvalid?: boolean },
  ): NameDistributorMessage {
    return {
      user: "NAME_DISTRIBUTOR",
      type,
      nonSeq: false,
      bcastAck: 0,
      ack: 0,
      seqno: 0,
      prevNode: 0,
      origNode: this.ownNode,
      destNode,
      bulk: f.bulk ?? false,
      lastBulk: f.lastBulk ?? false,
      nonLegacy: f.nonLegacy,
      namedSeqno: f.namedSeqno,
      bcAckInvalid: f.bcAckInvalid ?? false,
      items,
    };
  }

  nodeUp(peer: number, info: NodeUpInfo): DistributorOutput[] {
    if (!isU32(peer) || peer === 0)
      throw new DistributorError("INVALID_PEER", `bad peer address ${String(peer)}`);
    if (peer === this.ownNode) throw new DistributorError("SELF", "nodeUp of the own address");
    const capabilities = info?.capabilities ?? 0;
    const mtu = info?.mtu ?? DEFAULT_MTU;
    if (!Number.isInteger(capabilities) || capabilities < 0)
      throw new DistributorError("INVALID_PEER", "bad capabilities");
    if (!Number.isInteger(mtu) || mtu <= 0) throw new DistributorError("INVALID_PEER", "bad mtu");
    const pt = this.pt;
    let i = pt.find(peer);
    if (i >= 0 && (pt.flags[i] as number) & F_UP)
      throw new DistributorError("ALREADY_UP", `peer ${peer} is already up`);
    if (i < 0) {
      i = pt.add(peer);
      if (this.flavor === "linux") this.queues[i] = new KernelNamedQueue();
    }
    pt.flags[i] = (pt.flags[i] as number) | F_UP;
    // Stored here and used again at node down, so a capability change cannot unbalance the count.
    pt.setCapsMtu(i, capabilities, mtu);
    this.peersUp++;
    if (!(capabilities & TIPC_NAMED_BCAST)) this.changeRcDests(+1);
    const out: DistributorOutput[] = [];
    this.bulk(peer, mtu, out);
    // Until the peer acknowledges the bulk, updates reach it by unicast behind the bulk: a
    // broadcast update could overtake a lost and retransmitted bulk, and a kernel peer that kept
    // a stale gate across node down would apply it early, then freeze (tipc-protocol.md §2.3).
    // The linux flavour (and awaitBulkAck: false) broadcasts at once, as the kernel does.
    if (this.awaitBulkAck && out.length > 0) {
      pt.flags[i] = (pt.flags[i] as number) | F_AWAIT;
      this.changeCount(() => this.bulkWaits++);
    }
    return out;
  }

  bulkAcked(peer: number): boolean {
    const pt = this.pt;
    const i = pt.find(peer);
    if (i < 0 || ((pt.flags[i] as number) & (F_UP | F_AWAIT)) !== (F_UP | F_AWAIT)) return false;
    pt.flags[i] = (pt.flags[i] as number) & ~F_AWAIT;
    this.changeCount(() => this.bulkWaits--);
    return true;
  }

  private changeRcDests(delta: number): void {
    this.changeCount(() => {
      this.rcDests += delta;
    });
  }

  /** Changes a count the method depends on, counting a method switch. */
  private changeCount(change: () => void): void {
    const before = this.method();
    change();
    if (this.method() !== before) this.st.methodSwitches++;
  }

  private bulk(peer: number, mtu: number, out: DistributorOutput[]): void {
    const items: NameItem[] = [];
    for (const b of this.table.ownClusterBindings()) items.push(toItem(b));
    const per = bulkItemsPerMessage(mtu);
    const legacy = this.legacy;
    const messages: NameDistributorMessage[] = [];
    for (let i = 0; i < items.length; i += per) {
      messages.push(
        this.message("PUBLICATION", peer, items.slice(i, i + per), {
          bulk: !legacy,
          nonLegacy: !legacy,
          namedSeqno: 0,
          bcAckInvalid: !legacy,
        }),
      );
    }
    if (messages.length === 0) this.st.sent.emptyBulks++;
    if (!legacy && !(messages.length === 0 && this.flavor === "linux")) {
      if (messages.length === 0) {
        // Recent kernels send nothing here, which leaves the peer's gate shut (or stale).
        messages.push(
          this.message("PUBLICATION", peer, [], {
            bulk: true,
            nonLegacy: true,
            namedSeqno: 0,
            bcAckInvalid: true,
          }),
        );
      }
      const last = messages[messages.length - 1] as NameDistributorMessage;
      last.lastBulk = true;
      last.namedSeqno = this.sndNxt;
    }
    for (const m of messages) {
      this.st.sent.bulk++;
      this.st.sent.bulkItems += m.items.length;
      out.push(send(peer, "bulk", m));
    }
  }

  nodeDown(peer: number): DistributorOutput[] {
    const pt = this.pt;
    const i = pt.find(peer);
    if (i < 0 || !((pt.flags[i] as number) & F_UP)) return [];
    const awaiting = (pt.flags[i] as number) & F_AWAIT;
    // Reset the gate: the next session starts closed and is opened by its own lastBulk.
    pt.flags[i] = 0;
    pt.rcvNxt[i] = 0;
    this.peersUp--;
    if (!(pt.getCaps(i) & TIPC_NAMED_BCAST)) this.changeRcDests(-1);
    if (awaiting) this.changeCount(() => this.bulkWaits--);
    const queue = this.queues[i];
    if (queue) {
      // Linux flushes the queue and keeps open/rcvNxt until the next lastBulk.
      const flushed = queue.flush();
      this.st.drops["flushed-at-node-down"] += flushed;
      this.heldNow -= flushed;
    }
    const held = pt.heldSize(i);
    this.st.drops["flushed-at-node-down"] += held;
    this.heldNow -= held;
    pt.held.delete(i);
    const origin: ChangeOrigin = { source: "purge", peer };
    return this.table.purgeNode(peer).map((binding) => ({ kind: "unbound", binding, origin }));
  }

  // ---------------------------------------------------------------- receiver

  receive(peer: number, message: NameDistributorMessage): DistributorOutput[] {
    this.st.received.messages++;
    const out: DistributorOutput[] = [];
    const pt = this.pt;
    const i = pt.find(peer);
    if (i < 0 || !((pt.flags[i] as number) & F_UP)) return this.drop("peer-not-up", out);
    if (!wellFormed(message)) return this.drop("malformed-message", out);
    if (message.origNode !== peer) return this.drop("orig-node-mismatch", out);

    if (this.legacy) {
      // A pre-2020 node knows no bits: everything applies at once, in arrival order.
      this.st.received.legacy++;
      this.apply(peer, message, "legacy", out);
      return out;
    }

    const queue = this.queues[i];
    if (queue) return this.receiveLinux(peer, queue, message, out);

    const seqno = message.namedSeqno;
    let held = pt.held.get(i);
    if (message.lastBulk) {
      pt.rcvNxt[i] = seqno;
      pt.flags[i] = (pt.flags[i] as number) | F_OPEN;
      this.st.received.gateOpens++;
      if (held) held = this.dropStaleHeld(i, held, seqno);
    }
    const open = ((pt.flags[i] as number) & F_OPEN) !== 0;
    let rcvNxt = pt.rcvNxt[i] as number;
    if (message.bulk) {
      this.st.received.bulk++;
      this.apply(peer, message, "bulk", out);
    } else if (!message.nonLegacy) {
      this.st.received.legacy++;
      this.apply(peer, message, "legacy", out);
    } else if (open && seqno === rcvNxt) {
      rcvNxt = mod16(rcvNxt + 1);
      pt.rcvNxt[i] = rcvNxt;
      this.st.received.sequenced++;
      this.apply(peer, message, "sequenced", out);
    } else if (open && less(seqno, rcvNxt)) {
      return this.drop("stale", out);
    } else {
      // Early, or the gate is still shut: wait. While shut, nothing can be called stale yet.
      if (held?.has(seqno)) return this.drop("duplicate-seqno", out);
      if ((held?.size ?? 0) >= this.maxHeld) return this.drop("held-overflow", out);
      if (!held) {
        held = new Map();
        pt.held.set(i, held);
      }
      held.set(seqno, message);
      this.heldNow++;
      if (held.size > this.st.heldPeak) this.st.heldPeak = held.size;
      return out;
    }
    // Release whatever is now in order.
    if (!held || !open) return out;
    for (;;) {
      const next = held.get(rcvNxt);
      if (!next) break;
      held.delete(rcvNxt);
      this.heldNow--;
      rcvNxt = mod16(rcvNxt + 1);
      pt.rcvNxt[i] = rcvNxt;
      this.st.received.sequenced++;
      this.st.received.releasedFromHold++;
      this.apply(peer, next, "sequenced", out);
    }
    if (held.size === 0) pt.held.delete(i);
    return out;
  }

  /** The linux flavour: queue it, then walk the queue until nothing more can be applied. */
  private receiveLinux(
    peer: number,
    q: KernelNamedQueue,
    message: NameDistributorMessage,
    out: DistributorOutput[],
  ): DistributorOutput[] {
    const before = q.length;
    const droppedBefore = q.dropped;
    q.push(message);
    for (let m = q.dequeue(); m; m = q.dequeue()) {
      if (m.lastBulk) this.st.received.gateOpens++;
      if (m !== message) this.st.received.releasedFromHold++;
      if (m.bulk) {
        this.st.received.bulk++;
        this.apply(peer, m, "bulk", out);
      } else if (!m.nonLegacy) {
        this.st.received.legacy++;
        this.apply(peer, m, "legacy", out);
      } else {
        this.st.received.sequenced++;
        this.apply(peer, m, "sequenced", out);
      }
    }
    this.st.drops.stale += q.dropped - droppedBefore;
    this.heldNow += q.length - before;
    if (q.length > this.st.heldPeak) this.st.heldPeak = q.length;
    return out;
  }

  /** Once per lastBulk: what waited behind a shut gate and is older than the bulk is covered by it. */
  private dropStaleHeld(
    i: number,
    held: Map<number, NameDistributorMessage>,
    rcvNxt: number,
  ): Map<number, NameDistributorMessage> | undefined {
    for (const s of held.keys()) {
      if (less(s, rcvNxt)) {
        held.delete(s);
        this.heldNow--;
        this.st.drops.stale++;
      }
    }
    if (held.size > 0) return held;
    this.pt.held.delete(i);
    return undefined;
  }

  private drop(cause: DistributorDropCause, out: DistributorOutput[]): DistributorOutput[] {
    this.st.drops[cause]++;
    return out;
  }

  private apply(
    peer: number,
    m: NameDistributorMessage,
    via: "bulk" | "sequenced" | "legacy",
    out: DistributorOutput[],
  ): void {
    const publication = m.type === "PUBLICATION";
    if (!publication && m.type !== "WITHDRAWAL") {
      this.st.drops["foreign-type"]++;
      return;
    }
    const origin: ChangeOrigin = { source: "peer", peer, via };
    for (const it of m.items) {
      if (
        !it ||
        !isU32(it.type) ||
        !isU32(it.lower) ||
        !isU32(it.upper) ||
        !isU32(it.port) ||
        !isU32(it.key)
      ) {
        this.st.drops["malformed-item"]++;
        continue;
      }
      if (it.lower > it.upper) {
        this.st.drops["lower-above-upper"]++;
        continue;
      }
      if (publication) {
        const r = this.table.insert({
          type: it.type,
          lower: it.lower,
          upper: it.upper,
          node: peer,
          port: it.port,
          key: it.key,
          scope: "cluster",
        });
        if (r.ok) out.push({ kind: "bound", binding: r.binding, origin });
        else if (r.reason === "duplicate") this.st.duplicateInserts++;
        else this.st.drops["table-limit"]++;
      } else {
        const removed = this.table.remove({
          type: it.type,
          lower: it.lower,
          upper: it.upper,
          node: peer,
          key: it.key,
        });
        if (removed) out.push({ kind: "unbound", binding: removed, origin });
        else this.st.withdrawalsNotFound++;
      }
    }
  }

  // ---------------------------------------------------------------- inspection

  peer(peer: number): PeerState | undefined {
    const i = this.pt.find(peer);
    return i < 0 ? undefined : this.peerState(i);
  }

  peers(): PeerState[] {
    const all: PeerState[] = [];
    for (let i = 0; i < this.pt.count; i++) all.push(this.peerState(i));
    return all;
  }

  private peerState(i: number): PeerState {
    const pt = this.pt;
    const f = pt.flags[i] as number;
    const q = this.queues[i];
    return {
      peer: pt.addr[i] as number,
      up: (f & F_UP) !== 0,
      capabilities: pt.getCaps(i),
      mtu: pt.getMtu(i),
      open: q ? q.open : (f & F_OPEN) !== 0,
      rcvNxt: q ? q.rcvNxt : (pt.rcvNxt[i] as number),
      held: q ? q.length : pt.heldSize(i),
      awaitingBulkAck: (f & F_AWAIT) !== 0,
    };
  }

  stats(): DistributorStats {
    const s = this.st;
    return {
      sndNxt: this.sndNxt,
      replicastDestinations: this.rcDests,
      awaitingBulkAck: this.bulkWaits,
      method: this.method(),
      methodSwitches: s.methodSwitches,
      peersUp: this.peersUp,
      sent: { ...s.sent },
      received: { ...s.received },
      heldNow: this.heldNow,
      heldPeak: s.heldPeak,
      duplicateInserts: s.duplicateInserts,
      withdrawalsNotFound: s.withdrawalsNotFound,
      drops: { ...s.drops },
    };
  }
}

const LOCAL: ChangeOrigin = { source: "local" };

function send(to: SendTarget, method: SendMethod, message: NameDistributorMessage): DistributorOutput {
  return { kind: "send", to, method, message };
}

function toItem(b: Binding): NameItem {
  return { type: b.type, lower: b.lower, upper: b.upper, port: b.port, key: b.key };
}

function checkBinding(b: Binding): void {
  if (
    !b ||
    !isU32(b.type) ||
    !isU32(b.lower) ||
    !isU32(b.upper) ||
    !isU32(b.port) ||
    !isU32(b.key) ||
    !isU32(b.node) ||
    (b.scope !== "node" && b.scope !== "cluster")
  ) {
    throw new DistributorError(
      "INVALID_BINDING",
      "type, lower, upper, port, key and node must be u32; scope node or cluster",
    );
  }
  if (b.lower > b.upper) throw new DistributorError("INVALID_BINDING", "lower > upper");
}

function wellFormed(m: NameDistributorMessage): boolean {
  return (
    typeof m === "object" &&
    m !== null &&
    m.user === "NAME_DISTRIBUTOR" &&
    Array.isArray(m.items) &&
    Number.isInteger(m.namedSeqno) &&
    m.namedSeqno >= 0 &&
    m.namedSeqno <= 0xffff &&
    typeof m.bulk === "boolean" &&
    typeof m.lastBulk === "boolean" &&
    typeof m.nonLegacy === "boolean"
  );
}
