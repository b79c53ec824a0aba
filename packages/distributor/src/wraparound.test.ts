/**
 * 200,000 updates from one node cross 65535 four times, on two paths that reorder them (the
 * sender switches between broadcast and replicast as a legacy node comes and goes), without
 * a loss: the receiver's view equals the sender's bindings at every checkpoint.
 */
import { type NameDistributorMessage, TIPC_NAMED_BCAST, TIPC_NODE_CAPABILITIES } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { bindingString, viewOf } from "./__helpers__/cluster.js";
import { MapStore } from "./__helpers__/store.js";
import { createDistributor } from "./distributor.js";
import type { DistributorOutput } from "./types.js";

const A = 0x1001;
const B = 0x1002;
const C = 0x2001; // legacy: its presence switches A to replicast
const UPDATES = 200_000;

describe("sequence wraparound", () => {
  it("200,000 updates cross 65535 several times without a loss", () => {
    const ta = new MapStore(A);
    const tb = new MapStore(B);
    const a = createDistributor({ ownNode: A, table: ta, initialSndNxt: 0xff00 });
    const b = createDistributor({ ownNode: B, table: tb });
    const modern = { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 };
    const unicast: NameDistributorMessage[] = [];
    const broadcast: NameDistributorMessage[] = [];
    const route = (outs: DistributorOutput[]) => {
      for (const o of outs) {
        if (o.kind !== "send") continue;
        if (o.to === "broadcast") broadcast.push(o.message);
        else if (o.to === B) unicast.push(o.message);
      }
    };
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    // Deliver from a random path until at most `keep` messages are in flight.
    const deliver = (keep: number) => {
      while (unicast.length + broadcast.length > keep) {
        const q =
          unicast.length === 0 ? broadcast : broadcast.length === 0 ? unicast : rand(2) ? unicast : broadcast;
        const m = q.shift() as NameDistributorMessage;
        b.receive(A, m);
        if (m.lastBulk) a.bulkAcked(B); // B's link acknowledges the bulk
      }
    };

    b.nodeUp(A, modern);
    route(a.nodeUp(B, modern));
    const live: number[] = [];
    let key = 1;
    let cUp = false;
    let wraps = 0;
    let last = a.stats().sndNxt;
    for (let i = 0; i < UPDATES; i++) {
      if (i % 997 === 0) {
        if (cUp) a.nodeDown(C);
        else a.nodeUp(C, { capabilities: TIPC_NODE_CAPABILITIES & ~TIPC_NAMED_BCAST, mtu: 1500 });
        cUp = !cUp;
      }
      if (live.length > 40 || (live.length > 0 && rand(3) === 0)) {
        const k = live.splice(rand(live.length), 1)[0] as number;
        route(a.withdraw({ type: 5000, lower: k % 300, upper: k % 300, node: A, key: k }));
      } else {
        const k = key++;
        live.push(k);
        route(
          a.publish({
            type: 5000,
            lower: k % 300,
            upper: k % 300,
            node: A,
            port: k & 0xffff,
            key: k,
            scope: "cluster",
          }),
        );
      }
      const now = a.stats().sndNxt;
      if (now < last) wraps++;
      last = now;
      deliver(rand(200));
      if (i % 20_000 === 19_999) {
        deliver(0);
        expect(viewOf(tb, A)).toEqual([...ta.ownClusterBindings()].map(bindingString).sort());
      }
    }
    deliver(0);
    expect(viewOf(tb, A)).toEqual([...ta.ownClusterBindings()].map(bindingString).sort());
    expect(wraps).toBe(4); // from 0xff00: at 256, 65792, 131328 and 196864 updates
    const sa = a.stats();
    expect(sa.sent.updates).toBe(UPDATES);
    expect(sa.methodSwitches).toBeGreaterThan(100);
    expect(sa.sent.broadcast).toBeGreaterThan(50_000);
    expect(sa.sent.replicast).toBeGreaterThan(50_000 * 2);
    const sb = b.stats();
    expect(sb.received.sequenced).toBe(UPDATES);
    expect(sb.received.releasedFromHold).toBeGreaterThan(1_000);
    expect(sb.heldNow).toBe(0);
    expect(Object.values(sb.drops).every((n) => n === 0)).toBe(true);
    expect(sb.withdrawalsNotFound).toBe(0);
    expect(sb.duplicateInserts).toBe(0);
  }, 60_000);
});
