import { udpTransport } from "@tipcjs/transport-udp";
import { afterEach, describe, expect, it } from "vitest";
import { createNode } from "./node.js";
import type { TipcNode } from "./types.js";

/** Polls `cond` on real time until it holds, or fails after `ms`. */
async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const open: TipcNode[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

describe("real time over UDP on 127.0.0.1 (replicast)", () => {
  it("two nodes link up, exchange bindings, and a graceful close withdraws at once", async () => {
    const ta = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    const tb = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    ta.addPeer(tb.localAddress);
    tb.addPeer(ta.localAddress);
    const a = await createNode({ nodeId: "smoke-a", transport: ta, skipTrial: true, closeTimeout: 3000 });
    open.push(a);
    const b = await createNode({ nodeId: "smoke-b", transport: tb, skipTrial: true, closeTimeout: 3000 });
    open.push(b);
    expect(a.bearers()[0]?.canBroadcast).toBe(false);

    await waitFor(() => a.stats().nodes.up === 1 && b.stats().nodes.up === 1, 5000, "both links up");
    // until the peer acknowledges its bulk, a node's updates go by replicast, behind the bulk
    const acked = (n: TipcNode) => n.stats().distributor.awaitingBulkAck === 0;
    await waitFor(() => acked(a) && acked(b), 3000, "bulks acknowledged");
    a.publish({ type: 4242, lower: 1, upper: 10, port: 99 });
    b.publish({ type: 4243, lower: 5 });
    await waitFor(
      () => b.lookupAnycast(4242, 7) !== undefined && a.lookupAnycast(4243, 5) !== undefined,
      3000,
      "bindings",
    );
    expect(b.lookupAnycast(4242, 7)).toEqual({ node: a.address, port: 99 });
    expect(a.stats().updates.method).toBe("broadcast"); // both advertise TIPC_NAMED_BCAST
    expect(b.stats().updates.replicast).toBe(0);

    const downs: string[] = [];
    b.on("linkDown", (e) => downs.push(e.reason));
    open.splice(open.indexOf(a), 1);
    await a.close();
    // the withdrawal was acknowledged before a's socket closed, so b already holds nothing of a
    expect(b.lookupAnycast(4242, 7)).toBeUndefined();
    await waitFor(() => b.stats().nodes.up === 0, 3000, "peer-stopping reset");
    expect(downs).toEqual(["peer-stopping"]);
  }, 15_000);

  it("sockets carry 3,000 messages over UDP loopback, exactly once and in order", async () => {
    const ta = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    const tb = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    ta.addPeer(tb.localAddress);
    tb.addPeer(ta.localAddress);
    const a = await createNode({ nodeId: "data-a", transport: ta, skipTrial: true, closeTimeout: 3000 });
    open.push(a);
    const b = await createNode({ nodeId: "data-b", transport: tb, skipTrial: true, closeTimeout: 3000 });
    open.push(b);
    await waitFor(() => a.stats().nodes.up === 1 && b.stats().nodes.up === 1, 5000, "both links up");
    const server = b.socket({ type: "rdm" });
    server.bind({ type: 4244, lower: 1 });
    await waitFor(() => a.lookupAnycast(4244, 1) !== undefined, 3000, "binding");
    const client = a.socket({ type: "rdm" });
    const N = 3000;
    const got: number[] = [];
    const reading = (async () => {
      for await (const e of server) {
        if (e.kind === "message") got.push(new DataView(e.data.buffer, e.data.byteOffset).getUint32(0));
        if (got.length === N) break;
      }
    })();
    for (let i = 0; i < N; i++) {
      const data = new Uint8Array(i % 100 === 0 ? 20_000 : 200); // some fragmented on the way
      new DataView(data.buffer).setUint32(0, i);
      await client.sendTo({ type: 4244, instance: 1 }, data);
    }
    await waitFor(() => got.length === N, 10_000, "all messages");
    await reading;
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(b.stats().link.reassembled).toBeGreaterThanOrEqual(30);
  }, 20_000);
});
