import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { buildGuest, type GuestImage } from "./guest-build.js";
import {
  type LinkEntry,
  type NameTableEntry,
  type NodeEntry,
  parseLinkList,
  parseNameTable,
  parseNodeList,
  type Scope,
} from "./parse.js";

/** The guest's fixed addresses inside QEMU's user-mode network. */
export const GUEST_IP = "10.0.2.15";
/** The host as the guest sees it: datagrams to it arrive at the host's 127.0.0.1. */
export const HOST_IP_FROM_GUEST = "10.0.2.2";

export interface ServiceRange {
  type: number;
  lower: number;
  upper: number;
}

export interface GuestOptions {
  /**
   * Host UDP port the guest's bearer sends to: the guest sends to 10.0.2.2:hostPort and the
   * datagrams arrive at 127.0.0.1:hostPort. Required; take it from a socket bound to port 0.
   */
  hostPort: number;
  /**
   * Instead of QEMU's user-mode network: a TAP device `tap0` with 10.0.2.2/24 inside a network
   * namespace of this name, which the harness creates and deletes (needs root). A process run in
   * that namespace (`netnsCommand`) reaches the guest's 10.0.2.15 directly, without address
   * translation: the way to peer a separate tipcd process with the kernel. `hostPort` is then
   * the port on 10.0.2.2 in the namespace, and `hostForwardPort` is ignored.
   */
  tapNetns?: string;
  /**
   * With `tapNetns`: the namespace and its `tap0` exist already (`createTapNetns`) and outlive
   * this guest, so a tipcd in it keeps running while the guest is killed and booted again.
   */
  tapNetnsExternal?: boolean;
  /** Forward 127.0.0.1:hostForwardPort to the guest's bearer port (a stable address for it). */
  hostForwardPort?: number;
  /** Guest UDP bearer port (default 6118). */
  guestPort?: number;
  /** Node identity (default "guest1"). Ignored when `address` is given. */
  identity?: string;
  /** Legacy Z.C.N node address instead of an identity. */
  address?: string;
  /** Network id (default: the kernel's 4711). */
  netId?: number;
  /** Enable the bearer at boot (default true). Otherwise call `guest.enableBearer()` later. */
  enableBearer?: boolean;
  /** Cluster-scope bindings tipc-binder makes at boot. */
  bindings?: ServiceRange[];
  /** The guest powers itself off after this many seconds: a backstop (default 1200). */
  guestTimeoutSeconds?: number;
  /** How long to wait for the guest's "@@READY" (default 180 s: TCG boot takes ~10 s). */
  bootTimeoutMs?: number;
  memoryMiB?: number;
  /** Extra kernel command line. */
  append?: string;
  /**
   * Delay on the guest's network, both ways: QEMU's `filter-buffer` holds every frame and
   * releases the held ones each `netBufferMs` (so each waits 0 to `netBufferMs`, in order). The
   * host kernel here has no `sch_netem`; this is the delay that works with any host.
   */
  netBufferMs?: number;
  /** Also write the raw serial console to this file. */
  consoleLogPath?: string;
  /** A prebuilt image (default: `buildGuest()`). */
  image?: GuestImage;
}

export interface CommandResult {
  command: string;
  /** exit code of `sh -c command` in the guest */
  code: number;
  /** stdout and stderr, merged, one entry per line */
  lines: string[];
  output: string;
}

export class GuestCommandError extends Error {
  constructor(readonly result: CommandResult) {
    super(`guest command failed (exit ${result.code}): ${result.command}\n${result.output}`);
    this.name = "GuestCommandError";
  }
}

