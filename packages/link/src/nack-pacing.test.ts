import { peekSeqno, peekUserValue, USER } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { Sim, testMessage } from "./__helpers__/sim.js";

/** A pair of engines with their link up. */
function upPair(seed: number): Sim {
  const sim = new Sim({ nodes: 2, seed, delay: 5 });
  sim.start();
  sim.run(10_000, () => sim.allUp());
  expect(sim.allUp()).toBe(true);
  sim.run(1000);
  return sim;
}

/**
 * Node 0 sends 6 unicast messages to node 1 and every copy of the second is lost (the path
 * cannot carry its retransmissions): node 1 holds 4 behind a gap that stays open.
 */
function openGap(sim: Sim): void {
  const e = sim.engines[0]!;
  const peer = sim.engines[1]!.address;
  const first = e.links()[0]!.sndNxt;
  const lost = (first + 1) & 0xffff;
  sim.dropIf = (from, to, b) =>
    from === 0 && to === 1 && peekUserValue(b) !== USER.LINK_PROTOCOL && peekSeqno(b) === lost;
  for (let k = 0; k < 6; k++) e.sendUnicast(peer, testMessage(5, k), sim.now);
  sim.poke(0);
}

describe("NACK pacing on a gap that stays open (issue 14, interop scenario (c))", () => {
  it("repeats the NACK at 20 ms first, then backs off to the link interval: the sender's retransmissions stay bounded", () => {
    const sim = upPair(31);
    const rx = sim.engines[1]!;
    const tx = sim.engines[0]!;
    const nacks0 = rx.stats().nacksSent;
    const retx0 = tx.stats().unicastRetransmitted;
    openGap(sim);
    sim.run(50);
    // the quick repeat is still there: a loss on a fast path is repaired within tens of ms
    expect(rx.stats().nacksSent - nacks0).toBeGreaterThanOrEqual(2);
    sim.run(1950);
    expect(rx.links()[0]!.state).toBe("ESTABLISHED");
    const nacks = rx.stats().nacksSent - nacks0;
    const retx = tx.stats().unicastRetransmitted - retx0;
    // 20, 40, 80, 160, 320 ms, then one per 375 ms interval (and the timer's probes): about 14
    // in 2 s. At a fixed 20 ms it was about 100 NACKs, each retransmitting the whole gap.
    expect(nacks).toBeGreaterThanOrEqual(6);
    expect(nacks).toBeLessThanOrEqual(20);
    expect(retx).toBeLessThanOrEqual(20);
  });

  it("a packet in order brings the quick pace back: the next gap is repaired within tens of ms", () => {
    const sim = upPair(32);
    const rx = sim.engines[1]!;
    openGap(sim);
    sim.run(1500); // backed off to the interval
    sim.dropIf = undefined;
    sim.run(500); // the next NACK (at most an interval away) repairs the gap
    expect(rx.links()[0]!.rcvNxt).toBe(sim.engines[0]!.links()[0]!.sndNxt);
    openGap(sim);
    const t0 = sim.now;
    let repairedAt: number | undefined;
    const tx = sim.engines[0]!;
    while (sim.now - t0 < 400 && repairedAt === undefined) {
      sim.run(5);
      if (sim.now - t0 >= 60) sim.dropIf = undefined; // the third NACK gets through
      if (rx.links()[0]!.rcvNxt === tx.links()[0]!.sndNxt) repairedAt = sim.now;
    }
    expect(repairedAt).toBeDefined();
    expect((repairedAt as number) - t0).toBeLessThan(200);
  });
});
