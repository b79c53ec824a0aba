// Three tipcd processes, each with two UDP bearers on loopback (lan0 on 127.0.0.1, lan1 on
// 127.0.0.2, replicast): they link on both; one takes lan0 out of service mid-publication
// (`tipcctl bearer disable`), its peers' links on lan0 fail, traffic fails over to lan1, and no
// table ever loses a binding (no node goes down); lan0 comes back as standby links.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBins,
  connectWhenUp,
  type DaemonProcess,
  freeUdpPorts,
  startTipcd,
  stopAll,
  tempDir,
  tipcctl,
  waitFor,
} from "./harness.js";

const N = 3;
const TYPE = 7000;
const dir = tempDir("tipcd-bearers");
const daemons: DaemonProcess[] = [];
const clients: TipcClient[] = [];
let lan0: number[] = [];
let lan1: number[] = [];

function configFile(i: number): string {
  const peers = (ports: number[], host: string) =>
    ports.filter((_, j) => j !== i).map((p) => `"${host}:${p}"`);
  const file = join(dir, `d${i + 1}.yaml`);
  writeFileSync(
    file,
    [
      `nodeId: dual-${i + 1}`,
      "tolerance: 1500",
      "bearers:",
      `  - { name: lan0, localAddress: 127.0.0.1, localPort: ${lan0[i]}, peers: [${peers(lan0, "127.0.0.1").join(", ")}] }`,
      `  - { name: lan1, localAddress: 127.0.0.2, localPort: ${lan1[i]}, peers: [${peers(lan1, "127.0.0.2").join(", ")}] }`,
      "",
    ].join("\n"),
  );
  return file;
}

const ctl = (i: number, ...args: string[]) => tipcctl(["--socket", daemons[i]!.socket, ...args]);
const established = async (i: number) => (await clients[i]!.links()).filter((l) => l.state === "ESTABLISHED");
const instances = async (i: number) =>
  (await clients[i]!.bindings({ type: TYPE })).map((b) => b.lower).sort((a, b) => a - b);

beforeAll(async () => {
  await buildBins();
  [lan0, lan1] = [await freeUdpPorts(N), await freeUdpPorts(N)];
  for (let i = 0; i < N; i++) daemons.push(startTipcd(`d${i + 1}`, dir, ["--config", configFile(i)]));
  for (const d of daemons) clients.push(await connectWhenUp(d));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await stopAll(daemons);
});

describe("tipcd with two bearers", () => {
  it("links on both bearers, one link per peer active", async () => {
    for (let i = 0; i < N; i++) {
      await waitFor(
        async () => (await established(i)).length === 2 * (N - 1),
        20_000,
        `d${i + 1}'s four links`,
      );
      const links = await clients[i]!.links();
      expect(links.filter((l) => l.active === true)).toHaveLength(N - 1);
    }
    // `tipc link stat show` tells the active link from the standby one (`link list`: up or down)
    const list = await ctl(0, "link", "stat", "show");
    expect(list.stdout.match(/^ {2}ACTIVE /gm)).toHaveLength(2);
    expect(list.stdout.match(/^ {2}STANDBY /gm)).toHaveLength(2);
    const bearers = await ctl(0, "bearer", "list");
    expect(bearers.stdout).toBe("udp:lan0\nudp:lan1\n");
    const detail = JSON.parse((await ctl(0, "-j", "bearer", "list")).stdout) as {
      name: string;
      mediaAddress: { address: string };
    }[];
    expect(detail.map((b) => `${b.name} ${b.mediaAddress.address}`)).toEqual([
      "lan0 127.0.0.1",
      "lan1 127.0.0.2",
    ]);
  });

  it("keeps every table whole while a bearer fails mid-publication, then re-links it", async () => {
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < 5; k++)
        expect((await ctl(i, "publish", String(TYPE), String(i * 100 + k))).code).toBe(0);
    }
    const all = (n: number) =>
      [...Array(N).keys()].flatMap((i) => [...Array(n).keys()].map((k) => i * 100 + k));
    for (let i = 0; i < N; i++)
      await waitFor(async () => (await instances(i)).length === 15, 10_000, "first 15");

    // watch d2 and d3: they must never lose a binding of d1 (a node-down purge would remove them)
    let lowest = Number.POSITIVE_INFINITY;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const i of [1, 2]) lowest = Math.min(lowest, (await instances(i)).length);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const off = await ctl(0, "bearer", "disable", "lan0");
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/disabled/);
    // publications right away: d2's and d3's links to d1 on lan0 still look up to them
    for (let i = 0; i < N; i++) {
      for (let k = 5; k < 10; k++)
        expect((await ctl(i, "publish", String(TYPE), String(i * 100 + k))).code).toBe(0);
    }
    for (let i = 0; i < N; i++)
      await waitFor(
        async () => (await instances(i)).join() === all(10).join(),
        15_000,
        `d${i + 1} converged`,
      );
    // the peers' lan0 links to d1 fail by supervision and fail over
    for (const i of [1, 2]) {
      await waitFor(
        async () => {
          const s = (await clients[i]!.stats()) as { link: { failovers: number } };
          return s.link.failovers >= 1;
        },
        10_000,
        `d${i + 1} failed over`,
      );
    }
    watching = false;
    await watch;
    expect(lowest).toBeGreaterThanOrEqual(15);
    for (let i = 0; i < N; i++) {
      const nodes = await clients[i]!.nodes();
      expect(nodes.filter((n) => n.up)).toHaveLength(N - 1);
    }
    expect((await clients[0]!.links()).map((l) => l.bearerName)).toEqual(["lan1", "lan1"]);

    // lan0 back in service: its links re-form as standby, traffic stays where it is
    expect((await ctl(0, "bearer", "enable", "lan0")).code).toBe(0);
    await waitFor(async () => (await established(0)).length === 2 * (N - 1), 20_000, "lan0 links again");
    for (const l of await clients[0]!.links()) expect(l.active).toBe(l.bearerName === "lan1");
  });
});
