#!/usr/bin/env node
// The project's main job: build the workspace (a line per package as it is built), decode the
// Linux kernel's TIPC captures (packages/codec/src/__fixtures__) with the built tipc-decode CLI (packages/decode)
// (a summary: messages per type, every one re-encoded byte-exact), then run tipcsim's default
// scenario (a mixed cluster of 300 nodes against all-broadcast and all-legacy, on the real
// distributor), which ends with its table and writes reports/tipcsim-report.html and .json.
// Needs Node.js and the workspace only (scripts/bootstrap.sh without --test): no QEMU, Chromium,
// tshark or compiler.
// Run it with: npx --yes pnpm@12.4.2 demo
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";

const root = resolve(import.meta.dirname, "..");
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };
const started = performance.now();
const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
const STEPS = 3;
let stepNo = 0;

function step(title) {
  process.stdout.write(`\n=== ${++stepNo}/${STEPS} ${title}\n`);
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: "inherit" });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

/**
 * turbo run build, its output condensed to one line per package as each finishes (tsup's last
 * line for a package is its DTS build; a cache hit finishes at once). The whole log of a
 * package is printed only if the build fails.
 */
function build() {
  return new Promise((done) => {
    const t0 = performance.now();
    // Through pnpm, so that turbo finds the package manager even when this script is run with plain node.
    const child = spawn(
      "npx",
      [
        "--yes",
        "pnpm@12.4.2",
        "exec",
        "turbo",
        "run",
        "build",
        "--output-logs=new-only",
        "--log-order=stream",
      ],
      { cwd: root, env: { ...env, NO_COLOR: "1", FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const logs = new Map(); // package -> its lines
    const startedAt = new Map();
    const finished = new Set();
    const tail = [];
    let total = "?";
    const finish = (pkg, how) => {
      if (finished.has(pkg)) return;
      finished.add(pkg);
      const took = startedAt.has(pkg) ? seconds(startedAt.get(pkg)) : "";
      process.stdout.write(
        `  [${String(finished.size).padStart(2)}/${total}] ${pkg.padEnd(26)} ${how} ${took}\n`,
      );
    };
    const onLine = (line) => {
      const running = /Running build in (\d+) packages/.exec(line);
      if (running) process.stdout.write(`  turbo: ${running[0]} (those with a build script are built)\n`);
      const m = /^(\S+):build: (.*)$/.exec(line);
      if (!m) {
        if (line.trim()) tail.push(line);
        return;
      }
      const [, pkg, text] = m;
      if (!logs.has(pkg)) logs.set(pkg, []);
      logs.get(pkg).push(text);
      if (/cache (miss|bypass)/.test(text)) startedAt.set(pkg, performance.now());
      else if (/cache hit/.test(text)) finish(pkg, "cached");
      else if (/DTS .*Build success/.test(text)) finish(pkg, "built  ");
    };
    createInterface({ input: child.stdout }).on("line", onLine);
    createInterface({ input: child.stderr }).on("line", onLine);
    // turbo names the number of tasks only at the end; count the packages with a build script.
    total = String(
      ["packages", "apps"]
        .flatMap((d) => readdirSync(join(root, d)).map((p) => join(root, d, p, "tsup.config.ts")))
        .filter(existsSync).length,
    );
    child.on("close", (code) => {
      if (code !== 0) {
        for (const [pkg, lines] of logs) {
          if (finished.has(pkg)) continue;
          process.stdout.write(`\n--- ${pkg}\n${lines.join("\n")}\n`);
        }
        process.stdout.write(`${tail.join("\n")}\n`);
      } else {
        const cached = [...logs.values()].filter((lines) => lines.some((l) => /cache hit/.test(l))).length;
        process.stdout.write(
          `  ${finished.size} packages built in ${seconds(t0)}${cached ? ` (${cached} from turbo's cache)` : ""}\n`,
        );
      }
      done(code ?? 1);
    });
  });
}

if (!existsSync(join(root, "node_modules", ".bin", "turbo"))) {
  process.stdout.write("\n=== install (pnpm install --frozen-lockfile)\n");
  if (sh("npx", ["--yes", "pnpm@12.4.2", "install", "--frozen-lockfile"]) !== 0) process.exit(1);
}

step("build (turbo run build)");
if ((await build()) !== 0) {
  process.stderr.write("demo: the build failed\n");
  process.exit(1);
}

const cli = join(root, "packages", "decode", "dist", "cli.js");
const fixtures = join(root, "packages", "codec", "src", "__fixtures__");
const rel = (p) => relative(root, p);
let failed = 0;

// Every datagram the Linux kernel sent or accepted: the hex files (one datagram each) and the
// captures (classic pcap and the same as pcapng), every UDP port (listener.py talked to the
// QEMU guest on host port 6119, the guest's 6118 forwarded to 16118).
const inputs = [];
for (const dir of readdirSync(fixtures, { withFileTypes: true }).filter((d) => d.isDirectory())) {
  const path = join(fixtures, dir.name);
  for (const f of readdirSync(path).sort()) {
    if (f.endsWith(".hex") || f.endsWith(".pcap") || f.endsWith(".pcapng")) inputs.push(rel(join(path, f)));
  }
}
const count = (ext) => inputs.filter((f) => f.endsWith(ext)).length;
step(
  `tipc-decode --summary: ${count(".hex")} hex datagrams, ${count(".pcap")} pcap and ${count(".pcapng")} pcapng captures of Linux 6.1 (${rel(fixtures)})`,
);
if (sh(process.execPath, [rel(cli), "--summary", "--whole", "--port", "any", ...inputs]) !== 0) failed++;

// The main job proper: the simulator's default scenario, report written under reports/.
step("tipcsim (default scenario: 300 nodes, mixed vs all-broadcast vs all-legacy) -> reports/");
const sim = sh(process.execPath, [
  join("apps", "simulator", "dist", "cli.js"),
  "default",
  "--out",
  "reports",
]);
if (sim !== 0) failed++;

process.stdout.write(
  failed
    ? `\ndemo: ${failed} step(s) failed (${seconds(started)})\n`
    : `\ndemo: done in ${seconds(started)}; report: reports/tipcsim-report.html (open it in a browser), results: reports/tipcsim-report.json\n`,
);
process.exit(failed ? 1 : 0);
