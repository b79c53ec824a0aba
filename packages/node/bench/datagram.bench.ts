/**
 * The connectionless data path's figures (issue 16), side by side with their baselines in one
 * run, rounds alternating so a change in the machine's speed hits both sides alike:
 *
 * - one-way throughput, messages/s, of 100-byte and 60,000-byte messages between two nodes in
 *   this process over UDP loopback, beside bare `node:dgram` datagrams of the same size (windowed
 *   so that dgram does not overflow the receive buffer; tipcjs is paced by its own backpressure,
 *   the `sendTo` promise, and guarantees delivery where dgram does not);
 * - request/reply latency p50/p99 with 100-byte messages, beside Node's `net` TCP on loopback and
 *   bare `node:dgram` ping-pong (the floor under any stack on UDP in Node);
 * - heap per open socket with 10,000 sockets each bound to its own instance.
 *
 * Run (quiet machine): node --expose-gc --import tsx --conditions=@tipcjs/source \
 *   packages/node/bench/datagram.bench.ts [rounds]
 */

import dgram from "node:dgram";
import { once } from "node:events";
import net from "node:net";
import { udpTransport } from "@tipcjs/transport-udp";
import { createNode } from "../src/node.js";
import type { TipcNode, TipcSocket } from "../src/types.js";

const ROUNDS = Number(process.argv[2] ?? 3);
const TYPE = 20_000;
const COUNT: Record<number, number> = {
  100: Number(process.env.BENCH_SMALL ?? 50_000),
  60000: Number(process.env.BENCH_LARGE ?? 4_000),
};
/**
 * bare datagrams in flight: the receive buffer (about 208 KiB) is charged each datagram's size
 * plus about 1 KiB of kernel overhead; half of it, so that dgram does not lose and wait
 */
const dgramWindow = (size: number) => Math.max(1, Math.min(64, Math.floor(104_000 / (size + 1024))));
const PINGS = Number(process.env.BENCH_PINGS ?? 5_000);
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 10_000);

const tick = () => new Promise<void>((r) => setImmediate(r));

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function nodePair(): Promise<[TipcNode, TipcNode]> {
  const ta = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  const tb = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  ta.addPeer(tb.localAddress);
  tb.addPeer(ta.localAddress);
  const a = await createNode({ nodeId: "bench-a", transport: ta, skipTrial: true, closeTimeout: 2000 });
  const b = await createNode({ nodeId: "bench-b", transport: tb, skipTrial: true, closeTimeout: 2000 });
  await waitUntil(() => a.stats().nodes.up === 1 && b.stats().nodes.up === 1, 10_000, "link up");
  return [a, b];
}

/** messages/s from a to a socket bound on b, every message delivered */
async function tipcThroughput(a: TipcNode, b: TipcNode, size: number, count: number): Promise<number> {
  const rx = b.socket({ type: "rdm" });
  rx.bind({ type: TYPE, lower: 1, upper: 1 });
  const tx = a.socket({ type: "rdm" });
  await waitUntil(() => a.lookupAnycast(TYPE, 1) !== undefined, 5000, "binding");
  const data = new Uint8Array(size).fill(7);
  let got = 0;
  const reading = (async () => {
    for await (const ev of rx) {
      if (ev.kind === "message" && ++got === count) return;
    }
  })();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const p = tx.sendTo({ type: TYPE, instance: 1 }, data);
    // the promise resolves at once unless the link is congested: await only then
    if (tx.pendingSends > 0) await p;
  }
  await reading;
  const ms = performance.now() - t0;
  tx.close();
  rx.close();
  return count / (ms / 1000);
}

/** messages/s of bare datagrams, windowed so the receiver keeps up (lost ones not counted) */
async function dgramThroughput(size: number, count: number): Promise<number> {
  const a = dgram.createSocket("udp4");
  const b = dgram.createSocket("udp4");
  await Promise.all([a, b].map((s) => new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()))));
  let got = 0;
  b.on("message", () => got++);
  const port = b.address().port;
  const payload = Buffer.alloc(size, 7);
  const t0 = performance.now();
  let sent = 0;
  while (sent < count) {
    const w = dgramWindow(size);
    for (let i = 0; i < w; i++) a.send(payload, port, "127.0.0.1");
    sent += w;
    const deadline = Date.now() + 200;
    while (got < sent && Date.now() < deadline) await tick();
  }
  const ms = performance.now() - t0;
  a.close();
  b.close();
  return got / (ms / 1000);
}

function percentiles(samples: number[]): { p50: number; p99: number } {
  const s = [...samples].sort((x, y) => x - y);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { p50: at(0.5), p99: at(0.99) };
}

