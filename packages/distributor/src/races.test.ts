/**
 * The four problems of the 2020 design (tipc-protocol.md §2.3 "Why the bits exist"), each as
 * the exact race, delivered in a chosen order. Each ends with every table equal to the truth,
 * and the same arrival order fed to pre-2020 (legacy-mode) receivers shows the divergence the
 * bits exist to prevent. Races 1 and 3 need a sender that broadcasts as soon as the peer is up,
 * as the kernel does (`awaitBulkAck: false`): a tipcjs sender sends behind the bulk until it is
 * acknowledged (stale-gate.test.ts), but a tipcjs receiver must still cope with kernel senders.
 */
import { TIPC_NAMED_BCAST } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { Cluster, svc, viewOf } from "./__helpers__/cluster.js";

const A = 0x1001;
const B = 0x1002;
const L = 0x2001; // a pre-2020 node

describe("race 1: a broadcast update overtakes the link-up bulk", () => {
  function run() {
    const c = new Cluster([{ addr: A, awaitBulkAck: false }, { addr: B }]);
    c.publish(A, svc(1000, 1, 1)); // X, will travel in the bulk
    c.publish(A, svc(1000, 2, 2)); // Y
    c.up(A, B);
    expect(c.queued(A, B, "unicast")).toBe(1); // the bulk
    c.withdraw(A, { type: 1000, lower: 1, upper: 1, key: 1 }); // withdraw X: broadcast
    c.publish(A, svc(1000, 3, 3)); // Z: broadcast
    expect(c.queued(A, B, "broadcast")).toBe(2);
    // The withdrawal of X and the publication of Z arrive before the bulk that carries X.
    const early = c.deliver(A, B, "broadcast");
    expect(early).toEqual([]); // held: B's gate is shut until A's lastBulk
    expect(c.node(B).d.peer(A)).toMatchObject({ open: false, held: 2 });
    c.deliver(A, B, "unicast");
    c.drain();
    return c;
  }

  it("ends with every table equal to the truth", () => {
    const c = run();
    expect(c.mismatches()).toEqual([]);
    expect(c.view(B, A)).not.toContain("1000/1-1@4097:101#1");
    const s = c.node(B).d.stats();
    expect(s.received.releasedFromHold).toBe(2);
    expect(s.heldNow).toBe(0);
    expect(c.node(B).d.peer(A)).toMatchObject({ open: true, held: 0, rcvNxt: c.node(A).d.stats().sndNxt });
  });

  it("a pre-2020 receiver fed the same order keeps the withdrawn binding", () => {
    const c = run();
    const legacy = viewOf(c.replayLegacy(B), A);
    expect(legacy).not.toEqual(c.truth(A));
    expect(legacy).toContain("1000/1-1@4097:101#1"); // X: its withdrawal came first and was lost
  });

  it("a sequenced update with seqno 32769..65535 before the gate opens is held, not dropped (the kernel drops it)", () => {
    const c = new Cluster([{ addr: A, initialSndNxt: 40000, awaitBulkAck: false }, { addr: B }]);
    c.up(A, B);
    c.publish(A, svc(1000, 9, 9)); // seqno 40000 on the broadcast link
    c.deliver(A, B, "broadcast");
    c.deliver(A, B, "unicast");
    c.drain();
    expect(c.mismatches()).toEqual([]);
    // Linux tests "less than rcv_nxt (0)" while the gate is still shut, and 40000 is.
    expect(viewOf(c.replayKernel(B), A)).not.toContain("1000/9-9@4097:109#9");
  });
});

