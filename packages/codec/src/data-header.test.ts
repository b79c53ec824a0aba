/**
 * Data messages (users 0..3) against the kernel's header layout (net/tipc/msg.h,
 * shared/docs/tipc-data-path.md §1): every field the socket layer sets or reads, at its word
 * and bit, for each header size. Hand-assembled words, not a round trip through our own code.
 */
import { describe, expect, it } from "vitest";
import { decodeMessage } from "./decode.js";
import { encodeMessage } from "./encode.js";
import type { DataMessage } from "./types.js";

function frame(words: number[], payload: number[]): Uint8Array {
  const b = new Uint8Array(4 * words.length + payload.length);
  const dv = new DataView(b.buffer);
  for (const [i, w] of words.entries()) dv.setUint32(4 * i, w >>> 0);
  b.set(payload, 4 * words.length);
  return b;
}

/** w0: version 2, user, header words, non_seq, dest_droppable, src_droppable, SYN, size */
function w0(
  user: number,
  hwords: number,
  flags: { nonSeq?: 1; dd?: 1; sd?: 1; syn?: 1 },
  size: number,
): number {
  return (
    (2 << 29) |
    (user << 25) |
    (hwords << 21) |
    ((flags.nonSeq ?? 0) << 20) |
    ((flags.dd ?? 0) << 19) |
    ((flags.sd ?? 0) << 18) |
    ((flags.syn ?? 0) << 17) |
    size
  );
}

/** w1: type, errcode, reroute_cnt, lookup_scope, bcast_ack */
function w1(type: number, err: number, reroute: number, scope: number, bcastAck: number): number {
  return (type << 29) | (err << 25) | (reroute << 21) | (scope << 19) | bcastAck;
}

describe("data header layout", () => {
  it("MCAST_MSG, 44 bytes: type, lower, upper, is_rcast in bit 18, SYN, errcode NO_PORT (a SYN twin)", () => {
    const b = frame(
      [w0(0, 11, { sd: 1, syn: 1 }, 44), w1(1, 2, 0, 2, 0), 0, 0x1001, 77, 0, 0x1001, 0, 2000, 5, 99],
      [],
    );
    const m = decodeMessage(b) as DataMessage;
    expect(m).toMatchObject({
      user: "LOW_IMPORTANCE",
      type: "MCAST_MSG",
      headerSize: 44,
      srcDroppable: true,
      syn: true,
      destDroppable: false,
      errorCode: 2,
      lookupScope: 2,
      origPort: 77,
      destPort: 0,
      destNode: 0,
      nameType: 2000,
      nameInstance: 5,
      nameUpper: 99,
    });
    expect(encodeMessage(m)).toEqual(b);
  });

  it("NAMED_MSG, 40 bytes: reroute_cnt, lookup_scope NODE, dest_droppable, HIGH importance", () => {
    const b = frame(
      [w0(2, 10, { dd: 1 }, 43), w1(2, 0, 1, 3, 0x1234), 0x00050006, 0x2002, 8, 9, 0x3003, 0x4004, 1000, 42],
      [1, 2, 3],
    );
    const m = decodeMessage(b) as DataMessage;
    expect(m).toMatchObject({
      user: "HIGH_IMPORTANCE",
      type: "NAMED_MSG",
      headerSize: 40,
      destDroppable: true,
      rerouteCount: 1,
      lookupScope: 3,
      bcastAck: 0x1234,
      ack: 5,
      seqno: 6,
      prevNode: 0x2002,
      origPort: 8,
      destPort: 9,
      origNode: 0x3003,
      destNode: 0x4004,
      nameType: 1000,
      nameInstance: 42,
    });
    expect([...m.payload]).toEqual([1, 2, 3]);
    expect(encodeMessage(m)).toEqual(b);
  });

  it("DIRECT_MSG, 32 bytes, CRITICAL, errcode OVERLOAD (a returned message)", () => {
    const b = frame([w0(3, 8, {}, 33), w1(3, 4, 0, 0, 0), 0, 0x2002, 5, 6, 0x2002, 0x1001], [9]);
    const m = decodeMessage(b) as DataMessage;
    expect(m).toMatchObject({
      user: "CRITICAL_IMPORTANCE",
      type: "DIRECT_MSG",
      headerSize: 32,
      errorCode: 4,
    });
    expect(encodeMessage(m)).toEqual(b);
  });

  it("CONN_MSG, 24 bytes: orignode is prevnode, errcode CONN_SHUTDOWN", () => {
    const b = frame([w0(3, 6, {}, 24), w1(0, 5, 0, 0, 0), 0, 0x2002, 5, 6], []);
    const m = decodeMessage(b) as DataMessage;
    expect(m).toMatchObject({
      type: "CONN_MSG",
      headerSize: 24,
      errorCode: 5,
      origNode: 0x2002,
      destNode: 0,
    });
    expect(encodeMessage(m)).toEqual(b);
  });
});
