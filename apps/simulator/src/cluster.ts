/**
 * Protocol fidelity's cluster: the real `@tipcjs/distributor` on every node (with its compact
 * binding store, and the pre-2020 and Linux receive paths as shadows), joined by the channel
 * network. Nodes start and stop, links come up and go down, bindings are published and
 * withdrawn; every output goes to the network and every table change to the collector. What
 * happens when is the scenario driver's (driver.ts).
 */
import { INT_H_SIZE } from "@tipcjs/codec";
import { createDistributor, type Distributor, type DistributorOutput } from "@tipcjs/distributor";
import type { Binding } from "@tipcjs/name-table";
import type { VirtualClock } from "@tipcjs/transport-memory";
import { type Arrival, ChannelNetwork } from "./channels.js";
import type { ScenarioTarget } from "./driver.js";
import type { Collector } from "./results.js";
import type { Mode, Scenario, ScriptEvent } from "./scenario.js";
import { BindingRegistry, CompactStore } from "./store.js";

const ITEM_SIZE = 20;
const BASE_ADDR = 0x01000000;
export const addrOf = (i: number) => BASE_ADDR + i + 1;
export const indexOf = (addr: number) => addr - BASE_ADDR - 1;

export interface SimNode {
  index: number;
  addr: number;
  legacy: boolean;
  alive: boolean;
  d: Distributor | undefined;
  store: CompactStore | undefined;
  /** session number per peer index (0: not up); the channel network's row for this node */
  session: Int32Array;
  /** live own binding keys (for withdrawals) */
  own: Binding[];
  shadowLegacy?: { d: Distributor; store: CompactStore };
  shadowLinux?: { d: Distributor; store: CompactStore };
  heldPeakBefore: number;
  releasedBefore: number;
}

export class ProtocolCluster implements ScenarioTarget {
  readonly total: number;
  readonly nodes: SimNode[] = [];
  readonly registry: BindingRegistry;
  readonly network: ChannelNetwork;
  private readonly keys: Int32Array;
  private readonly kernel: Set<number>;
  private readonly mtu: number;
  /**
   * Switches caused by pre-2020 peers coming and going (the kernel's rule), checked only around
   * them: cheap at scale. The short replicast after each link-up, until the peer acks its bulk,
   * is not one of them.
   */
  private readonly anyLegacy: boolean;

  constructor(
    private readonly sc: Scenario,
    mode: Mode,
    private readonly clock: VirtualClock,
    private readonly col: Collector,
  ) {
    const total = sc.nodes + sc.joiners.length;
    this.total = total;
    // Inline words per publisher: its initial bindings, the node-state one, and room for twice the
    // publications it makes on average, plus 4; a busier publisher spills (store.ts).
    const publishers = Math.min(sc.updates.publishers ?? total, total);
    const perPublisher =
      (sc.updates.rate * sc.duration * sc.updates.publishRatio) / 1000 / Math.max(1, publishers);
    const spare = Math.min(64, Math.ceil(2 * perPublisher) + 4);
    this.registry = new BindingRegistry(Math.ceil((sc.bindingsPerNode + 1 + spare) / 32), total);
    this.mtu = sc.link.mtu;
    this.keys = new Int32Array(total).fill(0);
    this.kernel = new Set(sc.kernelNodes);
    this.network = new ChannelNetwork(
      sc,
      clock,
      total,
      (i) => (this.nodes[i] as SimNode).alive,
      (a) => this.arrive(a),
    );
    const legacyOf = (i: number) => mode === "all-legacy" || (mode === "mixed" && i >= sc.nodes);
    for (let i = 0; i < total; i++)
      this.nodes.push({
        index: i,
        addr: addrOf(i),
        legacy: legacyOf(i),
        alive: false,
        d: undefined,
        store: undefined,
        session: this.network.sessions[i] as Int32Array,
        own: [],
        heldPeakBefore: 0,
        releasedBefore: 0,
      });
    this.anyLegacy = this.nodes.some((n) => n.legacy) && mode !== "all-legacy";
  }

  node(i: number): SimNode {
    return this.nodes[i] as SimNode;
  }

  // ------------------------------------------------------------------ the scenario's actions

  /** The node starts and comes up with every live node (a join, or a formation start). */
  join(i: number, joining = true): void {
    const n = this.node(i);
    this.start(n);
    const mark = this.col.bulkMark();
    for (const p of this.nodes) if (p !== n && p.alive) this.connect(n, p);
    if (joining) this.col.joinCost(this.clock.now(), n.index, mark);
  }

