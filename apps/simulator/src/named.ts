/**
 * Named scenarios: the default (the project's main job), the scale benchmark, one replay of
 * each of the four problems of the 2020 design (shared/docs/tipc-protocol.md §2.3), and the
 * stale receive gate a restarted sender meets at a Linux peer (issue 14 A). The race
 * replays run with `shadows`: every arrival is also fed to a pre-2020 receiver and to Linux's
 * own receive path, whose tables are checked against the truth too.
 */
import { parseScenario, type Scenario, type ScenarioInput } from "./scenario.js";

// Initial bindings: key k is {1000 + k % 64, k, k} (see protocol.ts), so key 1 is {1001, 1, 1}.
const X = { type: 1001, lower: 1 };

export const NAMED: Record<string, ScenarioInput> = {
  default: {
    name: "default",
    description:
      "A mixed cluster of 300 nodes on a 100 Mbit/s network: one pre-2020 node joins at 4 s and leaves at 8 s, compared against all-broadcast (every node 2020+) and all-legacy (every node pre-2020).",
    nodes: 300,
    bindingsPerNode: 20,
    duration: 12_000,
    warmup: 500,
    updates: { rate: 50, publishRatio: 0.5 },
    // 100 Mbit/s: 299 replicast copies leave over ~1.4 ms, one broadcast at once.
    link: { latency: 1, jitter: 0.5, bandwidth: 100 },
    joiners: [{ joinAt: 4000, leaveAt: 8000 }],
    crashes: [{ node: 7, at: 9000, restartAt: 10_500 }],
    sweep: { sizes: [25, 50, 100, 200, 300], duration: 1500, bindingsPerNode: 2 },
  },
  scale: {
    name: "scale",
    description: "1,000 nodes with 100 bindings each, 60 s of steady updates, every node broadcast-capable.",
    nodes: 1000,
    bindingsPerNode: 100,
    duration: 60_000,
    updates: { rate: 100 },
    modes: ["all-broadcast"],
    checks: { interval: 10_000, max: 5 },
  },
  "bearer-failover": {
    name: "bearer-failover",
    description:
      "60 complete nodes on two LANs (full fidelity): LAN 0, which every node's traffic and the broadcast link use, goes dark at 2 s and comes back at 5 s, while updates continue; links fail over to LAN 1 and back to standby, no node goes down, every table stays whole.",
    fidelity: "full",
    nodes: 60,
    bindingsPerNode: 10,
    duration: 8000,
    updates: { rate: 40 },
    link: { latency: 1, jitter: 0.5, loss: 0.01, bearers: 2 },
    bearerOutages: [{ bearer: 0, at: 2000, restoreAt: 5000 }],
    modes: ["all-broadcast", "mixed"],
    joiners: [{ joinAt: 1000 }],
    checks: { interval: 2000, max: 4 },
  },
  "race1-bulk-overtaken": {
    name: "race1-bulk-overtaken",
    description:
      "A broadcast withdrawal and publication overtake the bulk sent at link-up (sequence numbers from 40000, past the kernel's signed test). tipcjs holds them until lastBulk; a pre-2020 receiver keeps the withdrawn binding, Linux drops the early updates.",
    nodes: 1,
    bindingsPerNode: 2,
    duration: 400,
    startInterval: 0,
    warmup: 0,
    updates: { rate: 0 },
    modes: ["all-broadcast"],
    initialSndNxt: 40000,
    joiners: [{ joinAt: 100 }],
    awaitBulkAck: false, // a sender timed as the kernel's: broadcast at once after link-up
    delays: [{ from: 0, to: 1, kind: "unicast", extra: 20, start: 100, end: 101 }],
    script: [
      { at: 100.5, op: "withdraw", node: 0, ...X },
      { at: 100.6, op: "publish", node: 0, type: 1000, lower: 3 },
    ],
    shadows: true,
  },
  "race2-method-switch": {
    name: "race2-method-switch",
    description:
      "The first pre-2020 node joins while a broadcast publication is in flight: its withdrawal goes by replicast and arrives first. The node leaves while a replicast publication is in flight: its withdrawal goes by broadcast and arrives first.",
    nodes: 2,
    bindingsPerNode: 1,
    duration: 400,
    startInterval: 0,
    warmup: 0,
    updates: { rate: 0 },
    modes: ["mixed"],
    joiners: [{ joinAt: 100, leaveAt: 200 }],
    delays: [
      { from: 0, kind: "broadcast", extra: 30, start: 90, end: 100 },
      { from: 0, kind: "unicast", extra: 30, start: 195, end: 200 },
    ],
    script: [
      { at: 95, op: "publish", node: 0, type: 2000, lower: 1 },
      { at: 101, op: "withdraw", node: 0, type: 2000, lower: 1 },
      { at: 196, op: "publish", node: 0, type: 2000, lower: 2 },
      { at: 202, op: "withdraw", node: 0, type: 2000, lower: 2 },
    ],
    shadows: true,
  },
  "race3-bulk-unsequenced": {
    name: "race3-bulk-unsequenced",
    description:
      "The link flaps; the new session's bulk (several messages, none sequenced) is overtaken by a broadcast withdrawal of a binding it carries. tipcjs reset the gate at node down and holds the withdrawal; Linux kept the gate open with a stale rcvNxt and applies it first; a pre-2020 receiver too: both resurrect the binding.",
    nodes: 2,
    bindingsPerNode: 4,
    duration: 400,
    startInterval: 0,
    warmup: 0,
    updates: { rate: 0 },
    modes: ["all-broadcast"],
    link: { latency: 1, jitter: 0.5, mtu: 120 },
    flaps: [{ a: 0, b: 1, at: 100, upAfter: 1 }],
    awaitBulkAck: false, // a sender timed as the kernel's: broadcast at once after link-up
    delays: [{ from: 0, to: 1, kind: "unicast", extra: 20, start: 101, end: 102 }],
    script: [{ at: 101.5, op: "withdraw", node: 0, ...X }],
    shadows: true,
  },
  "race4-legacy-messages": {
    name: "race4-legacy-messages",
    description:
      "A pre-2020 node's messages (no bits, no sequence numbers, no lastBulk) apply at once at a tipcjs node, whose gate for it never opens; meanwhile the modern node's reordered updates are held. A pre-2020 receiver loses the overtaken withdrawal.",
    nodes: 2,
    bindingsPerNode: 1,
    duration: 400,
    startInterval: 0,
    warmup: 0,
    updates: { rate: 0 },
    modes: ["mixed"],
    joiners: [{ joinAt: 100 }],
    delays: [{ from: 0, kind: "broadcast", extra: 30, start: 90, end: 100 }],
    script: [
      { at: 95, op: "publish", node: 0, type: 4100, lower: 1 },
      { at: 101, op: "withdraw", node: 0, type: 4100, lower: 1 },
      { at: 110, op: "publish", node: 2, type: 4000, lower: 2 },
      { at: 120, op: "withdraw", node: 2, ...X },
    ],
    shadows: true,
  },
  "stale-gate-restart": {
    name: "stale-gate-restart",
    description:
      "Node 0 crashes and restarts, counting its sequence numbers from 0 again, up to the stale rcvNxt Linux kept across node down; its new bulk is slow. Updates it sends right after the link comes up go behind the bulk until node 1 acks it, so Linux's receive path ends equal to the truth too; with awaitBulkAck: false (the kernel's sender) they overtake the bulk and Linux freezes every later update.",
    nodes: 2,
    bindingsPerNode: 2,
    duration: 400,
    startInterval: 0,
    warmup: 0,
    updates: { rate: 0 },
    modes: ["all-broadcast"],
    crashes: [{ node: 0, at: 100, restartAt: 200 }],
    detectionDelay: 50,
    delays: [{ from: 0, to: 1, kind: "unicast", extra: 20, start: 200, end: 201 }],
    script: [
      { at: 200.5, op: "publish", node: 0, type: 2000, lower: 1 },
      { at: 200.6, op: "withdraw", node: 0, ...X },
      { at: 300, op: "publish", node: 0, type: 2000, lower: 2 },
    ],
    shadows: true,
  },
};

