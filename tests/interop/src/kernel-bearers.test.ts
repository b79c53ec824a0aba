/**
 * tipcd and a real Linux kernel linked on two UDP bearers at once (TAP mode): the kernel's b1
 * (10.0.2.15) and b2 (10.0.2.16) against tipcd's lan0 (10.0.2.2) and lan1 (10.0.2.3), all in one
 * namespace the test creates. Each side takes one bearer out of service in turn while bindings
 * change; the other side must fail over (TUNNEL_PROTOCOL FAILOVER messages, ours decoded by the
 * kernel, the kernel's by us), keep the node up and end with the same table, with no binding
 * lost or applied twice. tshark decodes every captured datagram, the tunnels included.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TipcClient } from "@tipcjs/client";
import { decodeMessage, type TipcMessage } from "@tipcjs/codec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bootGuest,
  captureLoopback,
  connectTipcd,
  createTapNetns,
  type KernelGuest,
  startTipcd,
  type TapNetns,
  type Tipcd,
  tsharkDecode,
} from "./harness/index.js";

const PORT0 = 6119;
const PORT1 = 6120;
const KERNEL_TYPE = 5100;
const TIPCD_TYPE = 6100;

interface Stats {
  link: { failovers: number; tunnelSent: number; tunnelReceived: number };
}

/** TUNNEL_PROTOCOL messages in a captured datagram (bundles opened). */
function tunnels(hex: string): TipcMessage[] {
  const out: TipcMessage[] = [];
  if (!hex) return out;
  const visit = (m: TipcMessage) => {
    if (m.user === "TUNNEL_PROTOCOL") out.push(m);
    else if (m.user === "MSG_BUNDLER") for (const inner of m.messages) visit(decodeMessage(inner));
  };
  try {
    visit(decodeMessage(Buffer.from(hex, "hex")));
  } catch {
    // not ours to judge here: tshark's malformed check covers it
  }
  return out;
}