  /** A graceful leave: every peer sees the node down at once. */
  leave(i: number): void {
    const n = this.node(i);
    if (!n.alive) return;
    this.stop(n);
    for (const p of this.nodes) {
      if (p === n) continue;
      this.disconnect(p, n);
      n.session[p.index] = 0;
    }
  }

  /** A crash: peers notice after the detection delay (the link tolerance), if the session lasts. */
  crash(i: number): void {
    const n = this.node(i);
    if (!n.alive) return;
    this.stop(n);
    const snap = this.nodes.map((p) => p.session[n.index] as number);
    n.session.fill(0);
    this.clock.setTimer(this.sc.detectionDelay, () => {
      for (const p of this.nodes)
        if (p.session[n.index] !== 0 && p.session[n.index] === snap[p.index]) this.disconnect(p, n);
    });
  }

  restart(i: number): void {
    const n = this.node(i);
    if (n.alive) return;
    // The peers see the new incarnation: the old session resets first.
    for (const p of this.nodes) if (p.session[n.index] !== 0) this.disconnect(p, n);
    this.join(i);
  }

  /** The link between a and b goes down (both see it at once) and comes back `upAfter` ms later. */
  flap(ai: number, bi: number, upAfter: number): void {
    const a = this.node(ai);
    const b = this.node(bi);
    if (!a.alive || !b.alive || a.session[b.index] === 0) return;
    this.disconnect(a, b);
    this.disconnect(b, a);
    this.clock.setTimer(upAfter, () => {
      if (a.alive && b.alive && a.session[b.index] === 0 && b.session[a.index] === 0) this.connect(a, b);
    });
  }

  /** One bearer only in protocol fidelity, and no outages (scenario.ts refuses them). */
  bearerDown(): void {}
  bearerUp(): void {}

  script(e: ScriptEvent): void {
    const n = this.node(e.node);
    if (!n.alive || !n.d) return;
    if (e.op === "publish") this.publishUpdate(n, this.newBinding(n, e.type, e.lower, e.upper ?? e.lower));
    else {
      const i = n.own.findIndex((b) => b.type === e.type && b.lower === e.lower);
      if (i < 0) return;
      const b = n.own[i] as Binding;
      n.own.splice(i, 1);
      this.withdrawUpdate(n, b);
    }
  }

  /** A steady update: a new binding (`publish`), or the withdrawal of a random own one. */
  steadyUpdate(n: SimNode, publish: boolean, rnd: () => number): void {
    if (publish) this.publishUpdate(n, this.newBinding(n));
    else {
      const i = Math.floor(rnd() * n.own.length);
      const b = n.own[i] as Binding;
      n.own[i] = n.own[n.own.length - 1] as Binding;
      n.own.pop();
      this.withdrawUpdate(n, b);
    }
  }

  // ------------------------------------------------------------------ nodes and links

  private start(n: SimNode): void {
    const sc = this.sc;
    n.alive = true;
    n.store = new CompactStore(n.addr, this.registry);
    n.d = createDistributor({
      ownNode: n.addr,
      table: n.store,
      flavor: n.legacy ? "legacy" : this.kernel.has(n.index) ? "linux" : "tipcjs",
      initialSndNxt: sc.initialSndNxt,
      awaitBulkAck: sc.awaitBulkAck,
    });
    n.own = [];
    if (sc.shadows) {
      const mk = (flavor: "legacy" | "linux") => {
        const store = new CompactStore(n.addr, this.registry);
        return {
          store,
          d: createDistributor({ ownNode: n.addr, table: store, flavor, publishNodeState: false }),
        };
      };
      n.shadowLegacy = mk("legacy");
      n.shadowLinux = mk("linux");
    }
    for (let k = 0; k < sc.bindingsPerNode; k++) this.publishOwn(n, this.newBinding(n));
  }

  private stop(n: SimNode): void {
    if (n.d) {
      const s = n.d.stats();
      n.heldPeakBefore = Math.max(n.heldPeakBefore, s.heldPeak);
      n.releasedBefore += s.received.releasedFromHold;
    }
    n.alive = false;
    this.network.crashed(n.index);
  }

