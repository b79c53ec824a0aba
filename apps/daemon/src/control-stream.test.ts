// A long `bindings` answer is written in pieces within the output bound; a subscription the node
// ends for overflow reaches the client as a typed end.
import { mkdtempSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, isClientError } from "@tipcjs/client";
import { createNode, type TipcNode } from "@tipcjs/node";
import { memoryFabric } from "@tipcjs/transport-memory";
import { afterEach, describe, expect, it } from "vitest";
import { type ControlServer, startControlServer } from "./control.js";
import { silent, waitFor } from "./test-helpers.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function serve(
  nodeOptions: { maxQueuedEvents?: number } = {},
  limits: Parameters<typeof startControlServer>[1]["limits"] = {},
): Promise<{ node: TipcNode; control: ControlServer; path: string }> {
  const node = await createNode({
    nodeId: "stream-1",
    transport: memoryFabric().join(),
    skipTrial: true,
    closeTimeout: 0,
    ...nodeOptions,
  });
  const path = join(mkdtempSync(join(tmpdir(), "tipcd-stream-")), "t.sock");
  const control = await startControlServer(node, { path, logger: silent, limits });
  cleanup.push(async () => {
    await control.close();
    await node.close();
  });
  return { node, control, path };
}

/** A raw connection whose reading the test controls. */
function rawConnection(path: string): Promise<{ s: Socket; text: () => string }> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ path });
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
    });
    s.once("connect", () => resolve({ s, text: () => buf }));
    s.once("error", reject);
  });
}

describe("a bindings answer in pieces", () => {
  it("20,000 bindings to a client that does not read: at most the high water mark (plus a piece) waits, others are served meanwhile, then the whole answer comes as one line", async () => {
    const highWater = 64 * 1024;
    const { node, control, path } = await serve({}, { outputHighWater: highWater, streamChunk: 200 });
    for (let i = 0; i < 20_000; i++) node.publish({ type: 4242, lower: i });
    const slow = await rawConnection(path);
    slow.s.pause();
    slow.s.write(`${JSON.stringify({ id: 1, method: "bindings", params: {} })}\n`);
    // another client is served while the first reads nothing
    const other = await connect(path);
    for (let i = 0; i < 20; i++) expect((await other.lookupInstance(4242, i)).length).toBe(1);
    await other.close();
    expect(slow.text()).toBe("");
    // the answer is ~2.5 MB: never more than the high water mark and one piece waited in tipcd
    const piece = 200 * 200;
    expect(control.stats().unsentPeak).toBeLessThanOrEqual(highWater + piece);
    slow.s.resume();
    await waitFor(() => slow.text().endsWith("\n"), 20_000, "the whole answer");
    const lines = slow.text().trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const msg = JSON.parse(lines[0] as string) as { id: number; result: { bindings: { lower: number }[] } };
    expect(msg.id).toBe(1);
    const mine = msg.result.bindings.filter((b) => "type" in b && (b as { type: number }).type === 4242);
    expect(mine.map((b) => b.lower)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    expect(control.stats().unsentPeak).toBeLessThanOrEqual(highWater + piece);
    slow.s.destroy();
  });

  it("a subscription event and the next answer wait for the end of the line being written", async () => {
    const { node, control, path } = await serve({}, { outputHighWater: 16 * 1024, streamChunk: 50 });
    for (let i = 0; i < 3000; i++) node.publish({ type: 4243, lower: i });
    const conn = await rawConnection(path);
    const send = (m: object) => conn.s.write(`${JSON.stringify(m)}\n`);
    send({ id: 1, method: "subscribe", params: { type: 4244, lower: 0, upper: 10 } });
    await waitFor(() => conn.text().includes('"id":1'), 5000, "the subscribe answer");
    conn.s.pause();
    send({ id: 2, method: "bindings", params: { type: 4243 } });
    send({ id: 3, method: "hello", params: {} });
    // the bindings answer has begun (the hello waits behind it)
    await waitFor(() => control.stats().requests === 2, 5000, "the bindings request");
    // published while the bindings answer is being written: its event comes after that line
    node.publish({ type: 4244, lower: 5 });
    conn.s.resume();
    await waitFor(() => conn.text().split("\n").length >= 5, 20_000, "four lines");
    const lines = conn
      .text()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { id?: number; event?: string; result?: { bindings?: unknown[] } });
    expect(lines[0]?.id).toBe(1);
    expect(lines[1]?.id).toBe(2);
    expect(lines[1]?.result?.bindings).toHaveLength(3000);
    expect(lines.slice(2).map((l) => l.id ?? l.event)).toEqual(expect.arrayContaining([3, "subscription"]));
    conn.s.destroy();
  });
});

describe("subscription overflow", () => {
  it("the node ends a subscription nobody reads: the client's iterator rejects with SUBSCRIPTION_OVERFLOW; a reading one goes on", async () => {
    const { node, path } = await serve({ maxQueuedEvents: 500 }, { outputHighWater: 4096 });
    const silentClient = await connect(path);
    const silentSub = await silentClient.subscribe(4245, 0, 100_000);
    // the client library reads its socket: stop it, so the events stay in the daemon's node
    (silentClient as unknown as { conn: Socket }).conn.pause();
    const reader = await connect(path);
    const readSub = await reader.subscribe(4245, 0, 100_000);
    let read = 0;
    const reading = (async () => {
      for await (const _ of readSub) read++;
    })();
    for (let i = 0; i < 3000; i++) {
      node.publish({ type: 4245, lower: i });
      // the daemon's turn to write to the reader
      if (i % 20 === 19) await new Promise<void>((r) => setImmediate(r));
    }
    await waitFor(() => node.stats().subscriptionEvents.overflows === 1, 10_000, "the overflow");
    await waitFor(() => read === 3000, 10_000, "every event at the reader");
    (silentClient as unknown as { conn: Socket }).conn.resume();
    let error: unknown;
    try {
      for await (const _ of silentSub) {
        // events it had been sent before the overflow
      }
    } catch (e) {
      error = e;
    }
    expect(isClientError(error) && error.code).toBe("SUBSCRIPTION_OVERFLOW");
    expect(silentSub.error?.code).toBe("SUBSCRIPTION_OVERFLOW");
    expect(node.stats().subscriptionEvents.queued).toBe(0);
    await readSub.cancel();
    await reading;
    await silentClient.close();
    await reader.close();
  });
});
