/** The error convention: UPPER_SNAKE `code`, a `name`, a guard, and no code inside the message. */
import { describe, expect, it } from "vitest";
import { encodeMediaAddress } from "./address.js";
import { decodeMessage } from "./decode.js";
import { isTipcDecodeError, isTipcEncodeError, TipcDecodeError, TipcEncodeError } from "./errors.js";

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

  it("the guards recognise a copy from a duplicated package and nothing else", () => {
    const copy = Object.assign(new Error("at byte 0"), { name: "TipcDecodeError", code: "BAD_VERSION" });
    expect(isTipcDecodeError(copy)).toBe(true);
    expect(isTipcEncodeError(copy)).toBe(false);
    for (const other of [new Error("x"), null, undefined, "TipcDecodeError", { name: "TipcDecodeError" }]) {
      expect(isTipcDecodeError(other)).toBe(false);
      expect(isTipcEncodeError(other)).toBe(false);
    }
  });
});