describe("race 2: the switch to replicast when the first legacy node joins, and back when the last leaves", () => {
  function run() {
    const c = new Cluster([{ addr: A }, { addr: B }, { addr: L, legacy: true }]);
    c.up(A, B);
    c.drain(); // B acked A's bulk too
    expect(c.node(A).d.stats().method).toBe("broadcast");
    const switches = c.node(A).d.stats().methodSwitches; // 2: replicast until B's ack, then back
    c.publish(A, svc(2000, 1, 1)); // P1: broadcast, seqno s, stays in flight
    // The first legacy node joins: A and B count it, A switches to replicast.
    c.up(A, L);
    c.up(B, L);
    expect(c.node(A).d.stats()).toMatchObject({
      method: "replicast",
      replicastDestinations: 1,
      methodSwitches: switches + 1,
    });
    c.withdraw(A, { type: 2000, lower: 1, upper: 1, key: 1 }); // s+1: one copy to B, one to L
    c.publish(A, svc(2000, 2, 2)); // P2, s+2, replicast
    expect(c.queued(A, B, "unicast")).toBe(2);
    // The replicast withdrawal reaches B before the broadcast publication it withdraws.
    c.deliver(A, B, "unicast", 1);
    expect(c.node(B).d.peer(A)?.held).toBe(1);
    // The last legacy node leaves: back to broadcast, with P2 still in flight on unicast.
    c.down(A, L);
    c.down(B, L);
    expect(c.node(A).d.stats()).toMatchObject({
      method: "broadcast",
      replicastDestinations: 0,
      methodSwitches: switches + 2,
    });
    c.publish(A, svc(2000, 3, 3)); // P3, s+3, broadcast
    c.withdraw(A, { type: 2000, lower: 2, upper: 2, key: 2 }); // s+4, broadcast: withdraws P2 before P2 arrives
    c.deliver(A, B, "broadcast"); // P1 (releases the withdrawal), P3 and W(P2) held
    expect(c.node(B).d.peer(A)?.held).toBe(2);
    c.deliver(A, B, "unicast"); // P2, then P3 and W(P2) are released
    c.drain();
    return c;
  }

  it("ends with every table equal to the truth, and the legacy node saw the replicast copies in order", () => {
    const c = run();
    expect(c.mismatches()).toEqual([]);
    expect(c.view(B, A)).toEqual(c.truth(A));
    expect(c.truth(A)).toContain("2000/3-3@4097:103#3");
    expect(c.truth(A)).not.toContain("2000/1-1@4097:101#1");
    const rx = c.node(B).d.stats().received;
    expect(rx.releasedFromHold).toBe(3);
  });

  it("pre-2020 receivers fed the same order keep both withdrawn bindings", () => {
    const c = run();
    const legacy = viewOf(c.replayLegacy(B), A);
    expect(legacy).toContain("2000/1-1@4097:101#1");
    expect(legacy).toContain("2000/2-2@4097:102#2");
    expect(legacy).not.toEqual(c.truth(A));
  });
});