  private connect(a: SimNode, b: SimNode): void {
    this.network.linkUp(a.index, b.index);
    const mtu = this.mtu;
    const da = a.d as Distributor;
    const db = b.d as Distributor;
    const capA = da.capabilities;
    const capB = db.capabilities;
    const before = this.anyLegacy ? [ruleMethod(da), ruleMethod(db)] : ["", ""];
    // Bulk messages leave as both nodes see each other up.
    this.route(a, da.nodeUp(b.addr, { capabilities: capB, mtu }));
    this.route(b, db.nodeUp(a.addr, { capabilities: capA, mtu }));
    for (const sh of [a.shadowLegacy, a.shadowLinux]) sh?.d.nodeUp(b.addr, { capabilities: capB, mtu });
    for (const sh of [b.shadowLegacy, b.shadowLinux]) sh?.d.nodeUp(a.addr, { capabilities: capA, mtu });
    this.noteSwitch(a, before[0] as string);
    this.noteSwitch(b, before[1] as string);
  }

  /** a notices that b is gone. */
  private disconnect(a: SimNode, b: SimNode): void {
    if (a.session[b.index] === 0) return;
    a.session[b.index] = 0;
    if (!a.alive || !a.d) return;
    const before = this.anyLegacy ? ruleMethod(a.d) : "";
    this.route(a, a.d.nodeDown(b.addr));
    a.shadowLegacy?.d.nodeDown(b.addr);
    a.shadowLinux?.d.nodeDown(b.addr);
    this.noteSwitch(a, before);
  }

  private noteSwitch(n: SimNode, before: string): void {
    if (!this.anyLegacy || n.legacy || !n.d) return;
    const now = ruleMethod(n.d);
    if (now !== before) this.col.switched(this.clock.now(), n.index, now);
  }

  /** Peers this node has up (and alive): the copies an update should reach. */
  upCount(n: SimNode): number {
    let c = 0;
    for (let j = 0; j < this.total; j++) if (n.session[j] !== 0 && this.node(j).alive) c++;
    return c;
  }

  // ------------------------------------------------------------------ bindings and messages

  private newBinding(n: SimNode, type?: number, lower?: number, upper?: number): Binding {
    const k = (this.keys[n.index] as number) + 1;
    this.keys[n.index] = k;
    return {
      type: type ?? 1000 + (k % 64),
      lower: lower ?? k,
      upper: upper ?? lower ?? k,
      node: n.addr,
      port: 1000 + k,
      key: k,
      scope: "cluster",
    };
  }

  private publishOwn(n: SimNode, b: Binding): number {
    const outs = (n.d as Distributor).publish(b);
    n.own.push(b);
    return this.route(n, outs);
  }

  private publishUpdate(n: SimNode, b: Binding): void {
    const t0 = this.clock.now();
    const tx = this.publishOwn(n, b);
    this.col.update(t0, n.index, b, "bound", tx, this.upCount(n), this.network.lastDeparture - t0);
  }

  private withdrawUpdate(n: SimNode, b: Binding): void {
    const tx = this.route(n, (n.d as Distributor).withdraw(b));
    const now = this.clock.now();
    this.col.update(now, n.index, b, "unbound", tx, this.upCount(n), this.network.lastDeparture - now);
  }

  /** Send outputs to the network; table changes to the latency tracker. */
  private route(n: SimNode, outs: DistributorOutput[], fromIdx = -1): number {
    let tx = 0;
    this.network.markDepartures();
    for (const o of outs) {
      if (o.kind === "send") {
        const bytes = INT_H_SIZE + ITEM_SIZE * o.message.items.length;
        tx++;
        this.col.sent(this.clock.now(), o.method, bytes, o.message.items.length);
        this.network.send(
          n.index,
          o.to === "broadcast" ? "broadcast" : indexOf(o.to),
          o.message,
          bytes,
          o.method !== "bulk",
        );
      } else if (fromIdx >= 0 && o.origin.source === "peer" && o.origin.via !== "bulk") {
        this.col.applied(this.clock.now(), o.kind, o.binding);
      }
    }
    return tx;
  }

  private arrive({ from, to, message: m, kind, update, session }: Arrival): void {
    const sender = this.node(from);
    const n = this.node(to);
    if (!n.d) return;
    if (update) this.col.delivered(this.clock.now(), m);
    // Arrival times count for updates only (a legacy bulk carries no bulk bit: go by the send).
    this.route(n, n.d.receive(sender.addr, m), update ? from : -1);
    if (n.shadowLegacy) n.shadowLegacy.d.receive(sender.addr, m);
    if (n.shadowLinux) n.shadowLinux.d.receive(sender.addr, m);
    // The channel is reliable and in order: with the bulk's last message the whole bulk is
    // in, and the link's ack of it reaches the sender one latency later, if the session lasts.
    if (kind === 0 && m.bulk && m.lastBulk) {
      this.clock.setTimer(this.network.latency, () => {
        if (sender.alive && sender.session[n.index] === session) sender.d?.bulkAcked(n.addr);
      });
    }
  }

