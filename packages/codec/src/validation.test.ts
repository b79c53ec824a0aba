/** Validation: each malformed input gives TipcDecodeError with a precise code and offset. */
import { describe, expect, it } from "vitest";
import { decodeMessage, validateHeader } from "./decode.js";
import { encodeMessage } from "./encode.js";
import { TipcDecodeError, type TipcDecodeErrorCode } from "./errors.js";
import type { BundlerMessage, LinkConfigMessage, NameDistributorMessage } from "./types.js";

function expectError(bytes: Uint8Array, code: TipcDecodeErrorCode, offset?: number): TipcDecodeError {
  let caught: unknown;
  try {
    decodeMessage(bytes);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TipcDecodeError);
  const err = caught as TipcDecodeError;
  expect(err.code).toBe(code);
  if (offset !== undefined) expect(err.offset).toBe(offset);
  return err;
}

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
// The kernel's NAME_DISTRIBUTOR bulk (captures/link-up/015) and DSC_REQ (captures/passive/009).
const NAMED = hex(
  "574000501c0000000000000213446573000000020000400013446573180a16060000000000000000000003e8000000010000000a8ed268ed8ed268ee0000000013446573134465730000000013446573",
);
const DSC = hex(
  "5bf0004c07ffddb400000000134465730000126700000003080017e60a00020f00000000000000000000000000000000000000004e435db40000000067756573743100000000000000000000",
);

function setWord(b: Uint8Array, i: number, w: number): Uint8Array {
  const c = b.slice();
  new DataView(c.buffer).setUint32(4 * i, w >>> 0);
  return c;
}
const word = (b: Uint8Array, i: number) => new DataView(b.buffer, b.byteOffset).getUint32(4 * i);
/** word 0 with new header size (bytes) and message size */
const w0 = (b: Uint8Array, hsz: number, size: number) =>
  ((word(b, 0) & ~0x01e1ffff) | ((hsz >> 2) << 21) | size) >>> 0;

describe("word 0 validation (tipc_msg_validate)", () => {
  it("TRUNCATED_HEADER: fewer than 24 bytes", () => {
    expectError(NAMED.subarray(0, 23), "TRUNCATED_HEADER", 23);
    expectError(new Uint8Array(0), "TRUNCATED_HEADER", 0);
  });
  it("TRUNCATED_HEADER: fewer bytes than the header size", () => {
    expectError(NAMED.subarray(0, 36), "TRUNCATED_HEADER", 36);
  });
  it("BAD_VERSION: version other than 2", () => {
    for (const v of [0, 1, 3, 7]) {
      const b = setWord(NAMED, 0, (word(NAMED, 0) & 0x1fffffff) | (v << 29));
      expectError(b, "BAD_VERSION", 0);
    }
  });
  it("UNKNOWN_USER: the pseudo-users 4 and 15", () => {
    for (const u of [4, 15])
      expectError(setWord(NAMED, 0, (word(NAMED, 0) & ~0x1e000000) | (u << 25)), "UNKNOWN_USER", 0);
  });
  it("BAD_HEADER_SIZE: header size below 24", () => {
    expectError(setWord(NAMED, 0, w0(NAMED, 20, 80)), "BAD_HEADER_SIZE", 0);
    expectError(setWord(NAMED, 0, w0(NAMED, 0, 80)), "BAD_HEADER_SIZE", 0);
  });
  it("SIZE_TOO_SMALL: message size below the header size", () => {
    expectError(setWord(NAMED, 0, w0(NAMED, 40, 39)), "SIZE_TOO_SMALL", 0);
  });
  it("SIZE_TOO_LARGE: more than 66000 bytes of data", () => {
    const big = new Uint8Array(66100);
    big.set(NAMED);
    expectError(setWord(big, 0, w0(NAMED, 40, 66041)), "SIZE_TOO_LARGE", 0);
  });
  it("TRUNCATED_MESSAGE: message size larger than the datagram", () => {
    expectError(NAMED.subarray(0, 79), "TRUNCATED_MESSAGE", 79);
  });
  it("trailing bytes after the message are ignored, as the kernel ignores them", () => {
    const longer = new Uint8Array(NAMED.length + 7);
    longer.set(NAMED);
    expect(decodeMessage(longer)).toEqual(decodeMessage(NAMED));
    expect(validateHeader(longer)).toBe(80);
  });
});

