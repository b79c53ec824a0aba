/**
 * A TAP namespace that outlives its guests, and tipcd processes in it. Neither outlives the
 * test process: each hangs on a "lifeline" pipe only this process holds, so even a SIGKILLed
 * vitest worker takes tipcd with it and gets the namespace deleted.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { connect, type TipcClient } from "@tipcjs/client";
import { lifeline } from "./lifeline.js";
import { GUEST_IP, HOST_IP_FROM_GUEST, netnsCommand } from "./qemu.js";

const REPO = resolve(import.meta.dirname, "../../../..");

const NETNS_HOLDER = `ns=$1
ip netns add "$ns" || exit 1
ip netns exec "$ns" sh -c 'ip link set lo up && ip tuntap add dev tap0 mode tap && ip addr add ${HOST_IP_FROM_GUEST}/24 dev tap0 && ip link set tap0 up' || { ip netns del "$ns"; exit 1; }
trap '' INT TERM HUP
echo ready
read -r _ <&3
ip netns del "$ns"`;

const cleanups = new Set<() => void>();
let hooked = false;
function onExit(fn: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const f of cleanups) f();
    });
  }
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export interface TapNetns {
  name: string;
  /** Deletes the namespace (after the processes in it are gone). */
  close(): Promise<void>;
}

/**
 * Creates network namespace `name` with a persistent `tap0` (10.0.2.2/24) for guests booted with
 * `{ tapNetns: name, tapNetnsExternal: true }`, one after another. Root only.
 */
export async function createTapNetns(name: string): Promise<TapNetns> {
  const child = spawn("bash", ["-c", NETNS_HOLDER, "netns-holder", name], {
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    detached: true,
  });
  const exited = new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
  let out = "";
  await new Promise<void>((res, rej) => {
    child.stdout?.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      if (out.includes("ready")) res();
    });
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      out += s;
    });
    void exited.then((c) => rej(new Error(`namespace ${name}: exited ${c}: ${out}`)));
  });
  const off = onExit(() => child.stdio[3]?.destroy());
  return {
    name,
    close: async () => {
      off();
      child.stdio[3]?.destroy();
      await exited;
    },
  };
}

export interface TipcdOptions {
  netns: string;
  nodeId: string;
  /** the UDP port on 10.0.2.2 (the guest's `hostPort`) */
  hostPort: number;
  socketPath: string;
  legacy?: boolean;
  tolerance?: number;
  extraArgs?: string[];
  /** a tipcd config file holding the bearers (then no bearer flags are given; `hostPort` is unused) */
  configFile?: string;
}

export interface Tipcd {
  readonly child: ChildProcess;
  /** resolves with the exit code, or the signal's name */
  readonly exited: Promise<number | string>;
  /** stdout and stderr so far */
  log(): string;
  kill(signal: NodeJS.Signals): void;
  /** SIGKILL unless gone, then wait for the exit */
  close(): Promise<void>;
}

/**
 * Starts tipcd from source in `netns`, bound to 10.0.2.2:hostPort with the guest (10.0.2.15:6118)
 * as its replicast peer, and waits for its control socket.
 */
export async function startTipcd(o: TipcdOptions): Promise<Tipcd> {
  const argv = [
    process.execPath,
    "-C",
    "@tipcjs/source",
    "--import",
    "tsx",
    resolve(REPO, "apps/daemon/src/tipcd.ts"),
    "--node-id",
    o.nodeId,
    ...(o.configFile !== undefined
      ? ["--config", o.configFile]
      : [
          "--local-address",
          HOST_IP_FROM_GUEST,
          "--local-port",
          String(o.hostPort),
          "--peer",
          `${GUEST_IP}:6118`,
        ]),
    "--socket",
    o.socketPath,
    "--log-level",
    process.env.TIPCJS_INTEROP_TIPCD_LOG_LEVEL ?? "warn",
    "--no-pretty",
    ...(o.legacy ? ["--legacy"] : []),
    ...(o.tolerance === undefined ? [] : ["--tolerance", String(o.tolerance)]),
    ...(o.extraArgs ?? []),
  ];
  // a stale socket file (a killed tipcd's) would look like a ready one
  rmSync(o.socketPath, { force: true });
  // `ip netns exec` execs the command: child.pid is tipcd's own
  const [cmd, ...args] = netnsCommand(o.netns, argv);
  const child = spawn(cmd as string, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout?.on("data", (d) => {
    log += d;
  });
  child.stderr?.on("data", (d) => {
    log += d;
  });
  const exited = new Promise<number | string>((res) =>
    child.on("exit", (code, signal) => res(code ?? signal ?? "unknown")),
  );
  // SIGKILLs tipcd when this process ends, however it ends
  const endLifeline = lifeline(child.pid, "tipcd-lifeline");
  const off = onExit(() => child.kill("SIGKILL"));
  void exited.then(() => {
    off();
    endLifeline();
  });
  const t: Tipcd = {
    child,
    exited,
    log: () => log,
    kill: (signal) => child.kill(signal),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  const deadline = Date.now() + 120_000;
  while (!existsSync(o.socketPath)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`tipcd exited:\n${log}`);
    if (Date.now() > deadline) {
      await t.close();
      throw new Error(`tipcd's control socket did not appear:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return t;
}

/** `connect` with a few retries: the socket file appears just before tipcd accepts. */
export async function connectTipcd(socketPath: string): Promise<TipcClient> {
  for (let i = 0; ; i++) {
    try {
      return await connect(socketPath);
    } catch (e) {
      if (i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
