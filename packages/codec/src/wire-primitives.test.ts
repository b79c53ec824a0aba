// biome-ignore-all lint/style/noNonNullAssertion: test data of known shape
/** The link's header reads and writes, and the media address helpers every transport uses. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonicalMediaAddress,
  isMediaAddress,
  isMulticastAddress,
  mediaAddressEquals,
  mediaAddressKey,
  nodeIdToString,
  padNodeId,
  parseIpv4,
  parseIpv6,
} from "./address.js";
import { decodeMessage } from "./decode.js";
import { encodeMessage } from "./encode.js";
import { isBcAckInvalid, readLinkHeader, writeLinkFields } from "./header.js";
import { USER } from "./names.js";
import { dataMessage, nameDistributorMessage } from "./test-arbitraries.js";
import type { NameDistributorMessage } from "./types.js";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const NAMED = hex(
  "574000501c0000000000000213446573000000020000400013446573180a16060000000000000000000003e8000000010000000a8ed268ed8ed268ee0000000013446573134465730000000013446573",
);

describe("readLinkHeader", { timeout: 60_000 }, () => {
  it("reads the fields a link needs, and agrees with the full decoder", () => {
    expect(readLinkHeader(NAMED)).toEqual({
      user: USER.NAME_DISTRIBUTOR,
      headerSize: 40,
      size: 80,
      nonSeq: false,
      bcastAck: 0,
      ack: 0,
      seqno: 2,
      prevNode: 0x13446573,
      word5: 0x4000,
      destNode: 0x180a1606,
    });
    fc.assert(
      fc.property(fc.oneof(nameDistributorMessage, dataMessage), (m) => {
        const b = encodeMessage(m);
        const h = readLinkHeader(b)!;
        expect(h).toMatchObject({ nonSeq: m.nonSeq, seqno: m.seqno, ack: m.ack, prevNode: m.prevNode });
        expect(h.size).toBe(b.length);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses what the kernel's word-0 check refuses, without throwing", () => {
    const bad = (edit: (b: Uint8Array) => void) => {
      const b = NAMED.slice();
      edit(b);
      return readLinkHeader(b);
    };
    expect(readLinkHeader(NAMED.subarray(0, 23))).toBeUndefined();
    expect(readLinkHeader(NAMED.subarray(0, 79))).toBeUndefined(); // size > datagram
    expect(bad((b) => (b[0] = (b[0]! & 0x1f) | (3 << 5)))).toBeUndefined(); // version 3
    expect(
      bad((b) => {
        b[0] = b[0]! & 0xfe;
        b[1] = (b[1]! & 0x1f) | (5 << 5); // a 20-byte header
      }),
    ).toBeUndefined();
    expect(bad((b) => (b[3] = 30))).toBeUndefined(); // size 30 < header size 40
    // the user is not checked here (the engine drops what it cannot decode later)
    expect(bad((b) => (b[0] = (b[0]! & 0xe1) | (4 << 1)))?.user).toBe(4);
    // trailing bytes past the size are allowed
    expect(readLinkHeader(Uint8Array.from([...NAMED, 1, 2, 3]))?.size).toBe(80);
  });
});

describe("writeLinkFields", { timeout: 60_000 }, () => {
  it("equals re-encoding with the link's fields", () => {
    fc.assert(
      fc.property(
        fc.oneof(nameDistributorMessage, dataMessage),
        fc.boolean(),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (m, nonSeq, seqno, ack, bcastAck, prevNode) => {
          const b = encodeMessage(m);
          writeLinkFields(b, { nonSeq, seqno, ack, bcastAck, prevNode });
          expect(b).toEqual(encodeMessage({ ...m, nonSeq, seqno, ack, bcastAck, prevNode }));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("fills origNode and destNode only where they are 0; the broadcast link's net id clears destNode", () => {
    const m = decodeMessage(NAMED) as NameDistributorMessage;
    const zero = encodeMessage({ ...m, origNode: 0, destNode: 0 });
    writeLinkFields(zero, {
      nonSeq: false,
      seqno: 1,
      ack: 2,
      bcastAck: 3,
      prevNode: 7,
      origNode: 8,
      destNode: 9,
    });
    expect(decodeMessage(zero)).toMatchObject({ origNode: 8, destNode: 9, prevNode: 7, seqno: 1 });
    const set = NAMED.slice();
    writeLinkFields(set, {
      nonSeq: false,
      seqno: 1,
      ack: 2,
      bcastAck: 3,
      prevNode: 7,
      origNode: 8,
      destNode: 9,
    });
    expect(decodeMessage(set)).toMatchObject({ origNode: 0x13446573, destNode: 0x180a1606 });
    const bc = NAMED.slice();
    writeLinkFields(bc, {
      nonSeq: true,
      seqno: 5,
      ack: 0,
      bcastAck: 0,
      prevNode: 7,
      destNode: 9,
      netId: 4711,
    });
    expect(decodeMessage(bc)).toMatchObject({ nonSeq: true, netId: 4711, destNode: 0, seqno: 5 });
  });

  it("bc_ack_invalid is word 5 bit 14, for the users that carry it", () => {
    const m = decodeMessage(NAMED) as NameDistributorMessage;
    expect(isBcAckInvalid(NAMED, USER.NAME_DISTRIBUTOR)).toBe(m.bcAckInvalid);
    const on = encodeMessage({ ...m, bcAckInvalid: true });
    expect(isBcAckInvalid(on, USER.NAME_DISTRIBUTOR)).toBe(true);
    expect(isBcAckInvalid(on, USER.LOW_IMPORTANCE)).toBe(false);
  });
});

describe("media addresses", () => {
  it("parse IPv4 as inet_pton does: no leading zeros", () => {
    expect(parseIpv4("10.0.0.1")).toEqual(Uint8Array.of(10, 0, 0, 1));
    expect(parseIpv4("010.0.0.1")).toBeUndefined();
    expect(parseIpv4("1.2.3.04")).toBeUndefined();
  });

  it("parse IPv6 without a zone", () => {
    expect(parseIpv6("fe80::1%eth0")).toBeUndefined();
    expect(parseIpv6("[::1]")?.[15]).toBe(1);
  });

  it("key, compare and canonicalize", () => {
    const a = { family: "ipv6" as const, address: "0:0::ffff:7f00:1", port: 6118 };
    expect(canonicalMediaAddress(a)?.address).toBe("::ffff:127.0.0.1");
    expect(mediaAddressKey(a)).toBe("ipv6 [::ffff:127.0.0.1]:6118");
    expect(mediaAddressEquals(a, { family: "ipv6", address: "::ffff:127.0.0.1", port: 6118 })).toBe(true);
    expect(mediaAddressEquals(a, { family: "ipv6", address: "::1", port: 6118 })).toBe(false);
    expect(mediaAddressKey({ family: "ipv4", address: "x", port: 1 })).toBe("ipv4 x:1");
    expect(canonicalMediaAddress({ family: "ipv4", address: "x", port: 1 })).toBeUndefined();
    expect(isMediaAddress({ family: "ipv4", address: "1.2.3.4", port: 70000 })).toBe(false);
  });

  it("multicast is 224.0.0.0/4 and ff00::/8, read from the bytes", () => {
    expect(isMulticastAddress({ family: "ipv4", address: "239.255.0.1", port: 1 })).toBe(true);
    expect(isMulticastAddress({ family: "ipv4", address: "240.0.0.1", port: 1 })).toBe(false);
    expect(isMulticastAddress({ family: "ipv6", address: "FF02::1", port: 1 })).toBe(true);
    // "ff::1" is 00ff::1, not a multicast group (the link's old text test took it for one)
    expect(isMulticastAddress({ family: "ipv6", address: "ff::1", port: 1 })).toBe(false);
  });
});

describe("padNodeId", () => {
  it("zero-pads a short id to 16 bytes, cuts a long one, keeps a 16-byte one", () => {
    const short = new TextEncoder().encode("n1");
    expect(padNodeId(short)).toHaveLength(16);
    expect(nodeIdToString(padNodeId(short))).toBe("n1");
    const full = new Uint8Array(16).fill(0x41);
    expect(padNodeId(full)).toBe(full);
    expect(padNodeId(new Uint8Array(20).fill(0x42))).toEqual(new Uint8Array(16).fill(0x42));
  });
});
