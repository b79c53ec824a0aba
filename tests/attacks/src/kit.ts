// The attack suite's cluster and measuring kit: three tipcd processes on 127.0.0.1 holding
// BINDINGS_PER_DAEMON bindings each (from tests/daemon's harness), the truth every table must
// equal byte for byte, per-process RSS from /proc, drop counters from stats(), the kernel's own
// receive-queue figures for a port (/proc/net/udp), and a report file the figures go to.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection, type Socket as NetSocket } from "node:net";
import { join } from "node:path";
import type { BindingJSON, TipcClient } from "@tipcjs/client";
import {
  buildBins,
  connectWhenUp,
  type DaemonProcess,
  freeUdpPorts,
  ROOT,
  startTipcd,
  stopAll,
  tempDir,
  waitFor,
} from "../../daemon/src/harness.js";

export { waitFor };

export const DAEMONS = 3;
export const BINDINGS_PER_DAEMON = 2000;
/** Service type of the bindings the cluster holds (instances: daemon index * 1e6 + k). */
export const TYPE = 20_000;
/**
 * The RSS bound every tipcd must stay under after any attack. A daemon holding 6,000 bindings
 * sits near 90-110 MB here; 200 MB leaves room for garbage not yet collected, and is far below
 * what the unbounded paths reached (881 MB for fragments, 524 MB for silent subscribers).
 */
export const RSS_BOUND_KB = 200 * 1024;
/**
 * Each tipcd of the suite runs with this old-space limit. What a daemon holds must fit: one that
 * holds more dies and `alive` fails, whatever the machine's load. It also makes V8 collect
 * before it grows the heap, so RSS shows memory held rather than garbage not yet collected (with
 * the default limit, 40 silent subscribers left a daemon at 226-318 MB, 192 MB after they went;
 * with this one, 155-164 MB; 182 MB with 128 MB). 64 MB is too little for 40 silent
 * subscribers' bounded queues (1 MiB of unsent output each, plus queued events): the daemon died.
 */
export const HEAP_LIMIT_MB = 96;
/**
 * How long a daemon's RSS may stay over the bound right after an attack: garbage is not memory
 * held, and V8 gives it back only when it collects (its memory reducer runs once allocation
 * slows). A class that answers 1,000 pipelined 6,000-binding replies, or 40 silent subscribers'
 * event queues, leaves a heap of such garbage (measured: a daemon at 221 MB when one class
 * began and 142 MB when it ended, holding nothing more; 322 MB on a loaded machine). Memory a defect holds does not come back, and fails.
 */
export const RSS_SETTLE_MS = 15_000;
/** How long a table may take to return to the truth after an attack (re-sync included). */
export const RESYNC_BOUND_MS = 20_000;
const TOLERANCE = 1500;

export interface Daemon {
  index: number;
  proc: DaemonProcess;
  client: TipcClient;
  port: number;
  address: number;
  nodeId: string;
}

export interface Cluster {
  dir: string;
  daemons: Daemon[];
  /** canonical text of each daemon's expected table */
  truth: string[];
  /** Date.now() when every table first held the truth (the links had come up before) */
  readyAt?: number;
  stop(): Promise<void>;
}

/** One line per binding, fields in a fixed order, sorted: equal text means equal tables. */
export function canonical(bindings: readonly BindingJSON[]): string {
  return bindings
    .map((b) => `${b.type} ${b.lower} ${b.upper} ${b.node} ${b.port} ${b.key} ${b.scope}`)
    .sort()
    .join("\n");
}

/**
 * Starts DAEMONS tipcd on 127.0.0.1 (replicast, each peer configured, plus `extraPeers`), waits
 * until every pair is linked, publishes BINDINGS_PER_DAEMON bindings on each (held by the kit's
 * client connection) and waits until every table holds all of them.
 */
export async function startCluster(
  name: string,
  extraPeers: number[] = [],
  extraFlags: string[] = [],
): Promise<Cluster> {
  const c = await launch(name, extraPeers, extraFlags);
  await refreshTruth(c);
  await waitFor(async () => (await tableDiffs(c)).length === 0, 30_000, "every table holding the truth");
  c.readyAt = Date.now();
  return c;
}

