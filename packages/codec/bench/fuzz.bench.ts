// biome-ignore-all lint/style/noNonNullAssertion: benchmark data of known shape
/**
 * Fuzz run: 1,000,000 (FUZZ_COUNT) mutated and random byte strings through decodeMessage.
 * Anything thrown that is not a TipcDecodeError is a failure (exit 1); so is any single
 * input whose decode still takes over 50 ms when it is repeated alone (a hang). Every 16th input that decodes must also re-encode and
 * decode to the same message. Inputs: valid messages of every user (fast-check samples) with bytes flipped,
 * cut or appended, plus purely random bytes, some behind a valid version nibble.
 *
 *   npx tsx packages/codec/bench/fuzz.bench.ts
 */
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { decodeMessage, encodeMessage, TipcDecodeError } from "../src/index.js";
import { tipcMessage } from "../src/test-arbitraries.js";

const COUNT = Number(process.env.FUZZ_COUNT ?? 1_000_000);
let seed = Number(process.env.FUZZ_SEED ?? 0x9e3779b9) >>> 0 || 1;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

const t0 = process.hrtime.bigint();
const corpus = fc.sample(tipcMessage, { numRuns: 4000, seed: 42 }).map(encodeMessage);
const sampleMs = Number(process.hrtime.bigint() - t0) / 1e6;

function input(): Uint8Array {
  const kind = rnd() % 8;
  if (kind === 0) {
    // random bytes of random length
    const b = new Uint8Array(rnd() % 120);
    for (let i = 0; i < b.length; i++) b[i] = rnd() & 0xff;
    return b;
  }
  if (kind === 1) {
    // random bytes behind a version-2 word 0 with a random user
    const b = new Uint8Array(24 + (rnd() % 200));
    for (let i = 0; i < b.length; i++) b[i] = rnd() & 0xff;
    b[0] = 0x40 | (b[0]! & 0x1f);
    return b;
  }
  const base = corpus[rnd() % corpus.length]!;
  const extra = kind === 2 ? rnd() % 16 : 0;
  let b = new Uint8Array(base.length + extra);
  b.set(base);
  for (let i = base.length; i < b.length; i++) b[i] = rnd() & 0xff;
  const flips = 1 + (rnd() % 4);
  for (let f = 0; f < flips && b.length; f++) {
    const pos = rnd() % Math.min(b.length, rnd() % 2 ? 48 : b.length); // favour the header
    b[pos] = rnd() % 3 === 0 ? b[pos]! ^ (1 << (rnd() % 8)) : rnd() & 0xff;
  }
  if (kind === 3 && b.length) b = b.subarray(0, rnd() % b.length);
  return b;
}

const codes = new Map<string, number>();
let decoded = 0;
let escapes = 0;
let mismatches = 0;
let rechecked = 0;
let slowest = 0;
let slowestInput = new Uint8Array(0);
const start = process.hrtime.bigint();
for (let i = 0; i < COUNT; i++) {
  const b = input();
  const s = process.hrtime.bigint();
  try {
    const m = decodeMessage(b);
    decoded++;
    if ((decoded & 15) === 0) {
      rechecked++;
      if (!isDeepStrictEqual(decodeMessage(encodeMessage(m)), m)) mismatches++;
    }
  } catch (e) {
    if (e instanceof TipcDecodeError) codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    else {
      escapes++;
      if (escapes <= 5) console.error("ESCAPE", Buffer.from(b).toString("hex"), e);
    }
  }
  const dt = Number(process.hrtime.bigint() - s) / 1e6;
  if (dt > slowest) {
    slowest = dt;
    slowestInput = b;
  }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
// Re-time the slowest input alone: a pause on one input (GC, scheduling) is not a slow decode.
const times: number[] = [];
for (let i = 0; i < 1000; i++) {
  const s = process.hrtime.bigint();
  try {
    decodeMessage(slowestInput);
  } catch {}
  times.push(Number(process.hrtime.bigint() - s) / 1e6);
}
times.sort((a, b) => a - b);
const again = times[500]!;

console.log(`# @tipcjs/codec fuzz run`);
console.log(
  `node ${process.version}; corpus of ${corpus.length} valid messages sampled in ${sampleMs.toFixed(0)} ms`,
);
console.log(
  `inputs: ${COUNT.toLocaleString("en")} in ${seconds.toFixed(1)} s (${(COUNT / seconds / 1e3).toFixed(0)} k/s)`,
);
console.log(
  `decoded: ${decoded.toLocaleString("en")}; rejected with TipcDecodeError: ${(COUNT - decoded - escapes).toLocaleString("en")}`,
);
console.log(
  `other exceptions (must be 0): ${escapes}; re-encode mismatches (must be 0): ${mismatches} of ${rechecked} checked; slowest input: ${slowest.toFixed(2)} ms (${slowestInput.length} bytes; the same input decoded 1000 more times: median ${(again * 1000).toFixed(1)} µs)`,
);
console.log(
  "codes:",
  [...codes]
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${n}`)
    .join(", "),
);
if (escapes || mismatches || again > 50) process.exitCode = 1;
