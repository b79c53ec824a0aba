import {
  type NameDistributorMessage,
  type NameItem,
  TIPC_NAMED_BCAST,
  TIPC_NODE_CAPABILITIES,
} from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { Cluster, viewOf } from "./__helpers__/cluster.js";
import { namedMessage } from "./__helpers__/message.js";
import { MapStore } from "./__helpers__/store.js";
import { bulkItemsPerMessage, createDistributor } from "./distributor.js";
import { DistributorError } from "./errors.js";
import { KernelQueueReceiver } from "./kernel-queue-receiver.js";
import type { SendOutput } from "./types.js";

const A = 0x1001;
const B = 0x1002;
const C = 0x1003;
const MODERN = { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 };
const LEGACY = { capabilities: TIPC_NODE_CAPABILITIES & ~TIPC_NAMED_BCAST, mtu: 1500 };

const binding = (
  over: Partial<{
    type: number;
    lower: number;
    upper: number;
    port: number;
    key: number;
    scope: "node" | "cluster";
  }> = {},
) => ({
  type: 1000,
  lower: 1,
  upper: 1,
  port: 7,
  key: 1,
  scope: "cluster" as const,
  node: A,
  ...over,
});

function msg(over: Partial<NameDistributorMessage> & { items?: NameItem[] } = {}): NameDistributorMessage {
  return namedMessage(A, over);
}

const sends = (outs: ReturnType<ReturnType<typeof createDistributor>["publish"]>) =>
  outs.filter((o): o is SendOutput => o.kind === "send");

