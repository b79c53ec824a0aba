// Runs tipcd and tipcctl as real processes, from the workspace sources: each test file bundles
// apps/daemon/src/{tipcd,tipcctl}.ts once with esbuild (the @tipcjs/source condition), so no
// package build is needed and each process starts in a fraction of tsx's time.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { chmodSync, mkdtempSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type TipcClient } from "@tipcjs/client";
import { build } from "esbuild";

export const ROOT = resolve(import.meta.dirname, "../../..");
const NODE_ARGS: string[] = [];
const BIN_DIR = mkdtempSync(join(tmpdir(), "tipcd-bin-"));
const TIPCD = join(BIN_DIR, "tipcd.mjs");
const TIPCCTL = join(BIN_DIR, "tipcctl.mjs");
let built: Promise<void> | undefined;

/** Bundles tipcd and tipcctl from sources (once per test file). Call in beforeAll. */
export function buildBins(): Promise<void> {
  built ??= build({
    entryPoints: {
      tipcd: join(ROOT, "apps/daemon/src/tipcd.ts"),
      tipcctl: join(ROOT, "apps/daemon/src/tipcctl.ts"),
    },
    outdir: BIN_DIR,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["@tipcjs/source"],
    // CommonJS dependencies (pino, prom-client) call require(): give the ESM bundle one
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: "error",
    // readable by a test that runs them as another user
  }).then(() => chmodSync(BIN_DIR, 0o755));
  return built;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

/** Free UDP ports on 127.0.0.1 (bound and released; distinct). */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createSocket>>((res, rej) => {
          const s = createSocket("udp4");
          s.once("error", rej);
          s.bind(0, "127.0.0.1", () => res(s));
        }),
    ),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export function freeTcpPort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      srv.close(() => res(typeof a === "object" && a ? a.port : 0));
    });
  });
}

/** Flags of one of two tipcd on 127.0.0.1 linked by replicast to each other only. */
export function pairFlags(own: number, peer: number): string[] {
  return [
    "--local-address",
    "127.0.0.1",
    "--local-port",
    String(own),
    "--peer",
    `127.0.0.1:${peer}`,
    "--configured-peers-only",
  ];
}

export interface DaemonProcess {
  name: string;
  socket: string;
  child: ChildProcess;
  log: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts tipcd with these flags (plus --socket, unless `defaultSocket`); `wrap` prefixes the
 * command (e.g. ip netns exec); `nodeArgs` go to node before the script (e.g. a heap limit).
 */
export function startTipcd(
  name: string,
  dir: string,
  flags: string[],
  wrap: string[] = [],
  options: { defaultSocket?: boolean; nodeArgs?: string[] } = {},
): DaemonProcess {
  const socket = join(dir, `${name}.sock`);
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, "a");
  const argv = [
    ...wrap,
    process.execPath,
    ...NODE_ARGS,
    ...(options.nodeArgs ?? []),
    TIPCD,
    ...(options.defaultSocket ? [] : ["--socket", socket]),
    "--no-pretty",
    ...flags,
  ];
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: ROOT, stdio: ["ignore", fd, fd] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  return { name, socket, child, log, exited };
}

export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The command line that runs tipcctl with these arguments (to wrap in another command). */
export function ctlCommand(args: string[]): string[] {
  return [process.execPath, ...NODE_ARGS, TIPCCTL, ...args];
}

/** Runs tipcctl to completion. */
export function tipcctl(args: string[], input?: string): Promise<CtlResult> {
  return new Promise((res) => {
    const child = execFile(
      process.execPath,
      [...NODE_ARGS, TIPCCTL, ...args],
      { cwd: ROOT, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        res({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** Starts tipcctl and returns the process (for `subscribe`, which runs until interrupted). */
export function spawnCtl(args: string[]): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, TIPCCTL, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms: number,
  what: string,
  every = 20,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    let v: T | undefined | false;
    try {
      v = await probe();
    } catch {
      v = undefined;
    }
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Connects once the daemon's control socket answers (it answers after the address trial). */
export function connectWhenUp(d: DaemonProcess, ms = 30_000): Promise<TipcClient> {
  return waitFor(
    async () => {
      if (d.child.exitCode !== null) throw new Error(`${d.name} exited with ${d.child.exitCode}`);
      return await connect(d.socket, { timeout: 5000 });
    },
    ms,
    `${d.name}'s control socket`,
    100,
  );
}

export async function stopAll(ds: DaemonProcess[]): Promise<void> {
  await Promise.all(
    ds.map(async (d) => {
      if (d.child.exitCode !== null || d.child.signalCode !== null) return;
      d.child.kill("SIGTERM");
      const t = setTimeout(() => d.child.kill("SIGKILL"), 10_000);
      await d.exited;
      clearTimeout(t);
    }),
  );
}
