/**
 * Protocol fidelity: the real `@tipcjs/distributor` on every node, over reliable, ordered
 * per-pair unicast channels and a reliable broadcast channel (TIPC's own assumption about its
 * links). Each message gets its own latency and jitter from the seeded virtual clock, per
 * receiver, so a broadcast update can overtake a bulk or a replicast copy still in flight on a
 * unicast channel: exactly the seed's race. Each channel stays FIFO.
 */

import type { NameDistributorMessage } from "@tipcjs/codec";
import { INT_H_SIZE } from "@tipcjs/codec";
import { createDistributor, type Distributor, type DistributorOutput } from "@tipcjs/distributor";
import type { Binding } from "@tipcjs/name-table";
import { createVirtualClock, type VirtualClock } from "@tipcjs/transport-memory";
import { startMeasure } from "./measure.js";
import { Collector, type ModeResult } from "./results.js";
import type { Mode, Scenario } from "./scenario.js";
import { BindingRegistry, CompactStore } from "./store.js";

const ITEM_SIZE = 20;
const BASE_ADDR = 0x01000000;
export const addrOf = (i: number) => BASE_ADDR + i + 1;
export const indexOf = (addr: number) => addr - BASE_ADDR - 1;

interface SimNode {
  index: number;
  addr: number;
  legacy: boolean;
  alive: boolean;
  d: Distributor | undefined;
  store: CompactStore | undefined;
  /** session number per peer index (0: not up) */
  session: Int32Array;
  /** live own binding keys (for withdrawals) */
  own: Binding[];
  shadowLegacy?: { d: Distributor; store: CompactStore };
  shadowLinux?: { d: Distributor; store: CompactStore };
  heldPeakBefore: number;
  releasedBefore: number;
}

export interface RunOptions {
  onProgress?: (fraction: number) => void;
  /** also measure wall time, events per second and heap per node pair (`ModeResult.measured`) */
  measure?: boolean;
}

