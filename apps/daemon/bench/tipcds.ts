/**
 * Benchmark helper: `n` tipcd processes on 127.0.0.1 (replicast peers, run from the sources),
 * each with an `@tipcjs/client` connection, every link up.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type TipcClient } from "@tipcjs/client";

const ROOT = resolve(import.meta.dirname, "../../..");

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

export async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Tipcds {
  clients: TipcClient[];
  close(): Promise<void>;
}

export async function startTipcds(n: number): Promise<Tipcds> {
  const dir = mkdtempSync(join(tmpdir(), "tipcd-bench-"));
  const ports = await freePorts(n);
  const children: ChildProcess[] = [];
  const clients: TipcClient[] = [];
  for (let i = 0; i < n; i++) {
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
  for (let i = 0; i < n; i++) {
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
      for (const c of clients) if ((await c.nodes()).filter((x) => x.up).length !== n - 1) return false;
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
