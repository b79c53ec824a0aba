/**
 * Issue 14 A end to end, on the memory transport with virtual time: a tipcjs node is killed and
 * restarted next to a peer that receives as the Linux kernel does (it keeps its receive gate
 * across node down), and the restarted node's bulk is lost once on the way. Updates sent after
 * the new link comes up must not overtake the bulk: the kernel peer's table equals the truth.
 */
import { decodeMessage } from "@tipcjs/codec";
import { createVirtualClock, memoryFabric, seededRandom } from "@tipcjs/transport-memory";
import { describe, expect, it } from "vitest";
import { key } from "./__helpers__/cluster.js";
import { KernelPeer, losing } from "./__helpers__/kernel-peer.js";
import { createNode } from "./node.js";
import type { TipcNode } from "./types.js";

const TOLERANCE = 1500;

const isLastBulk = (d: Uint8Array) => {
  try {
    const m = decodeMessage(d);
    return m.user === "NAME_DISTRIBUTOR" && m.lastBulk;
  } catch {
    return false;
  }
};

const view = (n: TipcNode) =>
  n
    .ownBindings()
    .filter((b) => b.scope === "cluster")
    .map((b) => `${b.type}/${b.lower}-${b.upper}:${b.port}#${b.key}`)
    .sort();

describe("issue 14 A: restart next to a kernel peer that keeps a stale gate, bulk lost once", () => {
  it("the kernel peer's table equals the truth after the restart, and updates return to broadcast once the bulk is acked", async () => {
    const clock = createVirtualClock(14);
    const fabric = memoryFabric({ clock });
    const runUntil = (cond: () => boolean, ms: number) => {
      const end = clock.now() + ms;
      while (!cond() && clock.now() < end) clock.advance(5);
      return cond();
    };
    const k = new KernelPeer(fabric, clock, "kernel", TOLERANCE);
    const options = { nodeId: "tipcd", clock, skipTrial: true, tolerance: TOLERANCE } as const;

    // Session 1: five bindings before the link, three after.
    const first = fabric.join();
    const a = await createNode({ ...options, transport: first, random: seededRandom(1) });
    for (let i = 0; i < 5; i++) a.publish({ type: 3000, lower: i });
    expect(runUntil(() => k.dist.peer(a.address)?.up === true, 5000)).toBe(true);
    for (let i = 5; i < 8; i++) a.publish({ type: 3000, lower: i });
    expect(runUntil(() => k.view(a.address).join() === view(a).join(), 3000)).toBe(true);
    const stale = k.dist.peer(a.address)?.rcvNxt;
    expect(stale).toBe(8);

    // SIGKILL: not a word to anyone. The kernel purges the node and keeps its gate.
    await first.close();
    expect(runUntil(() => k.dist.peer(a.address)?.up === false, 3 * TOLERANCE)).toBe(true);
    expect(k.dist.peer(a.address)).toMatchObject({ open: true, rcvNxt: stale });
    expect(k.view(a.address)).toEqual([]);

    // The new process counts from 0; its eight bindings before the link make its next seqno
    // the kernel's stale rcv_nxt. Its bulk (lastBulk, seqno 8) is lost once.
    const second = losing(fabric.join(), isLastBulk);
    const b = await createNode({ ...options, transport: second, random: seededRandom(2) });
    expect(b.address).toBe(a.address);
    for (let i = 0; i < 8; i++) b.publish({ type: 4000, lower: i });
    b.on("nodeUp", () => {
      // right behind the bulk: these may not overtake it
      b.publish({ type: 5000, lower: 1 });
      b.publish({ type: 5000, lower: 2 });
    });
    expect(runUntil(() => b.stats().nodes.up === 1, 5000)).toBe(true);
    expect(second.lost).toBe(1);
    expect(b.stats().updates.method).toBe("replicast");
    expect(runUntil(() => k.view(b.address).join() === view(b).join(), 3000)).toBe(true);

    // Once the kernel has acked the bulk, updates go on the broadcast link again, and apply.
    expect(runUntil(() => b.stats().updates.method === "broadcast", 2000)).toBe(true);
    const y = b.ownBindings().find((x) => x.type === 5000 && x.lower === 2);
    expect(y && b.withdraw(y)).toBe(true);
    b.publish({ type: 5000, lower: 3 });
    for (let i = 0; i < 8; i += 2) b.withdraw({ type: 4000, lower: i, upper: i, key: keyOf(b, 4000, i) });
    clock.advance(2000);
    expect(k.view(b.address)).toEqual(view(b));
    expect(k.dist.peer(b.address)).toMatchObject({ open: true, held: 0 });
    expect(b.stats().updates).toMatchObject({ replicast: 2, broadcast: 8 + 6 });
    await settle(clock, a.close());
    await settle(clock, b.close());
  });
});

