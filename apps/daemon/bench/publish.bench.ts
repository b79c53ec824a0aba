// Five tipcd processes on 127.0.0.1 (replicast), one @tipcjs/client connection publishes 10,000
// bindings: time until every node holds all of them, and publications per second sustained.
// Side by side: requests one at a time (await each) vs pipelined (a window of 256 in flight).
// Run: npx tsx apps/daemon/bench/publish.bench.ts [count]
import type { TipcClient } from "@tipcjs/client";
import { startTipcds, until } from "./tipcds.js";

const COUNT = Number(process.argv[2] ?? 10_000);
const N = 5;

async function run(label: string, window: number, type: number) {
  const { clients, close } = await startTipcds(N);
  try {
    const pub = clients[0] as TipcClient;
    const total = async (c: TipcClient) =>
      ((await c.stats()) as { bindings: { total: number } }).bindings.total;
    const base = await Promise.all(clients.map(total));
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < COUNT) {
        const i = next++;
        await pub.bind({ type, lower: i, upper: i });
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
    const tPublished = performance.now();
    const seen: number[] = [];
    await until(
      async () => {
        const now = await Promise.all(clients.map(total));
        now.forEach((v, i) => {
          if (seen[i] === undefined && v - (base[i] ?? 0) >= COUNT) seen[i] = performance.now() - t0;
        });
        return seen.filter((x) => x !== undefined).length === N;
      },
      300_000,
      "every node holds all bindings",
    );
    const tAll = performance.now();
    const pubSec = tPublished - t0;
    console.log(
      `${label.padEnd(28)} published ${COUNT} in ${(pubSec / 1000).toFixed(2)} s = ${Math.round((COUNT / pubSec) * 1000)} publications/s; ` +
        `every node holds all after ${((tAll - t0) / 1000).toFixed(2)} s (per node: ${seen.map((s) => (s / 1000).toFixed(2)).join(", ")} s)`,
    );
  } finally {
    await close();
  }
}

console.log(
  `tipcd publish benchmark: ${N} tipcd processes on 127.0.0.1 (replicast peers), ${COUNT} bindings from one @tipcjs/client connection`,
);
await run("one at a time (await each)", 1, 9001);
await run("pipelined (256 in flight)", 256, 9002);
