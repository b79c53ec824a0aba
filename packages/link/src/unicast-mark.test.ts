// biome-ignore-all lint/style/noNonNullAssertion: the sims are started before use
/**
 * unicastMark / unicastAcked / requestUnicastAck: the sender learns when the peer has acknowledged everything it
 * had queued (the name distributor's bulk, issue 14 A): never before the peer has every one of
 * those messages, through a backlog with bundling, loss and a failover.
 */
import { describe, expect, it } from "vitest";
import { payloadOf, Sim, testMessage } from "./__helpers__/sim.js";

const TAG = 4711;

/** Counts the test messages each node has delivered, by counter. */
function delivered(sim: Sim): Set<number>[] {
  const got = sim.engines.map(() => new Set<number>());
  sim.onOutput = (i, out) => {
    if (out.kind !== "deliver") return;
    const p = payloadOf(out.message);
    if (p?.tag === TAG) got[i]!.add(p.counter);
  };
  return got;
}

function upPair(o: ConstructorParameters<typeof Sim>[0]): Sim {
  const sim = new Sim(o);
  sim.start();
  sim.run(20_000, () => sim.allUp());
  expect(sim.allUp()).toBe(true);
  sim.run(1000); // let the link-up traffic be acked
  return sim;
}

describe("unicastMark and unicastAcked", () => {
  it("a mark is acked only once the peer has every message queued before it, through backlog and loss", () => {
    const sim = upPair({ nodes: 2, seed: 3, loss: 0.2, jitter: 4 });
    const got = delivered(sim);
    const [a, b] = sim.engines as [
      NonNullable<(typeof sim.engines)[0]>,
      NonNullable<(typeof sim.engines)[0]>,
    ];
    // more than the window of 50: the rest waits in the backlog, small ones bundled
    for (let k = 0; k < 300; k++) a.sendUnicast(b.address, testMessage(TAG, k), sim.now);
    const mark = a.unicastMark(b.address)!;
    const link = a.links().find((l) => l.peer === b.address)!;
    expect(link.backlog).toBeGreaterThan(0);
    expect(mark.seqno).toBe((link.sndNxt + link.backlog - 1) & 0xffff);
    expect(a.unicastAcked(mark)).toBe(false);
    sim.poke(0);
    let ackedWith = -1;
    sim.run(30_000, () => {
      if (a.unicastAcked(mark)) ackedWith = got[1]!.size;
      return ackedWith >= 0;
    });
    expect(ackedWith).toBe(300);
    // a message sent later is not covered by the old mark
    a.sendUnicast(b.address, testMessage(TAG, 300), sim.now);
    const next = a.unicastMark(b.address)!;
    expect(a.unicastAcked(mark)).toBe(true);
    expect(a.unicastAcked(next)).toBe(false);
    sim.poke(0);
    sim.run(5000, () => a.unicastAcked(next) === true);
    expect(got[1]!.has(300)).toBe(true);
  });

  it("after a failover the old mark is void (undefined); a new mark covers what the tunnel carries", () => {
    const sim = new Sim({ nodes: 2, seed: 5, bearers: 2 });
    sim.start();
    const bothUp = () =>
      sim.engines.every((e) => e.links().filter((l) => l.state === "ESTABLISHED").length === 2);
    sim.run(20_000, bothUp);
    expect(bothUp()).toBe(true);
    sim.run(1000);
    const got = delivered(sim);
    const [a, b] = sim.engines as [
      NonNullable<(typeof sim.engines)[0]>,
      NonNullable<(typeof sim.engines)[0]>,
    ];
    const active = a.links().find((l) => l.active)!.bearer;
    // cut the active bearer before anything arrives, then send
    sim.partitionBearer(active, [0], [1]);
    for (let k = 0; k < 80; k++) a.sendUnicast(b.address, testMessage(TAG, k), sim.now);
    const mark = a.unicastMark(b.address)!;
    expect(mark.bearer).toBe(active);
    sim.poke(0);
    sim.run(10_000, () => a.unicastAcked(mark) === undefined);
    expect(a.unicastAcked(mark)).toBeUndefined();
    expect(a.upPeers()).toHaveLength(1); // failed over, the node stayed up
    const again = a.unicastMark(b.address)!;
    expect(again.bearer).not.toBe(active);
    let ackedWith = -1;
    sim.run(10_000, () => {
      if (a.unicastAcked(again)) ackedWith = got[1]!.size;
      return ackedWith >= 0;
    });
    expect(ackedWith).toBe(80);
  });

  it("requestUnicastAck: the peer answers its probe at once, rather than at its next tick", () => {
    const timeToAck = (request: boolean) => {
      const sim = upPair({ nodes: 2, seed: 9, delay: 1 });
      const [a, b] = sim.engines as [
        NonNullable<(typeof sim.engines)[0]>,
        NonNullable<(typeof sim.engines)[0]>,
      ];
      a.sendUnicast(b.address, testMessage(TAG, 1), sim.now);
      const mark = a.unicastMark(b.address)!;
      if (request) expect(a.requestUnicastAck(b.address)).toBe(true);
      sim.poke(0);
      const start = sim.now;
      sim.run(5000, () => a.unicastAcked(mark) === true);
      return sim.now - start;
    };
    expect(timeToAck(true)).toBeLessThanOrEqual(2); // one delay there, one back
    expect(timeToAck(false)).toBeGreaterThan(2);
  });

  it("no mark for a peer that is not up; a mark of a peer gone down is void", () => {
    const sim = upPair({ nodes: 2, seed: 7 });
    const [a, b] = sim.engines as [
      NonNullable<(typeof sim.engines)[0]>,
      NonNullable<(typeof sim.engines)[0]>,
    ];
    expect(a.unicastMark(0x12345)).toBeUndefined();
    expect(a.requestUnicastAck(0x12345)).toBe(false);
    const mark = a.unicastMark(b.address)!;
    expect(a.unicastAcked(mark)).toBe(true); // nothing outstanding
    sim.partition([0], [1]);
    sim.run(10_000, () => a.upPeers().length === 0);
    expect(a.unicastMark(b.address)).toBeUndefined();
    expect(a.unicastAcked(mark)).toBeUndefined();
    expect(a.requestUnicastAck(b.address)).toBe(false);
  });
});