/**
 * Until the links are up for more than a tolerance: within a tolerance of a link (or broadcast
 * receiver) coming up, the link engine takes two different copies of one seqno for a delayed
 * packet of the peer's previous session and does not resync (packages/link README, "Forged
 * first copies"), so a spoofed forgery there is not repaired. Attacks that rely on the resync
 * start after it.
 */
export async function pastLinkUpGrace(c: Cluster): Promise<void> {
  const ready = c.readyAt ?? 0;
  await waitFor(() => Date.now() - ready > 2 * TOLERANCE, 4 * TOLERANCE, "a tolerance past link up", 100);
}

/**
 * The truth, from what each daemon holds as its own (an attack on the network cannot change a
 * node's own bindings): call after the test itself publishes or withdraws.
 */
export async function refreshTruth(c: Cluster): Promise<void> {
  const own = await Promise.all(c.daemons.map((d) => d.client.bindings({ own: true })));
  const cluster = own.flatMap((list) => list.filter((b) => b.scope === "cluster"));
  c.truth = own.map((list) => canonical([...cluster, ...list.filter((b) => b.scope !== "cluster")]));
}

async function launch(name: string, extraPeers: number[], extraFlags: string[]): Promise<Cluster> {
  await buildBins();
  const dir = tempDir(`tipcd-attack-${name}`);
  const ports = await freeUdpPorts(DAEMONS);
  const procs = ports.map((port, i) =>
    startTipcd(
      `a${i + 1}`,
      dir,
      [
        "--node-id",
        `attack-${name}-${i + 1}`.slice(0, 16),
        "--local-address",
        "127.0.0.1",
        "--local-port",
        String(port),
        "--tolerance",
        String(TOLERANCE),
        "--log-level",
        "warn",
        ...[...ports.filter((p) => p !== port), ...extraPeers].flatMap((p) => ["--peer", `127.0.0.1:${p}`]),
        ...extraFlags,
      ],
      [],
      { nodeArgs: [`--max-old-space-size=${HEAP_LIMIT_MB}`] },
    ),
  );
  const stop = () => stopAll(procs);
  try {
    const clients = await Promise.all(procs.map((p) => connectWhenUp(p)));
    const daemons: Daemon[] = procs.map((proc, i) => ({
      index: i,
      proc,
      client: clients[i] as TipcClient,
      port: ports[i] as number,
      address: (clients[i] as TipcClient).info.address,
      nodeId: (clients[i] as TipcClient).info.nodeId,
    }));
    const c: Cluster = {
      dir,
      daemons,
      truth: [],
      stop: async () => {
        for (const d of daemons) await d.client.close().catch(() => {});
        await stop();
      },
    };
    await waitFor(() => linksUp(c), 30_000, "every daemon linked to the others");
    await Promise.all(
      daemons.map(async (d) => {
        for (let k = 0; k < BINDINGS_PER_DAEMON; k += 250) {
          await Promise.all(
            Array.from({ length: Math.min(250, BINDINGS_PER_DAEMON - k) }, (_, j) => {
              const lower = d.index * 1_000_000 + (k + j) * 4;
              return d.client.bind({ type: TYPE, lower, upper: lower + ((k + j) % 3) });
            }),
          );
        }
      }),
    );
    return c;
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * The cluster, or a new one when an earlier attack left it damaged (a link down, a peer renamed,
 * a table off the truth, a daemon over the RSS bound): each attack class starts from a healthy cluster, so one defect does
 * not show up again as a failure of the next class.
 */
export async function healthy(
  c: Cluster,
  name: string,
  extraPeers: number[] = [],
  extraFlags: string[] = [],
): Promise<Cluster> {
  const ok =
    alive(c) &&
    (await waitFor(
      () => rssAll(c).every((kb) => kb < RSS_BOUND_KB),
      RSS_SETTLE_MS,
      "RSS under the bound",
      250,
    ).catch(() => false)) &&
    (await waitFor(() => linksUp(c), 10_000, "links up").catch(() => false)) &&
    (await settleTables(c, 5000)).ok;
  if (ok) return c;
  await c.stop();
  return startCluster(name, extraPeers, extraFlags);
}

/** Daemons whose table differs from the truth (empty when every table is byte-identical). */
export async function tableDiffs(c: Cluster): Promise<string[]> {
  const out: string[] = [];
  for (const d of c.daemons) {
    const text = canonical(await d.client.bindings());
    if (text !== c.truth[d.index]) {
      const have = new Set(text.split("\n"));
      const want = new Set((c.truth[d.index] ?? "").split("\n"));
      const extra = [...have].filter((l) => !want.has(l));
      const missing = [...want].filter((l) => !have.has(l));
      out.push(
        `${d.nodeId}: ${extra.length} extra (${extra.slice(0, 3).join("; ")}), ${missing.length} missing`,
      );
    }
  }
  return out;
}

/** Polls until every table equals the truth; returns the time it took, or the differences. */
export async function settleTables(
  c: Cluster,
  ms = RESYNC_BOUND_MS,
): Promise<{ ok: boolean; ms: number; diffs: string[] }> {
  const t0 = Date.now();
  let diffs: string[] = [];
  try {
    await waitFor(
      async () => {
        diffs = await tableDiffs(c);
        return diffs.length === 0;
      },
      ms,
      "tables equal to the truth",
      200,
    );
    return { ok: true, ms: Date.now() - t0, diffs };
  } catch {
    return { ok: false, ms: Date.now() - t0, diffs };
  }
}

/** Every daemon sees every other daemon up, under the identity it started with. */
export async function linksUp(c: Cluster): Promise<boolean> {
  for (const d of c.daemons) {
    const nodes = await d.client.nodes();
    for (const o of c.daemons) {
      if (o === d) continue;
      const n = nodes.find((x) => x.address === o.address);
      if (!n?.up || n.nodeId !== o.nodeId) return false;
    }
  }
  return true;
}

export function alive(c: Cluster): boolean {
  return c.daemons.every((d) => d.proc.child.exitCode === null && d.proc.child.signalCode === null);
}

/** VmRSS of a process in kB. */
export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

export function rssAll(c: Cluster): number[] {
  return c.daemons.map((d) => rssKb(d.proc.child.pid as number));
}

export type Snapshot = Record<string, number>;

/** The parts of tipcd's `stats` (NodeStats as JSON) the suite reads. */
interface StatsJSON {
  drops: Record<"link" | "transport" | "distributor" | "crypto", Record<string, number>>;
  link: Record<string, unknown>;
  nodes: { known: number; up: number };
}

/**
 * One daemon's counters, flattened: "link:<cause>", "transport:<cause>", "distributor:<cause>",
 * "crypto:<cause>" (encrypted daemons)
 * for drops, "stat:<name>" for the numeric link statistics (linkDowns, duplicates, resyncs...).
 */
export async function snapshot(d: Daemon): Promise<Snapshot> {
  const s = (await d.client.stats()) as unknown as StatsJSON;
  const out: Snapshot = {};
  for (const layer of ["link", "transport", "distributor", "crypto"] as const) {
    for (const [k, v] of Object.entries(s.drops[layer] ?? {})) out[`${layer}:${k}`] = v;
  }
  for (const [k, v] of Object.entries(s.link)) if (typeof v === "number") out[`stat:${k}`] = v;
  out["nodes:known"] = s.nodes.known;
  return out;
}

export async function snapshotAll(c: Cluster): Promise<Snapshot[]> {
  return Promise.all(c.daemons.map((d) => snapshot(d)));
}

/** after - before, keys that changed only. */
export function delta(before: Snapshot, after: Snapshot): Snapshot {
  const out: Snapshot = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const v = (after[k] ?? 0) - (before[k] ?? 0);
    if (v !== 0) out[k] = v;
  }
  return out;
}

/** Drop causes only (link/transport/distributor), summed over daemons. */
export function dropsOf(deltas: Snapshot[]): Snapshot {
  const out: Snapshot = {};
  for (const d of deltas)
    for (const [k, v] of Object.entries(d))
      if (!k.startsWith("stat:") && !k.startsWith("nodes:")) out[k] = (out[k] ?? 0) + v;
  return out;
}

export const sum = (s: Snapshot, pred: (k: string) => boolean = () => true): number =>
  Object.entries(s).reduce((n, [k, v]) => (pred(k) ? n + v : n), 0);

// ---------------------------------------------------------------- the attacker's sockets

/** Kernel figures for a UDP socket bound on 127.0.0.1:port: bytes queued and datagrams dropped. */
export function udpQueue(port: number): { rxQueue: number; drops: number } {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/udp", "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local) {
      const rx = (f[4] ?? "0:0").split(":")[1] ?? "0";
      return { rxQueue: Number.parseInt(rx, 16), drops: Number(f[12] ?? 0) };
    }
  }
  return { rxQueue: 0, drops: 0 };
}