interface PendingCommand {
  id: number;
  command: string;
  lines: string[];
  resolve(result: CommandResult): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

// The QEMU process group must never outlive the test process, even when that process is
// SIGKILLed: bash keeps QEMU in the background and kills it once fd 3 (a pipe whose other end
// only this process holds) reaches end of file.
const LIFELINE = `"$@" <&0 &
q=$!
( read -r _ <&3; kill -9 "$q" 2>/dev/null ) &
wait "$q"`;

// TAP mode: the same, inside a namespace made for this guest and deleted when QEMU is gone
// (also when the test process dies: the lifeline kills QEMU, then this script goes on).
const NETNS_LIFELINE = `ns=$1; shift
ip netns add "$ns" || exit 1
ip netns exec "$ns" sh -c 'ip link set lo up && ip tuntap add dev tap0 mode tap && ip addr add ${HOST_IP_FROM_GUEST}/24 dev tap0 && ip link set tap0 up' || { ip netns del "$ns"; exit 1; }
trap '' INT TERM
ip netns exec "$ns" "$@" <&0 &
q=$!
( read -r _ <&3; kill -9 "$q" 2>/dev/null ) &
wait "$q"
rc=$?
ip netns del "$ns"
exit $rc`;

/** argv to run a command inside a guest's TAP namespace (e.g. a tipcd process). */
export function netnsCommand(netns: string, argv: string[]): string[] {
  return ["ip", "netns", "exec", netns, ...argv];
}

const live = new Set<KernelGuest>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const g of live) g.killNow();
  });
}

/** Boots the kernel guest and resolves once its init serves commands ("@@READY"). */
export async function bootGuest(options: GuestOptions): Promise<KernelGuest> {
  const image = options.image ?? (await buildGuest());
  const guest = new KernelGuest(image, options);
  try {
    await guest.ready;
  } catch (err) {
    await guest.close();
    throw err;
  }
  return guest;
}

/**
 * Boots a guest, runs `fn`, and always kills QEMU afterwards (also when `fn` throws).
 */
export async function withGuest<T>(
  options: GuestOptions,
  fn: (guest: KernelGuest) => Promise<T>,
): Promise<T> {
  const guest = await bootGuest(options);
  try {
    return await fn(guest);
  } finally {
    await guest.close();
  }
}

export function qemuArgs(image: GuestImage, o: GuestOptions): string[] {
  const append = [
    "console=ttyS0",
    "panic=-1",
    "loglevel=4",
    `tipc_rport=${o.hostPort}`,
    `tipc_timeout=${o.guestTimeoutSeconds ?? 1200}`,
  ];
  if (o.guestPort !== undefined) append.push(`tipc_lport=${o.guestPort}`);
  if (o.identity !== undefined) {
    if (!/^[\x21-\x7e]{1,16}$/.test(o.identity))
      throw new Error(`bad identity ${JSON.stringify(o.identity)}`);
    append.push(`tipc_id=${o.identity}`);
  }
  if (o.address !== undefined) append.push(`tipc_addr=${o.address}`);
  if (o.netId !== undefined) append.push(`tipc_netid=${o.netId}`);
  if (o.enableBearer === false) append.push("tipc_bearer=0");
  if (o.bindings?.length) {
    append.push(`tipc_bind=${o.bindings.map((b) => `${b.type}_${b.lower}_${b.upper}`).join(",")}`);
  }
  if (o.append) append.push(o.append);
  let netdev = `user,id=n0,net=10.0.2.0/24,host=${HOST_IP_FROM_GUEST},restrict=off`;
  if (o.tapNetns !== undefined) {
    netdev = "tap,id=n0,ifname=tap0,script=no,downscript=no";
  } else if (o.hostForwardPort !== undefined) {
    netdev += `,hostfwd=udp:127.0.0.1:${o.hostForwardPort}-${GUEST_IP}:${o.guestPort ?? 6118}`;
  }
  return [
    "-machine",
    "q35,accel=tcg",
    "-cpu",
    "max",
    "-smp",
    "1",
    "-m",
    String(o.memoryMiB ?? 256),
    "-nographic",
    "-no-reboot",
    "-nodefaults",
    "-serial",
    "stdio",
    "-kernel",
    image.kernel,
    "-initrd",
    image.initrd,
    "-append",
    append.join(" "),
    "-netdev",
    netdev,
    "-device",
    "virtio-net-pci,netdev=n0,romfile=",
    ...(o.netBufferMs === undefined
      ? []
      : [
          "-object",
          `filter-buffer,id=delay0,netdev=n0,queue=all,interval=${Math.round(o.netBufferMs * 1000)}`,
        ]),
  ];
}

/** A Linux kernel TIPC node running in QEMU, driven over its serial console. */
export class KernelGuest {
  /** Every console line so far (carriage returns removed). */
  readonly transcript: string[] = [];
  /** Resolves with the "@@READY ..." line. */
  readonly ready: Promise<string>;
  /** Resolves with QEMU's exit code (or signal name) once it is gone. */
  readonly exited: Promise<number | string>;
  /** host wall-clock ms from spawn to "@@READY" (undefined before) */
  bootMs: number | undefined;

