/**
 * Issue 14 A end to end, on the memory transport with virtual time: a tipcjs node is killed and
 * restarted next to a peer that receives as the Linux kernel does (it keeps its receive gate
 * across node down), and the restarted node's bulk is lost once on the way. Updates sent after
 * the new link comes up must not overtake the bulk: the kernel peer's table equals the truth.
 */
import { decodeMessage } from "@tipcjs/codec";
import { createVirtualClock, memoryFabric, seededRandom } from "@tipcjs/transport-memory";
import { describe, expect, it } from "vitest";
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