export class Attacker {
  readonly received: { bytes: Buffer; port: number }[] = [];
  sent = 0;
  private constructor(
    readonly socket: Socket,
    readonly port: number,
  ) {}

  static async open(port = 0): Promise<Attacker> {
    const s = createSocket("udp4");
    await new Promise<void>((res, rej) => {
      s.once("error", rej);
      s.bind(port, "127.0.0.1", () => res());
    });
    const a = new Attacker(s, s.address().port);
    s.on("message", (bytes, rinfo) => {
      if (a.received.length < 100_000) a.received.push({ bytes, port: rinfo.port });
    });
    return a;
  }

  /**
   * Sends every datagram to 127.0.0.1:port, pacing itself on the target's receive queue (read
   * from /proc/net/udp) so the kernel does not drop them before tipcd sees them. Returns the
   * datagrams the kernel dropped at the target's socket anyway (not counted by tipcd).
   */
  async flood(datagrams: Iterable<Uint8Array>, port: number, maxQueued = 96 * 1024): Promise<number> {
    const drops0 = udpQueue(port).drops;
    let queued = 0;
    for (const d of datagrams) {
      // the queue is counted in buffer sizes: a small datagram costs about 1 KB of it
      const cost = d.byteLength + 1024;
      if (queued + cost > maxQueued) {
        await waitFor(() => udpQueue(port).rxQueue <= maxQueued / 4, 30_000, `port ${port} draining`, 1);
        queued = udpQueue(port).rxQueue;
      }
      await new Promise<void>((res, rej) =>
        this.socket.send(d, port, "127.0.0.1", (e) => (e ? rej(e) : res())),
      );
      queued += cost;
      this.sent++;
    }
    await waitFor(() => udpQueue(port).rxQueue === 0, 30_000, `port ${port} drained`, 5);
    return udpQueue(port).drops - drops0;
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

/**
 * Sends UDP datagrams on 127.0.0.1 with a source port of our choosing (a peer's), through a raw
 * IPv4 socket (root only; the suite runs as root, as tests/daemon's namespace tests do). This is
 * the off-path attacker who can spoof a source: no source check can tell its datagrams apart.
 */
export class Spoofer {
  private buffered = "";
  private waiting: (() => void) | undefined;
  private constructor(private readonly py: ChildProcessWithoutNullStreams) {
    py.stdout.setEncoding("utf8");
    py.stdout.on("data", (t: string) => {
      this.buffered += t;
      if (this.buffered.includes("\n")) {
        this.buffered = "";
        this.waiting?.();
      }
    });
  }

  static open(): Spoofer {
    const script = [
      "import socket, struct, sys",
      "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)",
      "lo = socket.inet_aton('127.0.0.1')",
      "i = sys.stdin.buffer",
      "while True:",
      "  h = i.read(8)",
      "  if len(h) < 8: break",
      "  n, src, dst = struct.unpack('!IHH', h)",
      "  for _ in range(n):",
      "    (ln,) = struct.unpack('!H', i.read(2))",
      "    body = i.read(ln)",
      "    udp = struct.pack('!HHHH', src, dst, 8 + ln, 0) + body",
      "    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, lo, lo)",
      "    s.sendto(ip + udp, ('127.0.0.1', 0))",
      "  sys.stdout.write('ok\\n'); sys.stdout.flush()",
    ].join("\n");
    return new Spoofer(spawn("python3", ["-c", script], { stdio: ["pipe", "pipe", "pipe"] }));
  }

  /** Sends the datagrams from 127.0.0.1:srcPort to 127.0.0.1:dstPort, paced as Attacker.flood. */
  async flood(
    datagrams: Uint8Array[],
    srcPort: number,
    dstPort: number,
    maxQueued = 96 * 1024,
  ): Promise<number> {
    const drops0 = udpQueue(dstPort).drops;
    for (let i = 0; i < datagrams.length; ) {
      await waitFor(() => udpQueue(dstPort).rxQueue <= maxQueued / 4, 30_000, `port ${dstPort} draining`, 1);
      const batch: Uint8Array[] = [];
      for (let q = udpQueue(dstPort).rxQueue; i < datagrams.length && q < maxQueued; i++) {
        const d = datagrams[i] as Uint8Array;
        batch.push(d);
        q += d.byteLength + 1024;
      }
      const head = Buffer.alloc(8);
      head.writeUInt32BE(batch.length, 0);
      head.writeUInt16BE(srcPort, 4);
      head.writeUInt16BE(dstPort, 6);
      const parts = [head];
      for (const d of batch) {
        const l = Buffer.alloc(2);
        l.writeUInt16BE(d.byteLength);
        parts.push(l, Buffer.from(d));
      }
      const done = new Promise<void>((r) => {
        this.waiting = r;
      });
      this.py.stdin.write(Buffer.concat(parts));
      await done;
    }
    await waitFor(() => udpQueue(dstPort).rxQueue === 0, 30_000, `port ${dstPort} drained`, 5);
    return udpQueue(dstPort).drops - drops0;
  }

  close(): void {
    this.py.stdin.end();
  }
}

/**
 * A raw control-socket connection: writes request lines as fast as the socket takes them and
 * counts reply lines (JSON-parsing only short ones, for their error codes), or reads nothing.
 */
export class RawControl {
  lines = 0;
  bytes = 0;
  results = 0;
  readonly errors: Record<string, number> = {};
  closed = false;
  private tail = "";
  private constructor(readonly socket: NetSocket) {
    socket.setEncoding("utf8");
    socket.on("data", (t: string) => {
      this.bytes += t.length;
      let start = 0;
      for (let nl = t.indexOf("\n"); nl >= 0; nl = t.indexOf("\n", start)) {
        const line = start === 0 && this.tail ? this.tail + t.slice(0, nl) : t.slice(start, nl);
        this.tail = "";
        start = nl + 1;
        this.lines++;
        if (line.length < 4096) {
          const m = JSON.parse(line) as { result?: unknown; error?: { code: string }; event?: string };
          if (m.error) this.errors[m.error.code] = (this.errors[m.error.code] ?? 0) + 1;
          else if (m.result !== undefined) this.results++;
        } else this.results++;
      }
      // a long line's head is kept only to finish the line count, not parsed
      this.tail = (this.tail + t.slice(start)).slice(0, 4096);
    });
    socket.on("close", () => {
      this.closed = true;
    });
    socket.on("error", () => {});
  }

  /** Connects (rejects after 5 s: a daemon that stops accepting must not hang the suite). */
  static open(path: string, read = true): Promise<RawControl> {
    return new Promise((res, rej) => {
      const s = createConnection({ path });
      const t = setTimeout(() => {
        s.destroy();
        rej(new Error(`no connection to ${path} within 5 s`));
      }, 5000);
      s.once("error", (e) => {
        clearTimeout(t);
        rej(e);
      });
      s.once("connect", () => {
        clearTimeout(t);
        const rc = new RawControl(s);
        if (!read) s.pause();
        res(rc);
      });
    });
  }

  request(id: number, method: string, params: object = {}): void {
    this.socket.write(`${JSON.stringify({ id, method, params })}\n`);
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------- the report

export interface ClassFigures {
  /** datagrams (or control requests) the attacker sent */
  sent: number;
  /** what was sent, in a few words */
  what: string;
  /** datagrams the kernel dropped at tipcd's socket before tipcd read them */
  kernelDropped?: number;
  rssBeforeKb: number[];
  rssAfterKb: number[];
  /** drops by cause over the three daemons, during the attack and its aftermath */
  drops: Snapshot;
  /** other counters that moved (linkDowns, duplicates, resyncs...), over the three daemons */
  counters: Snapshot;
  /** datagrams tipcd sent per forged datagram, where the attack aims at amplification */
  amplification?: number;
  tablesEqual: boolean;
  /** ms until every table equalled the truth again (0: it never differed when first checked) */
  settleMs: number;
  linksUp: boolean;
  alive: boolean;
  notes?: string;
}

export const REPORT_JSON = join(ROOT, "reports/attacks.json");
export const REPORT_MD = join(ROOT, "reports/attacks.md");

/** Merges one attack class's figures into reports/attacks.json and re-renders reports/attacks.md. */
export function record(name: string, f: ClassFigures): void {
  mkdirSync(join(ROOT, "reports"), { recursive: true });
  let all: Record<string, ClassFigures> = {};
  try {
    all = JSON.parse(readFileSync(REPORT_JSON, "utf8"));
  } catch {
    all = {};
  }
  all[name] = f;
  writeFileSync(REPORT_JSON, `${JSON.stringify(all, null, 2)}\n`);
  const mb = (kb: number[]) => kb.map((k) => (k / 1024).toFixed(0)).join("/");
  const fmt = (s: Snapshot) =>
    Object.entries(s)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  const rows = Object.entries(all).map(
    ([n, x]) =>
      `| ${n} | ${x.what} | ${x.sent} | ${mb(x.rssBeforeKb)} | ${mb(x.rssAfterKb)} | ${fmt(x.drops)} | ${
        x.amplification === undefined ? "-" : x.amplification.toFixed(2)
      } | ${x.tablesEqual ? `yes (${x.settleMs} ms)` : "NO"} | ${x.linksUp ? "yes" : "NO"} | ${fmt(x.counters)} |`,
  );
  writeFileSync(
    REPORT_MD,
    [
      "| class | sent | count | RSS before (MB, per daemon) | RSS after | drops by cause | amplification | tables equal | links up | counters |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...rows,
      "",
    ].join("\n"),
  );
}

/** Runs `attack` between two measurements and returns the figures (asserting is the caller's). */
export async function measure(
  c: Cluster,
  what: string,
  attack: () => Promise<{ sent: number; kernelDropped?: number; amplification?: number; notes?: string }>,
  opts: { expectLinksUp?: boolean } = {},
): Promise<ClassFigures> {
  const rssBeforeKb = rssAll(c);
  const before = await snapshotAll(c);
  const r = await attack();
  // links that an attack took down come back by themselves (then the bulk re-syncs the tables);
  // wait for them only if the class may reset links, so a class that must not is caught by the
  // first look after the tables settle
  const upFirst =
    opts.expectLinksUp === false
      ? await waitFor(() => linksUp(c), 30_000, "links").catch(() => false)
      : undefined;
  const settle = await settleTables(c);
  const up = upFirst ?? (await linksUp(c));
  const after = await snapshotAll(c);
  const deltas = before.map((b, i) => delta(b, after[i] ?? {}));
  const rssRightAfter = rssAll(c);
  const rssSettled = rssRightAfter.every((kb) => kb < RSS_BOUND_KB)
    ? true
    : await waitFor(
        () => rssAll(c).every((kb) => kb < RSS_BOUND_KB),
        RSS_SETTLE_MS,
        "RSS under the bound",
        250,
      ).catch(() => false);
  const rssNote =
    rssSettled && rssRightAfter.every((kb) => kb < RSS_BOUND_KB)
      ? undefined
      : `RSS right after ${rssRightAfter.map((k) => (k / 1024).toFixed(0)).join("/")} MB`;
  const counters: Snapshot = {};
  for (const d of deltas)
    for (const [k, v] of Object.entries(d))
      if (
        k.startsWith("stat:") &&
        [
          "stat:linkDowns",
          "stat:linkUps",
          "stat:duplicates",
          "stat:resyncs",
          "stat:nacksSent",
          "stat:reassembled",
        ].includes(k)
      )
        counters[k.slice(5)] = (counters[k.slice(5)] ?? 0) + v;
  // links that went down came up again before the tables settled: the grace after link up
  // (pastLinkUpGrace) counts from here
  if ((counters.linkDowns ?? 0) > 0 || (counters.linkUps ?? 0) > 0 || (counters.resyncs ?? 0) > 0)
    c.readyAt = Date.now();
  return {
    what,
    sent: r.sent,
    ...(r.kernelDropped !== undefined ? { kernelDropped: r.kernelDropped } : {}),
    rssBeforeKb,
    rssAfterKb: rssAll(c),
    drops: dropsOf(deltas),
    counters,
    ...(r.amplification !== undefined ? { amplification: r.amplification } : {}),
    tablesEqual: settle.ok,
    settleMs: settle.ms,
    linksUp: up === true,
    alive: alive(c),
    ...(r.notes || rssNote ? { notes: [r.notes, rssNote].filter(Boolean).join("; ") } : {}),
    ...(settle.ok
      ? {}
      : {
          notes:
            `${[r.notes, rssNote].filter(Boolean).join("; ")} diverged: ${settle.diffs.join(" | ")}`.trim(),
        }),
  };
}
