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

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return expect.unreachable("no error thrown");
}

describe("DistributorError", () => {
  it("carries an UPPER_SNAKE code and a name, and keeps the code out of the message text", () => {
    for (const [code, f] of mistakes()) {
      const e = thrown(f);
      expect(e).toBeInstanceOf(DistributorError);
      expect(e).toMatchObject({ name: "DistributorError", code });
      expect(code).toMatch(/^[A-Z]+(_[A-Z]+)*$/);
      expect((e as Error).message).not.toContain(code);
      expect((e as Error).message.length).toBeGreaterThan(0);
    }
  });
});

describe("isDistributorError", () => {
  it("recognises what the distributor throws, by class or (for another copy of the package) by name and code", () => {
    for (const [, f] of mistakes()) expect(isDistributorError(thrown(f))).toBe(true);
    expect(isDistributorError(new DistributorError("LIMIT", "x"))).toBe(true);
    expect(
      isDistributorError({ name: "DistributorError", code: "LIMIT", message: "from another copy" }),
    ).toBe(true);
  });

  it("refuses anything else", () => {
    for (const e of [
      new Error("LIMIT"),
      { name: "DistributorError" },
      { name: "NameTableError", code: "NOT_U32" },
      "DistributorError",
      null,
      undefined,
    ]) {
      expect(isDistributorError(e)).toBe(false);
    }
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
