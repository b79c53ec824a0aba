/**
 * Encrypted against clear (issue 18, "Figures": target at least 0.5 of plaintext), same run,
 * two nodes on the memory fabric (MTU 1500, virtual clock, no faults), so CPU time is the cost
 * of the whole stack, AES-GCM included:
 *
 * - bulk: `bulk` bindings published before the link, until the peer holds them all;
 * - updates: `count` bindings published one by one after the link, until the peer holds them;
 * - data: `messages` rdm messages of 1,400 bytes from one socket to another, until all arrive
 *   (the link throughput, in MB/s of payload).
 *
 * Run (on a quiet machine): npx tsx --conditions @tipcjs/source packages/node/bench/crypto.bench.ts [count] [bulk] [messages]
 */

import { Cluster } from "../src/__helpers__/cluster.js";
import { isNodeError } from "../src/errors.js";
import type { NodeOptions, SocketEvent } from "../src/types.js";

const count = Number(process.argv[2] ?? 10_000);
const bulk = Number(process.argv[3] ?? 20_000);
const messages = Number(process.argv[4] ?? 50_000);
const KEY = "0x000102030405060708090a0b0c0d0e0f10111213";
const T = 20_000;

async function pair(encrypted: boolean): Promise<Cluster> {
  const crypto: Partial<NodeOptions> = encrypted ? { crypto: { keys: [{ key: KEY }] } } : {};
  const c = new Cluster({ size: 2, seed: 1, mtu: 1500 });
  await c.startMember(0, crypto);
  await c.startMember(1, crypto);
  return c;
}

async function run(encrypted: boolean): Promise<Record<string, number>> {
  // bulk at link up
  let c = await pair(encrypted);
  const a0 = c.get(0);
  for (let i = 0; i < bulk; i++) a0.publish({ type: T, lower: i, port: 1 });
  let t = performance.now();
  c.runUntil(() => c.get(1).bindings().length >= bulk, 120_000, 1);
  const bulkMs = performance.now() - t;

  // updates after link up
  c = await pair(encrypted);
  c.runUntil(() => c.allUp(), 5000);
  const a = c.get(0);
  const b = c.get(1);
  const want = b.bindings().length + count;
  t = performance.now();
  for (let i = 0; i < count; i++) a.publish({ type: T, lower: i, port: 1 });
  c.runUntil(() => b.bindings().length >= want, 120_000, 1);
  const updMs = performance.now() - t;

  // data: rdm messages of 1,400 bytes, sent as fast as the link takes them
  const server = b.socket({ type: "rdm" });
  server.bind({ type: T + 1, lower: 1 });
  c.runUntil(() => a.lookupAnycast(T + 1, 1) !== undefined, 3000);
  const client = a.socket({ type: "rdm" });
  const payload = new Uint8Array(1400).fill(7);
  let received = 0;
  const drain = () => {
    for (let e: SocketEvent | undefined = server.tryReceive(); e; e = server.tryReceive())
      if (e.kind === "message") received++;
  };
  t = performance.now();
  for (let sent = 0; sent < messages; ) {
    try {
      await client.sendTo({ type: T + 1, instance: 1 }, payload, { dontWait: true });
      sent++;
    } catch (e) {
      if (!isNodeError(e) || e.code !== "WOULD_BLOCK") throw e;
      c.clock.advance(1);
      drain();
    }
  }
  c.runUntil(
    () => {
      drain();
      return received >= messages;
    },
    120_000,
    1,
  );
  const dataMs = performance.now() - t;
  return {
    bulkPerS: bulk / (bulkMs / 1000),
    updatesPerS: count / (updMs / 1000),
    dataMBps: (messages * payload.length) / 1e6 / (dataMs / 1000),
  };
}

/**
 * One warm-up pair of runs (discarded: the JIT and the first AES-GCM contexts), then `ROUNDS`
 * rounds alternating clear and encrypted so a change in the machine's speed hits both alike;
 * each figure is the median of its rounds.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
await run(false);
await run(true);
const rounds: { clear: Record<string, number>; enc: Record<string, number> }[] = [];
for (let i = 0; i < ROUNDS; i++) rounds.push({ clear: await run(false), enc: await run(true) });
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? 0;
};
const med = (side: "clear" | "enc") => {
  const out: Record<string, number> = {};
  for (const k of ["bulkPerS", "updatesPerS", "dataMBps"])
    out[k] = median(rounds.map((r) => r[side][k] ?? 0));
  return out;
};
const clear = med("clear");
const enc = med("enc");
const row = (name: string, r: Record<string, number>) =>
  `${name.padEnd(10)} bulk ${Math.round(r.bulkPerS ?? 0)} bindings/s, updates ${Math.round(r.updatesPerS ?? 0)}/s, data ${(r.dataMBps ?? 0).toFixed(1)} MB/s`;
console.log(`medians of ${ROUNDS} alternating rounds after a warm-up pair`);
console.log(row("clear", clear));
console.log(row("encrypted", enc));
console.log(
  `ratio     bulk ${((enc.bulkPerS ?? 0) / (clear.bulkPerS ?? 1)).toFixed(2)}, updates ${((enc.updatesPerS ?? 0) / (clear.updatesPerS ?? 1)).toFixed(2)}, data ${((enc.dataMBps ?? 0) / (clear.dataMBps ?? 1)).toFixed(2)} (target >= 0.5)`,
);
