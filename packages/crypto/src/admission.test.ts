import { describe, expect, it } from "vitest";
import { ID_A, ID_B, ID_C } from "./__helpers__/packets.js";
import { createAdmission } from "./admission.js";

describe("admission allow-list", () => {
  it("admits by address or by node id, denies and counts the rest", () => {
    const p = createAdmission({ addresses: [0x01001001], nodeIds: [ID_A] });
    expect(p.admit({ addr: 0x01001001 })).toBe(true);
    expect(p.admit({ nodeId: ID_A })).toBe(true);
    expect(p.admit({ addr: 0x01001002, nodeId: ID_A })).toBe(true);
    expect(p.admit({ addr: 0x01001002, nodeId: ID_B })).toBe(false);
    expect(p.admit({ nodeId: ID_C })).toBe(false);
    expect(p.admit({})).toBe(false);
    expect(p.admit({ nodeId: new Uint8Array(3) })).toBe(false);
    expect(p.stats()).toEqual({ admitted: 3, denied: 4 });
  });

  it("an empty list admits nobody; a malformed id is a configuration error", () => {
    expect(createAdmission({}).admit({ addr: 1, nodeId: ID_A })).toBe(false);
    expect(() => createAdmission({ nodeIds: [new Uint8Array(15)] })).toThrow(RangeError);
  });
});
