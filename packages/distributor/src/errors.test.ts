import { TIPC_NODE_CAPABILITIES } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { MapStore } from "./__helpers__/store.js";
import {
  createDistributor,
  DISTRIBUTOR_DROP_CAUSES,
  DistributorError,
  type DistributorErrorCode,
  isDistributorError,
} from "./index.js";

const A = 0x1001;
const MODERN = { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 };

/** Each caller mistake the distributor refuses, with the code it must carry. */
function mistakes(): Array<[DistributorErrorCode, () => unknown]> {
  const d = createDistributor({ ownNode: A, table: new MapStore(A) });
  const b = { type: 1000, lower: 1, upper: 1, port: 7, key: 1, scope: "cluster" as const, node: A };
  d.publish(b);
  d.nodeUp(0x1002, MODERN);
  return [
    ["INVALID_OPTIONS", () => createDistributor({ ownNode: 0, table: new MapStore(A) })],
    ["DUPLICATE", () => d.publish(b)],
    ["NOT_OWN_BINDING", () => d.publish({ ...b, key: 2, node: 0x1002 })],
    ["INVALID_BINDING", () => d.publish({ ...b, key: 3, lower: 5, upper: 4 })],
    ["NOT_FOUND", () => d.withdraw({ type: 1, lower: 1, upper: 1, node: A, key: 99 })],
    ["SELF", () => d.nodeUp(A, MODERN)],
    ["INVALID_PEER", () => d.nodeUp(0, MODERN)],
    ["ALREADY_UP", () => d.nodeUp(0x1002, MODERN)],
  ];
}

describe("DistributorError and isDistributorError", () => {
  it("each mistake throws one with its UPPER_SNAKE code and its name, the code kept out of the message", () => {
    for (const [code, f] of mistakes()) {
      let e: unknown;
      try {
        f();
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(DistributorError);
      expect(e).toMatchObject({ name: "DistributorError", code, message: expect.not.stringContaining(code) });
      expect(isDistributorError(e) && /^[A-Z]+(_[A-Z]+)*$/.test(code)).toBe(true);
    }
  });

  it("the guard knows one from another copy of the package by name and code, and nothing else", () => {
    expect(isDistributorError({ name: "DistributorError", code: "LIMIT" })).toBe(true);
    const others = [
      new Error("LIMIT"),
      { name: "DistributorError" },
      { name: "NameTableError", code: "NOT_U32" },
      "DistributorError",
      null,
      undefined,
    ];
    expect(others.filter(isDistributorError)).toEqual([]);
  });
});

describe("drop causes", () => {
  it("are kebab-case, as the link's, and each has a counter in stats().drops from the start", () => {
    const d = createDistributor({ ownNode: A, table: new MapStore(A) });
    const drops = d.stats().drops;
    expect(Object.keys(drops)).toEqual([...DISTRIBUTOR_DROP_CAUSES]);
    for (const cause of Object.keys(drops)) {
      expect(cause).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(drops[cause as keyof typeof drops]).toBe(0);
    }
  });
});
