#!/usr/bin/env node
// The project's main job: build the workspace, decode the Linux kernel's TIPC captures
// (packages/codec/src/__fixtures__) with the built tipc-decode CLI, then run tipcsim's default
// scenario (a mixed cluster of 300 nodes against all-broadcast and all-replicast, on the real
// distributor) and write reports/tipcsim-report.html and reports/tipcsim-report.json.
// Run it with: npx --yes pnpm@12.4.2 demo
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };

function step(title) {
  process.stdout.write(`\n=== ${title}\n`);
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: "inherit" });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (!existsSync(join(root, "node_modules", ".bin", "turbo"))) {
  step("install (pnpm install --frozen-lockfile)");
  if (sh("npx", ["--yes", "pnpm@12.4.2", "install", "--frozen-lockfile"]) !== 0) process.exit(1);
}

step("build (turbo run build)");
// Through pnpm, so that turbo finds the package manager even when this script is run with plain node.
if (sh("npx", ["--yes", "pnpm@12.4.2", "exec", "turbo", "run", "build", "--output-logs=errors-only"]) !== 0) {
  process.stderr.write("demo: the build failed\n");
  process.exit(1);
}

const cli = join(root, "packages", "codec", "dist", "cli.js");
const fixtures = join(root, "packages", "codec", "src", "__fixtures__");
const rel = (p) => relative(root, p);
let failed = 0;

for (const dir of readdirSync(fixtures, { withFileTypes: true }).filter((d) => d.isDirectory())) {
  const path = join(fixtures, dir.name);
  const hex = readdirSync(path)
    .filter((f) => f.endsWith(".hex"))
    .sort()
    .map((f) => join(path, f));
  if (hex.length) {
    step(`tipc-decode ${rel(path)}/*.hex (one datagram per file, as the kernel sent or accepted it)`);
    if (sh(process.execPath, [rel(cli), ...hex.map(rel)]) !== 0) failed++;
  }
  for (const pcap of readdirSync(path).filter((f) => f.endsWith(".pcap"))) {
    // listener.py talked to the QEMU guest on host port 6119 (the guest's 6118 forwarded to 16118).
    step(`tipc-decode --port 6119 ${rel(join(path, pcap))}`);
    if (sh(process.execPath, [rel(cli), "--port", "6119", "--items", "4", rel(join(path, pcap))]) !== 0)
      failed++;
  }
}

step(failed ? `${failed} decode run(s) failed` : "every capture decoded");

// The main job proper: the simulator's default scenario, report written under reports/.
step("tipcsim (default scenario: 300 nodes, mixed vs all-broadcast vs all-replicast) -> reports/");
const sim = sh(process.execPath, [
  join("apps", "simulator", "dist", "cli.js"),
  "default",
  "--out",
  "reports",
]);
if (sim !== 0) failed++;

step(
  failed
    ? `done: ${failed} step(s) failed`
    : "done: captures decoded, simulation checked, report in reports/tipcsim-report.html",
);
process.exit(failed ? 1 : 0);
