/**
 * Full fidelity: complete `@tipcjs/node`s (name table, distributor, link engine with discovery,
 * acknowledgements, retransmission and supervision) over the lossy `@tipcjs/transport-memory`
 * fabric, on the seeded virtual clock. Every datagram counts: transmissions per update include
 * acks, retransmissions and link supervision during the update phase. Tables are the real
 * `NameTable` of each node. For up to a few hundred nodes.
 */
import type { Binding, TipcNode } from "@tipcjs/node";
import { createNode } from "@tipcjs/node";
import {
  createVirtualClock,
  type MemoryTransport,
  memoryFabric,
  type Partition,
  seededRandom,
} from "@tipcjs/transport-memory";
import { perform, type ScenarioTarget, scenarioActions } from "./driver.js";
import { startMeasure } from "./measure.js";
import type { Difference, RunOptions } from "./protocol.js";
import { Collector, type ModeResult } from "./results.js";
import type { Mode, Scenario } from "./scenario.js";

interface Member {
  index: number;
  node: TipcNode | undefined;
  transports: MemoryTransport[];
  legacy: boolean;
  alive: boolean;
  own: Binding[];
  starts: number;
  switchesBefore: number;
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const fmt = (b: Binding) => `{${b.type},${b.lower},${b.upper}} key ${b.key} port ${b.port}`;

export async function runFull(sc: Scenario, mode: Mode, opts: RunOptions = {}): Promise<ModeResult> {
  const meter = opts.measure ? startMeasure() : undefined;
  const clock = createVirtualClock(sc.seed);
  const rnd = seededRandom(sc.seed ^ 0x5eed);
  const faults = { loss: sc.link.loss, delay: sc.link.latency, jitter: sc.link.jitter };
  // one network per bearer: nodes link on each and fail over between them
  const fabrics = Array.from({ length: sc.link.bearers }, () =>
    memoryFabric({ clock, mtu: Math.max(sc.link.mtu, 1500), faults }),
  );
  const fabricSum = (f: (x: (typeof fabrics)[number]) => number) => fabrics.reduce((s, x) => s + f(x), 0);
  let nodeDowns = 0;
  const total = sc.nodes + sc.joiners.length;
  const col = new Collector(sc, mode, total);
  const members: Member[] = Array.from({ length: total }, (_, i) => ({
    index: i,
    node: undefined,
    transports: [],
    legacy: mode === "all-legacy" || (mode === "mixed" && i >= sc.nodes),
    alive: false,
    own: [],
    starts: 0,
    switchesBefore: 0,
  }));
  let keyNext = 1;

  // Time series of fabric transmissions: to the broadcast address vs to one peer.
  for (const f of fabrics)
    f.observe((ev) => {
      if (ev.kind !== "transmit") return;
      col.sent(ev.time, ev.to === "broadcast" ? "broadcast" : "replicast", ev.datagram.length, 0);
    });

  const liveMembers = () => members.filter((m) => m.alive && m.node);

  async function start(m: Member): Promise<void> {
    const transports = fabrics.map((f) => f.join());
    const node = await createNode({
      nodeId: `sim-node-${m.index}`,
      ...(transports.length === 1
        ? { transport: transports[0] as MemoryTransport }
        : { bearers: transports.map((transport, b) => ({ transport, name: `lan${b}` })) }),
      clock,
      random: seededRandom(sc.seed * 1000 + m.index * 17 + m.starts++),
      skipTrial: true,
      legacy: m.legacy,
    });
    m.node = node;
    m.transports = transports;
    node.on("nodeDown", () => {
      if (m.alive) nodeDowns++;
    });
    m.alive = true;
    m.own = [];
    node.on("bindingChange", (ev) => {
      if (ev.origin.source === "peer" && ev.origin.via !== "bulk") {
        col.delivered(clock.now(), ev);
        col.applied(clock.now(), ev.kind, ev.binding);
      }
    });
    for (let k = 0; k < sc.bindingsPerNode; k++) m.own.push(publish(m, 1000 + (k % 64), keyNext++));
  }

  function publish(m: Member, type: number, lower: number, upper = lower): Binding {
    return (m.node as TipcNode).publish({ type, lower, upper });
  }

  const allUp = () => {
    const live = liveMembers();
    return live.every((m) => (m.node as TipcNode).stats().nodes.up >= live.length - 1);
  };

  async function runFor(ms: number, cond?: () => boolean): Promise<void> {
    const end = clock.now() + ms;
    while (clock.now() < end) {
      clock.advance(Math.min(5, end - clock.now()));
      await tick();
      if (cond?.()) return;
    }
  }

  // ---- formation
  for (let i = 0; i < sc.nodes; i++) await start(members[i] as Member);
  await runFor(30_000, allUp);
  const formed = clock.now();
  col.timelineFrom(formed);

  // ---- the scenario's actions (driver.ts), in time order
  // A flap cuts every path between the two nodes (on every bearer) until both have seen the
  // other go down (link supervision: the link tolerance, not an instant reset as in protocol
  // fidelity), then heals the cut `upAfter` ms later; the link comes back through discovery.
  interface Flap {
    a: Member;
    b: Member;
    cuts: Partition[];
    upAfter: number;
    healAt: number | undefined;
  }
  const flaps: Flap[] = [];
  const sees = (x: Member, y: Member) =>
    x.alive &&
    y.node !== undefined &&
    (x.node as TipcNode).nodes().some((p) => p.up && p.address === y.node?.address);
  function serviceFlaps(): void {
    for (let i = flaps.length - 1; i >= 0; i--) {
      const f = flaps[i] as Flap;
      if (f.healAt === undefined) {
        if (!sees(f.a, f.b) && !sees(f.b, f.a)) f.healAt = clock.now() + f.upAfter;
      } else if (clock.now() >= f.healAt) {
        for (const c of f.cuts) c.heal();
        flaps.splice(i, 1);
      }
    }
  }
  const target: ScenarioTarget = {
    join: (i) => start(members[i] as Member),
    leave: async (i) => {
      const m = members[i] as Member;
      if (!m.node) return;
      m.alive = false;
      const p = m.node.close();
      await settle(p);
    },
    crash: (i) => {
      const m = members[i] as Member;
      if (!m.alive) return;
      m.alive = false;
      // A crash: the node's datagrams stop (its transport closes); peers notice through supervision.
      for (const t of m.transports) t.close();
    },
    restart: (i) => start(members[i] as Member),
    flap: (ai, bi, upAfter) => {
      const a = members[ai] as Member;
      const b = members[bi] as Member;
      if (!sees(a, b) || !sees(b, a)) return; // only a link that is up can flap
      const cuts = fabrics.map((f, k) =>
        f.partition(
          [(a.transports[k] as MemoryTransport).localAddress],
          [(b.transports[k] as MemoryTransport).localAddress],
        ),
      );
      flaps.push({ a, b, cuts, upAfter, healAt: undefined });
    },
    bearerDown: (bearer) => (fabrics[bearer] as (typeof fabrics)[number]).setFaults({ ...faults, loss: 1 }),
    bearerUp: (bearer) => (fabrics[bearer] as (typeof fabrics)[number]).setFaults(faults),
    script: (e) => {
      const m = members[e.node] as Member;
      if (!m.alive || !m.node) return;
      if (e.op === "publish") update(m, true, e.type, e.lower, e.upper);
      else {
        const b = m.own.find((x) => x.type === e.type && x.lower === e.lower);
        if (b) update(m, false, 0, 0, undefined, b);
      }
    },
  };
  type Action = { at: number; run: () => Promise<void> | void };
  const actions: Action[] = scenarioActions(sc).map((a) => ({
    at: formed + a.at,
    run: () => perform(target, a),
  }));
  async function settle(p: Promise<unknown>): Promise<void> {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < 10_000 && !done; i++) {
      clock.advance(1);
      await tick();
    }
  }

