/**
 * The scenario driver: what a scenario says happens to the cluster, and when. Both fidelities
 * take the same list of timed actions and perform them on their own cluster (protocol: the
 * distributors over the channel network, cluster.ts; full: complete nodes over the memory
 * fabric, full.ts), so a scenario means the same in both.
 */
import type { Scenario, ScriptEvent } from "./scenario.js";

/** One thing that happens at `at` ms (after formation in full fidelity). */
export type ScenarioAction = { at: number } & (
  | { kind: "join"; node: number }
  | { kind: "leave"; node: number }
  | { kind: "crash"; node: number }
  | { kind: "restart"; node: number }
  | { kind: "flap"; a: number; b: number; upAfter: number }
  | { kind: "bearerDown"; bearer: number }
  | { kind: "bearerUp"; bearer: number }
  | { kind: "script"; event: ScriptEvent }
);

/** What a cluster must do for the scenario's actions (each a no-op when it does not apply, e.g. a crash of a node that is down). */
export interface ScenarioTarget {
  join(node: number): void | Promise<void>;
  leave(node: number): void | Promise<void>;
  crash(node: number): void | Promise<void>;
  restart(node: number): void | Promise<void>;
  /** the link between a and b goes down and comes back `upAfter` ms later */
  flap(a: number, b: number, upAfter: number): void | Promise<void>;
  bearerDown(bearer: number): void | Promise<void>;
  bearerUp(bearer: number): void | Promise<void>;
  script(event: ScriptEvent): void | Promise<void>;
}

/**
 * The scenario's actions, in a fixed order (joiners, crashes, flaps, bearer outages, script;
 * each joiner's join before its leave, each crash before its restart). Actions at the same time
 * happen in this order.
 */
export function scenarioActions(sc: Scenario): ScenarioAction[] {
  const out: ScenarioAction[] = [];
  sc.joiners.forEach((j, k) => {
    const node = sc.nodes + k;
    out.push({ at: j.joinAt, kind: "join", node });
    if (j.leaveAt !== undefined) out.push({ at: j.leaveAt, kind: "leave", node });
  });
  for (const c of sc.crashes) {
    out.push({ at: c.at, kind: "crash", node: c.node });
    if (c.restartAt !== undefined) out.push({ at: c.restartAt, kind: "restart", node: c.node });
  }
  for (const f of sc.flaps) out.push({ at: f.at, kind: "flap", a: f.a, b: f.b, upAfter: f.upAfter });
  for (const o of sc.bearerOutages) {
    out.push({ at: o.at, kind: "bearerDown", bearer: o.bearer });
    if (o.restoreAt !== undefined) out.push({ at: o.restoreAt, kind: "bearerUp", bearer: o.bearer });
  }
  for (const event of sc.script) out.push({ at: event.at, kind: "script", event });
  return out;
}

/** Performs one action on a cluster. */
export function perform(target: ScenarioTarget, a: ScenarioAction): void | Promise<void> {
  switch (a.kind) {
    case "join":
      return target.join(a.node);
    case "leave":
      return target.leave(a.node);
    case "crash":
      return target.crash(a.node);
    case "restart":
      return target.restart(a.node);
    case "flap":
      return target.flap(a.a, a.b, a.upAfter);
    case "bearerDown":
      return target.bearerDown(a.bearer);
    case "bearerUp":
      return target.bearerUp(a.bearer);
    case "script":
      return target.script(a.event);
  }
}
