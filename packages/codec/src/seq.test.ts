import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { less, lessEq, mod16, more, seqDiff } from "./seq.js";

describe("16-bit serial arithmetic", () => {
  it("orders across the wrap", () => {
    expect(less(65535, 0)).toBe(true);
    expect(less(0, 65535)).toBe(false);
    expect(lessEq(5, 5)).toBe(true);
    expect(less(5, 5)).toBe(false);
    expect(more(1, 65530)).toBe(true);
    expect(seqDiff(65530, 4)).toBe(10);
    expect(seqDiff(4, 65530)).toBe(-10);
  });
  it("is antisymmetric for distinct values", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 1, max: 32767 }), (a, d) => {
        const b = mod16(a + d);
        return less(a, b) && !less(b, a) && more(b, a) && seqDiff(a, b) === d;
      }),
    );
  });
});
