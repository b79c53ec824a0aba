/**
 * Protocol fidelity: the real `@tipcjs/distributor` on every node (cluster.ts) over reliable,
 * ordered per-pair channels (channels.ts), driven by the scenario's actions (driver.ts) and
 * steady updates on the seeded virtual clock, with table checks at quiescent points.
 */
import { createVirtualClock, type VirtualClock } from "@tipcjs/transport-memory";
import { ProtocolCluster, type SimNode } from "./cluster.js";
import { perform, scenarioActions } from "./driver.js";
import { startMeasure } from "./measure.js";
import { Collector, type ModeResult } from "./results.js";
import type { Mode, Scenario } from "./scenario.js";

export { addrOf, type Difference, indexOf } from "./cluster.js";

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
  const col = new Collector(sc, mode, total);
  const cluster = new ProtocolCluster(sc, mode, clock, col);
  const { nodes, network } = cluster;

  // ---- formation: the initial nodes start one after another; each comes up with every live node.
  const formationEnd = (sc.nodes - 1) * sc.startInterval;
  {
    const mark = col.bulkMark();
    for (let i = 0; i < sc.nodes; i++) {
      if (i === 0) cluster.join(i, false);
      else clock.setTimer(i * sc.startInterval, () => cluster.join(i, false));
    }
    clock.setTimer(formationEnd, () => col.initialBulk(mark));
  }

  // ---- the scenario's actions
  for (const a of scenarioActions(sc))
    if (a.at <= sc.duration) clock.setTimer(a.at, () => perform(cluster, a));

  // ---- steady updates
  const rate = sc.updates.rate;
  if (rate > 0) {
    const period = 1000 / rate;
    const pubs = Math.min(sc.updates.publishers ?? total, total);
    const tick = () => {
      const n = nodes[Math.floor(rnd() * pubs)] as SimNode;
      if (n.alive && n.d) cluster.steadyUpdate(n, n.own.length === 0 || rnd() < sc.updates.publishRatio, rnd);
      if (clock.now() + period <= sc.duration) clock.setTimer(period, tick);
    };
    if (formationEnd + sc.warmup <= sc.duration) clock.setTimer(formationEnd + sc.warmup, tick);
  }

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

  // ---- run, checking the tables at quiescent points (nothing in flight or waiting)
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
      network.inFlight === 0 &&
      network.backlogged === 0 &&
      checks < sc.checks.max &&
      clock.now() - lastCheck >= sc.checks.interval &&
      clock.now() < sc.duration
    ) {
      checks++;
      lastCheck = clock.now();
      cluster.check(false);
    }
    if (opts.onProgress && steps % progressEvery === 0) opts.onProgress(progress());
  }
  cluster.check(true);
  opts.onProgress?.(1);
  // Measured while every node's state is still held.
  const measured = meter?.done(steps, total, [nodes, cluster.registry, network, col]);

  const { heldPeak, released } = cluster.held();
  return col.finish({
    events: steps,
    endTime: clock.now(),
    methodSwitches: col.switchCount,
    heldPeak,
    releasedFromHold: released,
    interned: cluster.registry.size,
    measured,
  });
}
