/**
 * Scenarios: the schema (zod), loading from YAML or JSON with errors that name the bad field,
 * and the defaults.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

export const MODES = ["mixed", "all-broadcast", "all-legacy"] as const;
export type Mode = (typeof MODES)[number];

const ms = z.number().finite().nonnegative();
const nodeIndex = z.number().int().nonnegative();

const delaySchema = z
  .object({
    /** sender's node index; omitted: any */
    from: nodeIndex.optional(),
    /** receiver's node index; omitted: any */
    to: nodeIndex.optional(),
    kind: z.enum(["unicast", "broadcast"]),
    /** extra one-way delay added to messages sent in [start, end) */
    extra: ms.default(0),
    start: ms.default(0),
    end: ms.optional(),
    /**
     * protocol fidelity: each transmission of a message sent in [start, end) is lost with this
     * probability and sent again `retransmitAfter` ms later (the link stays reliable and in
     * order: what follows on the channel waits behind it)
     */
    loss: z.number().min(0).max(0.9).default(0),
    retransmitAfter: ms.default(20),
  })
  .strict();

const scriptSchema = z
  .object({
    at: ms,
    op: z.enum(["publish", "withdraw"]),
    node: nodeIndex,
    type: z.number().int().min(0).max(0xffffffff),
    lower: z.number().int().min(0).max(0xffffffff),
    upper: z.number().int().min(0).max(0xffffffff).optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().min(1).default("custom"),
    description: z.string().default(""),
    seed: z.number().int().nonnegative().default(1),
    fidelity: z.enum(["protocol", "full"]).default("protocol"),
    /** nodes present from the start (broadcast-capable, except in all-legacy mode) */
    nodes: z.number().int().min(1).max(100_000),
    /** cluster bindings each node publishes before its links come up */
    bindingsPerNode: z.number().int().min(0).max(100_000).default(10),
    /** virtual time of the run, ms */
    duration: ms.default(10_000),
    /**
     * The initial nodes start one after another, this far apart (ms), so that each one's bulk
     * exchange is delivered before the next begins (all bulks in flight at once would hold
     * N^2 bulk messages in memory). Formation ends at (nodes - 1) * startInterval.
     */
    startInterval: ms.default(2),
    /** steady updates start this long after formation ends, ms */
    warmup: ms.default(500),
    updates: z
      .object({
        /** binding updates per second, cluster-wide */
        rate: z.number().nonnegative().default(20),
        /** share of updates that publish (the rest withdraw one of the publisher's bindings) */
        publishRatio: z.number().min(0).max(1).default(0.5),
        /** how many nodes (the first ones) publish updates; default all */
        publishers: z.number().int().min(1).optional(),
      })
      .strict()
      .default({ rate: 20, publishRatio: 0.5 }),
    link: z
      .object({
        /** one-way unicast latency, ms */
        latency: ms.default(1),
        /** uniform jitter added to each message, ms [0, jitter) */
        jitter: ms.default(0.5),
        /** one-way latency on the broadcast link (default: latency) */
        broadcastLatency: ms.optional(),
        /** loss probability per datagram (full fidelity only) */
        loss: z.number().min(0).max(0.5).default(0),
        mtu: z.number().int().min(120).max(66_000).default(1500),
        /**
         * Protocol fidelity: each node's interface rate, Mbit/s (0: infinite). A node sends one
         * datagram after another, so N replicast copies leave over N times one copy's time.
         */
        bandwidth: z.number().nonnegative().default(1000),
        /**
         * Full fidelity: bearers per node (1..3), each its own network with the same latency and
         * loss; nodes link on each and fail over between them (see `bearerOutages`).
         */
        bearers: z.number().int().min(1).max(3).default(1),
        /**
         * Protocol fidelity: each node's broadcast link sends at most this many messages not yet
         * acknowledged by every receiver (0: no limit); the rest wait in its backlog, in order.
         * A message is acknowledged one `latency` after its slowest delivery.
         */
        broadcastWindow: z.number().int().nonnegative().default(0),
      })
      .strict()
      .default({
        latency: 1,
        jitter: 0.5,
        loss: 0,
        mtu: 1500,
        bandwidth: 1000,
        bearers: 1,
        broadcastWindow: 0,
      }),
    modes: z
      .array(z.enum(MODES))
      .min(1)
      .default([...MODES]),
    /** nodes that join (and maybe leave) during the run: legacy (pre-2020) in mixed and all-legacy modes */
    joiners: z.array(z.object({ joinAt: ms, leaveAt: ms.optional() }).strict()).default([]),
    crashes: z.array(z.object({ node: nodeIndex, at: ms, restartAt: ms.optional() }).strict()).default([]),
    /** a link between two live nodes goes down (both see the peer down) and comes back `upAfter` ms later */
    flaps: z
      .array(z.object({ a: nodeIndex, b: nodeIndex, at: ms, upAfter: ms.default(1) }).strict())
      .default([]),
    /** full fidelity: a whole bearer network drops every datagram from `at` until `restoreAt` */
    bearerOutages: z
      .array(z.object({ bearer: z.number().int().nonnegative(), at: ms, restoreAt: ms.optional() }).strict())
      .default([]),
    /** protocol fidelity: time for peers to notice a crash (link tolerance), ms */
    detectionDelay: ms.default(1500),
    checks: z
      .object({
        /** minimum virtual time between checks at quiescent points, ms */
        interval: ms.default(1000),
        /** at most this many quiescent checks (plus the final one) */
        max: z.number().int().nonnegative().default(20),
      })
      .strict()
      .default({ interval: 1000, max: 20 }),
    /** short runs at these cluster sizes for the transmissions-per-update chart */
    sweep: z
      .object({
        sizes: z.array(z.number().int().min(2).max(100_000)).min(1),
        duration: ms.default(2000),
        bindingsPerNode: z.number().int().min(0).default(2),
      })
      .strict()
      .optional(),
    /** race replays: extra delays on chosen channels and scripted updates */
    delays: z.array(delaySchema).default([]),
    script: z.array(scriptSchema).default([]),
    /** first named sequence number of each node (wraparound races) */
    initialSndNxt: z.number().int().min(0).max(65535).default(0),
    /** feed every arrival to a pre-2020 and a Linux receiver too, and report their divergence */
    shadows: z.boolean().default(false),
    /**
     * protocol fidelity: a tipcjs sender sends updates by replicast, behind a new peer's bulk,
     * until the peer acks it (issue 14 A); false: it broadcasts at once, as the kernel's does
     */
    awaitBulkAck: z.boolean().default(true),
    /**
     * protocol fidelity, with `link.broadcastWindow`: a peer that comes up gets the broadcast
     * link from past the sender's backlog (issue 14 B's link-layer fix), so nothing queued before
     * its node up reaches it; false: from the next seqno, so the backlog does (the kernel's link)
     */
    synchPastBacklog: z.boolean().default(true),
    /** protocol fidelity: nodes running Linux's own distributor (`flavor: "linux"`): its receive
     * path (the gate kept across node down) and its sender (broadcast at once after node up) */
    kernelNodes: z.array(nodeIndex).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    const total = s.nodes + s.joiners.length;
    if (total < 2)
      ctx.addIssue({
        code: "custom",
        path: ["nodes"],
        message: "a cluster needs at least 2 nodes (nodes + joiners)",
      });
    s.crashes.forEach((c, i) => {
      if (c.node >= total)
        ctx.addIssue({
          code: "custom",
          path: ["crashes", i, "node"],
          message: `no node ${c.node} (${total} nodes)`,
        });
      if (c.restartAt !== undefined && c.restartAt <= c.at)
        ctx.addIssue({ code: "custom", path: ["crashes", i, "restartAt"], message: "must be after `at`" });
    });
    s.joiners.forEach((j, i) => {
      if (j.leaveAt !== undefined && j.leaveAt <= j.joinAt)
        ctx.addIssue({ code: "custom", path: ["joiners", i, "leaveAt"], message: "must be after `joinAt`" });
    });
    s.flaps.forEach((f, i) => {
      for (const k of ["a", "b"] as const)
        if (f[k] >= total)
          ctx.addIssue({
            code: "custom",
            path: ["flaps", i, k],
            message: `no node ${f[k]} (${total} nodes)`,
          });
      if (f.a === f.b)
        ctx.addIssue({ code: "custom", path: ["flaps", i, "b"], message: "a link needs two nodes" });
    });
    s.kernelNodes.forEach((n, i) => {
      if (n >= total)
        ctx.addIssue({ code: "custom", path: ["kernelNodes", i], message: `no node ${n} (${total} nodes)` });
    });
    if (s.fidelity === "full" && s.kernelNodes.length > 0)
      ctx.addIssue({
        code: "custom",
        path: ["kernelNodes"],
        message: "kernel nodes need fidelity: protocol",
      });
    s.script.forEach((e, i) => {
      if (e.node >= total)
        ctx.addIssue({
          code: "custom",
          path: ["script", i, "node"],
          message: `no node ${e.node} (${total} nodes)`,
        });
    });
    s.bearerOutages.forEach((o, i) => {
      // protocol fidelity's channels are the links themselves: there is no bearer to take down
      if (s.fidelity !== "full")
        ctx.addIssue({
          code: "custom",
          path: ["bearerOutages", i],
          message: "bearer outages need fidelity: full",
        });
      else if (o.bearer >= s.link.bearers)
        ctx.addIssue({
          code: "custom",
          path: ["bearerOutages", i, "bearer"],
          message: `no bearer ${o.bearer} (link.bearers is ${s.link.bearers})`,
        });
      if (o.restoreAt !== undefined && o.restoreAt <= o.at)
        ctx.addIssue({
          code: "custom",
          path: ["bearerOutages", i, "restoreAt"],
          message: "must be after `at`",
        });
    });
    if (s.fidelity !== "full" && (s.link.bearers > 1 || s.bearerOutages.length > 0))
      ctx.addIssue({
        code: "custom",
        path: ["link", "bearers"],
        message: "several bearers and bearer outages need fidelity: full",
      });
    if (s.fidelity === "full" && total > 500)
      ctx.addIssue({ code: "custom", path: ["nodes"], message: "full fidelity runs at most 500 nodes" });
    if (s.fidelity === "full" && !s.awaitBulkAck)
      ctx.addIssue({
        code: "custom",
        path: ["awaitBulkAck"],
        message: "complete nodes always wait for the bulk's ack: awaitBulkAck false needs fidelity: protocol",
      });
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
/** One scripted update (race replays). */
export type ScriptEvent = Scenario["script"][number];

/** Why a scenario was refused. */
export type ScenarioErrorCode =
  /** fields that do not validate: `issues` names each by its path */
  | "INVALID_SCENARIO"
  /** a scenario file that cannot be read */
  | "UNREADABLE_FILE"
  /** a file that is not YAML or JSON, or not a mapping of fields */
  | "BAD_SYNTAX"
  /** neither a named scenario nor a .yaml/.json file (the CLI) */
  | "UNKNOWN_SCENARIO";

/** A scenario that could not be read or did not validate; `issues` name each bad field by its path. */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
  constructor(
    readonly code: ScenarioErrorCode,
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** True when `e` is a {@link ScenarioError} (also across duplicated package copies). */
export function isScenarioError(e: unknown): e is ScenarioError {
  return (
    e instanceof ScenarioError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "ScenarioError" && "code" in e)
  );
}

const pathText = (path: readonly PropertyKey[]) =>
  path.length
    ? path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("")
    : "(root)";

/** Validate a scenario object; throws {@link ScenarioError} listing each bad field. */
export function parseScenario(input: unknown, source = "scenario"): Scenario {
  const r = scenarioSchema.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: pathText(i.path), message: i.message }));
  throw new ScenarioError(
    "INVALID_SCENARIO",
    `${source}: invalid scenario\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`,
    issues,
  );
}

/** Read a YAML or JSON scenario file (YAML is a superset of JSON). */
export function loadScenarioFile(path: string, overrides: Record<string, unknown> = {}): Scenario {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ScenarioError("UNREADABLE_FILE", `${path}: cannot read (${(e as Error).message})`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new ScenarioError("BAD_SYNTAX", `${path}: not valid YAML/JSON (${(e as Error).message})`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new ScenarioError("BAD_SYNTAX", `${path}: a scenario is a mapping of fields`);
  return parseScenario({ ...(data as object), ...overrides }, path);
}
