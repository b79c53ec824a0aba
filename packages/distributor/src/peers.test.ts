/**
 * The per-peer records (struct-of-arrays, found through a hash of the address): many peers,
 * addresses that collide in the low bits, values wider than the arrays, held maps per peer.
 */
import { TIPC_NAMED_BCAST } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { namedMessage } from "./__helpers__/message.js";
import { MapStore } from "./__helpers__/store.js";
import { createDistributor } from "./distributor.js";

const OWN = 0x7f000001;
const MODERN = { capabilities: TIPC_NAMED_BCAST, mtu: 1500 };

const update = (peer: number, namedSeqno: number, lower: number) =>
  namedMessage(peer, { namedSeqno, items: [{ type: 1000, lower, upper: lower, port: 1, key: lower }] });

describe("peer records", () => {
  it("keeps 3,000 peers apart, in order of first node up, across down and up again", () => {
    const d = createDistributor({ ownNode: OWN, table: new MapStore(OWN), awaitBulkAck: false });
    // Addresses 4096 apart share their low 12 bits; the rest are scattered.
    const addrs: number[] = [];
    for (let i = 0; i < 1500; i++) addrs.push(0x01000000 + i * 4096, 0xfffff000 - i * 7919);
    for (const a of addrs)
      d.nodeUp(a, { capabilities: TIPC_NAMED_BCAST | (a & 0x10), mtu: 1000 + (a % 500) });
    for (let i = 0; i < addrs.length; i += 3) d.nodeDown(addrs[i] as number);
    for (let i = 0; i < addrs.length; i += 6) d.nodeUp(addrs[i] as number, MODERN);
    const peers = d.peers();
    expect(peers.map((p) => p.peer)).toEqual(addrs);
    peers.forEach((p, i) => {
      const a = addrs[i] as number;
      const up = i % 3 !== 0 || i % 6 === 0;
      expect(p.up).toBe(up);
      if (i % 6 === 0) expect([p.capabilities, p.mtu]).toEqual([TIPC_NAMED_BCAST, 1500]);
      else expect([p.capabilities, p.mtu]).toEqual([TIPC_NAMED_BCAST | (a & 0x10), 1000 + (a % 500)]);
      expect(d.peer(a)).toEqual(p);
    });
    expect(d.peer(0x01000000 + 1500 * 4096)).toBeUndefined();
    expect(d.stats().peersUp).toBe(peers.filter((p) => p.up).length);
  });

  it("replicast copies go to the up peers in order of first node up", () => {
    const d = createDistributor({ ownNode: OWN, table: new MapStore(OWN), forceReplicast: true });
    const addrs = [0x30, 0x10, 0x20, 0x40];
    for (const a of addrs) d.nodeUp(a, MODERN);
    d.nodeDown(0x10);
    const outs = d.publish({ type: 5, lower: 1, upper: 1, node: OWN, port: 1, key: 1, scope: "cluster" });
    expect(outs.flatMap((o) => (o.kind === "send" ? [o.to] : []))).toEqual([0x30, 0x20, 0x40]);
  });

  it("capabilities and mtu wider than 32 bits come back unchanged", () => {
    const d = createDistributor({ ownNode: OWN, table: new MapStore(OWN) });
    const caps = 2 ** 40 + TIPC_NAMED_BCAST;
    d.nodeUp(0x11, { capabilities: caps, mtu: 2 ** 33 });
    d.nodeUp(0x12, { capabilities: 0xffffffff, mtu: 0xffffffff });
    expect([d.peer(0x11)?.capabilities, d.peer(0x11)?.mtu]).toEqual([caps, 2 ** 33]);
    expect([d.peer(0x12)?.capabilities, d.peer(0x12)?.mtu]).toEqual([0xffffffff, 0xffffffff]);
    d.nodeDown(0x11);
    d.nodeUp(0x11, MODERN);
    expect([d.peer(0x11)?.capabilities, d.peer(0x11)?.mtu]).toEqual([TIPC_NAMED_BCAST, 1500]);
  });

  it("70,000 peers each with its own mtu (more link profiles than 16 bits number) keep theirs", () => {
    const d = createDistributor({ ownNode: OWN, table: new MapStore(OWN), publishNodeState: false });
    const n = 70_000;
    for (let i = 0; i < n; i++) d.nodeUp(0x02000000 + i, { capabilities: TIPC_NAMED_BCAST, mtu: 576 + i });
    const peers = d.peers();
    expect(peers.length).toBe(n);
    peers.forEach((p, i) => {
      if (p.peer !== 0x02000000 + i || p.mtu !== 576 + i || p.capabilities !== TIPC_NAMED_BCAST)
        throw new Error(`peer ${i}: ${JSON.stringify(p)}`);
    });
    expect(d.peer(0x02000000 + 65_540)?.mtu).toBe(576 + 65_540);
  });

  it("what one peer holds is its own: released, flushed and counted per peer", () => {
    const d = createDistributor({ ownNode: OWN, table: new MapStore(OWN) });
    const peers = [0x21, 0x22, 0x23];
    for (const p of peers) d.nodeUp(p, MODERN);
    // Gates shut: everything waits, per peer.
    peers.forEach((p, k) => {
      for (let s = 0; s <= k; s++) d.receive(p, update(p, s, 10 * k + s));
    });
    expect(peers.map((p) => d.peer(p)?.held)).toEqual([1, 2, 3]);
    expect(d.stats().heldNow).toBe(6);
    // lastBulk at seqno 0 opens 0x22's gate: both it holds are released.
    const bulk = { ...update(0x22, 0, 0), bulk: true, lastBulk: true, items: [] };
    const out = d.receive(0x22, bulk);
    expect(out.filter((o) => o.kind === "bound").length).toBe(2);
    expect(peers.map((p) => d.peer(p)?.held)).toEqual([1, 0, 3]);
    expect(d.peer(0x22)).toMatchObject({ open: true, rcvNxt: 2 });
    d.nodeDown(0x23);
    expect(d.stats().drops["flushed-at-node-down"]).toBe(3);
    expect(d.peer(0x23)).toMatchObject({ held: 0, open: false, rcvNxt: 0 });
    expect(d.stats().heldNow).toBe(1);
  });
});