describe("race 3: bulk messages carry no sequence number", () => {
  function run() {
    // MTU 120: (120 - 80) / 20 = 2 items per bulk message.
    const c = new Cluster([
      { addr: A, mtu: 120, initialSndNxt: 1000, awaitBulkAck: false },
      { addr: B, mtu: 120 },
    ]);
    for (let i = 1; i <= 4; i++) c.publish(A, svc(3000, i, i));
    c.up(A, B);
    c.drain();
    for (let i = 5; i <= 8; i++) c.publish(A, svc(3000, i, i)); // B's rcvNxt moves past 1000
    c.drain();
    expect(c.node(B).d.peer(A)).toMatchObject({ open: true, rcvNxt: 1000 + 8 });
    // The link flaps. The new session's bulk has 9 items: 5 messages, 4 of them with seqno 0.
    c.down(A, B);
    c.up(A, B);
    expect(c.queued(A, B, "unicast")).toBe(5);
    expect(c.node(B).d.peer(A)).toMatchObject({ open: false, rcvNxt: 0, held: 0 }); // reset at node down
    c.withdraw(A, { type: 3000, lower: 1, upper: 1, key: 1 }); // in the bulk's first message
    c.deliver(A, B, "broadcast"); // overtakes the whole bulk
    const first = c.deliver(A, B, "unicast", 1); // seqno 0, gate shut: applied anyway
    expect(first.filter((o) => o.kind === "bound")).toHaveLength(2);
    c.drain();
    return c;
  }

  it("applies every bulk message at once and ends equal to the truth", () => {
    const c = run();
    expect(c.mismatches()).toEqual([]);
    expect(c.view(B, A)).not.toContain("3000/1-1@4097:101#1");
    expect(c.node(B).d.stats().drops.stale).toBe(0);
  });

  it("bulk messages are packed to the MTU, only the last carries lastBulk and sndNxt", () => {
    const c = new Cluster([
      { addr: A, mtu: 120, initialSndNxt: 77 },
      { addr: B, mtu: 120 },
    ]);
    for (let i = 1; i <= 4; i++) c.publish(A, svc(3000, i, i));
    c.up(A, B);
    const q = c.chans.get(`${A}>${B}:unicast`) ?? [];
    expect(q.map((m) => m.items.length)).toEqual([2, 2, 1]); // node-state binding + 4
    expect(q.map((m) => [m.bulk, m.lastBulk, m.namedSeqno])).toEqual([
      [true, false, 0],
      [true, false, 0],
      [true, true, 81],
    ]);
    expect(q.every((m) => m.destNode === B && m.bcAckInvalid && m.nonLegacy && m.origNode === A)).toBe(true);
  });

  it("a pre-2020 receiver fed the same order resurrects the withdrawn binding", () => {
    const c = run();
    expect(viewOf(c.replayLegacy(B), A)).toContain("3000/1-1@4097:101#1");
  });
});

describe("race 4: legacy messages apply at once, whatever the gate", () => {
  function run() {
    const c = new Cluster([{ addr: A }, { addr: B }, { addr: L, legacy: true }]);
    c.publish(L, svc(4000, 1, 1));
    c.up(A, B);
    c.drain();
    c.publish(A, svc(4100, 1, 1)); // broadcast, in flight to B
    c.up(L, B);
    c.up(L, A); // A switches to replicast
    c.withdraw(A, { type: 4100, lower: 1, upper: 1, key: 1 }); // replicast, overtakes the broadcast publication
    c.deliver(A, B, "unicast"); // held at B
    // L's bulk has no bits at all and no lastBulk: B's gate for L never opens, yet it applies.
    expect(c.queued(L, B, "unicast")).toBe(1);
    const m = c.chans.get(`${L}>${B}:unicast`)?.[0];
    expect(m).toMatchObject({ bulk: false, lastBulk: false, nonLegacy: false, namedSeqno: 0 });
    c.deliver(L, B, "unicast");
    expect(c.view(B, L)).toEqual(c.truth(L));
    c.publish(L, svc(4000, 2, 2));
    c.withdraw(L, { type: 4000, lower: 1, upper: 1, key: 1 });
    c.deliver(L, B, "unicast");
    expect(c.view(B, L)).toEqual(c.truth(L)); // each legacy message applied on arrival
    expect(c.node(B).d.peer(L)).toMatchObject({ open: false, held: 0 });
    expect(c.node(B).d.peer(A)?.held).toBe(1); // A's withdrawal still waits for its publication
    c.drain();
    return c;
  }

  it("ends with every table equal to the truth", () => {
    const c = run();
    expect(c.mismatches()).toEqual([]);
    expect(c.node(B).d.stats().received.legacy).toBe(3);
    expect(c.node(L).d.capabilities & TIPC_NAMED_BCAST).toBe(0);
  });

  it("pre-2020 receivers fed the same order diverge on the modern node's reordered updates", () => {
    const c = run();
    const legacy = c.replayLegacy(B);
    expect(viewOf(legacy, L)).toEqual(c.truth(L)); // legacy from legacy is fine
    expect(viewOf(legacy, A)).toContain("4100/1-1@4097:101#1"); // the overtaken withdrawal was lost
  });
});
