// biome-ignore-all lint/style/noNonNullAssertion: test data of known shape
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  capabilitiesFromNames,
  capabilityNames,
  decodeMediaAddress,
  encodeMediaAddress,
  formatIpv6,
  nodeAddressFromId,
  nodeIdFromString,
  nodeIdToString,
  parseIpv6,
} from "./address.js";
import {
  bundleMessages,
  bundleSize,
  canBundle,
  fitsInBundle,
  messageImportance,
  unbundle,
} from "./bundle.js";
import {
  TIPC_NAMED_BCAST,
  TIPC_NODE_CAPABILITIES,
  TIPC_NODE_ID128,
  TIPC_SYSTEM_IMPORTANCE,
} from "./constants.js";
import { decodeMessage } from "./decode.js";
import { encodeMessage } from "./encode.js";
import { TipcDecodeError, TipcEncodeError } from "./errors.js";
import { formatMessage, messageToJSON } from "./format.js";
import { fragmentMessage, Reassembler } from "./fragment.js";
import {
  isNonSeq,
  peekAck,
  peekBcastAck,
  peekHeader,
  peekImportance,
  peekSeqno,
  peekUser,
  peekUserValue,
  readHeaderSize,
  readMessageSize,
  writeAcks,
  writeSeqno,
} from "./header.js";
import { USER } from "./names.js";
import { dataMessage, nameDistributorMessage } from "./test-arbitraries.js";
import type { DataMessage, FragmenterMessage } from "./types.js";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const NAMED = hex(
  "574000501c0000000000000213446573000000020000400013446573180a16060000000000000000000003e8000000010000000a8ed268ed8ed268ee0000000013446573134465730000000013446573",
);

function dataMsg(payloadSize: number, over: Partial<DataMessage> = {}): DataMessage {
  const payload = new Uint8Array(payloadSize);
  for (let i = 0; i < payloadSize; i++) payload[i] = (i * 7) & 0xff;
  return {
    user: "HIGH_IMPORTANCE",
    type: "NAMED_MSG",
    headerSize: 40,
    nonSeq: false,
    destDroppable: false,
    srcDroppable: false,
    syn: false,
    errorCode: 0,
    rerouteCount: 0,
    lookupScope: 2,
    bcastAck: 0,
    ack: 0,
    seqno: 0,
    prevNode: 0x1001,
    origPort: 77,
    destPort: 0,
    origNode: 0x1001,
    destNode: 0x2002,
    nameType: 1000,
    nameInstance: 5,
    nameUpper: 0,
    payload,
    ...over,
  };
}

describe("node identity", { timeout: 60_000 }, () => {
  it("XOR-folds the id into the address, falling back to OR when the XOR is 0", () => {
    expect(nodeAddressFromId(nodeIdFromString("guest1"))).toBe(0x13446573);
    expect(nodeAddressFromId(nodeIdFromString("hostpeer"))).toBe(0x180a1606);
    const same = hex("0102030401020304aabbccddaabbccdd"); // XOR = 0
    expect(nodeAddressFromId(same)).toBe(0xabbbcfdd);
    expect(nodeAddressFromId(new Uint8Array(16))).toBe(0);
  });
  it("prints ids as the kernel does: text when printable, else hex without trailing zeros", () => {
    expect(nodeIdToString(nodeIdFromString("guest1"))).toBe("guest1");
    expect(nodeIdToString(nodeIdFromString("a.b:c_d-e@f"))).toBe("a.b:c_d-e@f");
    expect(nodeIdToString(hex("0a00020f000000000000000000000000"))).toBe("0a00020f");
    expect(nodeIdToString(hex("0a00020f000000000000000000000010"))).toBe("0a00020f00000000000000000000001");
    expect(nodeIdToString(hex("c0a80100000000000000000000000000"))).toBe("c0a801");
  });
  it("reads text ids (<= 16 chars) and hex ids (17..32 digits)", () => {
    expect(nodeIdFromString("guest1")).toEqual(hex("67756573743100000000000000000000"));
    expect(() => nodeIdFromString("0a00020f0000000000000000000000001")).toThrow(RangeError);
    expect(nodeIdFromString("0a00020f00000000000000000000001")).toEqual(
      hex("0a00020f000000000000000000000010"),
    );
    expect(() => nodeIdFromString("x".repeat(33))).toThrow(RangeError);
    expect(() => nodeIdFromString("zz".repeat(10))).toThrow(RangeError);
  });
  it("hex-printed ids longer than 16 characters read back to the same id", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (id) => {
        const text = nodeIdToString(id);
        fc.pre(text.length > 16);
        expect(nodeIdFromString(text)).toEqual(id);
      }),
    );
  });
});