// Issue 14 A at cluster scale: nodes 30..39 run Linux's own distributor, whose gate for a peer
// survives node down. Nodes 1..5 crash and come back (sequence numbers from the start again,
// at or below the stale rcvNxt); their bulks to the kernel nodes cross a lossy path.
const restarts = [1, 2, 3, 4, 5].map((node, k) => ({ node, at: 1000 + 100 * k, restartAt: 1500 + 100 * k }));
const staleGateLoss: ScenarioInput = {
  name: "stale-gate-loss",
  description:
    "40 nodes, 10 of them (30..39) running Linux's distributor, which keeps its receive gate across node down. Nodes 1..5 crash and restart; their bulks to the kernel nodes cross a path that loses half the transmissions (retransmitted after 20 ms) and they publish at once. The sender waits for each bulk's ack before it broadcasts: every table ends equal to the truth.",
  nodes: 40,
  bindingsPerNode: 10,
  duration: 4000,
  warmup: 200,
  updates: { rate: 200, publishRatio: 0.5 },
  kernelNodes: [30, 31, 32, 33, 34, 35, 36, 37, 38, 39],
  crashes: restarts,
  detectionDelay: 300,
  delays: restarts.map((c) => ({
    from: c.node,
    kind: "unicast" as const,
    extra: 2,
    loss: 0.5,
    retransmitAfter: 20,
    start: c.restartAt,
    end: c.restartAt + 2,
  })),
  script: restarts.flatMap((c) => [
    { at: c.restartAt + 0.5, op: "publish" as const, node: c.node, type: 3000, lower: c.node },
    { at: c.restartAt + 1, op: "withdraw" as const, node: c.node, ...X },
    { at: c.restartAt + 300, op: "publish" as const, node: c.node, type: 3001, lower: c.node },
  ]),
  modes: ["all-broadcast"],
  checks: { interval: 500, max: 8 },
};

