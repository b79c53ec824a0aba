// Five tipcd processes on 127.0.0.1 (replicast, every peer configured): publications through
// tipcctl and @tipcjs/client converge; SIGKILL: the others purge within the link tolerance;
// restart: re-synced; SIGTERM: withdrawals seen at once (before any supervision could purge).
import type { TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBins,
  connectWhenUp,
  type DaemonProcess,
  freeTcpPort,
  freeUdpPorts,
  startTipcd,
  stopAll,
  tempDir,
  tipcctl,
  waitFor,
} from "./harness.js";

const N = 5;
const TOLERANCE = 1500; // the kernel default: purge bound 1500 + 2 x 375 = 2250 ms
/** The kernel's supervision interval: min(tolerance / 4, 500) ms. */
const SUPERVISION = Math.min(TOLERANCE / 4, 500);
/** What the node promises for a silent peer: tolerance + 2 supervision intervals. */
const PURGE_BOUND = TOLERANCE + 2 * SUPERVISION;
/** Observation overhead on a loaded 2-core machine (control socket polling, scheduling). */
const SLACK = 750;
const CTL_TYPE = 5000;
const CLIENT_TYPE = 5001;

const dir = tempDir("tipcd-cluster");
let ports: number[] = [];
let metricsPort = 0;
const daemons: (DaemonProcess | undefined)[] = [];
const clients: (TipcClient | undefined)[] = [];

function flagsFor(i: number): string[] {
  return [
    "--node-id",
    `daemon-${i + 1}`,
    "--local-address",
    "127.0.0.1",
    "--local-port",
    String(ports[i]),
    "--tolerance",
    String(TOLERANCE),
    "--log-level",
    "info",
    ...ports.flatMap((p, j) => (j === i ? [] : ["--peer", `127.0.0.1:${p}`])),
    ...(i === 0 ? ["--metrics", `127.0.0.1:${metricsPort}`] : []),
  ];
}

async function start(i: number): Promise<TipcClient> {
  const d = startTipcd(`d${i + 1}`, dir, flagsFor(i));
  daemons[i] = d;
  const c = await connectWhenUp(d);
  clients[i] = c;
  return c;
}

/** Instances of `type` in node i's table, sorted. */
async function instances(i: number, type: number): Promise<number[]> {
  const c = clients[i];
  if (!c) throw new Error(`no client ${i}`);
  return (await c.bindings({ type })).map((b) => b.lower).sort((a, b) => a - b);
}

const live = () =>
  daemons
    .map((d, i) => (d && d.child.exitCode === null && d.child.signalCode === null ? i : -1))
    .filter((i) => i >= 0);

async function converged(expected: number[], type: number, on = live()): Promise<boolean> {
  for (const i of on) if (JSON.stringify(await instances(i, type)) !== JSON.stringify(expected)) return false;
  return true;
}

beforeAll(async () => {
  await buildBins();
  ports = await freeUdpPorts(N);
  metricsPort = await freeTcpPort();
  await Promise.all(Array.from({ length: N }, (_, i) => start(i)));
  await waitFor(
    async () => {
      for (const c of clients) if ((await c?.nodes())?.filter((n) => n.up).length !== N - 1) return false;
      return true;
    },
    30_000,
    "every daemon linked to the four others",
  );
});

afterAll(async () => {
  for (const c of clients) await c?.close().catch(() => {});
  await stopAll(daemons.filter((d): d is DaemonProcess => d !== undefined));
});