describe("capabilities", () => {
  it("names bits and back", () => {
    expect(capabilityNames(TIPC_NODE_CAPABILITIES)).toHaveLength(12);
    expect(capabilityNames(TIPC_NAMED_BCAST | TIPC_NODE_ID128)).toEqual(["NODE_ID128", "NAMED_BCAST"]);
    expect(capabilitiesFromNames(["TIPC_NAMED_BCAST", "NODE_ID128"])).toBe(0x820);
    expect(capabilityNames(0x1000)).toEqual(["BIT_12"]);
    expect(() => capabilitiesFromNames(["NOPE"])).toThrow(RangeError);
  });
});

describe("media addresses", { timeout: 60_000 }, () => {
  it("encodes the protocol brief's worked IPv4 example", () => {
    const area = encodeMediaAddress({ family: "ipv4", address: "192.168.1.10", port: 6118 });
    expect(Buffer.from(area).toString("hex")).toBe(`00000003080017e6c0a8010a${"00".repeat(20)}`);
    expect(decodeMediaAddress(area)).toEqual({ family: "ipv4", address: "192.168.1.10", port: 6118 });
  });
  it("round-trips IPv6 and formats per RFC 5952", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 0xffff }),
        (ip, port) => {
          const address = formatIpv6(ip);
          expect(parseIpv6(address)).toEqual(ip);
          const area = encodeMediaAddress({ family: "ipv6", address, port });
          expect(decodeMediaAddress(area)).toEqual({ family: "ipv6", address, port });
        },
      ),
    );
    expect(formatIpv6(parseIpv6("2001:db8:0:0:1:0:0:1")!)).toBe("2001:db8::1:0:0:1");
    expect(formatIpv6(parseIpv6("::1")!)).toBe("::1");
    expect(formatIpv6(parseIpv6("::ffff:10.0.2.2")!)).toBe("::ffff:10.0.2.2");
    expect(formatIpv6(parseIpv6("2001:db8::")!)).toBe("2001:db8::");
    expect(parseIpv6("1::2::3")).toBeUndefined();
    expect(parseIpv6("1:2:3:4:5:6:7")).toBeUndefined();
  });
  it("rejects bad addresses when encoding", () => {
    expect(() => encodeMediaAddress({ family: "ipv4", address: "10.0.2", port: 1 })).toThrow(TipcEncodeError);
    expect(() => encodeMediaAddress({ family: "ipv6", address: "zz::", port: 1 })).toThrow(TipcEncodeError);
    expect(() => encodeMediaAddress({ family: "ipv4", address: "10.0.2.2", port: 70000 })).toThrow(
      TipcEncodeError,
    );
  });
});

