// tipcd's memory and event loop under two loads a control client can make (issue 14, defect 7
// leftovers): 40 subscribers that never read while the table churns (the node ends the furthest
// behind with SUBSCRIPTION_OVERFLOW: its RSS stays under a bound), and a `bindings` answer of
// 100,000 bindings (written in pieces within the output bound: links stay up, other clients
// are served meanwhile).
import { readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect, type TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBins,
  connectWhenUp,
  type DaemonProcess,
  freeTcpPort,
  freeUdpPorts,
  pairFlags,
  startTipcd,
  stopAll,
  tempDir,
  waitFor,
} from "./harness.js";

const dir = tempDir("tipcd-bounds");
const started: DaemonProcess[] = [];

/** Resident set of a process, bytes (Linux /proc). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

function rawSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ path });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

beforeAll(() => buildBins(), 60_000);
afterAll(() => stopAll(started));

describe("40 silent subscribers under churn", () => {
  it("RSS grows by less than 320 MiB; subscriptions past the node's bound end with SUBSCRIPTION_OVERFLOW", async () => {
    const [port] = await freeUdpPorts(1);
    const metrics = await freeTcpPort();
    const d = startTipcd("churn", dir, [
      "--node-id",
      "churn-1",
      "--local-address",
      "127.0.0.1",
      "--local-port",
      String(port),
      "--mode",
      "replicast",
      "--metrics",
      `127.0.0.1:${metrics}`,
    ]);
    started.push(d);
    const pid = d.child.pid as number;
    await (await connectWhenUp(d)).close();
    const c = await connect(d.socket, { timeout: 60_000 });
    const baseline = rss(pid);
    // 40 connections subscribe to the churned type and never read again
    const silent: Socket[] = [];
    for (let i = 0; i < 40; i++) {
      const s = await rawSocket(d.socket);
      s.write(
        `${JSON.stringify({ id: 1, method: "subscribe", params: { type: 7000, lower: 0, upper: 0xffffffff } })}\n`,
      );
      s.pause();
      silent.push(s);
    }
    await waitFor(
      async () => ((await c.stats()).subscriptions as unknown as number) === 40,
      10_000,
      "40 subscriptions",
    );
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rss(pid));
    }, 50);
    // churn: 60,000 binds and as many withdrawals, pipelined 500 at a time: 4.8 M events for 40
    // subscribers, far more than the node's 262,144
    const ROUNDS = 120;
    for (let r = 0; r < ROUNDS; r++) {
      const bound = await Promise.all(
        Array.from({ length: 500 }, (_, i) => c.bind({ type: 7000, lower: r * 500 + i })),
      );
      await Promise.all(bound.map((b) => c.unbind({ type: b.type, lower: b.lower, key: b.key })));
    }
    peak = Math.max(peak, rss(pid));
    clearInterval(sampler);
    const s = (await c.stats()) as unknown as {
      subscriptionEvents: { queued: number; peak: number; limit: number; overflows: number };
    };
    expect(s.subscriptionEvents.limit).toBe(262_144);
    expect(s.subscriptionEvents.peak).toBeLessThanOrEqual(262_144);
    expect(s.subscriptionEvents.overflows).toBeGreaterThan(0);
    const MiB = 1024 * 1024;
    // the stated bound (README "Control socket"): the node's 262,144 queued events (~70 MiB),
    // 40 x 1 MiB of unsent output with Node's per-write overhead (~140 MiB) and the churn's own
    // garbage (~70 MiB: the same churn without subscribers). Measured: ~265 MiB; the same load
    // with unbounded queues grew by ~650 MiB and stalled the daemon for seconds
    expect((peak - baseline) / MiB).toBeLessThan(320);
    // the daemon still answers; each silent subscriber, reading at last, finds its subscription
    // ended by the node (SUBSCRIPTION_OVERFLOW), or, holding more than 65,536 events itself,
    // its connection cut by the daemon (`queued-events`)
    expect((await c.lookupInstance(7000, 1)).length).toBe(0);
    const outcomes = await Promise.all(
      silent.map(
        (x) =>
          new Promise<string>((resolve) => {
            let buf = "";
            x.setEncoding("utf8");
            x.on("data", (t: string) => {
              buf += t;
              const m = /\{[^\n]*"end":true[^\n]*\}/.exec(buf);
              if (m) resolve(/"code":"([A-Z_]+)"/.exec(m[0])?.[1] ?? "end");
            });
            x.on("close", () => resolve("closed"));
            x.resume();
          }),
      ),
    );
    for (const x of silent) x.destroy();
    const overflowed = outcomes.filter((o) => o === "SUBSCRIPTION_OVERFLOW").length;
    const closed = outcomes.filter((o) => o === "closed").length;
    expect(overflowed).toBe(s.subscriptionEvents.overflows);
    expect(overflowed).toBeGreaterThan(0);
    // every silent subscriber ended one way or the other; which way depends on how far each had
    // got when the daemon-wide bound (maxQueuedEventsTotal) cut the ones holding most
    expect(overflowed + closed).toBe(40);
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    expect(text).toMatch(/^tipcd_subscription_overflows_total [1-9]/m);
    // each connection the daemon cut is counted under its cause
    const cut = Number(/^tipcd_control_disconnects_total\{cause="queued-events"\} (\d+)/m.exec(text)?.[1]);
    expect(cut).toBe(closed);
    await c.close();
  }, 180_000);
});

describe("a bindings answer of 100,000 bindings", () => {
  it("is written in pieces: links stay up, other clients are served while it waits, it arrives whole", async () => {
    const [pa, pb] = await freeUdpPorts(2);
    const metrics = await freeTcpPort();
    const flags = pairFlags;
    const a = startTipcd("big-a", dir, [
      "--node-id",
      "big-a",
      ...flags(pa as number, pb as number),
      "--metrics",
      `127.0.0.1:${metrics}`,
    ]);
    const b = startTipcd("big-b", dir, ["--node-id", "big-b", ...flags(pb as number, pa as number)]);
    started.push(a, b);
    const [ca, cb] = await Promise.all([connectWhenUp(a), connectWhenUp(b)]);
    const established = async (c: TipcClient) =>
      (await c.links()).filter((l) => l.state === "ESTABLISHED").length;
    await waitFor(async () => (await established(ca)) === 1, 20_000, "a linked to b");
    const N = 100_000;
    for (let r = 0; r < N / 1000; r++)
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) => ca.bind({ type: 7100, lower: r * 1000 + i, owner: "daemon" })),
      );
    await waitFor(
      async () => ((await cb.stats()) as { bindings: { total: number } }).bindings.total >= N,
      60_000,
      "b holds a's 100,000 bindings",
    );

    // a client asks for the whole table and reads nothing for now
    const slow = await rawSocket(a.socket);
    const chunks: Buffer[] = [];
    slow.on("data", (d: Buffer) => chunks.push(d));
    slow.pause();
    slow.write(`${JSON.stringify({ id: 1, method: "bindings", params: {} })}\n`);
    // meanwhile another client is served, 200 requests one after the other
    const other = await connect(a.socket);
    for (let i = 0; i < 200; i++) expect(await other.lookupInstance(7100, i * 17)).toHaveLength(1);
    await other.close();
    const peak = async () => {
      const t = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      return Number(/^tipcd_control_unsent_peak_bytes (\d+)/m.exec(t)?.[1]);
    };
    // ~13 MB of JSON: no more than 1 MiB and a piece ever waited in tipcd
    expect(await peak()).toBeLessThan(1024 * 1024 + 512 * 1024);
    slow.resume();
    await waitFor(
      () => chunks.length > 0 && (chunks[chunks.length - 1] as Buffer).at(-1) === 10,
      60_000,
      "the whole answer",
    );
    const msg = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
      id: number;
      result: { bindings: { type: number }[] };
    };
    slow.destroy();
    expect(msg.id).toBe(1);
    expect(msg.result.bindings.filter((x) => x.type === 7100)).toHaveLength(N);
    expect(await peak()).toBeLessThan(1024 * 1024 + 512 * 1024);
    // the links held: established, never down
    expect(await established(ca)).toBe(1);
    expect(await established(cb)).toBe(1);
    for (const d of [a, b]) {
      const downs = readFileSync(d.log, "utf8")
        .split("\n")
        .filter((l) => l.includes('"msg":"link down"') || l.includes('"msg":"node down"'));
      expect(downs).toEqual([]);
    }
    await Promise.all([ca.close(), cb.close()]);
  }, 240_000);
});
