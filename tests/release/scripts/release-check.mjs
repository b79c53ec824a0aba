#!/usr/bin/env node
// Release check: runs the release flow for real against a throwaway local registry.
//
//   node tests/release/scripts/release-check.mjs [--json FILE] [--update-benchmarks] [--major NAME]
//                                                 [--timeout SECONDS] [--keep] [--source worktree|head]
//   node tests/release/scripts/release-check.mjs --benchmarks-from FILE   (sizes from an earlier --json)
//
// 1. Start Verdaccio on 127.0.0.1 with its storage and config in a temp dir; no uplinks, so
//    @tipcjs/* can only come from what this run publishes.
// 2. Copy the repository to a temp dir (git's view of the work tree), install it offline.
// 3. Release 1: `changeset version` (with a temporary patch changeset for every public package
//    when none is pending), build, pack every public package with pnpm (workspace: ranges and
//    publishConfig applied), inspect each tarball, publish it.
// 4. Release 2, a breaking change: a major changeset for one package; `changeset status` gives
//    the plan, `changeset version` applies it; assert the package got the next major and its
//    dependents the bumps the plan says; build and publish the changed packages.
// 5. For each public package, in an empty folder outside the workspace, `npm install` it (and
//    the packages its smoke program names) by name from the registry, and run
//    tests/release/smoke/<name>.mjs and .cjs; `npx --package <pkg> <bin> --help` for each bin.
// 6. Print the registry log lines for each publish and install, versions, tarball sizes and files.
// The registry and every temp dir are removed at the end, also on failure or timeout.
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  binsOf,
  claimsCommonJs,
  directDependents,
  forbiddenFiles,
  missingSmokePrograms,
  publicPackages,
  publishedManifestProblems,
  requestPackage,
  shortName,
  smokePlan,
} from "./workspace.mjs";

const PNPM_SPEC = "pnpm@12.4.2";
/** pnpm, as [command, ...args]: resolved once through npx (see pnpmCommand). */
let PNPM = ["npx", "--yes", PNPM_SPEC];
const here = import.meta.dirname;
const releaseDir = resolve(here, "..");
const repoRoot = resolve(releaseDir, "../..");
/** Smoke programs belong to the check: taken from beside this script, whatever --source says. */
const smokeDir = join(releaseDir, "smoke");

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const opts = {
    json: null,
    updateBenchmarks: false,
    major: null,
    timeout: 900,
    keep: false,
    source: "worktree",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") opts.json = resolve(argv[++i]);
    else if (a === "--update-benchmarks") opts.updateBenchmarks = true;
    else if (a === "--benchmarks-from") opts.benchmarksFrom = resolve(argv[++i]);
    else if (a === "--major") opts.major = argv[++i];
    else if (a === "--timeout") opts.timeout = Number(argv[++i]);
    else if (a === "--keep") opts.keep = true;
    else if (a === "--source") opts.source = argv[++i];
    else if (a === "--help" || a === "-h") {
      const lines = readFileSync(import.meta.filename, "utf8")
        .split("\n")
        .slice(1);
      console.log(
        lines
          .slice(
            0,
            lines.findIndex((l) => !l.startsWith("//")),
          )
          .join("\n"),
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!(opts.timeout > 0)) throw new Error("--timeout needs a number of seconds");
  if (!["worktree", "head"].includes(opts.source)) throw new Error("--source is worktree or head");
  return opts;
}

// ---------------------------------------------------------------- process plumbing
const children = new Set();
/** Names of the public packages being released (set once the copy is made). */
let publicNames = new Set();
let pathPrefix = null;
let deadline = Number.POSITIVE_INFINITY;

/** A clean environment: no npm_/pnpm_ settings inherited from the caller (pnpm run sets many). */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|PNPM_|NODE_OPTIONS$|INIT_CWD$|VITEST|TURBO_HASH)/i.test(k)) continue;
    env[k] = v;
  }
  if (pathPrefix) env.PATH = `${pathPrefix}:${env.PATH ?? ""}`;
  return { ...env, TURBO_TELEMETRY_DISABLED: "1", NO_COLOR: "1", CI: env.CI ?? "true", ...extra };
}

/** Runs a command; rejects with its output on a non-zero exit or when it outlives its time. */
function run(cmd, args, { cwd, env, timeout = 300, allowFail = false, quiet = true } = {}) {
  const budget = Math.max(1, Math.min(timeout * 1000, deadline - Date.now()));
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: env ?? cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    children.add(child);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (!quiet) process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      out += d;
      if (!quiet) process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      killTree(child);
      reject(
        new Error(
          `timed out after ${Math.round(budget / 1000)} s: ${cmd} ${args.join(" ")}\n${out.slice(-4000)}`,
        ),
      );
    }, budget);
    child.on("error", (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0 || allowFail) resolveRun({ code, out });
      else
        reject(
          new Error(
            `${cmd} ${args.join(" ")} (in ${cwd ?? process.cwd()}) exited ${code ?? signal}\n${out.slice(-6000)}`,
          ),
        );
    });
  });
}

