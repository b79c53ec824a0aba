import type { DataMessage } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { Sim } from "./__helpers__/sim.js";

const USERS = ["LOW_IMPORTANCE", "MEDIUM_IMPORTANCE", "HIGH_IMPORTANCE", "CRITICAL_IMPORTANCE"] as const;

/** A DIRECT_MSG of `size` bytes at `importance` (too large to share a bundle with another at MTU 1400). */
function data(importance: 0 | 1 | 2 | 3, size: number): DataMessage {
  return {
    user: USERS[importance],
    type: "DIRECT_MSG",
    headerSize: 32,
    nonSeq: false,
    destDroppable: true,
    srcDroppable: false,
    syn: false,
    errorCode: 0,
    rerouteCount: 0,
    lookupScope: 0,
    bcastAck: 0,
    ack: 0,
    seqno: 0,
    prevNode: 0,
    origPort: 1,
    destPort: 2,
    origNode: 0,
    destNode: 0,
    nameType: 0,
    nameInstance: 0,
    nameUpper: 0,
    payload: new Uint8Array(size),
  };
}

describe("backlog per importance (the kernel's min_win x 2/4/6/8 limits)", () => {
  it("counts backlog packets per importance, says when a limit is reached, and when it is left", () => {
    const sim = new Sim({ nodes: 2, seed: 4, engine: { window: 10 } });
    sim.start();
    sim.run(5000, () => sim.allUp());
    const [a, b] = sim.engines as [
      NonNullable<(typeof sim.engines)[0]>,
      NonNullable<(typeof sim.engines)[1]>,
    ];
    const peer = b.address;
    expect(a.backlogState(peer)).toEqual({ counts: [0, 0, 0, 0], limits: [20, 40, 60, 80] });
    expect(a.backlogState(0)?.limits).toEqual([100, 200, 300, 400]); // broadcast link: its own window (50)
    expect(a.backlogState(0x7777)).toBeUndefined();
    expect(a.backlogCongested(0x7777, 0)).toBe(false);
    sim.partition([0], [1]); // nothing acknowledged from here on
    // the first ones fill the window (10), then LOW packets wait in the backlog
    let sent = 0;
    while ((a.backlogState(peer)?.counts[0] ?? 0) < 19 && sent++ < 100)
      a.sendUnicast(peer, data(0, 1000), sim.now);
    expect(a.links()[0]?.transmitQueue).toBe(10);
    expect(a.backlogCongested(peer, 0)).toBe(false);
    a.sendUnicast(peer, data(0, 1000), sim.now);
    expect(a.backlogState(peer)?.counts).toEqual([20, 0, 0, 0]);
    expect(a.backlogCongested(peer, 0)).toBe(true);
    // HIGH has its own count: 60 before it is congested
    for (let i = 0; i < 5; i++) a.sendUnicast(peer, data(2, 1000), sim.now);
    expect(a.backlogState(peer)?.counts).toEqual([20, 0, 5, 0]);
    expect(a.backlogCongested(peer, 2)).toBe(false);
    // a fragmented message counts each fragment at its importance
    a.sendUnicast(peer, data(3, 3000), sim.now);
    expect(a.backlogState(peer)?.counts).toEqual([20, 0, 5, 3]);
    sim.heal();
    sim.run(2000, () => a.backlogState(peer)?.counts.every((n) => n === 0) ?? false);
    expect(a.backlogState(peer)?.counts).toEqual([0, 0, 0, 0]);
    expect(a.backlogCongested(peer, 0)).toBe(false);
  });
});