describe("header peeks", { timeout: 60_000 }, () => {
  it("read word 0..3 fields without decoding", () => {
    expect(peekUser(NAMED)).toBe("NAME_DISTRIBUTOR");
    expect(peekUserValue(NAMED)).toBe(11);
    expect(peekUserValue(new Uint8Array(2))).toBe(-1);
    expect(readHeaderSize(NAMED)).toBe(40);
    expect(readMessageSize(NAMED)).toBe(80);
    expect(isNonSeq(NAMED)).toBe(false);
    expect(peekSeqno(NAMED)).toBe(2);
    expect(peekHeader(NAMED)).toEqual({
      user: "NAME_DISTRIBUTOR",
      type: "PUBLICATION",
      headerSize: 40,
      size: 80,
      nonSeq: false,
      ack: 0,
      seqno: 2,
      bcastAck: 0,
      prevNode: 0x13446573,
    });
    expect(() => peekUser(new Uint8Array(1))).toThrow(TipcDecodeError);
    expect(() => peekHeader(NAMED.subarray(0, 50))).toThrow(TipcDecodeError);
  });
  it("peeks agree with the full decoder, and in-place writes equal re-encoding", () => {
    fc.assert(
      fc.property(
        fc.oneof(nameDistributorMessage, dataMessage),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        (m, seqno, ack, bcastAck) => {
          const b = encodeMessage(m);
          expect(peekHeader(b)).toMatchObject({
            user: m.user,
            type: m.type,
            seqno: m.seqno,
            ack: m.ack,
            bcastAck: m.bcastAck,
          });
          writeSeqno(b, seqno);
          writeAcks(b, ack, bcastAck);
          expect(b).toEqual(encodeMessage({ ...m, seqno, ack, bcastAck }));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("peekImportance reads msg_importance: the data user, a fragment's or bundle's word 9, else SYSTEM", () => {
    const msg = (user: number, err = 0, word9 = 0, length = 40) => {
      const b = new Uint8Array(length);
      b[0] = user << 1;
      b[4] = err << 1;
      if (length >= 40) b[39] = word9;
      return b;
    };
    for (let user = 0; user <= 3; user++) {
      expect(peekImportance(msg(user))).toBe(user);
      expect(peekImportance(msg(user, 2))).toBe(TIPC_SYSTEM_IMPORTANCE); // returned (rejected) data
    }
    for (const user of [USER.MSG_BUNDLER, USER.MSG_FRAGMENTER]) {
      expect(peekImportance(msg(user, 0, 2))).toBe(2);
      expect(peekImportance(msg(user, 0, 0xfb))).toBe(3); // bits 0..2 only
      expect(peekImportance(msg(user, 0, 2, 24))).toBe(TIPC_SYSTEM_IMPORTANCE); // no word 9
    }
    expect(peekImportance(NAMED)).toBe(TIPC_SYSTEM_IMPORTANCE);
    expect(peekImportance(new Uint8Array(7))).toBe(TIPC_SYSTEM_IMPORTANCE); // no word 1
  });

  it("writes seqno and acks in place", () => {
    const b = NAMED.slice();
    writeSeqno(b, 0xbeef);
    writeAcks(b, 0x1234, 0x5678);
    expect(peekSeqno(b)).toBe(0xbeef);
    expect(peekAck(b)).toBe(0x1234);
    expect(peekBcastAck(b)).toBe(0x5678);
    expect(decodeMessage(b)).toMatchObject({ seqno: 0xbeef, ack: 0x1234, bcastAck: 0x5678, lastBulk: true });
  });
});

describe("bundler", { timeout: 60_000 }, () => {
  it("bundles and unbundles with 4-byte alignment", () => {
    const a = encodeMessage(dataMsg(5)); // 45 bytes: next starts at 48
    const b = encodeMessage(dataMsg(3));
    const bundle = bundleMessages([a, b], { destNode: 0x2002 });
    expect(bundle).toMatchObject({ prevNode: 0x1001, origNode: 0x1001, destNode: 0x2002, importance: 2 });
    const bytes = encodeMessage(bundle);
    expect(bytes.length).toBe(bundleSize([a.length, b.length]));
    expect(bytes.length).toBe(40 + 48 + 43);
    expect(unbundle(bytes)).toEqual([a, b]);
    expect(unbundle(bundle)).toEqual([a, b]);
    expect(fitsInBundle(bytes.length, 100, 1500)).toBe(true);
    expect(fitsInBundle(1400, 100, 1500)).toBe(true);
    expect(fitsInBundle(1401, 100, 1500)).toBe(false);
  });
  it("follows the kernel's rules on what can be bundled", () => {
    const frags = fragmentMessage(encodeMessage(dataMsg(300)), 200);
    expect(canBundle(encodeMessage(frags[0]!))).toBe(false);
    expect(canBundle(NAMED)).toBe(true);
    expect(() => bundleMessages([encodeMessage(frags[0]!)])).toThrow(TipcEncodeError);
    expect(() => bundleMessages([])).toThrow(TipcEncodeError);
    expect(() => bundleMessages([NAMED.subarray(0, 60)])).toThrow(TipcEncodeError);
    expect(() => unbundle(NAMED)).toThrow(TipcDecodeError);
    expect(messageImportance(NAMED)).toBe(4);
  });
  it("round-trips any list of messages", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(dataMessage, nameDistributorMessage), { minLength: 1, maxLength: 6 }),
        (msgs) => {
          const inner = msgs.map(encodeMessage);
          expect(unbundle(encodeMessage(bundleMessages(inner)))).toEqual(inner);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("fragmenter and reassembler", { timeout: 60_000 }, () => {
  it("fragments as tipc_msg_build does: (maxPacket - 40)-byte chunks numbered from 1", () => {
    const original = encodeMessage(dataMsg(1000));
    const frags = fragmentMessage(original, 300);
    expect(frags.map((f) => f.type)).toEqual(["FIRST_FRAGMENT", "FRAGMENT", "FRAGMENT", "LAST_FRAGMENT"]);
    expect(frags.map((f) => f.fragmentNumber)).toEqual([1, 2, 3, 4]);
    expect(frags.map((f) => f.data.length)).toEqual([260, 260, 260, 260]);
    expect(frags.every((f) => encodeMessage(f).length <= 300)).toBe(true);
    expect(frags[0]).toMatchObject({
      prevNode: 0x1001,
      origNode: 0x1001,
      destNode: 0x2002,
      importance: 2,
      fragmentCount: 0,
    });
    expect(fragmentMessage(original, 300, { withCount: true })[2]!.fragmentCount).toBe(4);
    expect(() => fragmentMessage(original, 2000)).toThrow(RangeError);
    expect(() => fragmentMessage(original, 40)).toThrow(RangeError);
  });

  it("reassembles any message from its fragments (through the wire)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 60, max: 2000 }), fc.integer({ min: 128, max: 1500 }), (payload, mtu) => {
        const original = encodeMessage(dataMsg(payload));
        fc.pre(original.length > mtu - 40);
        const r = new Reassembler();
        const frags = fragmentMessage(original, mtu);
        let out: Uint8Array | undefined;
        frags.forEach((f, i) => {
          out = r.push(decodeMessage(encodeMessage(f)) as FragmenterMessage);
          if (i < frags.length - 1) expect(out).toBeUndefined();
        });
        expect(out).toEqual(original);
        expect(r.inProgress).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  const frags = fragmentMessage(encodeMessage(dataMsg(1000)), 300);
  const expectCode = (fn: () => unknown, code: string) => {
    try {
      fn();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TipcDecodeError);
      expect((e as TipcDecodeError).code).toBe(code);
    }
  };

  it("FRAGMENT_WITHOUT_FIRST", () => {
    const r = new Reassembler();
    expectCode(() => r.push(frags[1]!), "FRAGMENT_WITHOUT_FIRST");
    expectCode(() => r.push(frags[3]!), "FRAGMENT_WITHOUT_FIRST");
    expect(r.inProgress).toBe(false);
  });
  it("UNEXPECTED_FIRST_FRAGMENT, and the state is reset after it", () => {
    const r = new Reassembler();
    r.push(frags[0]!);
    expectCode(() => r.push(frags[0]!), "UNEXPECTED_FIRST_FRAGMENT");
    expect(r.inProgress).toBe(false);
    expect(r.bufferedBytes).toBe(0);
    for (const f of frags.slice(0, 3)) expect(r.push(f)).toBeUndefined();
    expect(r.push(frags[3]!)).toBeDefined();
  });
  it("FRAGMENT_OUT_OF_ORDER", () => {
    const r = new Reassembler();
    r.push(frags[0]!);
    expectCode(() => r.push(frags[2]!), "FRAGMENT_OUT_OF_ORDER");
  });
  it("REASSEMBLY_TOO_LARGE: bounded", () => {
    const r = new Reassembler({ maxSize: 600 });
    r.push(frags[0]!);
    r.push(frags[1]!);
    expectCode(() => r.push(frags[2]!), "REASSEMBLY_TOO_LARGE");
    expect(r.bufferedBytes).toBe(0);
  });
  it("a reassembled message that is not valid TIPC gives TipcDecodeError", () => {
    const junk = new Uint8Array(500).fill(0xee);
    const r = new Reassembler();
    const parts = fragmentMessage(junk, 300, { prevNode: 1, destNode: 2, importance: 0 });
    r.push(parts[0]!);
    expectCode(() => r.push(parts[1]!), "BAD_VERSION");
    expect(r.inProgress).toBe(false);
  });
});

describe("format", () => {
  it("renders one readable line and JSON-safe objects", () => {
    const m = decodeMessage(NAMED);
    expect(formatMessage(m)).toBe(
      "NAME_DISTRIBUTOR PUBLICATION bulk lastBulk nonLegacy bcAckInvalid namedSeqno=2 seqno=2 ack=0 bcastAck=0 prev=13446573 orig=13446573 dest=180a1606 items=2 {1000,1,10 port=2396154093 key=2396154094} {0,323249523,323249523 port=0 key=323249523}",
    );
    expect(formatMessage(m, { maxItems: 1 })).toMatch(
      /items=2 \{1000,1,10 port=\d+ key=\d+\} \.\.\.\(\+1\)$/,
    );
    const json = messageToJSON(m);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(json.items).toHaveLength(2);
  });
});