// Without --legacy tipcd's and the kernel's updates go on the broadcast link (recovered across
// bearers by NACKs); with it, both sides replicast, so the unicast links carry the updates and the
// FAILOVER tunnels carry real ones (more than a link window of them: some wait in the backlog).
describe.each([{ legacy: false }, { legacy: true }])(
  "tipcd <-> Linux kernel on two bearers (TAP mode, legacy: $legacy)",
  ({ legacy }) => {
    const dir = mkdtempSync(join(tmpdir(), "tipcjs-interop-bearers-"));
    const socketPath = join(dir, "tipcd.sock");
    const pcapPath = join(dir, "tap0.pcapng");
    let ns: TapNetns;
    let capture: { stop(): Promise<void> } | undefined;
    let guest: KernelGuest;
    let tipcd: Tipcd | undefined;
    let client: TipcClient;
    /** the lowest number of the kernel's bindings tipcd held while watching (a purge would show) */
    let lowestSeen = Number.POSITIVE_INFINITY;
    let kernelDownSeen = false;
    let watching = false;
    let watcher: Promise<void> | undefined;

    const stats = async () => (await client.stats()) as unknown as Stats;
    const countOf = async (type: number) => (await client.bindings({ type })).length;
    const kernelCount = async (type: number) =>
      Number(await guest.exec(`tipc nametable show | awk '$1 == ${type}' | wc -l`));
    const kernelLinksUp = async () =>
      (await guest.links()).filter((l) => !l.broadcast && l.name.includes("tipcd-dual") && l.state === "up");
    const tipcdLinksUp = async () => (await client.links()).filter((l) => l.state === "ESTABLISHED");

    function watch(): void {
      watching = true;
      watcher = (async () => {
        while (watching) {
          const kernel = (await client.nodes()).find((n) => n.nodeId === "guest1");
          if (!kernel?.up) kernelDownSeen = true;
          lowestSeen = Math.min(lowestSeen, await countOf(KERNEL_TYPE));
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
    }

    async function unwatch(): Promise<void> {
      watching = false;
      await watcher;
    }

    beforeAll(async () => {
      ns = await createTapNetns(`tipcjs-2b-${process.pid}-${legacy ? "l" : "b"}`);
      execFileSync("ip", ["netns", "exec", ns.name, "ip", "addr", "add", "10.0.2.3/24", "dev", "tap0"]);
      capture = await captureLoopback(pcapPath, [PORT0, PORT1, 6118], { netns: ns.name, iface: "tap0" });
      guest = await bootGuest({
        hostPort: PORT0,
        tapNetns: ns.name,
        tapNetnsExternal: true,
        consoleLogPath: join(dir, "console.txt"),
      });
      await guest.exec(
        `ip addr add 10.0.2.16/24 dev eth0 && tipc bearer enable media udp name b2 localip 10.0.2.16 localport 6118 remoteip 10.0.2.3 remoteport ${PORT1}`,
      );
      const config = join(dir, "tipcd.yaml");
      writeFileSync(
        config,
        [
          `legacy: ${legacy}`,
          "bearers:",
          `  - { name: lan0, localAddress: 10.0.2.2, localPort: ${PORT0}, peers: ["10.0.2.15:6118"] }`,
          `  - { name: lan1, localAddress: 10.0.2.3, localPort: ${PORT1}, peers: ["10.0.2.16:6118"] }`,
          "",
        ].join("\n"),
      );
      tipcd = await startTipcd({
        netns: ns.name,
        nodeId: "tipcd-dual",
        hostPort: PORT0,
        socketPath,
        configFile: config,
      });
      client = await connectTipcd(socketPath);
    });

    afterAll(async () => {
      await unwatch().catch(() => {});
      await client?.close().catch(() => {});
      await tipcd?.close();
      await guest?.close();
      await capture?.stop();
      await ns?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("forms a link on each bearer, both ways, and shares the table", async () => {
      await guest.waitFor("two links up in the kernel", async () => (await kernelLinksUp()).length === 2, {
        timeoutMs: 30_000,
      });
      await guest.waitFor("two links up in tipcd", async () => (await tipcdLinksUp()).length === 2);
      const links = await client.links();
      expect(links.map((l) => l.bearerName).sort()).toEqual(["lan0", "lan1"]);
      expect(links.filter((l) => l.active)).toHaveLength(1);
      await guest.bindMany({ type: KERNEL_TYPE, lower: 1, upper: 1 }, 200);
      for (let i = 1; i <= 200; i += 50)
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            client.bind({ type: TIPCD_TYPE, lower: i + j, owner: "daemon" }),
          ),
        );
      await guest.waitFor("the kernel's 200 in tipcd", async () => (await countOf(KERNEL_TYPE)) === 200);
      await guest.waitFor("tipcd's 200 in the kernel", async () => (await kernelCount(TIPCD_TYPE)) === 200);
    });

    it("tipcd loses its active bearer mid-publication: the kernel takes tipcd's FAILOVER and misses nothing", async () => {
      watch();
      const active = (await client.links()).find((l) => l.active)?.bearerName as string;
      const burst = Array.from({ length: 100 }, (_, j) =>
        client.bind({ type: TIPCD_TYPE, lower: 201 + j, owner: "daemon" }),
      );
      await client.disableBearer(active);
      await Promise.all(burst);
      for (let i = 301; i <= 400; i += 50)
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            client.bind({ type: TIPCD_TYPE, lower: i + j, owner: "daemon" }),
          ),
        );
      await guest.waitFor("tipcd's 400 in the kernel", async () => (await kernelCount(TIPCD_TYPE)) === 400, {
        timeoutMs: 30_000,
      });
      // the kernel's own updates keep reaching tipcd over the surviving link
      await guest.bindMany({ type: KERNEL_TYPE, lower: 1001, upper: 1001 }, 50);
      await guest.waitFor("the kernel's 250 in tipcd", async () => (await countOf(KERNEL_TYPE)) === 250);
      await unwatch();
      expect(kernelDownSeen).toBe(false);
      expect(lowestSeen).toBeGreaterThanOrEqual(200);
      const s = await stats();
      expect(s.link.failovers).toBeGreaterThanOrEqual(1);
      expect(s.link.tunnelSent).toBeGreaterThanOrEqual(1);
      // the kernel node never went down: its link on the other bearer stayed up throughout
      expect((await kernelLinksUp()).length).toBeGreaterThanOrEqual(1);
      expect(await guest.exec("tipc node list")).toMatch(/tipcd-dual\s+\S+\s+up/);

      await client.enableBearer(active);
      await guest.waitFor("both links up again", async () => (await tipcdLinksUp()).length === 2, {
        timeoutMs: 30_000,
      });
      await guest.waitFor(
        "both links up again in the kernel",
        async () => (await kernelLinksUp()).length === 2,
        {
          timeoutMs: 30_000,
        },
      );
    });

    it("the kernel loses a bearer mid-publication: tipcd takes the kernel's FAILOVER and misses nothing", async () => {
      watch();
      const before = await stats();
      const bind = guest.bindMany({ type: KERNEL_TYPE, lower: 2001, upper: 2001 }, 100);
      await guest.exec("tipc bearer disable media udp name b1");
      await bind;
      await guest.unbindMany({ type: KERNEL_TYPE, lower: 1, upper: 1 }, 100);
      await guest.waitFor(
        "tipcd has the kernel's 250 - 100 + 100",
        async () => (await countOf(KERNEL_TYPE)) === 250,
        {
          timeoutMs: 30_000,
        },
      );
      const lowers = (await client.bindings({ type: KERNEL_TYPE })).map((b) => b.lower);
      expect(new Set(lowers).size).toBe(250);
      expect(lowers.filter((l) => l <= 200)).toHaveLength(100);
      await unwatch();
      expect(kernelDownSeen).toBe(false);
      const after = await stats();
      expect(after.link.failovers).toBeGreaterThan(before.link.failovers);
      // tipcd's updates still reach the kernel on lan1 alone
      await client.bind({ type: TIPCD_TYPE, lower: 5000, owner: "daemon" });
      await guest.waitFor("tipcd's 401 in the kernel", async () => (await kernelCount(TIPCD_TYPE)) === 401);
      expect((await tipcdLinksUp()).map((l) => l.bearerName)).toEqual(["lan1"]);
    });

    it("tshark finds nothing malformed, and the tunnels both ways decode", async () => {
      await capture?.stop();
      capture = undefined;
      const report = await tsharkDecode(pcapPath, [PORT0, PORT1, 6118]);
      expect(report.malformed).toEqual([]);
      const fromTipcd = report.frames.filter((f) => f.srcPort === PORT0 || f.srcPort === PORT1);
      const fromKernel = report.frames.filter((f) => f.srcPort === 6118);
      const ours = fromTipcd.flatMap((f) => tunnels(f.payload));
      const theirs = fromKernel.flatMap((f) => tunnels(f.payload));
      const fragmented = (ts: TipcMessage[]) =>
        ts.filter((t) => t.user === "TUNNEL_PROTOCOL" && t.fragmentCount > 0).length;
      console.log(
        `legacy ${legacy}: FAILOVER packets tipcd -> kernel ${ours.length} (${fragmented(ours)} fragments), kernel -> tipcd ${theirs.length} (${fragmented(theirs)} fragments)`,
      );
      expect(ours.some((t) => t.user === "TUNNEL_PROTOCOL" && t.type === "FAILOVER")).toBe(true);
      expect(theirs.some((t) => t.user === "TUNNEL_PROTOCOL" && t.type === "FAILOVER")).toBe(true);
    });
  },
);