/** request/reply round trips in µs: a sends 100 bytes to {TYPE, 2} on b, b answers to the source */
async function tipcLatency(a: TipcNode, b: TipcNode): Promise<number[]> {
  const server = b.socket({ type: "rdm" });
  server.bind({ type: TYPE, lower: 2, upper: 2 });
  const client = a.socket({ type: "rdm" });
  await waitUntil(() => a.lookupAnycast(TYPE, 2) !== undefined, 5000, "binding");
  const serving = (async () => {
    for await (const ev of server) if (ev.kind === "message") await server.sendToSocket(ev.source, ev.data);
  })();
  const data = new Uint8Array(100).fill(1);
  const rtt: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const t0 = performance.now();
    await client.sendTo({ type: TYPE, instance: 2 }, data);
    await client.receive();
    rtt.push((performance.now() - t0) * 1000);
  }
  client.close();
  server.close();
  await serving;
  return rtt;
}

async function tcpLatency(): Promise<number[]> {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on("data", (d) => s.write(d));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const c = net.connect(port, "127.0.0.1");
  c.setNoDelay(true);
  await once(c, "connect");
  const data = Buffer.alloc(100, 1);
  const rtt: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const t0 = performance.now();
    c.write(data);
    let got = 0;
    while (got < 100) {
      const [chunk] = (await once(c, "data")) as [Buffer];
      got += chunk.length;
    }
    rtt.push((performance.now() - t0) * 1000);
  }
  c.destroy();
  server.close();
  return rtt;
}

/** request/reply round trips in µs of bare UDP datagrams: the floor under any stack on UDP in Node */
async function dgramLatency(): Promise<number[]> {
  const a = dgram.createSocket("udp4");
  const b = dgram.createSocket("udp4");
  await Promise.all([a, b].map((s) => new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()))));
  b.on("message", (m, from) => b.send(m, from.port, from.address));
  const port = b.address().port;
  const data = Buffer.alloc(100, 1);
  const rtt: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const t0 = performance.now();
    a.send(data, port, "127.0.0.1");
    await once(a, "message");
    rtt.push((performance.now() - t0) * 1000);
  }
  a.close();
  b.close();
  return rtt;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error("run with node --expose-gc");
  g();
  g();
}

/** heap bytes per socket bound to its own instance */
async function memoryPerSocket(a: TipcNode): Promise<number> {
  gc();
  const before = process.memoryUsage().heapUsed;
  const socks: TipcSocket[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const s = a.socket({ type: "rdm" });
    s.bind({ type: TYPE + 1, lower: i, upper: i });
    socks.push(s);
  }
  gc();
  const per = (process.memoryUsage().heapUsed - before) / SOCKETS;
  for (const s of socks) s.close();
  return per;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const [a, b] = await nodePair();
// warm-up: both paths compiled before the first measured round
await tipcThroughput(a, b, 100, 5_000);
await dgramThroughput(100, 5_000);
const rows: string[] = [];
for (const size of [100, 60_000]) {
  const count = COUNT[size] as number;
  const tipc: number[] = [];
  const bare: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // alternate which goes first
    if (r % 2 === 0) {
      tipc.push(await tipcThroughput(a, b, size, count));
      bare.push(await dgramThroughput(size, count));
    } else {
      bare.push(await dgramThroughput(size, count));
      tipc.push(await tipcThroughput(a, b, size, count));
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  rows.push(
    `| throughput ${fmt(size)} B | ${fmt(med(tipc))} msg/s | ${fmt(med(bare))} msg/s (node:dgram) | ${(med(tipc) / med(bare)).toFixed(2)} | rounds: tipcjs ${tipc.map(fmt).join(", ")}; dgram ${bare.map(fmt).join(", ")} |`,
  );
}
const tl: number[] = [];
const cl: number[] = [];
const dl: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // rotate which goes first
  const order = [
    async () => tl.push(...(await tipcLatency(a, b))),
    async () => cl.push(...(await tcpLatency())),
    async () => dl.push(...(await dgramLatency())),
  ];
  for (let i = 0; i < order.length; i++) await (order[(i + r) % order.length] as () => Promise<number>)();
}
const pt = percentiles(tl);
const pc = percentiles(cl);
const pd = percentiles(dl);
rows.push(
  `| request/reply p50 | ${pt.p50.toFixed(0)} µs | ${pc.p50.toFixed(0)} µs (net TCP); ${pd.p50.toFixed(0)} µs (bare node:dgram) | ${(pt.p50 / pc.p50).toFixed(2)}; ${(pt.p50 / pd.p50).toFixed(2)} | ${fmt(tl.length)} round trips each |`,
);
rows.push(
  `| request/reply p99 | ${pt.p99.toFixed(0)} µs | ${pc.p99.toFixed(0)} µs (net TCP); ${pd.p99.toFixed(0)} µs (bare node:dgram) | ${(pt.p99 / pc.p99).toFixed(2)}; ${(pt.p99 / pd.p99).toFixed(2)} | |`,
);
const per = await memoryPerSocket(a);
rows.push(`| heap per bound socket | ${fmt(per)} B | | | ${fmt(SOCKETS)} sockets, one binding each |`);
await Promise.all([a.close(), b.close()]);
console.log("| figure | tipcjs | baseline | ratio | notes |\n|---|---|---|---|---|");
console.log(rows.join("\n"));