  function update(
    m: Member,
    pub: boolean,
    type: number,
    lower: number,
    upper?: number,
    which?: Binding,
  ): void {
    const node = m.node as TipcNode;
    const before = node.stats().updates;
    const expected = liveMembers().length - 1;
    let b: Binding;
    if (pub) {
      b = publish(m, type, lower, upper ?? lower);
      m.own.push(b);
    } else {
      b = which as Binding;
      m.own.splice(m.own.indexOf(b), 1);
      node.withdraw(b);
    }
    const after = node.stats().updates;
    const tx = after.broadcast - before.broadcast + (after.replicast - before.replicast);
    col.update(clock.now(), m.index, b, pub ? "bound" : "unbound", tx, expected);
  }

  const txAtUpdates = fabricSum((f) => f.counters.transmissions);
  const downsAtUpdates = nodeDowns;
  const endAt = formed + sc.duration;
  const rate = sc.updates.rate;
  let nextUpdate = formed + sc.warmup;
  const pubs = Math.min(sc.updates.publishers ?? total, total);
  actions.sort((a, b) => a.at - b.at);
  let ai = 0;
  let lastProgress = 0;
  while (clock.now() < endAt) {
    while (ai < actions.length && (actions[ai] as Action).at <= clock.now())
      await (actions[ai++] as Action).run();
    while (rate > 0 && nextUpdate <= clock.now()) {
      const m = members[Math.floor(rnd() * pubs)] as Member;
      if (m.alive && m.node) {
        if (m.own.length === 0 || rnd() < sc.updates.publishRatio)
          update(m, true, 1000 + (keyNext % 64), keyNext++);
        else update(m, false, 0, 0, undefined, m.own[Math.floor(rnd() * m.own.length)]);
      }
      nextUpdate += 1000 / rate;
    }
    if (flaps.length > 0) serviceFlaps();
    clock.advance(1);
    await tick();
    const f = (clock.now() - formed) / (sc.duration || 1);
    if (opts.onProgress && f - lastProgress > 0.01) {
      lastProgress = f;
      opts.onProgress(Math.min(1, f));
    }
  }
  // A flap still cut at the end heals now, and its link comes back before the final check.
  if (flaps.length > 0) {
    for (const f of flaps) for (const c of f.cuts) c.heal();
    flaps.length = 0;
    await runFor(30_000, allUp);
  }
  // Let the last updates, acks and purges settle.
  await runFor(sc.detectionDelay + 3000);
  const txTotal = fabricSum((f) => f.counters.transmissions) - txAtUpdates;

