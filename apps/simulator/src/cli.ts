#!/usr/bin/env node
/**
 * tipcsim: run a scenario (a named one, a YAML/JSON file, or flags), print a summary table,
 * write JSON results and a self-contained HTML report.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { SingleBar } from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { NAMED, namedScenario } from "./named.js";
import { htmlReport, summaryTable } from "./report.js";
import {
  isScenarioError,
  loadScenarioFile,
  MODES,
  parseScenario,
  type Scenario,
  ScenarioError,
} from "./scenario.js";
import { runScenario } from "./sim.js";

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError("not a number");
  return n;
};

const program = new Command()
  .name("tipcsim")
  .description("Deterministic TIPC cluster simulator driving the real @tipcjs protocol code.")
  .argument(
    "[scenario]",
    `a scenario file (.yaml, .yml, .json) or a named scenario (${Object.keys(NAMED).join(", ")})`,
    "default",
  )
  .option("--seed <n>", "random seed", num)
  .option("--fidelity <f>", "protocol | full")
  .option("--nodes <n>", "nodes present from the start", num)
  .option("--bindings <n>", "bindings per node", num)
  .option("--duration <ms>", "virtual time of the run, ms", num)
  .option("--rate <n>", "binding updates per second, cluster-wide", num)
  .option("--latency <ms>", "one-way link latency, ms", num)
  .option("--jitter <ms>", "link jitter, ms", num)
  .option("--loss <p>", "datagram loss probability (full fidelity)", num)
  .option("--modes <list>", `comma-separated: ${MODES.join(", ")}`)
  .option("--legacy-join <ms>", "a pre-2020 node joins at this time (mixed mode)", num)
  .option("--legacy-leave <ms>", "... and leaves at this time", num)
  .option("--no-sweep", "skip the cluster-size sweep")
  .option("--json [file]", "write JSON results to a file (or stdout when no file is given)")
  .option("--html <file>", "write the HTML report here")
  .option("--out <dir>", "write <dir>/tipcsim-report.html and .json")
  .option(
    "--measure",
    "also measure wall time, events per second and memory per node pair (in the table, the report and the JSON, which then differs run to run)",
  )
  .option("--list", "list the named scenarios and exit")
  .option("--quiet", "no progress bar or table")
  .showHelpAfterError();

program.parse();
const o = program.opts<{
  seed?: number;
  fidelity?: string;
  nodes?: number;
  bindings?: number;
  duration?: number;
  rate?: number;
  latency?: number;
  jitter?: number;
  loss?: number;
  modes?: string;
  legacyJoin?: number;
  legacyLeave?: number;
  sweep: boolean;
  json?: string | boolean;
  html?: string;
  out?: string;
  list?: boolean;
  quiet?: boolean;
  measure?: boolean;
}>();

if (o.list) {
  for (const [name, s] of Object.entries(NAMED)) process.stdout.write(`${name}\n  ${s.description}\n`);
  process.exit(0);
}

function build(): Scenario {
  const arg = program.args[0] ?? "default";
  const base: Record<string, unknown> = {};
  if (o.seed !== undefined) base.seed = o.seed;
  if (o.fidelity !== undefined) base.fidelity = o.fidelity;
  if (o.nodes !== undefined) base.nodes = o.nodes;
  if (o.bindings !== undefined) base.bindingsPerNode = o.bindings;
  if (o.duration !== undefined) base.duration = o.duration;
  if (o.modes !== undefined) base.modes = o.modes.split(",").map((s) => s.trim());
  if (o.legacyJoin !== undefined) base.joiners = [{ joinAt: o.legacyJoin, leaveAt: o.legacyLeave }];
  if (!o.sweep) base.sweep = undefined;
  const file = /\.(ya?ml|json)$/i.test(arg);
  // Nested overrides are merged into the scenario's own objects.
  const start = file
    ? (loadScenarioFile(arg) as Record<string, unknown>)
    : (NAMED[arg] as Record<string, unknown> | undefined);
  if (!start)
    throw new ScenarioError(
      "UNKNOWN_SCENARIO",
      `no scenario named "${arg}" and not a .yaml/.json file (known: ${Object.keys(NAMED).join(", ")})`,
    );
  const merged: Record<string, unknown> = { ...start, ...base };
  if (!file && o.nodes !== undefined) {
    // A named scenario resized with --nodes: drop its crashes that name nodes that no longer exist.
    const total = o.nodes + ((merged.joiners as unknown[] | undefined)?.length ?? 0);
    merged.crashes = ((start.crashes as { node: number }[] | undefined) ?? []).filter((c) => c.node < total);
  }
  const upd = { ...((start.updates as object) ?? {}) } as Record<string, unknown>;
  if (o.rate !== undefined) merged.updates = { ...upd, rate: o.rate };
  const link = { ...((start.link as object) ?? {}) } as Record<string, unknown>;
  if (o.latency !== undefined) link.latency = o.latency;
  if (o.jitter !== undefined) link.jitter = o.jitter;
  if (o.loss !== undefined) link.loss = o.loss;
  if (o.latency !== undefined || o.jitter !== undefined || o.loss !== undefined) merged.link = link;
  return file || Object.keys(base).length || merged.updates !== start.updates || merged.link !== start.link
    ? parseScenario(merged, file ? arg : `scenario ${arg} with flags`)
    : namedScenario(arg);
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

async function main(): Promise<void> {
  const sc = build();
  const interactive = !o.quiet && process.stderr.isTTY && o.json !== true;
  const bar = interactive
    ? new SingleBar({
        format: "tipcsim {bar} {percentage}% | {label}",
        hideCursor: true,
        stream: process.stderr,
      })
    : undefined;
  bar?.start(100, 0, { label: sc.modes[0] });
  const started = Date.now();
  const result = await runScenario(sc, {
    onProgress: (f, label) => bar?.update(Math.floor(f * 100), { label }),
    measure: o.measure ?? false,
  });
  bar?.update(100, { label: "done" });
  bar?.stop();
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const htmlPath = o.html ?? (o.out ? `${o.out}/tipcsim-report.html` : undefined);
  const jsonPath = typeof o.json === "string" ? o.json : o.out ? `${o.out}/tipcsim-report.json` : undefined;
  if (o.json === true) process.stdout.write(json);
  if (jsonPath) write(jsonPath, json);
  if (htmlPath) write(htmlPath, htmlReport(result));
  if (!o.quiet && o.json !== true) {
    process.stdout.write(`${summaryTable(result)}\n`);
    process.stdout.write(
      `${result.checksPassed ? "checks passed: every live node's table equals the truth" : "CHECKS FAILED: see the differences in the report"}` +
        ` (wall ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
    );
    if (htmlPath) process.stdout.write(`report: ${htmlPath}\n`);
    if (jsonPath) process.stdout.write(`results: ${jsonPath}\n`);
  }
  process.exitCode = result.checksPassed ? 0 : 1;
}

main().catch((e: unknown) => {
  if (isScenarioError(e)) {
    process.stderr.write(`tipcsim: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`tipcsim: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
});