describe("issue 14 A: a bearer bounce next to a kernel peer, bulk lost once", () => {
  it("after the bounce the kernel's stale rcv_nxt is our next seqno; its table still equals the truth", async () => {
    const clock = createVirtualClock(15);
    const fabric = memoryFabric({ clock });
    const runUntil = (cond: () => boolean, ms: number) => {
      const end = clock.now() + ms;
      while (!cond() && clock.now() < end) clock.advance(5);
      return cond();
    };
    const k = new KernelPeer(fabric, clock, "kernel", TOLERANCE);
    let armed = false;
    const t = losing(fabric.join(), (d) => armed && isLastBulk(d));
    const a = await createNode({
      nodeId: "tipcd",
      clock,
      skipTrial: true,
      tolerance: TOLERANCE,
      transport: t,
      random: seededRandom(3),
    });
    for (let i = 0; i < 20; i++) a.publish({ type: 3000, lower: i });
    expect(runUntil(() => k.dist.peer(a.address)?.up === true, 5000)).toBe(true);
    for (let i = 0; i < 10; i++) a.withdraw({ type: 3000, lower: i, upper: i, key: keyOf(a, 3000, i) });
    expect(runUntil(() => k.view(a.address).join() === view(a).join(), 3000)).toBe(true);
    const sndNxt = a.stats().distributor.sndNxt;
    expect(k.dist.peer(a.address)?.rcvNxt).toBe(sndNxt);

    // The bearer goes down and comes back: the kernel keeps its gate at our next seqno.
    a.disableBearer("udp0");
    expect(runUntil(() => k.dist.peer(a.address)?.up === false, 3 * TOLERANCE)).toBe(true);
    expect(k.dist.peer(a.address)).toMatchObject({ open: true, rcvNxt: sndNxt });
    armed = true;
    a.on("nodeUp", () => {
      a.publish({ type: 5000, lower: 1 });
      a.withdraw({ type: 3000, lower: 10, upper: 10, key: keyOf(a, 3000, 10) });
    });
    a.enableBearer("udp0");
    expect(runUntil(() => a.stats().nodes.up === 1, 5000)).toBe(true);
    expect(t.lost).toBe(1);
    expect(runUntil(() => a.stats().updates.method === "broadcast", 3000)).toBe(true);
    a.publish({ type: 5000, lower: 2 });
    a.withdraw({ type: 3000, lower: 11, upper: 11, key: keyOf(a, 3000, 11) });
    clock.advance(2000);
    expect(k.view(a.address)).toEqual(view(a));
    expect(k.dist.peer(a.address)).toMatchObject({ open: true, held: 0 });
    await settle(clock, a.close());
  });
});

describe("issue 14 A: the bulk's link fails over before the bulk is acked", () => {
  it("the node marks again on the new link and tells the distributor only after the peer has the bulk", async () => {
    const clock = createVirtualClock(16);
    const lans = [memoryFabric({ clock }), memoryFabric({ clock })];
    const at = (lan: number, i: number) => ({
      family: "ipv4" as const,
      address: `10.${lan}.0.${i + 1}`,
      port: 6118,
    });
    const make = (i: number) =>
      createNode({
        nodeId: `dual${i}`,
        bearers: lans.map((lan, b) => ({ transport: lan.join({ address: at(b, i) }), name: `lan${b}` })),
        clock,
        random: seededRandom(40 + i),
        skipTrial: true,
        tolerance: TOLERANCE,
      });
    const a = await make(0);
    const b = await make(1);
    for (let i = 0; i < 30; i++) a.publish({ type: 3000, lower: i });
    let bulkAt = -1;
    let ackedAt = -1;
    b.on("bindingChange", (e) => {
      if (bulkAt < 0 && e.origin.source === "peer" && e.origin.via === "bulk" && e.binding.type === 3000)
        bulkAt = clock.now();
    });
    let waitingAtFailover = -1;
    a.on("linkDown", (e) => {
      if (e.failoverTo !== undefined) waitingAtFailover = a.stats().distributor.awaitingBulkAck;
    });
    // the LAN that carries the bulk goes dark as the node comes up: the bulk is never acked there
    a.on("nodeUp", () => {
      const active = a.links().find((l) => l.active);
      if (active) lans[active.bearer]?.setFaults({ loss: 1 });
      a.publish({ type: 5000, lower: 1 }); // behind the bulk, by replicast
    });
    const runUntil = (cond: () => boolean, ms: number) => {
      const end = clock.now() + ms;
      while (!cond() && clock.now() < end) {
        clock.advance(5);
        if (ackedAt < 0 && a.stats().nodes.up === 1 && a.stats().distributor.awaitingBulkAck === 0)
          ackedAt = clock.now();
      }
      return cond();
    };
    expect(runUntil(() => a.stats().nodes.up === 1, 5000)).toBe(true);
    expect(a.stats().distributor.awaitingBulkAck).toBe(1);
    expect(runUntil(() => ackedAt >= 0, 4 * TOLERANCE)).toBe(true);
    expect(a.stats().link.failovers).toBeGreaterThanOrEqual(1);
    expect(waitingAtFailover).toBe(1); // the tunnel with the bulk is not acked yet
    expect(bulkAt).toBeGreaterThanOrEqual(0);
    expect(bulkAt).toBeLessThanOrEqual(ackedAt);
    expect(a.stats().updates.method).toBe("broadcast");
    a.publish({ type: 5000, lower: 2 });
    clock.advance(500);
    expect(
      b
        .bindings()
        .filter((x) => x.node === a.address)
        .map(key)
        .sort(),
    ).toEqual(
      a
        .ownBindings()
        .filter((x) => x.scope === "cluster")
        .map(key)
        .sort(),
    );
    await settle(clock, a.close());
    await settle(clock, b.close());
  });
});

function keyOf(n: TipcNode, type: number, lower: number): number {
  const b = n.ownBindings().find((x) => x.type === type && x.lower === lower);
  if (!b) throw new Error(`no binding ${type}/${lower}`);
  return b.key;
}

/** Runs the virtual clock until `p` settles. */
async function settle(clock: ReturnType<typeof createVirtualClock>, p: Promise<void>): Promise<void> {
  let done = false;
  const q = p.finally(() => {
    done = true;
  });
  for (let i = 0; i < 10_000 && !done; i++) {
    clock.advance(1);
    await new Promise((r) => setImmediate(r));
  }
  return q;
}
