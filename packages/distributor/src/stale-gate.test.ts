/**
 * Issue 14 A: a kernel peer keeps its receive gate (named_open, named_rcv_nxt) across node down
 * (tipc-protocol.md §2.3). When this node re-links with its next named seqno equal to the stale
 * rcv_nxt (always after a restart: every process counts from 0), broadcast updates that overtake
 * a lost and retransmitted bulk are applied early; the lastBulk then moves rcv_nxt back and the
 * kernel holds every later update for ever. The fix is the sender's: until the peer has acked
 * the bulk, updates go by replicast behind it. B below is the kernel's receiver (the `linux`
 * flavour); `awaitBulkAck: false` is the sender as it was (and as the kernel's is).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Cluster, svc } from "./__helpers__/cluster.js";
import { run, type Scenario, scenarioArb } from "./__helpers__/scenario.js";

const A = 0x1001;
const B = 0x1002;

function restartOvertaken(awaitBulkAck: boolean) {
  const c = new Cluster([
    { addr: A, awaitBulkAck },
    { addr: B, flavor: "linux" },
  ]);
  c.publish(A, svc(1000, 1, 1)); // seqno 0, to nobody
  c.up(A, B);
  c.drain();
  const stale = c.node(B).d.peer(A);
  // A "crashes" and comes back counting from 0 again; B keeps the old gate.
  c.restart(A, { initialSndNxt: 0 });
  expect(c.node(B).d.peer(A)).toMatchObject({ up: false, open: true, rcvNxt: stale?.rcvNxt });
  c.publish(A, svc(1000, 1, 1)); // seqno 0 again, to nobody: the next is 1, B's stale rcvNxt
  expect(c.node(A).d.stats().sndNxt).toBe(stale?.rcvNxt);
  c.up(A, B); // the bulk (lastBulk, seqno 1) is lost and waits for its retransmission
  c.publish(A, svc(2000, 1, 2)); // X, seqno 1
  c.publish(A, svc(2000, 2, 3)); // Y, seqno 2
  const early = c.queued(A, B, "broadcast");
  c.deliver(A, B, "broadcast"); // whatever went by broadcast overtakes the bulk
  c.deliver(A, B, "unicast"); // the retransmitted bulk, and what was sent behind it
  c.deliver(B, A, "ack"); // the link acknowledges the bulk
  c.withdraw(A, { type: 2000, lower: 2, upper: 2, key: 3 }); // Y withdrawn, seqno 3
  c.publish(A, svc(2000, 3, 4)); // Z, seqno 4
  c.drain();
  return { c, early };
}

describe("issue 14 A: a kernel receiver's stale gate, and a bulk overtaken by broadcast updates", () => {
  it("the old sender: updates overtake the bulk, the kernel applies them early and then holds every later one", () => {
    const { c, early } = restartOvertaken(false);
    expect(early).toBe(2);
    expect(c.mismatches()).not.toEqual([]);
    expect(c.view(B, A)).toContain("2000/2-2@4097:103#3"); // Y: its withdrawal never applied
    expect(c.view(B, A)).not.toContain("2000/3-3@4097:104#4"); // Z missing
    expect(c.node(B).d.peer(A)).toMatchObject({ open: true, rcvNxt: 1, held: 2 }); // frozen
  });

  it("the fix: updates go behind the bulk by replicast until it is acked, then by broadcast; the table equals the truth", () => {
    const { c, early } = restartOvertaken(true);
    expect(early).toBe(0);
    expect(c.mismatches()).toEqual([]);
    expect(c.node(B).d.peer(A)).toMatchObject({ open: true, rcvNxt: 5, held: 0 });
    const s = c.node(A).d.stats();
    // X and Y: one replicast copy each; the withdrawal of Y and Z: broadcast after the ack
    expect(s.sent).toMatchObject({ replicast: 2, broadcast: 3 }); // (1 of the broadcasts before the link)
    expect(s).toMatchObject({ method: "broadcast", awaitingBulkAck: 0 });
  });

  it("the sender tells which peers it waits for; a late, repeated or unknown ack changes nothing", () => {
    const c = new Cluster([{ addr: A }, { addr: B }, { addr: 0x1003 }]);
    c.up(A, B);
    c.up(A, 0x1003);
    const a = c.node(A).d;
    expect(a.stats()).toMatchObject({ method: "replicast", awaitingBulkAck: 2, replicastDestinations: 0 });
    expect(a.peer(B)?.awaitingBulkAck).toBe(true);
    c.deliver(A, B, "unicast");
    c.deliver(B, A, "ack");
    expect(a.peer(B)?.awaitingBulkAck).toBe(false);
    expect(a.stats()).toMatchObject({ method: "replicast", awaitingBulkAck: 1 });
    expect(a.bulkAcked(B)).toBe(false);
    expect(a.bulkAcked(0x9999)).toBe(false);
    expect(a.stats().awaitingBulkAck).toBe(1);
    // the peer goes down before its ack: nothing is waited for any more
    c.down(A, 0x1003);
    expect(a.stats()).toMatchObject({ method: "broadcast", awaitingBulkAck: 0 });
    expect(a.bulkAcked(0x1003)).toBe(false);
    // the linux and legacy flavours never wait
    for (const flavor of ["linux", "legacy"] as const) {
      const k = new Cluster([{ addr: A, flavor }, { addr: B }]);
      k.up(A, B);
      expect(k.node(A).d.stats().awaitingBulkAck).toBe(0);
      expect(k.node(A).d.bulkAcked(B)).toBe(false);
    }
  });
});

describe("the switch back to broadcast after the ack", () => {
  it.each(["tipcjs", "linux"] as const)(
    "a broadcast update that overtakes a replicast copy still in flight waits for it (%s receiver)",
    (flavor) => {
      const c = new Cluster([{ addr: A }, { addr: B, flavor }]);
      c.up(A, B);
      c.publish(A, svc(6000, 1, 1)); // X: replicast, behind the bulk
      c.deliver(A, B, "unicast", 1); // the bulk only; X still in flight
      c.deliver(B, A, "ack");
      c.publish(A, svc(6000, 2, 2)); // Y: broadcast
      c.withdraw(A, { type: 6000, lower: 1, upper: 1, key: 1 }); // withdraw X: broadcast
      expect(c.queued(A, B, "broadcast")).toBe(2);
      expect(c.deliver(A, B, "broadcast")).toEqual([]); // held: X (the next seqno) is missing
      expect(c.node(B).d.peer(A)?.held).toBe(2);
      c.drain();
      expect(c.mismatches()).toEqual([]);
      expect(c.view(B, A)).not.toContain("6000/1-1@4097:101#1");
      expect(c.node(B).d.peer(A)).toMatchObject({ held: 0, rcvNxt: 3 });
    },
  );
});

describe("the model: kernel receivers (stale gates) fed every arrival order", () => {
  /** Every node's receive trace replayed through the kernel's receiver equals the truth. */
  const kernelConverges = (sc: Scenario, eager: boolean) => {
    const c = run({ ...sc, nodes: sc.nodes.map((n) => ({ ...n, eager })) }, "map");
    return [...c.nodes.keys()].every((x) => c.replayConverges(x, c.replayKernel(x)));
  };

  it("converge when every sender waits for its bulk's ack (2,000 runs)", () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => kernelConverges(sc, false)),
      { numRuns: 2000 },
    );
  }, 60_000);

  it("diverge on the same kind of scenarios when senders broadcast at once", () => {
    const r = fc.check(
      fc.property(scenarioArb, (sc) => kernelConverges(sc, true)),
      { numRuns: 2000, seed: 14 },
    );
    expect(r.failed).toBe(true);
  }, 60_000);
});
