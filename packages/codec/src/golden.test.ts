/**
 * Golden tests: every datagram the real Linux 6.1 kernel sent (and accepted) in
 * ../../../../shared/kernel-tipc/captures, copied to __fixtures__, decodes to the values the
 * capture README documents and re-encodes to the identical bytes. (The captures' pcap and
 * pcapng files are read in @tipcjs/decode's captures.test.ts, where the pcap reader lives.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeAddressFromId, nodeIdToString } from "./address.js";
import { TIPC_NODE_CAPABILITIES } from "./constants.js";
import { decodeMessage } from "./decode.js";
import { encodeMessage } from "./encode.js";
import type { TipcMessage } from "./types.js";

const FIXTURES = join(import.meta.dirname, "__fixtures__");
const GUEST = 0x13446573; // "guest1"
const HOST = 0x180a1606; // "hostpeer"

function hexFixture(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(join(FIXTURES, name), "utf8").trim(), "hex"));
}

function decodeAs<U extends TipcMessage["user"]>(
  bytes: Uint8Array,
  user: U,
): Extract<TipcMessage, { user: U }> {
  const m = decodeMessage(bytes);
  expect(m.user).toBe(user);
  return m as Extract<TipcMessage, { user: U }>;
}

const hexFiles = ["link-up", "passive"].flatMap((dir) =>
  readdirSync(join(FIXTURES, dir))
    .filter((f) => f.endsWith(".hex"))
    .map((f) => `${dir}/${f}`),
);

describe("kernel captures: every hex datagram", () => {
  it("has all 16 fixtures", () => {
    expect(hexFiles).toHaveLength(16);
  });
  it.each(hexFiles)("%s decodes and re-encodes byte for byte", (name) => {
    const bytes = hexFixture(name);
    const msg = decodeMessage(bytes);
    expect(encodeMessage(msg)).toEqual(bytes);
    expect(decodeMessage(encodeMessage(msg))).toEqual(msg);
  });
});

describe("kernel captures: documented values", () => {
  it("DSC_TRIAL / DSC_REQ (passive): caps 0xfff, own address = XOR fold of 'guest1', 10.0.2.15:6118", () => {
    for (const [name, type] of [
      ["passive/001-LINK_CONFIG-DSC_TRIAL_MSG.hex", "DSC_TRIAL"],
      ["passive/009-LINK_CONFIG-DSC_REQ_MSG.hex", "DSC_REQ"],
    ] as const) {
      const m = decodeAs(hexFixture(name), "LINK_CONFIG");
      expect(m).toEqual({
        user: "LINK_CONFIG",
        type,
        capabilities: TIPC_NODE_CAPABILITIES,
        signature: 0xddb4,
        destDomain: 0,
        prevNode: GUEST,
        netId: 4711,
        mediaAddress: { family: "ipv4", address: "10.0.2.15", port: 6118 },
        peerNetHash: 0x4e435db4,
        suggestedAddress: 0,
        nodeId: new Uint8Array([0x67, 0x75, 0x65, 0x73, 0x74, 0x31, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      });
      expect(nodeIdToString(m.nodeId)).toBe("guest1");
      expect(nodeAddressFromId(m.nodeId)).toBe(GUEST);
      // node_sig bit 15 is capability bit 0
      expect(m.signature & 0x8000).toBe(0x8000);
    }
  });

  it("DSC_RESP answers the host: dest_domain = the host's address", () => {
    const m = decodeAs(hexFixture("link-up/009-LINK_CONFIG-DSC_RESP_MSG.hex"), "LINK_CONFIG");
    expect(m.type).toBe("DSC_RESP");
    expect(m.destDomain).toBe(HOST);
    expect(m.signature).toBe(0xd497);
    expect(m.peerNetHash).toBe(0xcdaf5497);
  });

  it("host DSC_REQ: hostpeer advertises 10.0.2.2:6119", () => {
    const m = decodeAs(hexFixture("link-up/host-sent-1-DSC_REQ.hex"), "LINK_CONFIG");
    expect(m.type).toBe("DSC_REQ");
    expect(nodeIdToString(m.nodeId)).toBe("hostpeer");
    expect(nodeAddressFromId(m.nodeId)).toBe(HOST);
    expect(m.prevNode).toBe(HOST);
    expect(m.mediaAddress).toEqual({ family: "ipv4", address: "10.0.2.2", port: 6119 });
  });

  it("RESET_MSG: 56 bytes, seqno = snd_nxt + 32767, max_pkt 14000, bearer b1", () => {
    const bytes = hexFixture("link-up/012-LINK_PROTOCOL-RESET_MSG.hex");
    expect(bytes.length).toBe(56);
    const m = decodeAs(bytes, "LINK_PROTOCOL");
    expect(m).toMatchObject({
      type: "RESET",
      nonSeq: false,
      seqno: 0x8000,
      ack: 0,
      nextSent: 1,
      lastBcast: 0,
      session: 0x3670,
      bcAckInvalid: true,
      redundantLink: false,
      priority: 0,
      prevNode: GUEST,
      origNode: GUEST,
      destNode: HOST,
      maxPacket: 14000,
      tolerance: 0,
      bearerName: "b1",
    });
    expect(m.data).toBeUndefined();
  });

  it("STATE_MSG: proto seqno counter, 4-byte empty gap-ACK record", () => {
    const m = decodeAs(hexFixture("link-up/013-LINK_PROTOCOL-STATE_MSG.hex"), "LINK_PROTOCOL");
    expect(m).toMatchObject({
      type: "STATE",
      ack: 0,
      seqno: 1,
      nextSent: 1,
      session: 0x3670,
      bcAckInvalid: true,
    });
    expect(m.gapAcks).toEqual({ broadcast: [], unicast: [] });
    expect(m.monitor).toBeUndefined();
    const later = decodeAs(hexFixture("link-up/016-LINK_PROTOCOL-STATE_MSG.hex"), "LINK_PROTOCOL");
    expect(later).toMatchObject({
      type: "STATE",
      ack: 1,
      seqno: 2,
      nextSent: 3,
      redundantLink: true,
      bcAckInvalid: false,
    });
  });

  it("BCAST_PROTOCOL init: 40 bytes, unicast seqno 1, bc_ack_invalid", () => {
    const m = decodeAs(hexFixture("link-up/014-BCAST_PROTOCOL-type0.hex"), "BCAST_PROTOCOL");
    expect(m).toEqual({
      user: "BCAST_PROTOCOL",
      type: "STATE",
      nonSeq: false,
      bcastAck: 0,
      ack: 0,
      seqno: 1,
      prevNode: GUEST,
      lastBcast: 0,
      nextSent: 0,
      bcAckInvalid: true,
      origNode: GUEST,
      destNode: HOST,
    });
  });

  it("NAME_DISTRIBUTOR bulk: bulk|last_bulk|non_legacy, named seqno 2, {1000,1,10} and the node-state item", () => {
    const m = decodeAs(hexFixture("link-up/015-NAME_DISTRIBUTOR-type0.hex"), "NAME_DISTRIBUTOR");
    expect(m).toEqual({
      user: "NAME_DISTRIBUTOR",
      type: "PUBLICATION",
      nonSeq: false,
      bulk: true,
      lastBulk: true,
      nonLegacy: true,
      bcastAck: 0,
      ack: 0,
      seqno: 2,
      prevNode: GUEST,
      namedSeqno: 2,
      bcAckInvalid: true,
      origNode: GUEST,
      destNode: HOST,
      items: [
        { type: 1000, lower: 1, upper: 10, port: 0x8ed268ed, key: 0x8ed268ee },
        { type: 0, lower: GUEST, upper: GUEST, port: 0, key: GUEST },
      ],
    });
  });

  it("host ACTIVATE / STATE / PUBLICATION the kernel accepted", () => {
    const act = decodeAs(hexFixture("link-up/host-sent-2-ACTIVATE.hex"), "LINK_PROTOCOL");
    expect(act).toMatchObject({
      type: "ACTIVATE",
      session: 0x1111,
      bcAckInvalid: true,
      prevNode: HOST,
      destNode: GUEST,
      maxPacket: 14000,
      tolerance: 1500,
      bearerName: "hb0",
      nextSent: 1,
    });
    const st = decodeAs(hexFixture("link-up/host-sent-3-STATE.hex"), "LINK_PROTOCOL");
    expect(st).toMatchObject({ type: "STATE", seqno: 1, ack: 1, priority: 0, bcAckInvalid: true });
    const pub = decodeAs(hexFixture("link-up/host-sent-4-PUBLICATION.hex"), "NAME_DISTRIBUTOR");
    expect(pub).toMatchObject({
      bulk: true,
      lastBulk: true,
      nonLegacy: true,
      seqno: 1,
      namedSeqno: 1,
      ack: 2,
    });
    expect(pub.items).toEqual([{ type: 2000, lower: 5, upper: 5, port: 12345, key: 12346 }]);
  });
});
