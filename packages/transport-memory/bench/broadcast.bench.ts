// Memory-fabric deliveries per second for a 1,000-member broadcast, beside a bare loop that
// calls 999 handlers directly (the floor no fabric can beat).
//   npx tsx packages/transport-memory/bench/broadcast.bench.ts
import { createVirtualClock, memoryFabric, realClock } from "../src/index.js";

const MEMBERS = 1000;
const BROADCASTS = 2000;
const datagram = new Uint8Array(76); // a discovery message's size

interface Result {
  deliveries: number;
  seconds: number;
  cpuSeconds: number;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function fabricRun(virtual: boolean): Result {
  const clock = virtual ? createVirtualClock(1) : undefined;
  const fabric = memoryFabric(clock ? { clock } : {});
  const members = Array.from({ length: MEMBERS }, () => fabric.join());
  let deliveries = 0;
  let bytes = 0;
  for (const m of members) {
    m.onReceive((d) => {
      deliveries++;
      bytes += d.byteLength;
    });
  }
  const cpu = cpuNow();
  const start = process.hrtime.bigint();
  if (clock) {
    for (let i = 0; i < BROADCASTS; i++) members[i % MEMBERS]?.broadcast(datagram);
    clock.runUntilIdle();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (bytes !== deliveries * datagram.byteLength) throw new Error("lost bytes");
  return { deliveries, seconds, cpuSeconds: cpuNow() - cpu };
}

async function realRun(): Promise<Result> {
  const fabric = memoryFabric({ clock: realClock() });
  const members = Array.from({ length: MEMBERS }, () => fabric.join());
  let deliveries = 0;
  for (const m of members) m.onReceive(() => deliveries++);
  const expected = (BROADCASTS / 4) * (MEMBERS - 1);
  const cpu = cpuNow();
  const start = process.hrtime.bigint();
  for (let i = 0; i < BROADCASTS / 4; i++) members[i % MEMBERS]?.broadcast(datagram);
  while (deliveries < expected) await new Promise((r) => setImmediate(r));
  return { deliveries, seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuSeconds: cpuNow() - cpu };
}

function bareRun(): Result {
  let deliveries = 0;
  const handlers = Array.from({ length: MEMBERS }, () => (_d: Uint8Array) => {
    deliveries++;
  });
  const cpu = cpuNow();
  const start = process.hrtime.bigint();
  for (let i = 0; i < BROADCASTS; i++) {
    const copy = datagram.slice();
    const sender = i % MEMBERS;
    for (let j = 0; j < MEMBERS; j++) if (j !== sender) handlers[j]?.(copy);
  }
  return { deliveries, seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuSeconds: cpuNow() - cpu };
}

// wall-clock rate, and the rate per CPU-second of this process (steadier on a loaded machine)
const fmt = (r: Result) =>
  `${(r.deliveries / r.seconds / 1e6).toFixed(2)} M deliveries/s wall, ${(r.deliveries / r.cpuSeconds / 1e6).toFixed(2)} M per CPU-s (${r.deliveries} in ${r.seconds.toFixed(3)} s)`;

fabricRun(true); // warm-up
bareRun();
const results: Record<string, string> = {};
for (let round = 1; round <= 3; round++) {
  results[`bare loop, round ${round}`] = fmt(bareRun());
  results[`fabric, virtual clock, round ${round}`] = fmt(fabricRun(true));
  results[`fabric, real clock, round ${round}`] = fmt(await realRun());
}
console.log(
  `${MEMBERS}-member broadcast of ${datagram.byteLength}-byte datagrams, ${BROADCASTS} broadcasts per round`,
);
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(36)} ${v}`);
