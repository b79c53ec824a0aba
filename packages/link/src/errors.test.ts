import { decodeMessage, nodeIdFromString, type TipcMessage } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { mediaOf, Sim, testMessage } from "./__helpers__/sim.js";
import { createLinkEngine } from "./engine.js";
import {
  isLinkEngineError,
  LINK_DROP_CAUSES,
  LinkEngineError,
  type LinkEngineErrorCode,
  type LinkStats,
} from "./index.js";

/** Each caller mistake the engine refuses, with the code it must carry. */
function mistakes(): Array<[LinkEngineErrorCode, () => unknown]> {
  const bearer = { name: "b", mediaAddress: mediaOf(1), mtu: 1400, canBroadcast: true };
  const base = { nodeId: nodeIdFromString("x"), random: () => 0.5 };
  const trial = createLinkEngine({ ...base, bearer });
  trial.start(0);
  const stopped = createLinkEngine({ ...base, bearer, skipTrial: true });
  stopped.start(0);
  stopped.stop(0);
  // the codec refuses a message this large itself: one that does not shows the engine's own bound
  const oversize = createLinkEngine({
    ...base,
    bearer,
    skipTrial: true,
    codec: { encode: () => new Uint8Array(70_000), decode: decodeMessage },
  });
  oversize.start(0);
  const sim = new Sim({ nodes: 2, seed: 21 });
  sim.start();
  sim.run(5000, () => sim.allUp());
  const [a, b] = sim.engines as [(typeof sim.engines)[0], (typeof sim.engines)[0]];
  sim.partition([0], [1]);
  sim.run(20_000, () => a.upPeers().length === 0);
  return [
    ["BAD_OPTIONS", () => createLinkEngine({ ...base })],
    ["BAD_OPTIONS", () => a.disableBearer(7, sim.now)],
    ["NOT_ADDRESSED", () => trial.sendBroadcast(testMessage(1, 1), 0)],
    ["STOPPED", () => stopped.sendUnicast(0x1234, testMessage(1, 1), 0)],
    ["NO_SUCH_PEER", () => a.sendUnicast(0x12345678, testMessage(1, 1), sim.now)],
    ["PEER_DOWN", () => a.sendUnicast(b.address, testMessage(1, 1), sim.now)],
    ["BAD_MESSAGE", () => a.sendBroadcast({ user: "NO_SUCH_USER" } as unknown as TipcMessage, sim.now)],
    ["BAD_MESSAGE", () => a.sendBroadcast(testMessage(1, 1, 3400), sim.now)],
    ["TOO_LARGE", () => oversize.sendBroadcast(testMessage(1, 1), 0)],
  ];
}

describe("LinkEngineError and isLinkEngineError", () => {
  it("each mistake throws one with its UPPER_SNAKE code and its name, the code kept out of the message", () => {
    for (const [code, f] of mistakes()) {
      let e: unknown;
      try {
        f();
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(LinkEngineError);
      expect(e).toMatchObject({ name: "LinkEngineError", code, message: expect.not.stringContaining(code) });
      expect(isLinkEngineError(e) && /^[A-Z]+(_[A-Z]+)*$/.test(code)).toBe(true);
    }
  });

  it("the guard knows one from another copy of the package by name and code, and nothing else", () => {
    expect(isLinkEngineError({ name: "LinkEngineError", code: "STOPPED" })).toBe(true);
    const others = [
      new Error("STOPPED"),
      { name: "LinkEngineError" },
      { name: "DistributorError", code: "LIMIT" },
      "LinkEngineError",
      null,
      undefined,
    ];
    expect(others.filter(isLinkEngineError)).toEqual([]);
  });
});

describe("LINK_DROP_CAUSES", () => {
  it("lists each cause once, kebab-case, and every cause the engine counted in a lossy run is one of them", () => {
    expect(new Set(LINK_DROP_CAUSES).size).toBe(LINK_DROP_CAUSES.length);
    for (const c of LINK_DROP_CAUSES) expect(c).toMatch(/^[a-z]+(-[a-z]+)*$/);
    const sim = new Sim({ nodes: 3, seed: 22, loss: 0.2, duplicate: 0.2, jitter: 5 });
    sim.start();
    sim.run(20_000);
    const seen: LinkStats["drops"] = {};
    for (const e of sim.engines) {
      e.receive(new Uint8Array(7), mediaOf(9), sim.now);
      for (const [c, n] of Object.entries(e.stats().drops)) seen[c as keyof typeof seen] = n;
    }
    expect(Object.keys(seen).length).toBeGreaterThan(0);
    for (const c of Object.keys(seen)) expect(LINK_DROP_CAUSES).toContain(c);
  });
});