  private readonly child: ChildProcess;
  private readonly stdin: Writable;
  private readonly log: WriteStream | undefined;
  private partial = "";
  private nextId = 1;
  private current: PendingCommand | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private isExited = false;
  private readonly failures: string[] = [];

  constructor(
    readonly image: GuestImage,
    readonly options: GuestOptions,
  ) {
    installExitHook();
    const started = Date.now();
    this.child = spawn(
      "bash",
      options.tapNetns === undefined || options.tapNetnsExternal
        ? [
            "-c",
            LIFELINE,
            "qemu-lifeline",
            ...(options.tapNetns === undefined ? [] : netnsCommand(options.tapNetns, [])),
            "qemu-system-x86_64",
            ...qemuArgs(image, options),
          ]
        : [
            "-c",
            NETNS_LIFELINE,
            "qemu-lifeline",
            options.tapNetns,
            "qemu-system-x86_64",
            ...qemuArgs(image, options),
          ],
      {
        stdio: ["pipe", "pipe", "pipe", "pipe"],
        detached: true,
      },
    );
    live.add(this);
    this.stdin = this.child.stdin as Writable;
    this.stdin.on("error", () => {});
    this.log = options.consoleLogPath ? createWriteStream(options.consoleLogPath) : undefined;

    let onReady: (line: string) => void = () => {};
    let onFail: (err: Error) => void = () => {};
    this.ready = new Promise<string>((res, rej) => {
      onReady = res;
      onFail = rej;
    });
    this.ready.catch(() => {});
    this.exited = new Promise((res) => {
      this.child.on("exit", (code, signal) => {
        this.isExited = true;
        live.delete(this);
        this.child.stdio[3]?.destroy();
        const how = code ?? signal ?? "unknown";
        onFail(new Error(`QEMU exited (${how}) before the guest was ready\n${this.tail()}`));
        this.current?.reject(new Error(`QEMU exited (${how}) during: ${this.current.command}`));
        res(how);
      });
    });
    this.child.on("error", (err) => onFail(err));

    const bootTimer = setTimeout(() => {
      onFail(new Error(`guest not ready after ${options.bootTimeoutMs ?? 180_000} ms\n${this.tail()}`));
    }, options.bootTimeoutMs ?? 180_000);
    this.ready.then(
      () => clearTimeout(bootTimer),
      () => clearTimeout(bootTimer),
    );

    const onData = (chunk: string) => {
      this.log?.write(chunk);
      const text = this.partial + chunk;
      const parts = text.split("\n");
      this.partial = parts.pop() ?? "";
      for (const raw of parts) {
        const line = raw.replace(/\r/g, "");
        this.transcript.push(line);
        this.onLine(line, (l) => {
          this.bootMs = Date.now() - started;
          onReady(l);
        });
      }
    };
    this.child.stdout?.setEncoding("utf8").on("data", onData);
    this.child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      for (const line of s.split("\n")) if (line) this.transcript.push(`[qemu stderr] ${line}`);
    });
  }

  private onLine(line: string, onReady: (line: string) => void): void {
    const cur = this.current;
    if (cur && line.startsWith("@@O ")) {
      const prefix = `@@O ${cur.id} `;
      if (line.startsWith(prefix)) cur.lines.push(line.slice(prefix.length));
      else if (line === `@@O ${cur.id}`) cur.lines.push("");
      return;
    }
    if (cur && line.startsWith("@@END ")) {
      const [, id, code] = line.split(" ");
      if (Number(id) === cur.id) {
        clearTimeout(cur.timer);
        this.current = undefined;
        cur.resolve({
          command: cur.command,
          code: Number(code),
          lines: cur.lines,
          output: cur.lines.join("\n"),
        });
      }
      return;
    }
    const at = line.indexOf("@@");
    if (at < 0) return;
    const tagged = line.slice(at);
    if (tagged.startsWith("@@READY")) onReady(tagged);
    else if (tagged.startsWith("@@FAIL")) this.failures.push(tagged);
  }

  /** The last console lines, for error messages. */
  tail(n = 40): string {
    return this.transcript.slice(-n).join("\n");
  }

  /** Setup steps in the guest's init that failed ("@@FAIL ..." lines). */
  get setupFailures(): readonly string[] {
    return this.failures;
  }

  /**
   * Runs `sh -c command` in the guest (one command at a time; no newlines) and returns its
   * exit code and merged output.
   */
  run(command: string, { timeoutMs = 120_000 }: { timeoutMs?: number } = {}): Promise<CommandResult> {
    if (/[\r\n]/.test(command)) return Promise.reject(new Error("guest commands must be one line"));
    const result = this.queue.then(
      () =>
        new Promise<CommandResult>((resolve, reject) => {
          if (this.isExited) {
            reject(new Error(`QEMU has exited; cannot run: ${command}`));
            return;
          }
          const id = this.nextId++;
          const timer = setTimeout(() => {
            if (this.current?.id === id) this.current = undefined;
            reject(new Error(`guest command timed out after ${timeoutMs} ms: ${command}\n${this.tail()}`));
          }, timeoutMs);
          this.current = { id, command, lines: [], resolve, reject, timer };
          this.stdin.write(`@@CMD ${id} ${command}\n`);
        }),
    );
    this.queue = result.catch(() => {});
    return result;
  }

  /** Like `run`, but throws GuestCommandError unless the exit code is 0; returns the output. */
  async exec(command: string, opts?: { timeoutMs?: number }): Promise<string> {
    const r = await this.run(command, opts);
    if (r.code !== 0) throw new GuestCommandError(r);
    return r.output;
  }

  async nameTable(): Promise<NameTableEntry[]> {
    return parseNameTable(await this.exec("tipc nametable show"));
  }

  async links(): Promise<LinkEntry[]> {
    return parseLinkList(await this.exec("tipc link list"));
  }

  async nodes(): Promise<NodeEntry[]> {
    return parseNodeList(await this.exec("tipc node list"));
  }

  /** Bind a service range in the guest (tipc-binder's socket). */
  bind(r: ServiceRange, scope: Scope = "cluster"): Promise<string> {
    return this.exec(`tipc-binder bind ${r.type} ${r.lower} ${r.upper} ${scope}`);
  }

  unbind(r: ServiceRange, scope: Scope = "cluster"): Promise<string> {
    return this.exec(`tipc-binder unbind ${r.type} ${r.lower} ${r.upper} ${scope}`);
  }

  /** `count` ranges {type, lower + i*w, upper + i*w}, w = upper - lower + 1. */
  bindMany(r: ServiceRange, count: number, scope: Scope = "cluster"): Promise<string> {
    return this.exec(`tipc-binder bindmany ${r.type} ${r.lower} ${r.upper} ${count} ${scope}`);
  }

  unbindMany(r: ServiceRange, count: number, scope: Scope = "cluster"): Promise<string> {
    return this.exec(`tipc-binder unbindmany ${r.type} ${r.lower} ${r.upper} ${count} ${scope}`);
  }

  unbindAll(): Promise<string> {
    return this.exec("tipc-binder unbindall");
  }

  /** Enables the UDP bearer as configured at boot (for guests booted with enableBearer: false). */
  enableBearer(): Promise<string> {
    return this.exec("bearer-up");
  }

  disableBearer(): Promise<string> {
    return this.exec("tipc bearer disable media udp name b1");
  }

  /**
   * Polls `probe` until it returns something other than undefined/false, or throws after
   * `timeoutMs` with the last value it saw.
   */
  async waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined | false>,
    { timeoutMs = 60_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Kills QEMU at once and waits until it is gone (and its TAP namespace, if any, deleted). */
  async close(): Promise<void> {
    if (this.options.tapNetns !== undefined && !this.options.tapNetnsExternal && !this.isExited) {
      // closing the lifeline makes the script kill QEMU and delete the namespace itself
      this.child.stdio[3]?.destroy();
      const fallback = setTimeout(() => this.killNow(), 10_000);
      await this.exited;
      clearTimeout(fallback);
    } else {
      this.killNow();
    }
    await this.exited;
    this.log?.end();
  }

  /** Synchronous kill (SIGKILL to the process group), also used from the process exit hook. */
  killNow(): void {
    if (this.isExited || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    if (this.options.tapNetns !== undefined && !this.options.tapNetnsExternal) {
      spawnSync("ip", ["netns", "del", this.options.tapNetns], { stdio: "ignore" });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}
