// biome-ignore-all lint/style/noNonNullAssertion: the sims are started before use
/**
 * `tipc link set tolerance|window` at run time (setLinkProperties): a new tolerance reaches the
 * peer in a STATE message and the peer takes it, as tipc_link_set_tolerance; a window bounds
 * the packets in flight at once, a larger one takes backlog at once; the broadcast link takes a
 * window only; bad names and values are typed errors that change nothing.
 */
import { describe, expect, it } from "vitest";
import { Sim, testMessage } from "./__helpers__/sim.js";
import { BROADCAST_LINK_NAME } from "./engine.js";
import { isLinkEngineError } from "./errors.js";

function upPair(): Sim {
  const sim = new Sim({ nodes: 2, seed: 5 });
  sim.start();
  sim.run(20_000, () => sim.allUp());
  expect(sim.allUp()).toBe(true);
  sim.run(1000);
  return sim;
}

const code = (f: () => void) => {
  try {
    f();
  } catch (e) {
    return isLinkEngineError(e) ? e.code : `not a LinkEngineError: ${String(e)}`;
  }
  return "no error";
};

describe("setLinkProperties", () => {
  it("a tolerance set on one end reaches the peer, which takes it; supervision follows it", () => {
    const sim = upPair();
    const [a, b] = sim.engines as [
      NonNullable<(typeof sim.engines)[0]>,
      NonNullable<(typeof sim.engines)[0]>,
    ];
    const name = a.links()[0]!.name;
    const before = b.links()[0]!.tolerance;
    expect(before).not.toBe(4000);
    a.setLinkProperties(name, { tolerance: 4000 }, sim.now);
    expect(a.links()[0]!.tolerance).toBe(4000);
    sim.poke(0);
    sim.run(100);
    expect(b.links()[0]!.tolerance).toBe(4000);
    // both ends still up a while later: the new tolerance did not upset supervision
    sim.run(10_000);
    expect(sim.allUp()).toBe(true);
  });

  it("a window bounds the packets in flight; a larger one takes backlog at once", () => {
    const sim = upPair();
    const [a, b] = sim.engines as [
      NonNullable<(typeof sim.engines)[0]>,
      NonNullable<(typeof sim.engines)[0]>,
    ];
    const name = a.links()[0]!.name;
    a.setLinkProperties(name, { window: 16 }, sim.now);
    expect(a.links()[0]!.window).toBe(16);
    // 840-byte messages: one packet each, and two never fit one bundle of the 1,400-byte MTU
    for (let k = 0; k < 40; k++) a.sendUnicast(b.address, testMessage(1, k, 40), sim.now);
    expect(a.links()[0]!.transmitQueue).toBe(16);
    expect(a.links()[0]!.backlog).toBe(24);
    a.setLinkProperties(name, { window: 100 }, sim.now);
    expect(a.links()[0]!.transmitQueue).toBe(40);
    expect(a.links()[0]!.backlog).toBe(0);
  });

  it("the broadcast link takes a window, not a tolerance", () => {
    const sim = upPair();
    const a = sim.engines[0]!;
    a.setLinkProperties(BROADCAST_LINK_NAME, { window: 100 }, sim.now);
    expect(code(() => a.setLinkProperties(BROADCAST_LINK_NAME, { tolerance: 2000 }, sim.now))).toBe(
      "BAD_OPTIONS",
    );
  });

  it("an unknown link or a value out of the kernel's ranges is a typed error and changes nothing", () => {
    const sim = upPair();
    const a = sim.engines[0]!;
    const link = a.links()[0]!;
    expect(code(() => a.setLinkProperties("no-such-link", { tolerance: 2000 }, sim.now))).toBe(
      "NO_SUCH_LINK",
    );
    for (const tolerance of [49, 30_001, 1.5, Number.NaN])
      expect(code(() => a.setLinkProperties(link.name, { tolerance }, sim.now))).toBe("BAD_OPTIONS");
    for (const window of [15, 8192, 20.5])
      expect(code(() => a.setLinkProperties(link.name, { window }, sim.now))).toBe("BAD_OPTIONS");
    // neither field applied when the other is bad
    expect(code(() => a.setLinkProperties(link.name, { tolerance: 2000, window: 1 }, sim.now))).toBe(
      "BAD_OPTIONS",
    );
    expect(a.links()[0]!.tolerance).toBe(link.tolerance);
    expect(a.links()[0]!.window).toBe(link.window);
  });
});
