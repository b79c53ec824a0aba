/**
 * Issue 16 item 6 on the memory fabric: many messages under loss, duplication and reordering,
 * and backpressure when the peer does not take what is sent.
 */
import { describe, expect, it } from "vitest";
import { Cluster } from "./__helpers__/cluster.js";
import type { TipcSocket } from "./types.js";

async function pair(extra: Partial<ConstructorParameters<typeof Cluster>[0]> = {}) {
  const c = await Cluster.start({ size: 2, ...extra });
  expect(c.runUntil(() => c.allUp() && c.bulksAcked(), 5000)).toBeGreaterThanOrEqual(0);
  return c;
}

function numbered(i: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

/** Sends `n` numbered messages to `to`, each awaited (waits whenever the link is congested). */
async function sendAll(s: TipcSocket, to: { node: number; port: number }, n: number, size = 8) {
  for (let i = 0; i < n; i++) await s.sendToSocket(to, numbered(i, size));
}

/** Reads what `s` holds; checks each sender's numbers come in order with no gap or repeat. */
function reader(s: TipcSocket) {
  const next = new Map<number, number>();
  let count = 0;
  return {
    get count() {
      return count;
    },
    take(): void {
      for (let e = s.tryReceive(); e !== undefined; e = s.tryReceive()) {
        if (e.kind !== "message") throw new Error(`unexpected ${e.kind} ${JSON.stringify(e)}`);
        const key = e.source.node * 0x1_0000_0000 + e.source.port;
        const want = next.get(key) ?? 0;
        const got = new DataView(e.data.buffer, e.data.byteOffset).getUint32(0);
        if (got !== want) throw new Error(`from ${key}: got #${got}, expected #${want}`);
        next.set(key, want + 1);
        count++;
      }
    },
  };
}

describe("node sockets under stress (memory fabric, virtual time)", () => {
  it("100,000 messages at 10 % loss with duplication and reordering: exactly once, in order per sender", async () => {
    const c = await pair({ seed: 16, mtu: 1500 });
    const [a, b] = [c.get(0), c.get(1)];
    c.fabric.setFaults({ loss: 0.1, duplicate: 0.05, reorder: 0.1, reorderDelay: 2, delay: 1 });
    const [sa, sb] = [a.socket({ type: "rdm" }), b.socket({ type: "rdm" })];
    const [ra, rb] = [reader(sa), reader(sb)];
    const N = 50_000; // each way
    let done = false;
    const senders = Promise.all([sendAll(sa, sb.address, N, 32), sendAll(sb, sa.address, N, 32)]).then(() => {
      done = true;
    });
    let waited = 0;
    const start = c.clock.now();
    while (ra.count < N || rb.count < N || !done) {
      c.clock.advance(1);
      ra.take();
      rb.take();
      waited = Math.max(waited, sa.pendingSends, sb.pendingSends);
      await new Promise((r) => setImmediate(r));
      if (c.clock.now() - start > 600_000) throw new Error(`stuck at ${ra.count}/${rb.count}`);
    }
    await senders;
    c.clock.advance(2000);
    ra.take();
    rb.take();
    expect([ra.count, rb.count]).toEqual([N, N]);
    // the faults happened, and the links repaired them
    expect(c.fabric.counters.drops.loss).toBeGreaterThan(300);
    expect(c.fabric.counters.duplicates).toBeGreaterThan(100);
    expect(c.fabric.counters.reordered).toBeGreaterThan(200);
    expect(a.stats().retransmissions.unicast).toBeGreaterThan(0);
    expect(a.stats().nodes.up).toBe(1);
    // the senders had to wait for the links at times, and waited one send at a time
    expect(waited).toBe(1);
    c.fabric.setFaults(undefined);
    await c.settle(Promise.all([a.close(), b.close()]));
  }, 120_000);

  it("a peer that takes nothing makes the sender wait with bounded queues; nothing is lost once it does", async () => {
    const c = await pair({ seed: 7 });
    const [a, b] = [c.get(0), c.get(1)];
    const server = b.socket({ type: "rdm" });
    const client = a.socket({ type: "rdm", maxPendingSends: 4 });
    const rb = reader(server);
    // b hears nothing for a while (shorter than the link tolerance): no acks come back
    const cut = c.fabric.partition(
      [c.members[0]?.transport.localAddress as never],
      [c.members[1]?.transport.localAddress as never],
    );
    let sent = 0;
    const waiting: Promise<void>[] = [];
    while (client.pendingSends === 0) {
      const p = client.sendToSocket(server.address, numbered(sent++, 1000));
      if (client.pendingSends > 0) waiting.push(p);
      else await p;
    }
    for (let i = 0; i < 3; i++) waiting.push(client.sendToSocket(server.address, numbered(sent++, 1000)));
    // the socket's wait queue is bounded too: one more is refused, not queued
    await expect(client.sendToSocket(server.address, numbered(sent, 1000))).rejects.toMatchObject({
      code: "WOULD_BLOCK",
    });
    await expect(
      client.sendToSocket(server.address, numbered(sent, 1000), { dontWait: true }),
    ).rejects.toMatchObject({ code: "WOULD_BLOCK" });
    expect(client.pendingSends).toBe(4);
    // the link's backlog stopped at the kernel's LOW limit (min_win x 2 packets)
    const link = a.links().find((l) => l.state === "ESTABLISHED");
    expect(link?.transmitQueue).toBe(50);
    expect(link?.backlog).toBe(100);
    expect(client.info().blockedOn).toEqual([{ node: b.address, importance: 0 }]);
    // the limits are per importance: a HIGH sender still goes (its limit is min_win x 6)
    const high = a.socket({ type: "rdm", importance: 2 });
    await high.sendToSocket(server.address, numbered(0, 1000), { dontWait: true });
    expect(high.info().blockedOn).toEqual([]);
    c.clock.advance(200);
    expect(client.pendingSends).toBe(4); // still waiting: nothing was acknowledged
    cut.heal();
    let settled = false;
    void Promise.all(waiting).then(() => {
      settled = true;
    });
    while (rb.count < sent || !settled) {
      c.clock.advance(1);
      rb.take();
      await new Promise((r) => setImmediate(r));
      if (c.clock.now() > 600_000) throw new Error(`stuck at ${rb.count}/${sent}`);
    }
    expect(rb.count).toBe(sent + 1); // the HIGH sender's one message counts under its own port
    expect(a.stats().nodes.up).toBe(1); // the link held on through the silence
    await c.settle(Promise.all([a.close(), b.close()]));
  });

  it("a receiver that does not read: its queue stops at rcvbuf, the rest comes back OVERLOAD and is sent again once it reads", async () => {
    const c = await pair({ seed: 9 });
    const [a, b] = [c.get(0), c.get(1)];
    const rcvbuf = 64 * 1024;
    const server = b.socket({ type: "rdm", rcvbuf });
    const client = a.socket({ type: "rdm", destDroppable: false });
    const N = 500;
    let toSend = Array.from({ length: N }, (_, i) => i);
    const got = new Map<number, number>();
    let rounds = 0;
    while (got.size < N && rounds++ < 50) {
      for (const i of toSend) await client.sendToSocket(server.address, numbered(i, 1000));
      toSend = [];
      // the reader is away: the queue fills to its limit and no further
      c.clock.advance(100);
      const info = server.info();
      expect(info.queuedBytes).toBeLessThanOrEqual(rcvbuf);
      // what did not fit came back to the sender, whole (up to 1,024 bytes of data are returned)
      for (let e = client.tryReceive(); e !== undefined; e = client.tryReceive()) {
        expect(e).toMatchObject({ kind: "returned", error: "OVERLOAD", errorCode: 4 });
        toSend.push(new DataView(e.data.buffer, e.data.byteOffset).getUint32(0));
      }
      // the reader comes back and takes everything queued
      for (let e = server.tryReceive(); e !== undefined; e = server.tryReceive()) {
        if (e.kind !== "message") throw new Error("not a message");
        const i = new DataView(e.data.buffer, e.data.byteOffset).getUint32(0);
        got.set(i, (got.get(i) ?? 0) + 1);
      }
    }
    expect(rounds).toBeGreaterThan(2); // the sender had to wait for the reader
    expect(got.size).toBe(N);
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    expect(b.stats().sockets.received.rejected.OVERLOAD).toBeGreaterThan(0);
    await c.settle(Promise.all([a.close(), b.close()]));
  });
});
