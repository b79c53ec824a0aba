// biome-ignore-all lint/style/noNonNullAssertion: benchmark data of known shape
/**
 * NAME_DISTRIBUTOR bulk throughput: decode and encode of full bulk messages (as many items as
 * the kernel puts in one message on a 14000-byte UDP link: floor((14000 - 40 - 40) / 20) = 696
 * items, 13960 bytes), side by side with JSON.stringify / JSON.parse of the same items and
 * with Buffer.copy of the same bytes (the memory-bandwidth floor).
 *
 *   npx tsx packages/codec/bench/bulk.bench.ts
 */

import type { NameDistributorMessage, NameItem } from "../src/index.js";
import { decodeMessage, encodeInto, encodeMessage } from "../src/index.js";

const ITEMS = Math.floor((14000 - 40 - 40) / 20);
const MESSAGES = 64;
const ROUND_MS = Number(process.env.ROUND_MS ?? 400);
const ROUNDS = Number(process.env.ROUNDS ?? 5);

let seed = 0x12345678;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

function bulk(i: number): NameDistributorMessage {
  const items: NameItem[] = [];
  for (let k = 0; k < ITEMS; k++) {
    const lower = rnd() >>> 8;
    items.push({ type: 1000 + (rnd() % 5000), lower, upper: lower + (rnd() % 100), port: rnd(), key: rnd() });
  }
  return {
    user: "NAME_DISTRIBUTOR",
    type: "PUBLICATION",
    nonSeq: false,
    bulk: true,
    lastBulk: i === MESSAGES - 1,
    nonLegacy: true,
    bcastAck: 0,
    ack: 0,
    seqno: i + 2,
    prevNode: 0x13446573,
    namedSeqno: 0,
    bcAckInvalid: true,
    origNode: 0x13446573,
    destNode: 0x180a1606,
    items,
  };
}

const messages = Array.from({ length: MESSAGES }, (_, i) => bulk(i));
const encoded = messages.map(encodeMessage);
const json = messages.map((m) => JSON.stringify(m.items));
const buffers = encoded.map((b) => Buffer.from(b));
const target = Buffer.alloc(encoded[0]!.length);
const scratch = new Uint8Array(encoded[0]!.length);
let sink = 0;

/**
 * Runs `fn(i)` over the messages for ROUND_MS per round. Returns items/s per round, by wall
 * clock and by the process's CPU time (user + system, all threads): on a shared machine the
 * CPU-time rate is what the code achieves per core, whatever else is running.
 */
function measure(fn: (i: number) => void): { wall: number[]; cpu: number[] } {
  for (let i = 0; i < MESSAGES * 20; i++) fn(i % MESSAGES); // warm up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const c0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    const end = start + BigInt(ROUND_MS) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < MESSAGES; i++) fn(i);
      n += MESSAGES;
      now = process.hrtime.bigint();
    }
    const c = process.cpuUsage(c0);
    wall.push((n * ITEMS) / (Number(now - start) / 1e9));
    cpu.push((n * ITEMS) / ((c.user + c.system) / 1e6));
  }
  return { wall, cpu };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cases: [string, (i: number) => void][] = [
  [
    "codec decodeMessage",
    (i) => {
      const m = decodeMessage(encoded[i]!) as NameDistributorMessage;
      sink += m.items.length;
    },
  ],
  [
    "JSON.parse",
    (i) => {
      const items = JSON.parse(json[i]!) as NameItem[];
      sink += items.length;
    },
  ],
  [
    "codec encodeMessage",
    (i) => {
      sink += encodeMessage(messages[i]!).length;
    },
  ],
  [
    "codec encodeInto (reused buffer)",
    (i) => {
      sink += encodeInto(messages[i]!, scratch, 0);
    },
  ],
  [
    "JSON.stringify",
    (i) => {
      sink += JSON.stringify(messages[i]!.items).length;
    },
  ],
  [
    "Buffer.copy of the same bytes",
    (i) => {
      sink += buffers[i]!.copy(target);
    },
  ],
];

console.log(`# @tipcjs/codec bulk benchmark`);
console.log(
  `node ${process.version}, ${process.platform} ${process.arch}; ${MESSAGES} messages of ${ITEMS} items (${encoded[0]!.length} bytes); ${ROUNDS} rounds of ${ROUND_MS} ms, median`,
);
console.log(`JSON text of one message's items: ${json[0]!.length} bytes\n`);
const results = new Map<string, number>();
const cpuResults = new Map<string, number>();
for (const [name, fn] of cases) {
  const { wall, cpu } = measure(fn);
  results.set(name, median(wall));
  cpuResults.set(name, median(cpu));
}
const fmt = (x: number) => `${(x / 1e6).toFixed(1)} M`;
console.log("| operation | items/s (wall clock) | items/s (per CPU second) | MB/s of wire bytes (wall) |");
console.log("|---|---:|---:|---:|");
for (const [name, rate] of results) {
  console.log(
    `| ${name} | ${fmt(rate)} | ${fmt(cpuResults.get(name)!)} | ${((rate * 20) / 1e6).toFixed(0)} |`,
  );
}
const r = (a: string, b: string) => (results.get(a)! / results.get(b)!).toFixed(1);
console.log(`\ndecode vs JSON.parse: ${r("codec decodeMessage", "JSON.parse")}x`);
console.log(
  `encode vs JSON.stringify: ${r("codec encodeMessage", "JSON.stringify")}x (encodeInto: ${r("codec encodeInto (reused buffer)", "JSON.stringify")}x)`,
);
const copy = results.get("Buffer.copy of the same bytes")!;
console.log(
  `Buffer.copy moves the same bytes ${(copy / results.get("codec decodeMessage")!).toFixed(0)}x faster than decode and ${(copy / results.get("codec encodeMessage")!).toFixed(0)}x faster than encode`,
);
console.log(
  `load average while running: ${(await import("node:os"))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
if (sink === 42) console.log("");