  // ---- final check: every live table equals the truth (the live nodes' cluster bindings)
  const live = liveMembers();
  const first: Difference[] = [];
  let count = 0;
  const diverged = new Set<string>();
  const key = (b: Binding) => `${b.type}:${b.lower}:${b.upper}@${b.node}#${b.key}`;
  for (const o of live) {
    const node = o.node as TipcNode;
    const have = new Map(
      node
        .bindings()
        .filter((b) => b.node !== node.address)
        .map((b) => [key(b), b]),
    );
    for (const p of live) {
      if (p === o) continue;
      for (const b of (p.node as TipcNode).ownBindings()) {
        if (b.scope !== "cluster") continue;
        if (!have.delete(key(b))) {
          count++;
          diverged.add(`${node.address}:${b.node}`);
          if (first.length < 50)
            first.push({ node: node.address, peer: b.node, binding: fmt(b), problem: "missing" });
        }
      }
    }
    for (const b of have.values()) {
      count++;
      diverged.add(`${node.address}:${b.node}`);
      if (first.length < 50)
        first.push({ node: node.address, peer: b.node, binding: fmt(b), problem: "extra" });
    }
  }
  col.check(clock.now(), true, { count, pairs: diverged.size, first });

  let switches = 0;
  let heldPeak = 0;
  const released = 0;
  const sent = { broadcast: 0, replicast: 0, bulk: 0 };
  let failovers = 0;
  for (const m of members) {
    if (!m.node) continue;
    const s = m.node.stats();
    failovers += s.link.failovers;
    switches += s.updates.methodSwitches;
    heldPeak = Math.max(heldPeak, s.held.peak);
    sent.broadcast += s.updates.broadcast;
    sent.replicast += s.updates.replicast;
    sent.bulk += s.updates.bulk;
  }
  const downsDuringRun = nodeDowns - downsAtUpdates; // before the closes below take every node down
  const events = fabricSum((f) => f.counters.deliveries);
  const measured = meter?.done(events, total, [members, fabrics, col]);
  for (const m of live) await settle((m.node as TipcNode).close());
  return col.finish({
    events,
    endTime: clock.now(),
    measured,
    methodSwitches: switches,
    heldPeak,
    releasedFromHold: released,
    interned: 0,
    totalTransmissions: txTotal,
    extra: {
      fabricTransmissions: fabricSum((f) => f.counters.transmissions),
      fabricDeliveries: fabricSum((f) => f.counters.deliveries),
      fabricLoss: fabricSum((f) => f.counters.drops.loss),
      // node-down events seen by live nodes after formation, and link failovers to another bearer
      nodeDowns: downsDuringRun,
      linkFailovers: failovers,
      distributorBroadcast: sent.broadcast,
      distributorReplicast: sent.replicast,
      distributorBulk: sent.bulk,
      formationMs: Math.round(formed),
    },
  });
}
