import { encodeMessage } from "@tipcjs/codec";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mediaOf, Sim, testMessage } from "./__helpers__/sim.js";
import { LinkEngineError } from "./errors.js";

describe("bad input is a counted drop, never a crash", () => {
  it("random datagrams never throw and never take a link down", () => {
    const sim = new Sim({ nodes: 2, seed: 12 });
    sim.start();
    sim.run(5000, () => sim.allUp());
    const e = sim.engines[0]!;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (bytes) => {
        e.receive(bytes, mediaOf(1), sim.now);
        e.poll();
      }),
      { numRuns: 2000, seed: 42 },
    );
    const drops = e.stats().drops;
    expect(Object.values(drops).reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
    expect(e.upPeers()).toHaveLength(1);
  });

  it("mutated valid packets never throw", () => {
    const sim = new Sim({ nodes: 2, seed: 13 });
    sim.start();
    sim.run(5000, () => sim.allUp());
    const e = sim.engines[0]!;
    const base = encodeMessage({
      ...testMessage(1, 1),
      prevNode: sim.engines[1]!.address,
      destNode: e.address,
      seqno: 1,
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (muts) => {
          const b = base.slice();
          for (const [i, v] of muts) b[i] = v;
          e.receive(b, mediaOf(1), sim.now);
          e.poll();
        },
      ),
      { numRuns: 2000, seed: 43 },
    );
  });

  it("holds at most 1024 early packets per link, whatever a peer sends", () => {
    const sim = new Sim({ nodes: 2, seed: 15 });
    sim.start();
    sim.run(5000, () => sim.allUp());
    const e = sim.engines[0]!;
    const peer = sim.engines[1]!.address;
    const rcvNxt = e.links()[0]!.rcvNxt;
    for (let k = 2; k < 3000; k++) {
      const b = encodeMessage({
        ...testMessage(1, k),
        prevNode: peer,
        destNode: e.address,
        seqno: (rcvNxt + k) & 0xffff,
      });
      e.receive(b, mediaOf(1), sim.now);
    }
    e.poll();
    expect(e.links()[0]!.deferred).toBe(1024);
    expect(e.stats().drops["deferred-full"]).toBe(3000 - 2 - 1024);
    expect(e.upPeers()).toHaveLength(1);
  });

  it("typed errors for sends to unknown or down peers", () => {
    const sim = new Sim({ nodes: 2, seed: 14 });
    sim.start();
    const e = sim.engines[0]!;
    expect(() => e.sendUnicast(0x12345678, testMessage(1, 1), 0)).toThrow(LinkEngineError);
    try {
      e.sendUnicast(0x12345678, testMessage(1, 1), 0);
    } catch (err) {
      expect((err as LinkEngineError).code).toBe("NO_SUCH_PEER");
    }
  });
});
