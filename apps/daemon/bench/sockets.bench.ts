/**
 * Issue 16's figures through tipcd: the connectionless data path used by a local program over
 * `@tipcjs/client` (the extra Unix-socket hop to the daemon, its framing and its node), as a
 * ratio to the same work in process (`@tipcjs/node` over UDP loopback), measured in one run with
 * the rounds alternating so a change in the machine's speed hits both alike:
 *
 * - one-way throughput of 100-byte messages from a socket on one node to a socket bound on the
 *   other, every message delivered (at most `WINDOW` sends outstanding);
 * - request/reply latency p50 and p99 with 100-byte messages.
 *
 * Two tipcd processes on 127.0.0.1 (run from the sources), one client connection to each.
 * Run (quiet machine): npx tsx --conditions=@tipcjs/source apps/daemon/bench/sockets.bench.ts [rounds]
 */
import { createNode, type TipcNode } from "@tipcjs/node";
import { udpTransport } from "@tipcjs/transport-udp";
import { startTipcds } from "./tipcds.js";

const ROUNDS = Number(process.argv[2] ?? 3);
const COUNT = Number(process.env.BENCH_COUNT ?? 20_000);
const PINGS = Number(process.env.BENCH_PINGS ?? 3_000);
const WINDOW = 64;
const TYPE = 21_000;

type Event = { kind: string; data: Uint8Array; source?: { node: number; port: number } };
/** What both socket APIs (node.socket() and client.socket()) offer; the measurement uses only this. */
interface BenchSocket extends AsyncIterable<Event> {
  readonly pendingSends: number;
  sendTo(address: { type: number; instance: number }, data: Uint8Array): Promise<void>;
  sendToSocket(address: { node: number; port: number }, data: Uint8Array): Promise<void>;
  receive(): Promise<Event | undefined>;
}
interface Side {
  /** a socket, bound to {TYPE, instance} when given, once the other side sees the binding */
  socket(instance?: number): Promise<BenchSocket & { close(): unknown }>;
}

async function waitUntil(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function inProcess(): Promise<{ tx: Side; rx: Side; close(): Promise<void> }> {
  const ta = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  const tb = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  ta.addPeer(tb.localAddress);
  tb.addPeer(ta.localAddress);
  const a = await createNode({ nodeId: "bench-a", transport: ta, skipTrial: true, closeTimeout: 2000 });
  const b = await createNode({ nodeId: "bench-b", transport: tb, skipTrial: true, closeTimeout: 2000 });
  await waitUntil(() => a.stats().nodes.up === 1 && b.stats().nodes.up === 1, 10_000, "link up");
  const side = (n: TipcNode, other: TipcNode): Side => ({
    async socket(instance) {
      const s = n.socket({ type: "rdm" });
      if (instance !== undefined) {
        s.bind({ type: TYPE, lower: instance, upper: instance });
        await waitUntil(() => other.lookupAnycast(TYPE, instance) !== undefined, 5000, "binding");
      }
      return s as unknown as BenchSocket & { close(): unknown };
    },
  });
  return {
    tx: side(a, b),
    rx: side(b, a),
    async close() {
      await a.close();
      await b.close();
    },
  };
}

async function throughTipcd(): Promise<{ tx: Side; rx: Side; close(): Promise<void> }> {
  const { clients, close } = await startTipcds(2);
  const [ca, cb] = clients as [(typeof clients)[0], (typeof clients)[0]];
  const side = (c: typeof ca, other: typeof ca): Side => ({
    async socket(instance) {
      const s = await c.socket({ type: "rdm" });
      if (instance !== undefined) {
        await s.bind({ type: TYPE, lower: instance, upper: instance });
        await waitUntil(async () => (await other.lookup(TYPE, instance)) !== undefined, 5000, "binding");
      }
      return s as unknown as BenchSocket & { close(): unknown };
    },
  });
  return { tx: side(ca, cb), rx: side(cb, ca), close };
}

let instance = 0;

/** messages/s from tx to a socket on rx, every message delivered */
async function throughput(tx: Side, rx: Side, count: number): Promise<number> {
  const inst = ++instance;
  const r = await rx.socket(inst);
  const t = await tx.socket();
  const data = new Uint8Array(100).fill(7);
  let got = 0;
  const reading = (async () => {
    for await (const ev of r) if (ev.kind === "message" && ++got === count) return;
  })();
  let failed: unknown;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const p = t.sendTo({ type: TYPE, instance: inst }, data);
    p.catch((e: unknown) => {
      failed ??= e;
    });
    if (t.pendingSends >= WINDOW) await p;
  }
  await reading;
  const ms = performance.now() - t0;
  if (failed !== undefined) throw failed;
  await t.close();
  await r.close();
  return count / (ms / 1000);
}

/** request/reply round trips in µs */
async function latency(tx: Side, rx: Side): Promise<number[]> {
  const inst = ++instance;
  const server = await rx.socket(inst);
  const client = await tx.socket();
  const serving = (async () => {
    for await (const ev of server)
      if (ev.kind === "message" && ev.source) await server.sendToSocket(ev.source, ev.data);
  })();
  const data = new Uint8Array(100).fill(1);
  const rtt: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const t0 = performance.now();
    await client.sendTo({ type: TYPE, instance: inst }, data);
    await client.receive();
    rtt.push((performance.now() - t0) * 1000);
  }
  await client.close();
  await server.close();
  await serving;
  return rtt;
}

function pct(samples: number[], q: number): number {
  const s = [...samples].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}
const median = (xs: number[]) => pct(xs, 0.5);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

const local = await inProcess();
const daemon = await throughTipcd();
try {
  // warm-up: both paths compiled before the first measured round
  await throughput(local.tx, local.rx, 2_000);
  await throughput(daemon.tx, daemon.rx, 2_000);
  const tput = { local: [] as number[], daemon: [] as number[] };
  const rtt = { local: [] as number[], daemon: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? (["local", "daemon"] as const) : (["daemon", "local"] as const);
    for (const k of order) {
      const s = k === "local" ? local : daemon;
      tput[k].push(await throughput(s.tx, s.rx, COUNT));
      rtt[k].push(...(await latency(s.tx, s.rx)));
    }
  }
  const tl = median(tput.local);
  const td = median(tput.daemon);
  console.log(`| figure | in process | through tipcd | tipcd / in process | notes |`);
  console.log(`|---|---|---|---|---|`);
  console.log(
    `| throughput 100 B | ${fmt(tl)} msg/s | ${fmt(td)} msg/s | ${(td / tl).toFixed(2)} | median of ${ROUNDS} rounds; in process ${tput.local.map(fmt).join(", ")}; tipcd ${tput.daemon.map(fmt).join(", ")} |`,
  );
  for (const q of [0.5, 0.99]) {
    const l = pct(rtt.local, q);
    const d = pct(rtt.daemon, q);
    console.log(
      `| request/reply p${q * 100} | ${fmt(l)} µs | ${fmt(d)} µs | ${(d / l).toFixed(2)} | ${fmt(rtt.local.length)} round trips each |`,
    );
  }
} finally {
  await daemon.close();
  await local.close();
}