describe("sender", () => {
  it("publishes the node-state binding {0, addr, addr} at cluster scope and sends it in every bulk", () => {
    const t = new MapStore(A);
    const d = createDistributor({ ownNode: A, table: t });
    expect(t.all()).toEqual([{ type: 0, lower: A, upper: A, node: A, port: 0, key: A, scope: "cluster" }]);
    const [bulk] = sends(d.nodeUp(B, MODERN));
    expect(bulk?.message.items).toEqual([{ type: 0, lower: A, upper: A, port: 0, key: A }]);
  });

  it("numbers every update with one 16-bit sndNxt and sends it once on the broadcast link when every peer has NAMED_BCAST", () => {
    const d = createDistributor({ ownNode: A, table: new MapStore(A) });
    d.nodeUp(B, MODERN);
    d.nodeUp(C, MODERN);
    // their links acknowledged the bulks (until then updates go by replicast: stale-gate.test.ts)
    d.bulkAcked(B);
    d.bulkAcked(C);
    const s1 = sends(d.publish(binding()));
    const s2 = sends(d.withdraw({ type: 1000, lower: 1, upper: 1, node: A, key: 1 }));
    expect(s1).toHaveLength(1);
    expect(s1[0]).toMatchObject({ to: "broadcast", method: "broadcast" });
    expect(s1[0]?.message).toMatchObject({
      type: "PUBLICATION",
      namedSeqno: 0,
      nonLegacy: true,
      bulk: false,
      destNode: 0,
      origNode: A,
    });
    expect(s2[0]?.message).toMatchObject({
      type: "WITHDRAWAL",
      namedSeqno: 1,
      items: [{ type: 1000, lower: 1, upper: 1, port: 7, key: 1 }],
    });
    expect(d.stats()).toMatchObject({ sndNxt: 2, sent: { updates: 2, broadcast: 2, replicast: 0 } });
  });

  it("replicasts one copy per up peer while any peer lacks NAMED_BCAST, and switches with the first in and last out", () => {
    const d = createDistributor({ ownNode: A, table: new MapStore(A) });
    d.nodeUp(B, MODERN);
    d.bulkAcked(B);
    const switches = d.stats().methodSwitches; // 2: to replicast at B's node up, back at its ack
    d.nodeUp(C, LEGACY);
    const s = sends(d.publish(binding()));
    expect(s.map((o) => [o.to, o.method, o.message.destNode, o.message.namedSeqno])).toEqual([
      [B, "replicast", B, 0],
      [C, "replicast", C, 0],
    ]);
    expect(d.stats()).toMatchObject({
      replicastDestinations: 1,
      method: "replicast",
      methodSwitches: switches + 1,
    });
    d.nodeDown(C);
    expect(d.stats()).toMatchObject({
      replicastDestinations: 0,
      method: "broadcast",
      methodSwitches: switches + 2,
    });
    expect(sends(d.publish(binding({ key: 2 })))[0]?.to).toBe("broadcast");
  });

  it("forceReplicast always replicasts", () => {
    const d = createDistributor({ ownNode: A, table: new MapStore(A), forceReplicast: true });
    d.nodeUp(B, MODERN);
    expect(sends(d.publish(binding()))[0]).toMatchObject({ to: B, method: "replicast" });
  });

  it("stores node-scope bindings without sending them, in updates and in bulks", () => {
    const t = new MapStore(A);
    const d = createDistributor({ ownNode: A, table: t, publishNodeState: false });
    d.nodeUp(B, MODERN);
    const out = d.publish(binding({ scope: "node" }));
    expect(out).toEqual([
      { kind: "bound", binding: expect.objectContaining({ scope: "node" }), origin: { source: "local" } },
    ]);
    expect(d.stats().sndNxt).toBe(0);
    expect(sends(d.withdraw({ type: 1000, lower: 1, upper: 1, node: A, key: 1 }))).toEqual([]);
    d.publish(binding({ scope: "node", key: 3 }));
    d.nodeDown(B);
    const bulk = sends(d.nodeUp(B, MODERN));
    expect(bulk).toHaveLength(1);
    expect(bulk[0]?.message.items).toEqual([]);
  });

  it("never sends an empty bulk: a header-only lastBulk carrying sndNxt instead", () => {
    const d = createDistributor({
      ownNode: A,
      table: new MapStore(A),
      publishNodeState: false,
      initialSndNxt: 500,
    });
    const [m] = sends(d.nodeUp(B, MODERN));
    expect(m).toMatchObject({ to: B, method: "bulk" });
    expect(m?.message).toMatchObject({
      bulk: true,
      lastBulk: true,
      nonLegacy: true,
      bcAckInvalid: true,
      namedSeqno: 500,
      items: [],
      destNode: B,
    });
    expect(d.stats().sent.emptyBulks).toBe(1);
  });

  it("the empty lastBulk is what lets the peer apply later updates (Linux sends nothing and the peer waits for ever)", () => {
    const c = new Cluster([{ addr: A, publishNodeState: false }, { addr: B }]);
    c.up(A, B);
    c.publish(A, { type: 5, lower: 1, upper: 1, port: 1, key: 1 });
    c.drain();
    expect(c.mismatches()).toEqual([]);
    // The same updates without the header-only bulk, as a Linux receiver would see them.
    const table = new MapStore(B);
    const kk = new KernelQueueReceiver(table);
    for (const e of c.node(B).trace) if (e.kind === "rx" && !e.message.bulk) kk.receive(A, e.message);
    expect(viewOf(table, A)).toEqual([]);
    expect(kk.state(A)).toMatchObject({ open: false, queued: 1 });
  });

  it("packs the bulk to the link MTU as the kernel computes it", () => {
    expect(bulkItemsPerMessage(1500)).toBe(71);
    expect(bulkItemsPerMessage(14000)).toBe(696);
    expect(bulkItemsPerMessage(100)).toBe(1);
    expect(bulkItemsPerMessage(60)).toBe(1);
    const d = createDistributor({ ownNode: A, table: new MapStore(A) });
    for (let i = 0; i < 149; i++) d.publish(binding({ lower: i, upper: i, key: i + 1 }));
    const s = sends(d.nodeUp(B, MODERN));
    expect(s.map((o) => o.message.items.length)).toEqual([71, 71, 8]);
    expect(s.map((o) => o.message.lastBulk)).toEqual([false, false, true]);
    expect(s[2]?.message.namedSeqno).toBe(149);
    expect(d.stats().sent).toMatchObject({ bulk: 3, bulkItems: 150 });
  });

  it("rejects caller mistakes with a DistributorError and changes nothing", () => {
    const t = new MapStore(A);
    const d = createDistributor({ ownNode: A, table: t });
    d.publish(binding());
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof DistributorError ? e.code : "other";
      }
      return "none";
    };
    expect(code(() => d.publish(binding()))).toBe("DUPLICATE");
    expect(code(() => d.publish({ ...binding({ key: 9 }), node: B }))).toBe("NOT_OWN_BINDING");
    expect(code(() => d.publish(binding({ lower: 5, upper: 4, key: 9 })))).toBe("INVALID_BINDING");
    expect(code(() => d.publish(binding({ key: -1 })))).toBe("INVALID_BINDING");
    expect(code(() => d.withdraw({ type: 1, lower: 1, upper: 1, node: A, key: 99 }))).toBe("NOT_FOUND");
    expect(code(() => d.nodeUp(A, MODERN))).toBe("SELF");
    expect(code(() => d.nodeUp(0, MODERN))).toBe("INVALID_PEER");
    d.nodeUp(B, MODERN);
    expect(code(() => d.nodeUp(B, MODERN))).toBe("ALREADY_UP");
    expect(code(() => createDistributor({ ownNode: 0, table: t }))).toBe("INVALID_OPTIONS");
    expect(code(() => createDistributor(undefined as never))).toBe("INVALID_OPTIONS");
    expect(code(() => createDistributor({ ownNode: A, table: t, flavor: "bsd" as never }))).toBe(
      "INVALID_OPTIONS",
    );
    expect(code(() => d.withdraw(undefined as never))).toBe("INVALID_BINDING");
    expect(code(() => d.publish(undefined as never))).toBe("INVALID_BINDING");
    const limited = createDistributor({ ownNode: A, table: new MapStore(A, 1) });
    expect(code(() => limited.publish(binding()))).toBe("LIMIT");
    expect(d.stats().sndNxt).toBe(1);
    expect(t.size).toBe(2);
    expect(d.nodeDown(C)).toEqual([]); // idempotent
  });

  it("legacy mode sends no bits and no sequence numbers, always replicast, no empty bulk", () => {
    const d = createDistributor({
      ownNode: A,
      table: new MapStore(A),
      legacy: true,
      publishNodeState: false,
    });
    expect(d.capabilities & TIPC_NAMED_BCAST).toBe(0);
    expect(d.nodeUp(B, MODERN)).toEqual([]);
    const [s] = sends(d.publish(binding()));
    expect(s).toMatchObject({ to: B, method: "replicast" });
    expect(s?.message).toMatchObject({
      nonLegacy: false,
      bulk: false,
      lastBulk: false,
      namedSeqno: 0,
      bcAckInvalid: false,
    });
    expect(d.stats()).toMatchObject({ sndNxt: 0, method: "replicast" });
  });
});

