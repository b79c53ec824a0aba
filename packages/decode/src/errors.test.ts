/** The capture reader's errors follow the tree's convention: UPPER_SNAKE `code`, a `name`, a guard. */
import { describe, expect, it } from "vitest";
import { isPcapError, PcapError, readPcap } from "./pcap.js";

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

describe("capture errors", () => {
  it("PcapError: a code for each kind of bad capture, a guard", () => {
    const notCapture = thrown(() => readPcap(new Uint8Array(32).fill(7)));
    expect(isPcapError(notCapture)).toBe(true);
    expect((notCapture as PcapError).code).toBe("NOT_A_CAPTURE");
    // a classic pcap header (little-endian, Ethernet) and a record header announcing 100 bytes
    const header = new Uint8Array(24 + 16);
    const dv = new DataView(header.buffer);
    dv.setUint32(0, 0xa1b2c3d4, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setUint32(16, 65535, true);
    dv.setUint32(20, 1, true);
    dv.setUint32(24 + 8, 100, true);
    dv.setUint32(24 + 12, 100, true);
    const truncated = thrown(() => readPcap(header));
    expect(isPcapError(truncated)).toBe(true);
    expect(truncated).toBeInstanceOf(PcapError);
    expect((truncated as PcapError).code).toBe("TRUNCATED");
    expect((truncated as PcapError).name).toBe("PcapError");
  });

  it("the guard recognises a copy from a duplicated package and nothing else", () => {
    expect(isPcapError(Object.assign(new Error("x"), { name: "PcapError", code: "MALFORMED" }))).toBe(true);
    for (const other of [new Error("x"), null, undefined, "PcapError", { name: "PcapError" }]) {
      expect(isPcapError(other)).toBe(false);
    }
  });
});
