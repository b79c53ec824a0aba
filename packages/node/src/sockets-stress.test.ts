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
});