describe("receiver", () => {
  function peerOf(over: { maxHeldPerPeer?: number } = {}) {
    const t = new MapStore(B);
    const d = createDistributor({ ownNode: B, table: t, publishNodeState: false, ...over });
    d.nodeUp(A, MODERN);
    return { t, d };
  }
  const open = (d: ReturnType<typeof createDistributor>, seqno: number) =>
    d.receive(A, msg({ bulk: true, lastBulk: true, namedSeqno: seqno, items: [] }));

  it("applies in order, holds early ones, drops old ones, releases held ones when the gap fills", () => {
    const { t, d } = peerOf();
    open(d, 10);
    const item = (k: number) => [{ type: 1000, lower: k, upper: k, port: 1, key: k }];
    expect(d.receive(A, msg({ namedSeqno: 12, items: item(12) }))).toEqual([]);
    expect(d.receive(A, msg({ namedSeqno: 11, items: item(11) }))).toEqual([]);
    expect(d.peer(A)).toMatchObject({ held: 2, rcvNxt: 10 });
    const out = d.receive(A, msg({ namedSeqno: 10, items: item(10) }));
    expect(out.map((o) => (o.kind === "bound" ? o.binding.key : -1))).toEqual([10, 11, 12]);
    expect(d.peer(A)).toMatchObject({ held: 0, rcvNxt: 13 });
    d.receive(A, msg({ namedSeqno: 9, items: item(9) }));
    expect(d.stats().drops.stale).toBe(1);
    expect(t.size).toBe(3);
  });

  it("drops held messages the lastBulk shows to be old, once, when the gate opens", () => {
    const { d } = peerOf();
    d.receive(A, msg({ namedSeqno: 3 }));
    d.receive(A, msg({ namedSeqno: 7, items: [{ type: 1, lower: 7, upper: 7, port: 1, key: 7 }] }));
    open(d, 5);
    expect(d.stats().drops.stale).toBe(1);
    expect(d.peer(A)).toMatchObject({ held: 1, open: true, rcvNxt: 5 });
  });

  it("bounds the held set per peer and counts what it drops", () => {
    const { d } = peerOf({ maxHeldPerPeer: 3 });
    for (let s = 1; s <= 5; s++) d.receive(A, msg({ namedSeqno: s }));
    expect(d.stats()).toMatchObject({ heldNow: 3, heldPeak: 3, drops: { "held-overflow": 2 } });
    d.receive(A, msg({ namedSeqno: 2 }));
    expect(d.stats().drops["duplicate-seqno"]).toBe(1);
  });

  it("node down purges the peer's bindings, resets its gate and flushes what it held", () => {
    const { t, d } = peerOf();
    open(d, 0);
    d.receive(A, msg({ namedSeqno: 0 }));
    d.receive(A, msg({ namedSeqno: 5 }));
    const out = d.nodeDown(A);
    expect(out).toEqual([
      {
        kind: "unbound",
        binding: expect.objectContaining({ node: A }),
        origin: { source: "purge", peer: A },
      },
    ]);
    expect(t.size).toBe(0);
    expect(d.peer(A)).toMatchObject({ up: false, open: false, rcvNxt: 0, held: 0 });
    expect(d.stats().drops["flushed-at-node-down"]).toBe(1);
    expect(d.receive(A, msg({ bulk: true }))).toEqual([]);
    expect(d.stats().drops["peer-not-up"]).toBe(1);
  });

  it("a restarted peer that counts from 0 again is applied (Linux's stale gate drops it)", () => {
    const { t, d } = peerOf();
    const kt = new MapStore(B);
    const k = new KernelQueueReceiver(kt);
    const both = (m: NameDistributorMessage) => {
      d.receive(A, m);
      k.receive(A, m);
    };
    both(msg({ bulk: true, lastBulk: true, namedSeqno: 0, items: [] }));
    for (let s = 0; s < 100; s++)
      both(msg({ namedSeqno: s, items: [{ type: 1, lower: s, upper: s, port: 1, key: s }] }));
    d.nodeDown(A);
    k.nodeDown(A);
    d.nodeUp(A, MODERN);
    // The restarted peer's first update overtakes its bulk (broadcast vs unicast).
    const update = msg({ namedSeqno: 1, items: [{ type: 2, lower: 1, upper: 1, port: 1, key: 1 }] });
    const bulk = msg({
      bulk: true,
      lastBulk: true,
      namedSeqno: 1,
      items: [{ type: 0, lower: A, upper: A, port: 0, key: A }],
    });
    both(update);
    both(bulk);
    expect(viewOf(t, A)).toHaveLength(2);
    expect(viewOf(kt, A)).toHaveLength(1); // dropped as "less than" the stale rcvNxt 100
  });

  it("drops and counts bad input without applying it or throwing", () => {
    const { t, d } = peerOf();
    open(d, 0);
    d.receive(A, msg({ namedSeqno: 0, items: [{ type: 1, lower: 5, upper: 4, port: 1, key: 1 }] }));
    d.receive(
      A,
      msg({
        namedSeqno: 1,
        items: [{ type: 1, lower: -1, upper: 4, port: 1, key: 1 }, null as unknown as NameItem],
      }),
    );
    d.receive(A, msg({ namedSeqno: 2, type: "BOGUS" as "PUBLICATION" }));
    d.receive(A, msg({ namedSeqno: 3, origNode: C }));
    d.receive(A, { user: "LINK_PROTOCOL" } as unknown as NameDistributorMessage);
    d.receive(A, null as unknown as NameDistributorMessage);
    d.receive(A, msg({ namedSeqno: 70000 }));
    d.receive(A, msg({ namedSeqno: 3, items: "x" as unknown as NameItem[] }));
    expect(d.stats().drops).toMatchObject({
      "lower-above-upper": 1,
      "malformed-item": 2,
      "foreign-type": 1,
      "orig-node-mismatch": 1,
      "malformed-message": 4,
    });
    // The foreign type still consumed its seqno, so the stream does not stall.
    expect(d.peer(A)?.rcvNxt).toBe(3);
    expect(t.size).toBe(0);
    d.receive(A, msg({ namedSeqno: 3 }));
    expect(t.size).toBe(1);
  });

  it("counts duplicate inserts, withdrawals of unknown bindings and a full table", () => {
    const t = new MapStore(B, 1);
    const d = createDistributor({ ownNode: B, table: t, publishNodeState: false });
    d.nodeUp(A, MODERN);
    d.receive(A, msg({ bulk: true, items: [{ type: 1, lower: 1, upper: 1, port: 1, key: 1 }] }));
    d.receive(A, msg({ bulk: true, items: [{ type: 1, lower: 1, upper: 1, port: 1, key: 1 }] }));
    d.receive(A, msg({ bulk: true, items: [{ type: 1, lower: 2, upper: 2, port: 1, key: 2 }] }));
    d.receive(
      A,
      msg({
        nonLegacy: false,
        type: "WITHDRAWAL",
        items: [{ type: 9, lower: 2, upper: 2, port: 1, key: 2 }],
      }),
    );
    expect(d.stats()).toMatchObject({
      duplicateInserts: 1,
      withdrawalsNotFound: 1,
      drops: { "table-limit": 1 },
    });
  });

  it("legacy mode applies everything at once in arrival order", () => {
    const t = new MapStore(B);
    const d = createDistributor({ ownNode: B, table: t, legacy: true, publishNodeState: false });
    d.nodeUp(A, MODERN);
    d.receive(A, msg({ namedSeqno: 9 }));
    d.receive(A, msg({ namedSeqno: 3, type: "WITHDRAWAL" }));
    expect(t.size).toBe(0);
    expect(d.stats().received.legacy).toBe(2);
  });
});
