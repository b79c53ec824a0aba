// UDP datagrams per second between two sockets on loopback: through udpTransport, beside bare
// node:dgram, in the same run (alternating rounds). Windowed so that neither overflows the
// receive buffer: send WINDOW datagrams, wait until they arrived, repeat.
//   npx tsx packages/transport-udp/bench/loopback.bench.ts
import dgram from "node:dgram";
import { udpTransport } from "../src/index.js";

const DATAGRAMS = 40_000;
const WINDOW = 48;
const SIZES = [76, 1400];

interface Pair {
  send(): void;
  received(): number;
  close(): Promise<void>;
}

async function barePair(size: number): Promise<Pair> {
  const a = dgram.createSocket("udp4");
  const b = dgram.createSocket("udp4");
  await Promise.all([a, b].map((s) => new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()))));
  let got = 0;
  b.on("message", () => got++);
  const port = b.address().port;
  const payload = Buffer.alloc(size, 7);
  return {
    send: () => a.send(payload, port, "127.0.0.1"),
    received: () => got,
    close: async () => {
      a.close();
      b.close();
    },
  };
}

async function transportPair(size: number): Promise<Pair> {
  const a = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  const b = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  let got = 0;
  b.onReceive(() => got++);
  const to = b.localAddress;
  const payload = new Uint8Array(size).fill(7);
  return {
    send: () => a.send(to, payload),
    received: () => got,
    close: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

async function run(pair: Pair): Promise<{ rate: number; lost: number; cpuRate: number }> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  let sent = 0;
  while (sent < DATAGRAMS) {
    for (let i = 0; i < WINDOW; i++) pair.send();
    sent += WINDOW;
    const deadline = Date.now() + 200;
    while (pair.received() < sent && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  await pair.close();
  // cpuRate: datagrams per CPU-second of this process (both ends run here), which a loaded
  // machine disturbs far less than wall-clock throughput
  return {
    rate: pair.received() / seconds,
    lost: sent - pair.received(),
    cpuRate: pair.received() / cpuSeconds,
  };
}

console.log(`loopback IPv4, ${DATAGRAMS} datagrams per round, window ${WINDOW}`);
for (const size of SIZES) {
  await run(await barePair(size)); // warm-up
  await run(await transportPair(size));
  const bare: number[] = [];
  const through: number[] = [];
  const bareCpu: number[] = [];
  const throughCpu: number[] = [];
  for (let round = 0; round < 5; round++) {
    const b = await run(await barePair(size));
    const t = await run(await transportPair(size));
    bare.push(b.rate);
    through.push(t.rate);
    bareCpu.push(b.cpuRate);
    throughCpu.push(t.cpuRate);
    console.log(
      `${size} B round ${round + 1}: bare ${Math.round(b.rate)} /s (lost ${b.lost}), transport ${Math.round(t.rate)} /s (lost ${t.lost}), ratio ${(t.rate / b.rate).toFixed(2)}`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[2] as number;
  console.log(
    `${size} B median: bare ${Math.round(median(bare))} /s, transport ${Math.round(median(through))} /s, ratio ${(median(through) / median(bare)).toFixed(2)}`,
  );
  console.log(
    `${size} B median per CPU-second: bare ${Math.round(median(bareCpu))}, transport ${Math.round(median(throughCpu))}, ratio ${(median(throughCpu) / median(bareCpu)).toFixed(2)}`,
  );
}