describe("per-user validation", () => {
  it("HEADER_TOO_SMALL: an internal user with a 24- or 32-byte header", () => {
    expectError(setWord(NAMED, 0, w0(NAMED, 24, 80)), "HEADER_TOO_SMALL", 0);
    expectError(setWord(NAMED, 0, w0(NAMED, 32, 80)), "HEADER_TOO_SMALL", 0);
  });
  it("HEADER_TOO_SMALL: LINK_CONFIG with a 40-byte header", () => {
    expectError(setWord(DSC, 0, w0(DSC, 40, 76)), "HEADER_TOO_SMALL", 0);
  });
  it("BAD_HEADER_SIZE: internal user with a header longer than 40", () => {
    expectError(setWord(NAMED, 0, w0(NAMED, 44, 80)), "BAD_HEADER_SIZE", 0);
  });
  it("BAD_HEADER_SIZE: a data message whose header is not 24, 32, 40 or 44", () => {
    const data = encodeMessage({
      user: "LOW_IMPORTANCE",
      type: "DIRECT_MSG",
      headerSize: 32,
      nonSeq: false,
      destDroppable: false,
      srcDroppable: false,
      syn: false,
      errorCode: 0,
      rerouteCount: 0,
      lookupScope: 0,
      bcastAck: 0,
      ack: 0,
      seqno: 1,
      prevNode: 1,
      origPort: 2,
      destPort: 3,
      origNode: 1,
      destNode: 4,
      nameType: 0,
      nameInstance: 0,
      nameUpper: 0,
      payload: new Uint8Array(8),
    });
    expectError(setWord(data, 0, w0(data, 36, 40)), "BAD_HEADER_SIZE", 0);
    expectError(setWord(data, 0, w0(data, 28, 40)), "BAD_HEADER_SIZE", 0);
  });
  it("UNKNOWN_TYPE: a type the user does not define", () => {
    expectError(setWord(NAMED, 1, (2 << 29) | 0x1c000000), "UNKNOWN_TYPE", 4);
    expectError(setWord(DSC, 1, (4 << 29) | (word(DSC, 1) & 0x1fffffff)), "UNKNOWN_TYPE", 4);
    const reset = hex(
      "4f400038200000000000800013446573000000013670400013446573180a1606000000000dac000062310000000000000000000000000000",
    );
    expectError(setWord(reset, 1, 3 << 29), "UNKNOWN_TYPE", 4);
    const bcast = hex("4b400028000000000000000113446573000000000000400013446573180a16060000000000000000");
    expectError(setWord(bcast, 1, 1 << 29), "UNKNOWN_TYPE", 4);
  });
  it("ITEM_DATA_MISALIGNED: item data not a multiple of 20", () => {
    for (const size of [41, 59, 61, 79]) {
      const err = expectError(setWord(NAMED, 0, w0(NAMED, 40, size)), "ITEM_DATA_MISALIGNED");
      expect(err.offset).toBe(size - ((size - 40) % 20));
    }
  });
  it("BAD_MEDIA_TYPE: discovery media type other than UDP", () => {
    for (const t of [0, 1, 2, 4]) {
      const b = DSC.slice();
      b[23] = t;
      expectError(b, "BAD_MEDIA_TYPE", 23);
    }
  });
  it("BAD_MEDIA_ADDRESS: media protocol neither IPv4 nor IPv6", () => {
    const b = DSC.slice();
    b[24] = 0x12;
    b[25] = 0x34;
    expectError(b, "BAD_MEDIA_ADDRESS", 24);
  });
  it("DATA_TOO_SHORT: discovery without the 16-byte node id", () => {
    expectError(setWord(DSC, 0, w0(DSC, 60, 70)), "DATA_TOO_SHORT", 70);
    expectError(setWord(DSC, 0, w0(DSC, 60, 60)), "DATA_TOO_SHORT", 60);
  });
  it("an IPv6 media address decodes to RFC 5952 text", () => {
    const m = decodeMessage(DSC) as LinkConfigMessage;
    const v6 = encodeMessage({
      ...m,
      mediaAddress: { family: "ipv6", address: "fd00:0:0:0:0:0:0:2", port: 6118 },
    });
    expect((decodeMessage(v6) as LinkConfigMessage).mediaAddress).toEqual({
      family: "ipv6",
      address: "fd00::2",
      port: 6118,
    });
    expect(Buffer.from(v6.subarray(20, 52)).toString("hex")).toBe(
      `0000000386dd17e6fd00${"0".repeat(27)}2${"0".repeat(16)}`,
    );
  });
});

describe("bundles", () => {
  const named = decodeMessage(NAMED) as NameDistributorMessage;
  const inner = [encodeMessage({ ...named, items: named.items.slice(0, 1) }), NAMED];
  const bundle: BundlerMessage = {
    user: "MSG_BUNDLER",
    type: "BUNDLE",
    nonSeq: false,
    bcastAck: 0,
    ack: 0,
    seqno: 3,
    prevNode: 1,
    origNode: 1,
    destNode: 2,
    importance: 4,
    messages: inner,
  };
  const bytes = encodeMessage(bundle);

  it("round-trips with 4-byte alignment between inner messages", () => {
    expect(bytes.length).toBe(40 + 60 + 80);
    expect(decodeMessage(bytes)).toEqual(bundle);
  });
  it("BUNDLE_COUNT_MISMATCH: msgcnt differs from the inner messages", () => {
    expectError(setWord(bytes, 9, (3 << 16) | 4), "BUNDLE_COUNT_MISMATCH", 36);
  });
  it("BAD_BUNDLE: an inner message overruns the bundle", () => {
    expectError(setWord(bytes, 0, w0(bytes, 40, bytes.length - 4)), "BAD_BUNDLE", 100);
  });
  it("BAD_BUNDLE: an inner header that is not a TIPC header", () => {
    const b = bytes.slice();
    b[40] = 0x20; // version 1
    expectError(b, "BAD_BUNDLE", 40);
  });
  it("BAD_BUNDLE: fewer than 24 bytes left for an inner message", () => {
    const tail = new Uint8Array(bytes.length + 12);
    tail.set(bytes);
    expectError(setWord(tail, 0, w0(bytes, 40, bytes.length + 12)), "BAD_BUNDLE", 180);
  });
});