// Issue 14 B: node 0 publishes fast; its broadcast link to node 19 is slow and lossy, so its
// window (8 messages) is full and a backlog builds. A pre-2020 node joins in the middle.
const backlogLegacyJoin: ScenarioInput = {
  name: "backlog-legacy-join",
  description:
    "20 nodes; node 0 publishes and withdraws 200 times a second, but its broadcast link waits for node 19 (100 ms, a third of the transmissions lost), so its window of 8 is full and a backlog builds. A pre-2020 node joins at 1.5 s over a lossy path: its synch point on the broadcast link lies past the backlog (the link-layer fix), so nothing queued before its node up reaches it after its bulk, and every table ends equal to the truth.",
  nodes: 20,
  bindingsPerNode: 5,
  duration: 3000,
  warmup: 200,
  updates: { rate: 200, publishRatio: 0.5, publishers: 1 },
  link: { latency: 1, jitter: 0.5, broadcastWindow: 8 },
  joiners: [{ joinAt: 1500 }],
  delays: [
    { from: 0, to: 19, kind: "broadcast", extra: 100, loss: 0.3, retransmitAfter: 30 },
    { from: 0, to: 20, kind: "unicast", extra: 1, loss: 0.3, retransmitAfter: 20, start: 1500 },
  ],
  modes: ["mixed"],
  checks: { interval: 500, max: 8 },
};

/** A divergence scenario with its fix, and `<name>-unfixed` without it. */
function withAndWithoutFix(fixed: ScenarioInput, unfixed: Partial<ScenarioInput>): void {
  const name = fixed.name as string;
  NAMED[name] = fixed;
  NAMED[`${name}-unfixed`] = { ...fixed, name: `${name}-unfixed`, ...unfixed };
}
withAndWithoutFix(NAMED["stale-gate-restart"] as ScenarioInput, {
  description:
    "stale-gate-restart with the kernel's sender timing (awaitBulkAck: false): node 0's updates overtake its slow bulk, Linux's receive path (the shadow) applies the first early, the lastBulk moves its rcvNxt back, and it freezes every later update of node 0.",
  awaitBulkAck: false,
});
withAndWithoutFix(staleGateLoss, {
  description:
    "stale-gate-loss with the kernel's sender timing (awaitBulkAck: false): updates broadcast at once overtake the lossy bulk; the kernel nodes apply or drop them early, the lastBulk moves their rcvNxt back, and they freeze every later update of the restarted nodes. The report lists the (kernel node, restarted peer) pairs and the bindings.",
  awaitBulkAck: false,
});
withAndWithoutFix(backlogLegacyJoin, {
  description:
    "backlog-legacy-join with the kernel's broadcast link (synchPastBacklog: false): the pre-2020 node's synch point is the next seqno, so publications that waited in the backlog reach it after its bulk and after their replicast withdrawal, and it keeps them. The report lists the bindings the new node holds wrongly.",
  synchPastBacklog: false,
});

/** The two divergences of issue 14, each with and without its fix. */
export const DIVERGENCES = [
  "stale-gate-restart",
  "stale-gate-restart-unfixed",
  "stale-gate-loss",
  "stale-gate-loss-unfixed",
  "backlog-legacy-join",
  "backlog-legacy-join-unfixed",
];

export const RACES = [
  "race1-bulk-overtaken",
  "race2-method-switch",
  "race3-bulk-unsequenced",
  "race4-legacy-messages",
];

export function namedScenario(name: string, overrides: Record<string, unknown> = {}): Scenario {
  const s = NAMED[name];
  if (!s) throw new Error(`no scenario named "${name}" (known: ${Object.keys(NAMED).join(", ")})`);
  return parseScenario({ ...s, ...overrides }, `scenario ${name}`);
}
