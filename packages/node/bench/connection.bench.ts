/**
 * Connections over UDP loopback (real time), side by side with Node's `net` over TCP loopback in
 * the same run (issue 17's figures): bulk stream throughput (MB/s and the ratio), connection
 * setup time p50/p99, and heap per idle connection with many open.
 * Run: npx tsx --conditions @tipcjs/source packages/node/bench/connection.bench.ts [MB] [setups] [idle]
 */
import { once } from "node:events";
import net from "node:net";
import { udpTransport } from "@tipcjs/transport-udp";
import type { TipcConnection } from "../src/connection.js";
import { createNode } from "../src/node.js";
import type { TipcNode } from "../src/types.js";

const MB = Number(process.argv[2] ?? 100);
const SETUPS = Number(process.argv[3] ?? 1000);
const IDLE = Number(process.argv[4] ?? 10_000);
const CHUNK = 64 * 1024;
const SERVICE = { type: 5000, lower: 1 };

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function nodes(): Promise<[TipcNode, TipcNode]> {
  // 4 MiB socket buffers: with the default ones, a link window of 14,000-byte datagrams
  // overflows the receiver's UDP buffer on loopback and the link waits for retransmissions
  // (a 1 MB transfer: 37 of 83 datagrams retransmitted, 1.4 MB/s; with these: none, ~100 MB/s).
  const buffers = { receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 };
  const ta = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast", ...buffers });
  const tb = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast", ...buffers });
  ta.addPeer(tb.localAddress);
  tb.addPeer(ta.localAddress);
  const a = await createNode({ nodeId: "bench-a", transport: ta, skipTrial: true });
  const b = await createNode({ nodeId: "bench-b", transport: tb, skipTrial: true });
  await waitFor(() => a.stats().nodes.up === 1 && b.stats().nodes.up === 1, "link up");
  return [a, b];
}

/** Writes `bytes` with backpressure; resolves when the reader has seen them all. */
async function pump(w: NodeJS.WritableStream, r: NodeJS.ReadableStream, bytes: number): Promise<number> {
  let got = 0;
  const done = new Promise<void>((resolve) => {
    r.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= bytes) resolve();
    });
  });
  const buf = Buffer.alloc(CHUNK, 7);
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; sent += CHUNK) if (!w.write(buf)) await once(w as never, "drain");
  await done;
  return performance.now() - t0;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

const [a, b] = await nodes();
const server = b.listen({ service: SERVICE });
const accepted: TipcConnection[] = [];
server.on("connection", (c: TipcConnection) => {
  c.on("error", () => {}); // the client's destroy() resets it: expected here
  accepted.push(c);
});
await waitFor(() => a.lookupAnycast(SERVICE.type, SERVICE.lower) !== undefined, "binding");

const tcpServer = net.createServer();
const tcpAccepted: net.Socket[] = [];
tcpServer.on("connection", (s) => tcpAccepted.push(s));
tcpServer.listen(0, "127.0.0.1");
await once(tcpServer, "listening");
const tcpPort = (tcpServer.address() as net.AddressInfo).port;

// 1. Bulk throughput.
const bytes = MB * 1024 * 1024;
const tconn = a.connect({ type: SERVICE.type, instance: SERVICE.lower });
tconn.on("error", () => {});
await once(tconn, "connect");
await waitFor(() => accepted.length === 1, "accept");
const tipcMs = await pump(tconn, accepted[0] as TipcConnection, bytes);
const tcp = net.connect(tcpPort, "127.0.0.1");
await once(tcp, "connect");
await waitFor(() => tcpAccepted.length === 1, "tcp accept");
const tcpMs = await pump(tcp, tcpAccepted[0] as net.Socket, bytes);
const tipcRate = MB / (tipcMs / 1000);
const tcpRate = MB / (tcpMs / 1000);
console.log(
  `bulk ${MB} MB: tipcjs stream ${tipcRate.toFixed(1)} MB/s, net TCP ${tcpRate.toFixed(1)} MB/s, ratio ${(tipcRate / tcpRate).toFixed(2)}`,
);
tconn.destroy();
tcp.destroy();

// 2. Connection setup time (connect to established), one at a time.
const tipcSetup: number[] = [];
const tcpSetup: number[] = [];
for (let i = 0; i < SETUPS; i++) {
  let t0 = performance.now();
  const c = a.connect({ type: SERVICE.type, instance: SERVICE.lower });
  c.on("error", () => {});
  await once(c, "connect");
  tipcSetup.push(performance.now() - t0);
  c.destroy();
  t0 = performance.now();
  const s = net.connect(tcpPort, "127.0.0.1");
  await once(s, "connect");
  tcpSetup.push(performance.now() - t0);
  s.destroy();
}
console.log(
  `setup x${SETUPS}: tipcjs p50 ${pct(tipcSetup, 50).toFixed(3)} ms p99 ${pct(tipcSetup, 99).toFixed(3)} ms; ` +
    `net TCP p50 ${pct(tcpSetup, 50).toFixed(3)} ms p99 ${pct(tcpSetup, 99).toFixed(3)} ms`,
);

// 3. Heap per idle connection (both ends live in this process: the figure covers a pair).
for (const c of accepted.splice(0)) c.destroy();
(globalThis as { gc?: () => void }).gc?.();
const before = process.memoryUsage().heapUsed;
const idle: TipcConnection[] = [];
for (let i = 0; i < IDLE; i++) {
  const c = a.connect({ type: SERVICE.type, instance: SERVICE.lower });
  c.on("error", () => {});
  idle.push(c);
}
await waitFor(() => accepted.length >= IDLE && idle.every((c) => c.connected), "idle connections", 120_000);
(globalThis as { gc?: () => void }).gc?.();
const after = process.memoryUsage().heapUsed;
console.log(
  `idle x${IDLE}: ${((after - before) / IDLE).toFixed(0)} bytes of heap per connection pair (client and server end)`,
);

for (const c of [...idle, ...accepted]) c.destroy();
tcpServer.close();
await Promise.all([a.close(), b.close()]);