export function runProtocol(sc: Scenario, mode: Mode, opts: RunOptions = {}): ModeResult {
  const meter = opts.measure ? startMeasure() : undefined;
  const clock: VirtualClock = createVirtualClock(sc.seed);
  const rnd = () => clock.random();
  const total = sc.nodes + sc.joiners.length;
  // Inline words per publisher: its initial bindings, the node-state one, and room for twice the
  // publications it makes on average, plus 4; a busier publisher spills (store.ts).
  const publishers = Math.min(sc.updates.publishers ?? total, total);
  const perPublisher =
    (sc.updates.rate * sc.duration * sc.updates.publishRatio) / 1000 / Math.max(1, publishers);
  const spare = Math.min(64, Math.ceil(2 * perPublisher) + 4);
  const registry = new BindingRegistry(Math.ceil((sc.bindingsPerNode + 1 + spare) / 32), total);
  const col = new Collector(sc, mode, total);
  const mtu = sc.link.mtu;
  const lat = sc.link.latency;
  const bLat = sc.link.broadcastLatency ?? lat;
  const jit = sc.link.jitter;
  // FIFO per channel (from, to, kind): the delivery time of the last message in flight on it.
  // Only channels with a message in flight have an entry (a full table would cost 32 bytes per
  // node pair): a message that arrives after the last one delivered needs no bound.
  const lastOnChannel = new Map<number, number>();
  let sessionCounter = 0;
  /** when each node's interface is free again */
  const busy = new Float64Array(total);
  const txMsPerByte = sc.link.bandwidth > 0 ? 8 / (sc.link.bandwidth * 1000) : 0;
  let inFlight = 0;
  /** when the last datagram sent by the latest `route` call leaves its node's interface */
  let lastDeparture = 0;
  const keys = new Int32Array(total).fill(0);

  const kernel = new Set(sc.kernelNodes);
  const legacyOf = (i: number) => mode === "all-legacy" || (mode === "mixed" && i >= sc.nodes);
  const nodes: SimNode[] = [];
  for (let i = 0; i < total; i++)
    nodes.push({
      index: i,
      addr: addrOf(i),
      legacy: legacyOf(i),
      alive: false,
      d: undefined,
      store: undefined,
      session: new Int32Array(total),
      own: [],
      heldPeakBefore: 0,
      releasedBefore: 0,
    });

  const extraDelay = (from: number, to: number, kind: "unicast" | "broadcast") => {
    let x = 0;
    for (const d of sc.delays) {
      if (d.kind !== kind) continue;
      if (d.from !== undefined && d.from !== from) continue;
      if (d.to !== undefined && d.to !== to) continue;
      const t = clock.now();
      if (t < d.start || (d.end !== undefined && t >= d.end)) continue;
      x += d.extra;
      // A lost transmission is sent again after the timeout, as often as it takes.
      if (d.loss > 0) while (rnd() < d.loss) x += d.retransmitAfter;
    }
    return x;
  };
  const hasDelays = sc.delays.length > 0;

  function schedule(
    from: SimNode,
    toIdx: number,
    m: NameDistributorMessage,
    kind: 0 | 1,
    update: boolean,
    departure: number,
  ): number {
    const to = nodes[toIdx] as SimNode;
    const sess = from.session[toIdx] as number;
    const ch = (from.index * total + toIdx) * 2 + kind;
    let t =
      departure +
      (kind === 1 ? bLat : lat) +
      (jit > 0 ? rnd() * jit : 0) +
      (hasDelays ? extraDelay(from.index, toIdx, kind === 1 ? "broadcast" : "unicast") : 0);
    const prev = lastOnChannel.get(ch);
    if (prev !== undefined && t <= prev) t = prev + 1e-6;
    lastOnChannel.set(ch, t);
    inFlight++;
    clock.setTimer(t - clock.now(), () => {
      inFlight--;
      if (lastOnChannel.get(ch) === t) lastOnChannel.delete(ch);
      // The receiver must still be the same session with the sender (a link reset drops what was in flight).
      if (!to.alive || to.session[from.index] !== sess || sess === 0 || !to.d) return;
      if (update) col.delivered(clock.now(), m);
      // Arrival times count for updates only (a legacy bulk carries no bulk bit: go by the send).
      route(to, to.d.receive(from.addr, m), update ? from.index : -1);
      if (to.shadowLegacy) to.shadowLegacy.d.receive(from.addr, m);
      if (to.shadowLinux) to.shadowLinux.d.receive(from.addr, m);
      // The channel is reliable and in order: with the bulk's last message the whole bulk is
      // in, and the link's ack of it reaches the sender one latency later, if the session lasts.
      if (kind === 0 && m.bulk && m.lastBulk) {
        clock.setTimer(lat, () => {
          if (from.alive && from.session[to.index] === sess) from.d?.bulkAcked(to.addr);
        });
      }
    });
    return t;
  }

  // ---- the broadcast link's send window (link.broadcastWindow > 0): per sender, messages not
  // yet acknowledged by every receiver, and the backlog behind them.
  const window = sc.link.broadcastWindow;
  interface Backlogged {
    m: NameDistributorMessage;
    bytes: number;
    /** the last session number given out when it was queued */
    sessionMark: number;
  }
  const bcUnacked = new Int32Array(window > 0 ? total : 0);
  const bcBacklog: Backlogged[][] = window > 0 ? Array.from({ length: total }, () => []) : [];
  let backlogged = 0;

  /** Release what the window allows; each message's ack frees its place one latency after its slowest delivery. */
  function pumpBroadcast(n: SimNode): void {
    const q = bcBacklog[n.index] as Backlogged[];
    while (q.length > 0 && (bcUnacked[n.index] as number) < window) {
      const e = q.shift() as Backlogged;
      backlogged--;
      const now = clock.now();
      const dep = Math.max(now, busy[n.index] as number) + e.bytes * txMsPerByte;
      busy[n.index] = dep;
      if (dep > lastDeparture) lastDeparture = dep;
      let slowest = dep;
      const s = n.session;
      for (let j = 0; j < total; j++) {
        const sj = s[j] as number;
        if (sj === 0) continue;
        // With the fix, a peer that came up after the message was queued got a synch point past
        // it (sessions are numbered in order); without it, every peer up now gets it.
        if (sc.synchPastBacklog && sj > e.sessionMark) continue;
        slowest = Math.max(slowest, schedule(n, j, e.m, 1, true, dep));
      }
      bcUnacked[n.index] = (bcUnacked[n.index] as number) + 1;
      inFlight++;
      clock.setTimer(slowest + lat - now, () => {
        inFlight--;
        bcUnacked[n.index] = (bcUnacked[n.index] as number) - 1;
        if (n.alive) pumpBroadcast(n);
      });
    }
  }

  /** Send outputs to channels; table changes to the latency tracker. */
  function route(n: SimNode, outs: DistributorOutput[], fromIdx = -1): number {
    let tx = 0;
    lastDeparture = clock.now();
    for (const o of outs) {
      if (o.kind === "send") {
        const bytes = INT_H_SIZE + ITEM_SIZE * o.message.items.length;
        // The sender's interface sends one datagram after another: bytes / bandwidth each.
        const now = clock.now();
        tx++;
        col.sent(now, o.method, bytes, o.message.items.length);
        const queued = o.to === "broadcast" && window > 0;
        const dep = queued ? now : Math.max(now, busy[n.index] as number) + bytes * txMsPerByte;
        if (!queued) {
          busy[n.index] = dep;
          if (dep > lastDeparture) lastDeparture = dep;
        }
        if (o.to === "broadcast" && window > 0) {
          bcBacklog[n.index]?.push({ m: o.message, bytes, sessionMark: sessionCounter });
          backlogged++;
          pumpBroadcast(n);
        } else if (o.to === "broadcast") {
          const s = n.session;
          for (let j = 0; j < total; j++) if (s[j] !== 0) schedule(n, j, o.message, 1, true, dep);
        } else {
          schedule(n, indexOf(o.to), o.message, 0, o.method !== "bulk", dep);
        }
      } else if (fromIdx >= 0 && o.origin.source === "peer" && o.origin.via !== "bulk") {
        col.applied(clock.now(), o.kind, o.binding);
      }
    }
    return tx;
  }

  function connect(a: SimNode, b: SimNode): void {
    const s = ++sessionCounter;
    a.session[b.index] = s;
    b.session[a.index] = s;
    const da = a.d as Distributor;
    const db = b.d as Distributor;
    const capA = da.capabilities;
    const capB = db.capabilities;
    const before = anyLegacy ? [ruleMethod(da), ruleMethod(db)] : ["", ""];
    // Bulk messages leave as both nodes see each other up.
    route(a, da.nodeUp(b.addr, { capabilities: capB, mtu }));
    route(b, db.nodeUp(a.addr, { capabilities: capA, mtu }));
    for (const sh of [a.shadowLegacy, a.shadowLinux]) sh?.d.nodeUp(b.addr, { capabilities: capB, mtu });
    for (const sh of [b.shadowLegacy, b.shadowLinux]) sh?.d.nodeUp(a.addr, { capabilities: capA, mtu });
    noteSwitch(a, before[0] as string);
    noteSwitch(b, before[1] as string);
  }

  function disconnect(a: SimNode, b: SimNode): void {
    // a notices that b is gone.
    if (a.session[b.index] === 0) return;
    a.session[b.index] = 0;
    if (!a.alive || !a.d) return;
    const before = anyLegacy ? ruleMethod(a.d) : "";
    route(a, a.d.nodeDown(b.addr));
    a.shadowLegacy?.d.nodeDown(b.addr);
    a.shadowLinux?.d.nodeDown(b.addr);
    noteSwitch(a, before);
  }

  // Switches caused by pre-2020 peers coming and going (the kernel's rule), checked only around
  // them: cheap at scale. The short replicast after each link-up, until the peer acks its bulk,
  // is not one of them.
  const anyLegacy = nodes.some((n) => n.legacy) && mode !== "all-legacy";
  const ruleMethod = (d: Distributor) => (d.stats().replicastDestinations > 0 ? "replicast" : "broadcast");
  function noteSwitch(n: SimNode, before: string): void {
    if (!anyLegacy || n.legacy || !n.d) return;
    const now = ruleMethod(n.d);
    if (now !== before) col.switched(clock.now(), n.index, now);
  }

  function publishOwn(n: SimNode, b: Binding): number {
    const outs = (n.d as Distributor).publish(b);
    n.own.push(b);
    return route(n, outs);
  }

  function newBinding(n: SimNode, type?: number, lower?: number, upper?: number): Binding {
    const k = (keys[n.index] as number) + 1;
    keys[n.index] = k;
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

  function start(n: SimNode): void {
    n.alive = true;
    n.store = new CompactStore(n.addr, registry);
    n.d = createDistributor({
      ownNode: n.addr,
      table: n.store,
      flavor: n.legacy ? "legacy" : kernel.has(n.index) ? "linux" : "tipcjs",
      initialSndNxt: sc.initialSndNxt,
      awaitBulkAck: sc.awaitBulkAck,
    });
    n.own = [];
    if (sc.shadows) {
      const mk = (flavor: "legacy" | "linux") => {
        const store = new CompactStore(n.addr, registry);
        return {
          store,
          d: createDistributor({ ownNode: n.addr, table: store, flavor, publishNodeState: false }),
        };
      };
      n.shadowLegacy = mk("legacy");
      n.shadowLinux = mk("linux");
    }
    for (let k = 0; k < sc.bindingsPerNode; k++) publishOwn(n, newBinding(n));
  }

  function startAndConnect(n: SimNode, joining: boolean): void {
    start(n);
    const mark = col.bulkMark();
    for (const p of nodes) if (p !== n && p.alive) connect(n, p);
    if (joining) col.joinCost(clock.now(), n.index, mark);
  }

  function stop(n: SimNode): void {
    if (n.d) {
      const s = n.d.stats();
      n.heldPeakBefore = Math.max(n.heldPeakBefore, s.heldPeak);
      n.releasedBefore += s.received.releasedFromHold;
    }
    n.alive = false;
    // A crash loses the broadcast link's backlog and window.
    if (window > 0) {
      backlogged -= (bcBacklog[n.index] as Backlogged[]).length;
      bcBacklog[n.index] = [];
    }
  }

  // ---- formation: the initial nodes start one after another; each comes up with every live node.
  const formationEnd = (sc.nodes - 1) * sc.startInterval;
  {
    const mark = col.bulkMark();
    for (let i = 0; i < sc.nodes; i++) {
      const n = nodes[i] as SimNode;
      if (i === 0) startAndConnect(n, false);
      else clock.setTimer(i * sc.startInterval, () => startAndConnect(n, false));
    }
    clock.setTimer(formationEnd, () => col.initialBulk(mark));
  }

  const at = (t: number, fn: () => void) => {
    if (t <= sc.duration) clock.setTimer(t, fn);
  };

  sc.joiners.forEach((j, k) => {
    const n = nodes[sc.nodes + k] as SimNode;
    at(j.joinAt, () => startAndConnect(n, true));
    if (j.leaveAt !== undefined)
      at(j.leaveAt, () => {
        if (!n.alive) return;
        stop(n);
        for (const p of nodes) {
          if (p === n) continue;
          disconnect(p, n);
          n.session[p.index] = 0;
        }
      });
  });

  for (const c of sc.crashes) {
    const n = nodes[c.node] as SimNode;
    at(c.at, () => {
      if (!n.alive) return;
      stop(n);
      const snap = nodes.map((p) => p.session[n.index] as number);
      n.session.fill(0);
      clock.setTimer(sc.detectionDelay, () => {
        for (const p of nodes)
          if (p.session[n.index] !== 0 && p.session[n.index] === snap[p.index]) disconnect(p, n);
      });
    });
    if (c.restartAt !== undefined)
      at(c.restartAt, () => {
        if (n.alive) return;
        // The peers see the new incarnation: the old session resets first.
        for (const p of nodes) if (p.session[n.index] !== 0) disconnect(p, n);
        startAndConnect(n, true);
      });
  }

  for (const f of sc.flaps) {
    const a = nodes[f.a] as SimNode;
    const b = nodes[f.b] as SimNode;
    at(f.at, () => {
      if (!a.alive || !b.alive || a.session[b.index] === 0) return;
      disconnect(a, b);
      disconnect(b, a);
      clock.setTimer(f.upAfter, () => {
        if (a.alive && b.alive && a.session[b.index] === 0 && b.session[a.index] === 0) connect(a, b);
      });
    });
  }

  for (const e of sc.script) {
    at(e.at, () => {
      const n = nodes[e.node] as SimNode;
      if (!n.alive || !n.d) return;
      if (e.op === "publish") {
        const b = newBinding(n, e.type, e.lower, e.upper ?? e.lower);
        const t0 = clock.now();
        const tx = publishOwn(n, b);
        col.update(t0, n.index, b, "bound", tx, upCount(n), lastDeparture - t0);
      } else {
        const i = n.own.findIndex((b) => b.type === e.type && b.lower === e.lower);
        if (i < 0) return;
        const b = n.own[i] as Binding;
        n.own.splice(i, 1);
        const tx = route(n, n.d.withdraw(b));
        col.update(clock.now(), n.index, b, "unbound", tx, upCount(n), lastDeparture - clock.now());
      }
    });
  }

  const upCount = (n: SimNode) => {
    let c = 0;
    for (let j = 0; j < total; j++) if (n.session[j] !== 0 && (nodes[j] as SimNode).alive) c++;
    return c;
  };

  // ---- steady updates
  const rate = sc.updates.rate;
  if (rate > 0) {
    const period = 1000 / rate;
    const pubs = Math.min(sc.updates.publishers ?? total, total);
    const tick = () => {
      const n = nodes[Math.floor(rnd() * pubs)] as SimNode;
      if (n.alive && n.d) {
        const publish = n.own.length === 0 || rnd() < sc.updates.publishRatio;
        if (publish) {
          const b = newBinding(n);
          const tx = publishOwn(n, b);
          col.update(clock.now(), n.index, b, "bound", tx, upCount(n), lastDeparture - clock.now());
        } else {
          const i = Math.floor(rnd() * n.own.length);
          const b = n.own[i] as Binding;
          n.own[i] = n.own[n.own.length - 1] as Binding;
          n.own.pop();
          const tx = route(n, n.d.withdraw(b));
          col.update(clock.now(), n.index, b, "unbound", tx, upCount(n), lastDeparture - clock.now());
        }
      }
      if (clock.now() + period <= sc.duration) clock.setTimer(period, tick);
    };
    if (formationEnd + sc.warmup <= sc.duration) clock.setTimer(formationEnd + sc.warmup, tick);
  }

  // ---- checks
  const check = (final: boolean) => {
    const diffs = checkTables(nodes, total, registry, (n) => n.store);
    col.check(clock.now(), final, diffs);
    if (sc.shadows) {
      col.shadow(
        "legacy",
        checkTables(nodes, total, registry, (n) => n.shadowLegacy?.store),
      );
      col.shadow(
        "linux",
        checkTables(nodes, total, registry, (n) => n.shadowLinux?.store),
      );
    }
  };

  // ---- progress: formation (N^2 bulk exchanges) and updates, weighted by their work
  const updStart = formationEnd + sc.warmup;
  const formationWork = sc.nodes * sc.nodes * (sc.bindingsPerNode + 2);
  const updateWork = Math.max(0, ((sc.duration - updStart) / 1000) * sc.updates.rate * total);
  const progress = () => {
    let started = 0;
    for (let i = 0; i < sc.nodes; i++) if ((nodes[i] as SimNode).d) started++;
    const f = started / (sc.nodes || 1);
    const upd =
      sc.duration > updStart
        ? Math.max(0, Math.min(1, (clock.now() - updStart) / (sc.duration - updStart)))
        : 1;
    return Math.min(1, (formationWork * f * f + updateWork * upd) / (formationWork + updateWork || 1));
  };

  // ---- run
  let steps = 0;
  let lastCheck = 0;
  let checks = 0;
  const progressEvery = 8192;
  for (;;) {
    const next = clock.nextTime();
    if (next === undefined) break;
    clock.step();
    steps++;
    if (
      inFlight === 0 &&
      backlogged === 0 &&
      checks < sc.checks.max &&
      clock.now() - lastCheck >= sc.checks.interval &&
      clock.now() < sc.duration
    ) {
      checks++;
      lastCheck = clock.now();
      check(false);
    }
    if (opts.onProgress && steps % progressEvery === 0) opts.onProgress(progress());
  }
  check(true);
  opts.onProgress?.(1);
  // Measured while every node's state is still held.
  const measured = meter?.done(steps, total, [nodes, registry, lastOnChannel, bcBacklog, col]);

  let heldPeak = 0;
  let released = 0;
  for (const n of nodes) {
    heldPeak = Math.max(heldPeak, n.heldPeakBefore);
    released += n.releasedBefore;
    if (n.alive && n.d) {
      const s = n.d.stats();
      heldPeak = Math.max(heldPeak, s.heldPeak);
      released += s.received.releasedFromHold;
    }
  }
  return col.finish({
    events: steps,
    endTime: clock.now(),
    methodSwitches: col.switchCount,
    heldPeak,
    releasedFromHold: released,
    interned: registry.size,
    measured,
  });
}

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
  nodes: readonly {
    index: number;
    addr: number;
    alive: boolean;
    session: Int32Array;
    store: CompactStore | undefined;
  }[],
  total: number,
  _registry: BindingRegistry,
  storeOf: (n: SimNode) => CompactStore | undefined,
): { count: number; pairs: number; first: Difference[] } {
  const first: Difference[] = [];
  let count = 0;
  let pairs = 0;
  for (const o of nodes) {
    const st = storeOf(o as SimNode);
    if (!o.alive || !st) continue;
    for (let j = 0; j < total; j++) {
      if (j === o.index) continue;
      const p = nodes[j] as (typeof nodes)[number];
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
                binding: fmt(bindingAt(st, ownStore, p.addr, w)),
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
                binding: fmt(bindingAt(st, st, p.addr, h)),
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

function bindingAt(_a: CompactStore, s: CompactStore, node: number, bit: number): Binding {
  return s.bindingAtNumber(node, bit);
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