  // ------------------------------------------------------------------ results

  /** Compares every live node's tables (and the shadows') with the truth. */
  check(final: boolean): void {
    const diffs = checkTables(this.nodes, this.total, (n) => n.store);
    this.col.check(this.clock.now(), final, diffs);
    if (this.sc.shadows) {
      this.col.shadow(
        "legacy",
        checkTables(this.nodes, this.total, (n) => n.shadowLegacy?.store),
      );
      this.col.shadow(
        "linux",
        checkTables(this.nodes, this.total, (n) => n.shadowLinux?.store),
      );
    }
  }

  /** The largest out-of-order hold of any node, and the messages released from holds, all incarnations. */
  held(): { heldPeak: number; released: number } {
    let heldPeak = 0;
    let released = 0;
    for (const n of this.nodes) {
      heldPeak = Math.max(heldPeak, n.heldPeakBefore);
      released += n.releasedBefore;
      if (n.alive && n.d) {
        const s = n.d.stats();
        heldPeak = Math.max(heldPeak, s.heldPeak);
        released += s.received.releasedFromHold;
      }
    }
    return { heldPeak, released };
  }
}

const ruleMethod = (d: Distributor) => (d.stats().replicastDestinations > 0 ? "replicast" : "broadcast");

export interface Difference {
  node: number;
  peer: number;
  binding: string;
  problem: "missing" | "extra";
}

const fmt = (b: Binding) => `{${b.type},${b.lower},${b.upper}} key ${b.key} port ${b.port}`;

/**
 * Every live node's view of every peer equals the truth: the peer's own bindings when the node
 * has the peer up, nothing otherwise. Returns the differences (all of them counted, the first
 * 50 described).
 */
export function checkTables(
  nodes: readonly SimNode[],
  total: number,
  storeOf: (n: SimNode) => CompactStore | undefined,
): { count: number; pairs: number; first: Difference[] } {
  const first: Difference[] = [];
  let count = 0;
  let pairs = 0;
  for (const o of nodes) {
    const st = storeOf(o);
    if (!o.alive || !st) continue;
    for (let j = 0; j < total; j++) {
      if (j === o.index) continue;
      const p = nodes[j] as SimNode;
      const truthStore = o.session[j] !== 0 ? p.store : undefined;
      if (!st.sameBindingsOf(p.addr, truthStore) || hasOverflow(st, p.addr)) {
        const before = count;
        const truth = truthStore?.bitset(p.addr);
        const seen = st.bitset(p.addr);
        const want = new Set(truth ? bitsOf(truth) : []);
        const have = new Set(seen ? bitsOf(seen) : []);
        const ownStore = p.store;
        for (const w of want)
          if (!have.has(w)) {
            count++;
            if (first.length < 50 && ownStore)
              first.push({
                node: o.addr,
                peer: p.addr,
                binding: fmt(ownStore.bindingAtNumber(p.addr, w)),
                problem: "missing",
              });
          }
        for (const h of have)
          if (!want.has(h)) {
            count++;
            if (first.length < 50)
              first.push({
                node: o.addr,
                peer: p.addr,
                binding: fmt(st.bindingAtNumber(p.addr, h)),
                problem: "extra",
              });
          }
        if (hasOverflow(st, p.addr)) {
          for (const b of st.bindingsOf(p.addr).slice(have.size)) {
            count++;
            if (first.length < 50)
              first.push({ node: o.addr, peer: p.addr, binding: fmt(b), problem: "extra" });
          }
        }
        if (count > before) pairs++;
      }
    }
  }
  return { count, pairs, first };
}

function hasOverflow(st: CompactStore, node: number): boolean {
  return st.overflowCount(node) > 0;
}

function bitsOf(set: Uint32Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < set.length; w++) {
    let word = set[w] as number;
    while (word !== 0) {
      const low = word & -word;
      out.push(w * 32 + 31 - Math.clz32(low));
      word ^= low;
    }
  }
  return out;
}
