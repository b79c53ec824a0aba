// Eight tipcd processes in network namespaces on one bridge, multicast bearer: one binding update
// leaves the publisher as ONE datagram (to the group, counted in a capture inside the publisher's
// namespace and cross-checked with its stats) and reaches all seven peers. With one legacy node
// among them, the same update leaves as SEVEN datagrams (one unicast copy per peer).
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TipcClient } from "@tipcjs/client";
import { decodeMessage, type TipcMessage } from "@tipcjs/codec";
import { readPcap, udpDatagrams } from "@tipcjs/decode";
import { createNetwork, existingNamespaces, type Network } from "@tipcjs/netns-tests/netns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBins,
  connectWhenUp,
  type DaemonProcess,
  startTipcd,
  stopAll,
  tempDir,
  waitFor,
} from "./harness.js";

const N = 8;
const GROUP = "228.0.18.103"; // the kernel tool's default group for cluster 4711
const dir = tempDir("tipcd-netns");
let net: Network;
const daemons: DaemonProcess[] = [];
const clients: (TipcClient | undefined)[] = [];

function start(i: number, legacy = false): DaemonProcess {
  const m = net.members[i];
  if (!m) throw new Error(`no member ${i}`);
  const d = startTipcd(
    `n${i + 1}${legacy ? "-legacy" : ""}`,
    dir,
    ["--node-id", `ns-node-${i + 1}`, "--local-address", m.ipv4, ...(legacy ? ["--legacy"] : [])],
    ["ip", "netns", "exec", m.ns],
  );
  daemons[i] = d;
  return d;
}

async function allUp(): Promise<void> {
  await waitFor(
    async () => {
      for (const c of clients) if ((await c?.nodes())?.filter((n) => n.up).length !== N - 1) return false;
      return true;
    },
    60_000,
    "every node linked to the seven others",
    100,
  );
}

/** Captures UDP leaving the publisher's namespace while `action` runs; returns TIPC messages sent. */
async function capture(
  action: () => Promise<void>,
): Promise<{ destination: string; messages: TipcMessage[] }[]> {
  const m = net.members[0] as Network["members"][number];
  const file = join(dir, `capture-${Date.now()}.pcap`);
  const child: ChildProcess = spawn(
    "ip",
    [
      "netns",
      "exec",
      m.ns,
      "dumpcap",
      "-q",
      "-P",
      "-i",
      m.dev,
      "-f",
      `udp and src host ${m.ipv4}`,
      "-w",
      file,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await waitFor(() => /Capturing on/.test(err) || undefined, 20_000, `dumpcap to start (${err})`);
  // dumpcap announces itself as it opens the interface; give the filter a moment to be in place
  await new Promise((r) => setTimeout(r, 300));
  await action();
  // let the update and any retransmission leave before stopping
  await new Promise((r) => setTimeout(r, 500));
  child.kill("SIGINT");
  await exited;
  const out: { destination: string; messages: TipcMessage[] }[] = [];
  for (const dg of udpDatagrams(readPcap(new Uint8Array(readFileSync(file))))) {
    const msg = decodeMessage(dg.payload);
    const messages = msg.user === "MSG_BUNDLER" ? msg.messages.map((b) => decodeMessage(b)) : [msg];
    out.push({ destination: dg.destination, messages });
  }
  return out;
}

/** What a capture held, for failure messages. */
function summary(dgs: { destination: string; messages: TipcMessage[] }[]): string {
  return `captured: ${JSON.stringify(dgs.map((d) => `${d.destination} ${d.messages.map((m) => `${m.user}/${m.type}`).join("+")}`))}`;
}

/** Datagrams carrying a publication of `type`. */
function carrying(dgs: { destination: string; messages: TipcMessage[] }[], type: number) {
  return dgs.filter((d) =>
    d.messages.some(
      (m) =>
        m.user === "NAME_DISTRIBUTOR" && m.type === "PUBLICATION" && m.items.some((it) => it.type === type),
    ),
  );
}

beforeAll(async () => {
  await buildBins();
  net = createNetwork(N);
  for (let i = 0; i < N; i++) start(i);
  for (let i = 0; i < N; i++) clients[i] = await connectWhenUp(daemons[i] as DaemonProcess, 60_000);
  await allUp();
});

afterAll(async () => {
  for (const c of clients) await c?.close().catch(() => {});
  await stopAll(daemons.filter(Boolean));
  const id = net?.id;
  net?.destroy();
  if (id) expect(existingNamespaces(id)).toEqual([]);
});

describe("eight tipcd in network namespaces, multicast bearer", () => {
  it("one binding update leaves the publisher as one datagram to the group and reaches all seven peers", async () => {
    const pub = clients[0] as TipcClient;
    const before = (await pub.stats()) as {
      updates: { broadcast: number; replicast: number; method: string };
    };
    expect(before.updates.method).toBe("broadcast");
    const dgs = await capture(async () => {
      await pub.bind({ type: 8100, lower: 1, upper: 1 });
      await waitFor(
        async () => {
          for (const c of clients.slice(1)) if (!(await c?.lookup(8100, 1))) return false;
          return true;
        },
        10_000,
        "all seven peers hold the binding",
      );
    });
    const sent = carrying(dgs, 8100);
    expect(
      sent.map((d) => d.destination),
      summary(dgs),
    ).toEqual([GROUP]);
    const after = (await pub.stats()) as typeof before;
    expect(after.updates.broadcast - before.updates.broadcast).toBe(1);
    expect(after.updates.replicast - before.updates.replicast).toBe(0);
  });

  it("with one legacy node among them the same update leaves as seven datagrams, one per peer", async () => {
    const last = N - 1;
    await clients[last]?.close();
    clients[last] = undefined;
    const old = daemons[last] as DaemonProcess;
    old.child.kill("SIGTERM");
    expect(await old.exited).toEqual({ code: 0, signal: null });
    start(last, true);
    clients[last] = await connectWhenUp(daemons[last] as DaemonProcess, 60_000);
    await allUp();
    const pub = clients[0] as TipcClient;
    await waitFor(
      async () =>
        ((await pub.stats()) as { updates: { method: string } }).updates.method === "replicast" || undefined,
      10_000,
      "the publisher to switch to replicast",
    );
    const before = (await pub.stats()) as { updates: { broadcast: number; replicast: number } };
    const dgs = await capture(async () => {
      await pub.bind({ type: 8200, lower: 1, upper: 1 });
      await waitFor(
        async () => {
          for (const c of clients.slice(1)) if (!(await c?.lookup(8200, 1))) return false;
          return true;
        },
        10_000,
        "all seven peers hold the binding",
      );
    });
    const sent = carrying(dgs, 8200);
    expect(sent, summary(dgs)).toHaveLength(N - 1);
    expect(new Set(sent.map((d) => d.destination))).toEqual(new Set(net.members.slice(1).map((m) => m.ipv4)));
    const after = (await pub.stats()) as typeof before;
    expect(after.updates.replicast - before.updates.replicast).toBe(N - 1);
    expect(after.updates.broadcast - before.updates.broadcast).toBe(0);
  });
});
