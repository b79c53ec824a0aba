// TIPC connections through the control socket, on one node in-process: the limit on connections
// (typed refusal of a connect, incoming ones closed and counted), an announced connection not
// accepted in time is closed (the peer sees a reset), listenClose, and the stats.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientConnection, connect, isClientError } from "@tipcjs/client";
import { createNode, type TipcNode } from "@tipcjs/node";
import { memoryFabric } from "@tipcjs/transport-memory";
import { afterEach, describe, expect, it } from "vitest";
import { type ControlLimits, type ControlServer, startControlServer } from "./control.js";
import { silent, waitFor } from "./test-helpers.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function serve(
  limits: Partial<ControlLimits>,
): Promise<{ node: TipcNode; control: ControlServer; path: string }> {
  const node = await createNode({
    nodeId: "conn-1",
    transport: memoryFabric().join(),
    skipTrial: true,
    closeTimeout: 0,
  });
  const path = join(mkdtempSync(join(tmpdir(), "tipcd-conn-")), "t.sock");
  const control = await startControlServer(node, { path, logger: silent, limits });
  cleanup.push(async () => {
    await control.close();
    await node.close();
  });
  return { node, control, path };
}

const connected = (c: ClientConnection) =>
  new Promise<void>((resolve, reject) => {
    c.once("connect", resolve);
    c.once("error", reject);
  });

const failure = (c: ClientConnection) =>
  new Promise<Error>((resolve) => {
    c.once("error", resolve);
    c.resume();
  });

describe("connections through the control socket", () => {
  it("past maxTipcConnections a connect is refused TIPC_CONNECTION_LIMIT and an incoming one is closed", async () => {
    const { node, control, path } = await serve({ maxTipcConnections: 2 });
    const client = await connect(path);
    cleanup.push(() => client.close());
    const server = await client.listen({ service: { type: 5000, lower: 1 } });
    const accepted: ClientConnection[] = [];
    const resets: string[] = [];
    server.on("connection", (c: ClientConnection) => {
      c.on("error", (e) => resets.push((e as Error & { code: string }).code));
      c.resume();
      accepted.push(c);
    });
    // one connection: its client end and its accepted end are two of the daemon's
    const first = client.connect({ type: 5000, instance: 1 });
    await connected(first);
    await waitFor(() => accepted.length === 1, 5000, "the accept");
    expect(control.stats().tipcConnections).toBe(2);
    const refused = client.connect({ type: 5000, instance: 1 });
    const e = await failure(refused);
    expect(isClientError(e) && e.code).toBe("TIPC_CONNECTION_LIMIT");
    // an in-process connect to the listener: the daemon closes it (the peer sees a reset)
    const direct = node.connect({ type: 5000, instance: 1 });
    const directEnd = new Promise<unknown>((r) => {
      direct.once("error", r);
      direct.once("close", () => r(undefined));
    });
    direct.resume();
    expect(await directEnd).toMatchObject({ code: "CONNECTION_RESET" });
    expect(control.stats().tipcDropped).toBe(1);
    first.destroy();
    await waitFor(() => control.stats().tipcConnections === 0, 5000, "both ends closed");
    await waitFor(() => resets.length === 1, 5000, "the accepted end's reset");
    expect(resets).toEqual(["CONNECTION_RESET"]);
  });

  it("an announced connection nobody accepts in time is closed; listenClose stops the listener", async () => {
    const { node, control, path } = await serve({ acceptTimeoutMs: 50 });
    const client = await connect(path);
    cleanup.push(() => client.close());
    // a listener whose connections are never taken: listen by hand, ignore its events
    const { listener } = await client.request("listen", { type: 5001, lower: 1 });
    const direct = node.connect({ type: 5001, instance: 1 });
    const end = new Promise<unknown>((r) => direct.once("error", r));
    direct.resume();
    expect(await end).toMatchObject({ code: "CONNECTION_RESET" });
    expect(control.stats().tipcDropped).toBe(1);
    expect(await client.request("listenClose", { listener })).toEqual({ closed: true });
    expect(await client.request("listenClose", { listener })).toEqual({ closed: false });
    // the listener's binding is gone: nothing to connect to
    let err: unknown;
    try {
      const again = node.connect({ type: 5001, instance: 1 });
      err = await new Promise((r) => again.once("error", r));
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toMatch(/^(NO_SERVICE|CONNECTION_REFUSED)$/);
  });

  it("the control server closing ends the connections it carries: CLOSED to the client, a reset to the peer", async () => {
    const { node, control, path } = await serve({});
    const server = node.listen({ service: { type: 5002, lower: 1 } });
    const peerEnd = new Promise<unknown>((r) => {
      server.once("connection", (c) => {
        c.once("error", r);
        c.resume();
      });
    });
    const client = await connect(path);
    cleanup.push(() => client.close());
    const conn = client.connect({ type: 5002, instance: 1 });
    await connected(conn);
    const ended = failure(conn);
    await control.close();
    expect(await ended).toMatchObject({ code: "CLOSED" });
    expect(await peerEnd).toMatchObject({ code: "CONNECTION_RESET" });
    server.close();
  });

  it("a client that does not read: the peer's sends stall and tipcd holds a bounded amount for the connection", async () => {
    const { node, control, path } = await serve({});
    const server = node.listen({ service: { type: 5003, lower: 1 } });
    const total = 32 * 1024 * 1024;
    let sent = 0;
    let blocked = false;
    const piece = Buffer.alloc(64 * 1024, 9);
    server.once("connection", (c) => {
      c.on("error", () => {});
      const more = () => {
        while (sent < total) {
          sent += piece.length;
          if (!c.write(piece)) {
            blocked = true;
            c.once("drain", () => {
              blocked = false;
              more();
            });
            return;
          }
        }
        c.end();
      };
      more();
    });
    const client = await connect(path);
    cleanup.push(() => client.close());
    const conn = client.connect({ type: 5003, instance: 1 }, { highWaterMark: 64 * 1024 });
    await connected(conn);
    // nothing read: the in-process sender blocks and stays blocked (200 polls without progress)
    let last = -1;
    let still = 0;
    await waitFor(
      () => {
        still = blocked && sent === last ? still + 1 : 0;
        last = sent;
        return still >= 200 || sent >= total;
      },
      30_000,
      "the sender to stall",
    );
    expect(sent).toBeLessThan(8 * 1024 * 1024);
    expect(control.stats().tipcHeldPeak).toBeLessThan(512 * 1024);
    // reading takes it all, and tipcd still held no more
    let read = 0;
    conn.on("data", (d: Buffer) => {
      read += d.length;
    });
    await new Promise<void>((r) => conn.once("end", r));
    expect(read).toBe(total);
    expect(control.stats().tipcHeldPeak).toBeLessThan(512 * 1024);
    server.close();
  }, 60_000);
});
