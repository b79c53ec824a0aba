/** The error convention: UPPER_SNAKE `code`, a `name`, a guard, and no code inside the message. */
import { describe, expect, it } from "vitest";
import { encodeMediaAddress } from "./address.js";
import { decodeMessage } from "./decode.js";
import { isTipcDecodeError, isTipcEncodeError, TipcDecodeError, TipcEncodeError } from "./errors.js";
import { isPcapError, PcapError, readPcap } from "./pcap.js";

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

describe("codec errors", () => {
  it("TipcDecodeError: code and offset in fields, the message says where without the code", () => {
    const e = thrown(() => decodeMessage(Uint8Array.of(0x4b, 0x40)));
    expect(isTipcDecodeError(e)).toBe(true);
    const d = e as TipcDecodeError;
    expect(d.name).toBe("TipcDecodeError");
    expect(d.code).toBe("TRUNCATED_HEADER");
    expect(d.code).toMatch(UPPER_SNAKE);
    expect(d.message).toMatch(/^at byte 2: /);
    expect(d.message).not.toContain(d.code);
    expect(new TipcDecodeError("BAD_BUNDLE", 40, "inner message 3").message).toBe(
      "at byte 40: inner message 3",
    );
  });

  it("TipcEncodeError: code BAD_FIELD, the field at fault, a guard", () => {
    const e = thrown(() => encodeMediaAddress({ family: "ipv4", address: "10.0.2", port: 1 }));
    expect(isTipcEncodeError(e)).toBe(true);
    expect(e).toBeInstanceOf(TipcEncodeError);
    const x = e as TipcEncodeError;
    expect([x.name, x.code, x.field]).toEqual(["TipcEncodeError", "BAD_FIELD", "mediaAddress.address"]);
  });

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

  it("the guards recognise a copy from a duplicated package and nothing else", () => {
    const copy = Object.assign(new Error("at byte 0"), { name: "TipcDecodeError", code: "BAD_VERSION" });
    expect(isTipcDecodeError(copy)).toBe(true);
    expect(isTipcEncodeError(copy)).toBe(false);
    expect(isPcapError(Object.assign(new Error("x"), { name: "PcapError", code: "MALFORMED" }))).toBe(true);
    for (const other of [new Error("x"), null, undefined, "TipcDecodeError", { name: "TipcDecodeError" }]) {
      expect(isTipcDecodeError(other)).toBe(false);
      expect(isTipcEncodeError(other)).toBe(false);
      expect(isPcapError(other)).toBe(false);
    }
  });
});