function killTree(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    try {
      child.kill("SIGTERM");
    } catch {}
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

// ---------------------------------------------------------------- logging
const t0 = Date.now();
function log(msg = "") {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  for (const line of String(msg).split("\n")) console.log(`[release-check ${s}s] ${line}`);
}
function heading(msg) {
  log("");
  log(`== ${msg}`);
}

// ---------------------------------------------------------------- registry
class Registry {
  constructor(dir) {
    this.dir = dir;
    this.logFile = join(dir, "verdaccio.log");
    this.child = null;
  }

  /**
   * Starts Verdaccio. `localNames` (the public packages) are served only from what this run
   * publishes: no uplink for them, nor for the @tipcjs scope. Every other package is proxied to
   * `upstream` (the machine's usual npm registry), so a consumer can point npm at this registry
   * alone, and an unscoped package of ours (say `tipcd`) can never come from the public one.
   */
  async start(localNames, upstream) {
    const bin = join(releaseDir, "node_modules", "verdaccio", "bin", "verdaccio");
    if (!existsSync(bin)) {
      throw new Error(
        `Verdaccio is not installed at ${bin}: run \`npx --yes pnpm@12.4.2 install\` (it is a devDependency of @tipcjs/release-tests)`,
      );
    }
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}/`;
    this.upstream = upstream;
    const local = [...new Set(["@tipcjs/*", ...localNames])];
    const config = [
      `storage: ${JSON.stringify(join(this.dir, "storage"))}`,
      "auth:",
      "  htpasswd:",
      `    file: ${JSON.stringify(join(this.dir, "htpasswd"))}`,
      "    max_users: 10",
      "uplinks:",
      "  upstream:",
      `    url: ${JSON.stringify(upstream)}`,
      "    timeout: 60s",
      "packages:",
      ...local.flatMap((name) => [
        `  ${JSON.stringify(name)}:`,
        "    access: $all",
        "    publish: $authenticated",
        "    unpublish: $authenticated",
      ]),
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "    proxy: upstream",
      "web:",
      "  enable: false",
      "publish:",
      "  allow_offline: true",
      "log: { type: stdout, format: pretty, level: http }",
      "",
    ].join("\n");
    const configFile = join(this.dir, "config.yaml");
    writeFileSync(configFile, config);
    const { openSync } = await import("node:fs");
    const fd = openSync(this.logFile, "a");
    this.child = spawn(
      process.execPath,
      [bin, "--config", configFile, "--listen", `127.0.0.1:${this.port}`],
      {
        cwd: this.dir,
        env: cleanEnv({ NODE_NO_WARNINGS: "1" }),
        stdio: ["ignore", fd, fd],
        detached: true,
      },
    );
    children.add(this.child);
    this.child.on("exit", () => children.delete(this.child));
    const until = Date.now() + 60_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`Verdaccio exited at start:\n${this.logText()}`);
      try {
        const r = await fetch(`${this.url}-/ping`);
        if (r.ok) break;
      } catch {}
      if (Date.now() > until)
        throw new Error(`Verdaccio did not answer on ${this.url} in 60 s:\n${this.logText()}`);
      await sleep(200);
    }
    // A user for publishing: Verdaccio's htpasswd plugin creates it and answers with a token.
    const r = await fetch(`${this.url}-/user/org.couchdb.user:release-check`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "release-check", password: `pw-${process.pid}-${Date.now()}` }),
    });
    const body = await r.json();
    if (!body.token) throw new Error(`Verdaccio gave no token: ${JSON.stringify(body)}`);
    this.token = body.token;
    this.hostKey = `//127.0.0.1:${this.port}/`;
  }

  logText() {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }
  /** Current length of the log, to read the lines a later step adds. */
  mark() {
    return existsSync(this.logFile) ? statSync(this.logFile).size : 0;
  }
  /**
   * Request lines ("http <-- 200, user: ..., req: 'GET /x', bytes: ...") written since mark.
   * Verdaccio logs a request when its response ends, so wait (up to 5 s) until `done(lines)`.
   */
  async requestsSince(mark, done = () => true) {
    const until = Date.now() + 5000;
    for (;;) {
      await sleep(150);
      const text = readFileSync(this.logFile).subarray(mark).toString("utf8");
      const lines = text
        .split("\n")
        .filter((l) => /^\s*http <-- \d+/.test(l) && /req: '/.test(l))
        .map((l) => l.trim());
      if (done(lines) || Date.now() > until) return lines;
    }
  }

  stop() {
    if (this.child) killTree(this.child);
  }

  /** Stops Verdaccio and waits for it to exit (SIGKILL after 5 s). */
  async stopAndWait() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((res) => child.once("exit", res));
    killTree(child);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Splits log lines into those about our packages (printed, kept) and a count of the others. */
function ownRequests(lines) {
  const own = lines.filter((l) => {
    const name = requestPackage(l);
    return name !== null && (publicNames.has(name) || name.startsWith("@tipcjs/"));
  });
  return { own, others: lines.length - own.length };
}

function printRequests(lines, upstream) {
  const { own, others } = ownRequests(lines);
  for (const l of own) log(`    ${l}`);
  if (others) log(`    (+ ${others} requests for third-party packages, proxied to ${upstream})`);
  return own;
}

// ---------------------------------------------------------------- the copy of the workspace
function copyWorkspace(dest, source) {
  const git = spawnSync("git", ["-C", repoRoot, "rev-parse", "--is-inside-work-tree"], { encoding: "utf8" });
  if (git.status === 0 && source === "head") {
    const archive = spawnSync("sh", ["-c", `git -C "${repoRoot}" archive HEAD | tar -x -C "${dest}"`], {
      encoding: "utf8",
    });
    if (archive.status !== 0) throw new Error(`git archive failed: ${archive.stderr}`);
    return "git HEAD";
  }
  if (git.status === 0) {
    const ls = spawnSync(
      "git",
      ["-C", repoRoot, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      {
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    if (ls.status !== 0) throw new Error(`git ls-files failed: ${ls.stderr}`);
    let n = 0;
    for (const rel of ls.stdout.split("\0")) {
      if (!rel) continue;
      const from = join(repoRoot, rel);
      if (!existsSync(from)) continue; // deleted in the work tree
      mkdirSync(dirname(join(dest, rel)), { recursive: true });
      cpSync(from, join(dest, rel));
      n++;
    }
    return `work tree (${n} files git tracks or would track)`;
  }
  cpSync(repoRoot, dest, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|dist|\.turbo|\.git|coverage)(\/|$)/.test(relative(repoRoot, src)),
  });
  return "folder copy";
}

// ---------------------------------------------------------------- tarballs
async function tarList(tarball) {
  const { out } = await run("tar", ["-tvzf", tarball]);
  const files = [];
  let unpacked = 0;
  for (const line of out.split("\n")) {
    // -rw-r--r-- 0/0   1234 1985-10-26 08:15 package/dist/index.js
    const m = /^\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.+)$/.exec(line.trim());
    if (!m) continue;
    if (line.startsWith("d")) continue;
    unpacked += Number(m[1]);
    files.push({ path: m[2].replace(/^package\//, ""), bytes: Number(m[1]) });
  }
  return { files: files.sort((a, b) => a.path.localeCompare(b.path)), unpacked };
}

async function readTarManifest(tarball) {
  const { out } = await run("tar", ["-xzOf", tarball, "package/package.json"]);
  return JSON.parse(out);
}

// ---------------------------------------------------------------- main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.benchmarksFrom) {
    // Only rewrite BENCHMARKS.md from the result of an earlier passing run (--json FILE).
    const earlier = JSON.parse(readFileSync(opts.benchmarksFrom, "utf8"));
    if (!earlier.ok) throw new Error(`${opts.benchmarksFrom} is not from a passing run`);
    updateBenchmarks(earlier);
    return 0;
  }
  deadline = Date.now() + opts.timeout * 1000;
  const result = {
    ok: false,
    startedAt: new Date().toISOString(),
    registry: null,
    releases: [],
    packages: {},
    breaking: null,
    consumers: [],
    bins: [],
    errors: [],
  };

  const tmp = mkdtempSync(join(tmpdir(), "tipcjs-release-"));
  if (!relative(repoRoot, tmp).startsWith("..")) throw new Error(`temp dir ${tmp} is inside the workspace`);
  result.tempDir = tmp;
  const registry = new Registry(join(tmp, "registry"));
  mkdirSync(registry.dir);
  const cleanup = () => {
    registry.stop();
    for (const c of children) killTree(c);
    if (!opts.keep) rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (sig) => {
    log(`${sig}: stopping the registry and removing ${tmp}`);
    cleanup();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const overall = setTimeout(() => {
    log(`FAIL the check outlived its ${opts.timeout} s budget; stopping`);
    cleanup();
    result.errors.push(`timed out after ${opts.timeout} s`);
    result.cleanedUp = !existsSync(tmp) || opts.keep;
    finish(result, { ...opts, updateBenchmarks: false });
    process.exit(124);
  }, opts.timeout * 1000);
  overall.unref();

  try {
    await steps(tmp, registry, opts, result);
    result.ok = result.errors.length === 0;
  } catch (err) {
    result.errors.push(String(err?.stack ?? err));
    log(`FAIL ${err?.message ?? err}`);
  } finally {
    clearTimeout(overall);
    await registry.stopAndWait();
    cleanup();
    result.cleanedUp = !existsSync(tmp) || opts.keep;
    log(opts.keep ? `kept ${tmp}` : `registry stopped; removed ${tmp}`);
  }
  return finish(result, opts);
}

function finish(result, opts) {
  result.finishedAt = new Date().toISOString();
  if (opts.json) {
    mkdirSync(dirname(opts.json), { recursive: true });
    writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
  }
  if (result.ok && opts.updateBenchmarks) updateBenchmarks(result);
  heading(result.ok ? "release check passed" : `release check FAILED (${result.errors.length} problem(s))`);
  for (const e of result.errors) log(`- ${e.split("\n")[0]}`);
  return result.ok ? 0 : 1;
}

async function steps(tmp, registry, opts, result) {
  const work = join(tmp, "workspace");
  const consumersDir = join(tmp, "consumers");
  mkdirSync(work);
  mkdirSync(consumersDir);

  heading("copy the workspace");
  const how = copyWorkspace(work, opts.source);
  log(`copied ${how} to ${work}`);
  // Every public package must have its smoke programs, before anything slow happens.
  const found = publicPackages(work);
  log(`public packages (${found.length}): ${found.map((p) => p.name).join(", ")}`);
  result.publicPackages = found.map((p) => p.name);
  const missing = missingSmokePrograms(found, smokeDir);
  if (missing.length) {
    for (const m of missing) log(`FAIL ${m}`);
    result.errors.push(...missing);
    return;
  }

  heading("registry");
  const upstream =
    (await run("npm", ["config", "get", "registry"])).out.trim() || "https://registry.npmjs.org/";
  await registry.start(
    found.map((p) => p.name),
    upstream,
  );
  result.registry = { url: registry.url, pid: registry.child.pid, upstream, publishes: [] };
  log(`Verdaccio ${registry.url} (storage and config in ${registry.dir})`);
  log(`  served only from this run's publishes: @tipcjs/*, ${found.map((p) => p.name).join(", ")}`);
  log(`  any other package proxied to ${upstream}`);
  publicNames = new Set(found.map((p) => p.name));
  // Consumers: npm asks this registry for everything, anonymously.
  const npmrc = [
    `registry=${registry.url}`,
    "omit-lockfile-registry-resolved=false",
    "fund=false",
    "audit=false",
    "update-notifier=false",
    "",
  ].join("\n");
  // Publishing runs with its own npmrc so the token never lands in the copy or the repo.
  const publishHome = join(tmp, "publish");
  mkdirSync(publishHome);
  writeFileSync(join(publishHome, ".npmrc"), `${registry.hostKey}:_authToken=${registry.token}\n${npmrc}`);

  await pnpmCommand();
  const env = cleanEnv();
  const consumerEnv = cleanEnv();
  const frozen = await run(PNPM[0], [...PNPM.slice(1), "install", "--offline", "--frozen-lockfile"], {
    cwd: work,
    env,
    allowFail: true,
    timeout: 300,
  });
  if (frozen.code !== 0) {
    log("offline frozen install failed; installing with the lockfile refreshed:");
    log(frozen.out.trim().split("\n").slice(-3).join("\n"));
    await run(PNPM[0], [...PNPM.slice(1), "install", "--prefer-offline", "--no-frozen-lockfile"], {
      cwd: work,
      env,
    });
  }
  // changesets reads git for its status; give the copy a history of one commit.
  const git = (...args) =>
    run("git", ["-c", "user.name=release-check", "-c", "user.email=release-check@localhost", ...args], {
      cwd: work,
      env,
    });
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "--no-verify", "-m", "release check base");

  const pkgs = () => publicPackages(work);
  const versions = () => Object.fromEntries(pkgs().map((p) => [p.name, p.version]));

  // ------------------------------------------------------------ release 1
  heading("release 1: changeset version");
  const pending = pendingChangesets(work);
  if (pending.length === 0) {
    const body = `---\n${pkgs()
      .map((p) => `"${p.name}": patch`)
      .join("\n")}\n---\n\nRelease check: a temporary changeset so that every version moves.\n`;
    writeFileSync(join(work, ".changeset", "release-check-temporary.md"), body);
    log("no changeset pending: added a temporary patch changeset for every public package");
  } else log(`pending changesets: ${pending.join(", ")}`);
  const before1 = versions();
  const plan1 = await releasePlan(work, env);
  await changesetVersion(work, env);
  const after1 = versions();
  printVersions(before1, after1, plan1);
  await buildAll(work, env);
  const packed1 = await packAll(pkgs(), Object.keys(after1), tmp, "r1", env, result);
  await publishAll(packed1, registry, publishHome, env, result);
  result.releases.push({ name: "release 1", before: before1, after: after1, plan: plan1 });
  await git("add", "-A");
  await git("commit", "-q", "--no-verify", "-m", "release 1");

  // ------------------------------------------------------------ release 2: a breaking change
  const all = pkgs();
  const majorName =
    opts.major ??
    (all.some((p) => p.name === "@tipcjs/codec")
      ? "@tipcjs/codec"
      : [...all].sort(
          (a, b) => directDependents(all, b.name).length - directDependents(all, a.name).length,
        )[0].name);
  heading(`release 2: a breaking change in ${majorName}`);
  const majorPkg = all.find((p) => p.name === majorName);
  if (!majorPkg) throw new Error(`--major ${majorName} is not a public package`);
  writeFileSync(
    join(work, ".changeset", "release-check-breaking.md"),
    `---\n"${majorName}": major\n---\n\nRelease check: a breaking change.\n`,
  );
  const before2 = versions();
  const plan2 = await releasePlan(work, env);
  await changesetVersion(work, env);
  const after2 = versions();
  printVersions(before2, after2, plan2);
  result.breaking = checkBreaking(majorName, all, before2, after2, plan2, result);
  const changed = Object.keys(after2).filter((n) => after2[n] !== before2[n]);
  await buildAll(work, env, changed);
  const packed2 = await packAll(pkgs(), changed, tmp, "r2", env, result);
  await publishAll(packed2, registry, publishHome, env, result);
  result.releases.push({ name: "release 2", before: before2, after: after2, plan: plan2 });
  // Dependents now ask for the new major.
  for (const dep of result.breaking.dependents) {
    const range = result.packages[dep.name]?.manifest?.dependencies?.[majorName];
    dep.publishedRange = range ?? null;
    const want = `^${after2[majorName]}`;
    if (range !== want)
      result.errors.push(`${dep.name}@${after2[dep.name]} depends on ${majorName} "${range}", not "${want}"`);
    else log(`${dep.name}@${after2[dep.name]} depends on ${majorName} "${range}"`);
  }

  // ------------------------------------------------------------ installs from the registry
  const latest = after2;
  for (const pkg of pkgs()) {
    const info = result.packages[pkg.name];
    pkg.publishedManifest = info.manifest;
    const plan = smokePlan(pkg, smokeDir);
    if (!plan.esm && !plan.cjs) continue;
    await consumer(pkg, plan, latest, consumersDir, npmrc, registry, consumerEnv, result);
  }
  for (const pkg of pkgs()) {
    for (const bin of Object.keys(binsOf(result.packages[pkg.name].manifest))) {
      await binHelp(pkg.name, latest[pkg.name], bin, consumersDir, npmrc, registry, consumerEnv, result);
    }
  }

  heading("summary");
  summarize(result);
}

/**
 * `changeset version`, then one `pnpm install` so the workspace agrees with the new manifests.
 * Without it pnpm (which checks dependencies before `pnpm run`) starts an install inside every
 * build task turbo runs in parallel, and those installs race on the same node_modules.
 */
async function changesetVersion(work, env) {
  await run(join(work, "node_modules", ".bin", "changeset"), ["version"], { cwd: work, env });
  await run(PNPM[0], [...PNPM.slice(1), "install", "--offline", "--no-frozen-lockfile"], {
    cwd: work,
    env,
    timeout: 300,
  });
}

/** Finds the pnpm that `npx --yes pnpm@12.4.2` runs, to call it directly (npx costs a second a call). */
async function pnpmCommand() {
  const { out } = await run("npx", ["--yes", `--package=${PNPM_SPEC}`, "sh", "-c", "command -v pnpm"], {
    timeout: 120,
  });
  const bin = out.trim().split("\n").pop();
  // Put that pnpm first on PATH for every later command (turbo looks for it there too).
  if (bin && existsSync(bin)) {
    pathPrefix = dirname(bin);
    PNPM = ["pnpm"];
  }
  const { out: version } = await run(PNPM[0], [...PNPM.slice(1), "--version"]);
  log(`pnpm ${version.trim()} (${PNPM.join(" ")})`);
}

function pendingChangesets(work) {
  const dir = join(work, ".changeset");
  if (!existsSync(dir)) throw new Error("the copy has no .changeset folder: is changesets set up?");
  return readdirSync(dir).filter((f) => f.endsWith(".md") && f !== "README.md");
}

/** What changesets will do: `changeset status --output` before `changeset version`. */
async function releasePlan(work, env) {
  const file = join(work, ".release-plan.json");
  await run(join(work, "node_modules", ".bin", "changeset"), ["status", "--output", file], {
    cwd: work,
    env,
    allowFail: false,
  });
  const plan = JSON.parse(readFileSync(file, "utf8"));
  rmSync(file);
  return plan.releases.map((r) => ({
    name: r.name,
    type: r.type,
    oldVersion: r.oldVersion,
    newVersion: r.newVersion,
  }));
}

function printVersions(before, after, plan) {
  const byName = Object.fromEntries(plan.map((r) => [r.name, r]));
  for (const name of Object.keys(after)) {
    const r = byName[name];
    log(
      `${name.padEnd(28)} ${before[name].padEnd(8)} -> ${after[name].padEnd(8)} ${r && r.type !== "none" ? `(${r.type}, as changesets planned)` : "(unchanged)"}`,
    );
  }
}

function checkBreaking(majorName, all, before, after, plan, result) {
  const fail = (m) => {
    result.errors.push(m);
    log(`FAIL ${m}`);
  };
  const oldMajor = Number(before[majorName].split(".")[0]);
  const newMajor = Number(after[majorName].split(".")[0]);
  const expected = `${oldMajor + 1}.0.0`;
  if (after[majorName] !== expected)
    fail(`${majorName} went ${before[majorName]} -> ${after[majorName]}, not ${expected}`);
  else log(`${majorName}: ${before[majorName]} -> ${after[majorName]} (next major)`);
  for (const r of plan) {
    if (r.type === "none") continue;
    if (after[r.name] !== undefined && after[r.name] !== r.newVersion)
      fail(`${r.name} is ${after[r.name]} after changeset version, but its plan said ${r.newVersion}`);
  }
  const dependents = directDependents(all, majorName).map((name) => {
    const r = plan.find((x) => x.name === name);
    return { name, before: before[name], after: after[name], type: r?.type ?? "none" };
  });
  for (const d of dependents) {
    if (d.after === d.before) fail(`${d.name} depends on ${majorName} but was not bumped (${d.before})`);
    else log(`dependent ${d.name}: ${d.before} -> ${d.after} (${d.type}, as changesets decided)`);
  }
  return {
    package: majorName,
    before: before[majorName],
    after: after[majorName],
    newMajor,
    dependents,
    plan,
  };
}

async function buildAll(work, env, only) {
  const filters = only ? only.map((n) => `--filter=${n}`) : [];
  log(`building: turbo run build ${filters.join(" ")}`.trim());
  await run(
    join(work, "node_modules", ".bin", "turbo"),
    ["run", "build", "--output-logs=errors-only", ...filters],
    {
      cwd: work,
      env,
      timeout: 600,
    },
  );
}

async function packAll(all, names, tmp, tag, env, result) {
  const dest = join(tmp, `tarballs-${tag}`);
  mkdirSync(dest, { recursive: true });
  const packed = [];
  for (const pkg of all.filter((p) => names.includes(p.name))) {
    const { out } = await run(PNPM[0], [...PNPM.slice(1), "pack", "--pack-destination", dest, "--json"], {
      cwd: pkg.dir,
      env,
    });
    const info = JSON.parse(out.slice(out.indexOf("{")));
    const tarball = info.filename;
    const bytes = statSync(tarball).size;
    const { files, unpacked } = await tarList(tarball);
    const manifest = await readTarManifest(tarball);
    const bad = forbiddenFiles(files.map((f) => f.path));
    const problems = publishedManifestProblems(manifest);
    for (const bin of Object.values(binsOf(manifest))) {
      if (!files.some((f) => f.path === bin.replace(/^\.\//, "")))
        problems.push(`bin ${bin} is not in the tarball`);
    }
    log(
      `packed ${pkg.name}@${manifest.version}: ${bytes} B tarball, ${unpacked} B unpacked, ${files.length} files${claimsCommonJs(manifest) ? " (ESM + CommonJS)" : " (ESM)"}`,
    );
    for (const f of files) log(`    ${String(f.bytes).padStart(8)}  ${f.path}`);
    for (const b of bad) result.errors.push(`${pkg.name} tarball contains ${b}`);
    for (const p of problems) result.errors.push(`${pkg.name} published package.json: ${p}`);
    for (const m of [...bad.map((b) => `contains ${b}`), ...problems]) log(`FAIL ${pkg.name}: ${m}`);
    result.packages[pkg.name] = {
      version: manifest.version,
      dir: pkg.relDir,
      tarball: { bytes, unpacked, files },
      bins: binsOf(manifest),
      claimsCommonJs: claimsCommonJs(manifest),
      manifest,
    };
    packed.push({ name: pkg.name, version: manifest.version, tarball });
  }
  return packed;
}

async function publishAll(packed, registry, publishHome, env, result) {
  for (const p of packed) {
    const mark = registry.mark();
    await run(
      PNPM[0],
      [
        ...PNPM.slice(1),
        "publish",
        p.tarball,
        "--registry",
        registry.url,
        "--no-git-checks",
        "--access",
        "public",
      ],
      {
        cwd: publishHome,
        env,
      },
    );
    const enc = p.name.replace("/", "%2f");
    const isPut = (l) => l.startsWith("http <-- 201") && l.toLowerCase().includes(`req: 'put /${enc}'`);
    const lines = await registry.requestsSince(mark, (ls) => ls.some(isPut));
    const put = lines.filter(isPut);
    log(`published ${p.name}@${p.version}; registry log:`);
    for (const l of lines) log(`    ${l}`);
    if (put.length === 0) result.errors.push(`registry log shows no PUT 201 for ${p.name}@${p.version}`);
    result.registry.publishes.push({ name: p.name, version: p.version, log: lines });
  }
}

function consumerFolder(consumersDir, label, npmrc) {
  const dir = join(consumersDir, label.replace(/[^a-z0-9.-]+/gi, "_"));
  mkdirSync(dir, { recursive: true });
  // Each consumer gets an empty npm cache of its own: nothing cached by an earlier install or
  // run can stand in for what the registry serves, so every tarball is fetched from it.
  writeFileSync(join(dir, ".npmrc"), `${npmrc}cache=${join(dir, ".npm-cache")}\n`);
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "release-check-consumer", version: "1.0.0", private: true }, null, 2)}\n`,
  );
  return dir;
}

async function consumer(pkg, plan, latest, consumersDir, npmrc, registry, env, result) {
  const specs = plan.install.map((n) => {
    if (latest[n] === undefined)
      throw new Error(`smoke/${plan.short}.mjs asks to install ${n}, which is not a public package`);
    return `${n}@${latest[n]}`;
  });
  heading(`install ${specs.join(" ")} alone from the registry`);
  const dir = consumerFolder(consumersDir, plan.short, npmrc);
  const entry = {
    package: pkg.name,
    install: specs,
    dir: relative(consumersDir, dir),
    resolved: {},
    runs: [],
    log: [],
  };
  result.consumers.push(entry);
  const mark = registry.mark();
  await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...specs], {
    cwd: dir,
    env,
    timeout: 300,
  });
  entry.log = await registry.requestsSince(mark, (ls) =>
    specs.every((spec) => {
      const at = spec.lastIndexOf("@");
      return ls.some((l) =>
        l.includes(`GET /${spec.slice(0, at)}/-/${shortName(spec.slice(0, at))}-${spec.slice(at + 1)}.tgz`),
      );
    }),
  );
  entry.proxied = ownRequests(entry.log).others;
  entry.log = printRequests(entry.log, registry.upstream);
  // What got installed, and from where: npm's lockfile records each package's tarball URL.
  const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
  for (const [path, info] of Object.entries(lock.packages ?? {})) {
    if (!path) continue;
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    if (!publicNames.has(name) && !name.startsWith("@tipcjs/")) continue;
    entry.resolved[name] = { version: info.version, resolved: info.resolved ?? null };
    const fromRegistry = String(info.resolved ?? "").startsWith(registry.url);
    const tarballGet = entry.log.some(
      (l) => l.includes(`GET /${name}/-/${shortName(name)}-${info.version}.tgz`) && /<-- 200/.test(l),
    );
    log(
      `  ${name}@${info.version} <- ${info.resolved}${fromRegistry && tarballGet ? " (tarball GET 200 in the registry log)" : ""}`,
    );
    if (!fromRegistry)
      result.errors.push(`${pkg.name} consumer: ${name} resolved from ${info.resolved}, not ${registry.url}`);
    if (!tarballGet)
      result.errors.push(
        `${pkg.name} consumer: no tarball GET for ${name}@${info.version} in the registry log`,
      );
  }
  for (const n of plan.install) {
    if (entry.resolved[n]?.version !== latest[n])
      result.errors.push(
        `${pkg.name} consumer: installed ${n}@${entry.resolved[n]?.version}, wanted ${latest[n]}`,
      );
  }
  for (const [kind, file] of [
    ["ESM", plan.esm],
    ["CommonJS", plan.cjs],
  ]) {
    if (!file) continue;
    const target = join(dir, file.slice(file.lastIndexOf("/") + 1));
    cpSync(file, target);
    const r = await run(process.execPath, [target], { cwd: dir, env, allowFail: true, timeout: 120 });
    const ok = r.code === 0;
    entry.runs.push({ kind, file: relative(join(smokeDir, ".."), file), ok, output: r.out.trim() });
    log(
      `${ok ? "ok  " : "FAIL"} ${kind} smoke ${relative(join(smokeDir, ".."), file)}${r.out.trim() ? `: ${r.out.trim().split("\n").join(" | ")}` : ""}`,
    );
    if (!ok)
      result.errors.push(
        `${pkg.name} ${kind} smoke program ${relative(join(smokeDir, ".."), file)} failed:\n${r.out}`,
      );
  }
}

async function binHelp(name, version, bin, consumersDir, npmrc, registry, env, result) {
  heading(`npx ${bin} --help (from ${name}@${version})`);
  const dir = consumerFolder(consumersDir, `npx-${bin}`, npmrc);
  const mark = registry.mark();
  const r = await run("npx", ["--yes", `--package=${name}@${version}`, bin, "--help"], {
    cwd: dir,
    env,
    allowFail: true,
    timeout: 180,
  });
  const lines = printRequests(
    await registry.requestsSince(mark, (ls) => ls.some((l) => l.includes(`GET /${name}/-/`))),
    registry.upstream,
  );
  const out = r.out.trim();
  const ok = r.code === 0 && out.length > 0;
  log(`${ok ? "ok  " : "FAIL"} exit ${r.code}; ${out.split("\n").slice(0, 6).join(" | ")}`);
  result.bins.push({ package: name, version, bin, ok, exitCode: r.code, output: out, log: lines });
  if (!ok) result.errors.push(`npx ${bin} --help (${name}@${version}) exited ${r.code}:\n${out}`);
  if (!lines.some((l) => l.includes(`GET /${name}/-/`)))
    result.errors.push(`npx ${bin}: the registry log shows no tarball GET for ${name}`);
}

function sizesTable(result) {
  const n = (x) => x.toLocaleString("en-US");
  const rows = Object.entries(result.packages)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, p]) => {
      const maps = p.tarball.files
        .filter((f) => f.path.endsWith(".map"))
        .reduce((sum, f) => sum + f.bytes, 0);
      return `| \`${name}\` | ${p.version} | ${n(p.tarball.bytes)} | ${n(p.tarball.unpacked)} | ${n(maps)} | ${p.tarball.files.length} |`;
    });
  return [
    "| package | version | tarball (bytes, gzip) | unpacked (bytes) | of which source maps | files |",
    "|---|---|---:|---:|---:|---:|",
    ...rows,
  ];
}

function summarize(result) {
  for (const line of sizesTable(result)) log(line);
  log("");
  for (const c of result.consumers)
    log(
      `installed ${c.install.join(" ")}: ${c.runs.map((r) => `${r.kind} ${r.ok ? "ok" : "FAILED"}`).join(", ")}`,
    );
  for (const b of result.bins) log(`npx ${b.bin} --help: ${b.ok ? "ok" : "FAILED"}`);
}

/** Rewrites the "## Package sizes" section of BENCHMARKS.md with this run's figures. */
function updateBenchmarks(result) {
  const file = join(repoRoot, "BENCHMARKS.md");
  const section = [
    "## Package sizes",
    "",
    "Generated by the release check (`npx --yes pnpm@12.4.2 release:check` rewrites this section):",
    "each public package as `pnpm pack` makes it after `changeset version` and a build, published to",
    "the check's local registry. Versions are the ones the check gives its throwaway copy (its second",
    "release makes one package a major), not releases on npm. No source maps ship (they embedded the",
    "sources and were two thirds of each tarball until 2026-11-25).",
    `Last run: ${result.finishedAt.slice(0, 10)}, Node.js ${process.version}, the \`node\` machine (2 cores).`,
    "",
    ...sizesTable(result),
    "",
  ].join("\n");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = text.indexOf("\n## Package sizes");
  let next;
  if (start === -1) next = `${text.trimEnd()}\n\n${section}`;
  else {
    const end = text.indexOf("\n## ", start + 1);
    next = `${text.slice(0, start + 1)}${section}${end === -1 ? "" : `\n${text.slice(end + 1)}`}`;
  }
  writeFileSync(file, next.endsWith("\n") ? next : `${next}\n`);
  log(`wrote package sizes to ${relative(process.cwd(), file) || file}`);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