describe("five tipcd processes on loopback (replicast)", () => {
  it("publications through tipcctl and @tipcjs/client reach every table", async () => {
    const all = [0, 1, 2, 3, 4];
    const published = await Promise.all(
      all.map((i) => tipcctl(["--socket", daemons[i]?.socket ?? "", "publish", String(CTL_TYPE), String(i)])),
    );
    for (const r of published) expect(r, r.stderr).toMatchObject({ code: 0 });
    for (const i of all) {
      const b = await clients[i]?.bind({ type: CLIENT_TYPE, lower: i, upper: i });
      expect(b).toMatchObject({ owner: "connection", node: clients[i]?.info.address });
    }
    await waitFor(() => converged(all, CTL_TYPE), 10_000, "tipcctl bindings everywhere");
    await waitFor(() => converged(all, CLIENT_TYPE), 10_000, "client bindings everywhere");
    // tipcctl's own process has exited: its bindings are held by the daemons
    const show = await tipcctl([
      "--socket",
      daemons[2]?.socket ?? "",
      "nametable",
      "show",
      "--type",
      String(CTL_TYPE),
    ]);
    expect(show.code).toBe(0);
    expect(show.stdout.split("\n").filter((l) => l.startsWith(`${CTL_TYPE} `))).toHaveLength(N);
    for (const i of all) expect(show.stdout).toContain(`daemon-${i + 1}`);
    // the first daemon's Prometheus endpoint on loopback
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain(`tipcd_nodes{state="up"} ${N - 1}`);
    expect(metrics).toContain(`tipcd_links_up ${N - 1}`);
    expect(metrics).toMatch(/^tipcd_updates_sent_total\{method="broadcast"\} [1-9]/m);
    expect(metrics).toContain("tipcd_control_connections 1");
  });

  it("SIGKILL: the others purge the node's bindings within its link tolerance", async () => {
    const victim = 4;
    const others = [0, 1, 2, 3];
    const killedAt = Date.now();
    daemons[victim]?.child.kill("SIGKILL");
    await daemons[victim]?.exited;
    await clients[victim]?.close().catch(() => {});
    clients[victim] = undefined;
    await waitFor(
      async () =>
        (await converged(others, CTL_TYPE, others)) && (await converged(others, CLIENT_TYPE, others)),
      PURGE_BOUND + SLACK,
      `purge within tolerance ${TOLERANCE} ms + 2 x ${SUPERVISION} ms`,
    );
    const took = Date.now() - killedAt;
    expect(took).toBeLessThanOrEqual(PURGE_BOUND + SLACK);
  });

  it("a restarted node is re-synced both ways", async () => {
    const back = 4;
    const c = await start(back);
    // it learns the others' bindings (bulk at link up) ...
    await waitFor(() => converged([0, 1, 2, 3], CTL_TYPE, [back]), 15_000, "restarted node learns the table");
    await waitFor(
      () => converged([0, 1, 2, 3], CLIENT_TYPE, [back]),
      15_000,
      "restarted node learns the table",
    );
    // ... and the others learn what it publishes now
    const r = await tipcctl(["--socket", daemons[back]?.socket ?? "", "publish", String(CTL_TYPE), "4"]);
    expect(r.code, r.stderr).toBe(0);
    await c.bind({ type: CLIENT_TYPE, lower: 4 });
    await waitFor(() => converged([0, 1, 2, 3, 4], CTL_TYPE), 10_000, "its new binding everywhere");
    await waitFor(() => converged([0, 1, 2, 3, 4], CLIENT_TYPE), 10_000, "its new binding everywhere");
  });

  it("a client connection's bindings die with it; tipcctl withdraw removes a daemon-held one", async () => {
    await clients[1]?.close();
    clients[1] = undefined;
    const others = [0, 2, 3, 4];
    await waitFor(
      () => converged([0, 2, 3, 4], CLIENT_TYPE, others),
      10_000,
      "connection's binding withdrawn everywhere",
    );
    const r = await tipcctl(["--socket", daemons[1]?.socket ?? "", "withdraw", String(CTL_TYPE), "1"]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(() => converged([0, 2, 3, 4], CTL_TYPE, others), 10_000, "withdrawal everywhere");
    clients[1] = await connectWhenUp(daemons[1] as DaemonProcess);
    expect(await instances(1, CTL_TYPE)).toEqual([0, 2, 3, 4]);
  });

  it("SIGTERM: the withdrawals reach the others at once, and tipcd exits 0", async () => {
    const victim = 3;
    const others = [0, 1, 2, 4];
    await clients[victim]?.close();
    clients[victim] = undefined;
    const stoppedAt = Date.now();
    daemons[victim]?.child.kill("SIGTERM");
    await waitFor(
      () => converged([0, 2, 4], CTL_TYPE, others),
      TOLERANCE,
      "withdrawals before the tolerance",
    );
    // before the tolerance has passed, only the withdrawals (not link supervision) can have removed them
    expect(Date.now() - stoppedAt).toBeLessThan(TOLERANCE);
    expect(await daemons[victim]?.exited).toEqual({ code: 0, signal: null });
  });
});
