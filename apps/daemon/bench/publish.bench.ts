// Five tipcd processes on 127.0.0.1 (replicast), one @tipcjs/client connection publishes 10,000
// bindings: time until every node holds all of them, and publications per second sustained.
// Side by side: requests one at a time (await each) vs pipelined (a window of 256 in flight).
// Run: npx tsx apps/daemon/bench/publish.bench.ts [count]
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type TipcClient } from "@tipcjs/client";

const ROOT = resolve(import.meta.dirname, "../../..");
const COUNT = Number(process.argv[2] ?? 10_000);
const N = 5;

async function freePorts(n: number): Promise<number[]> {
  const socks = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createSocket>>((r) => {
          const s = createSocket("udp4");
          s.bind(0, "127.0.0.1", () => r(s));
        }),
    ),
  );
  const ports = socks.map((s) => s.address().port);
  for (const s of socks) s.close();
  return ports;
}

async function until(cond: () => Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function cluster() {
  const dir = mkdtempSync(join(tmpdir(), "tipcd-bench-"));
  const ports = await freePorts(N);
  const children: ChildProcess[] = [];
  const clients: TipcClient[] = [];
  for (let i = 0; i < N; i++) {
    const args = [
      "--conditions=@tipcjs/source",
      "--import",
      "tsx",
      join(ROOT, "apps/daemon/src/tipcd.ts"),
      "--node-id",
      `bench-${i + 1}`,
      "--local-address",
      "127.0.0.1",
      "--local-port",
      String(ports[i]),
      "--socket",
      join(dir, `${i}.sock`),
      "--log-level",
      "warn",
      "--no-pretty",
      ...ports.flatMap((p, j) => (j === i ? [] : ["--peer", `127.0.0.1:${p}`])),
    ];
    children.push(spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] }));
  }
  for (let i = 0; i < N; i++) {
    const path = join(dir, `${i}.sock`);
    let c: TipcClient | undefined;
    await until(
      async () => {
        c = await connect(path, { timeout: 60_000 }).catch(() => undefined);
        return c !== undefined;
      },
      60_000,
      "control socket",
    );
    clients.push(c as TipcClient);
  }
  await until(
    async () => {
      for (const c of clients) if ((await c.nodes()).filter((n) => n.up).length !== N - 1) return false;
      return true;
    },
    60_000,
    "links up",
  );
  return {
    clients,
    async close() {
      for (const c of clients) await c.close();
      for (const ch of children) ch.kill("SIGTERM");
      await Promise.all(children.map((ch) => new Promise((r) => ch.once("exit", r))));
    },
  };
}

async function run(label: string, window: number, type: number) {
  const { clients, close } = await cluster();
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
