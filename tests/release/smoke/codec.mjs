// Smoke program for @tipcjs/codec, run against the package installed alone from the registry.
// Uses only its documented exports: encode/decode, the typed decode error, 16-bit serial
// arithmetic and the capability constants.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  decodeMessage,
  encodeMessage,
  less,
  mod16,
  seqDiff,
  TIPC_NAMED_BCAST,
  TipcDecodeError,
} from "@tipcjs/codec";

const publication = {
  user: "NAME_DISTRIBUTOR",
  type: "PUBLICATION",
  nonSeq: false,
  bcastAck: 0,
  ack: 0,
  seqno: 1,
  prevNode: 0x1001,
  origNode: 0x1001,
  destNode: 0x1002,
  bulk: false,
  lastBulk: false,
  nonLegacy: true,
  namedSeqno: 7,
  bcAckInvalid: false,
  items: [{ type: 1000, lower: 1, upper: 10, port: 42, key: 7 }],
};
const bytes = encodeMessage(publication);
assert.equal(bytes.length, 40 + 20, "a 40-byte header and one 20-byte item");
const back = decodeMessage(bytes);
assert.equal(back.user, "NAME_DISTRIBUTOR");
assert.equal(back.namedSeqno, 7);
assert.deepEqual(back.items, publication.items);
assert.throws(() => decodeMessage(Uint8Array.of(1, 2, 3)), TipcDecodeError);

assert.equal(TIPC_NAMED_BCAST, 0x800);
assert.equal(mod16(0x1_0005), 5);
assert.ok(less(0xfffe, 1), "16-bit serial arithmetic wraps");
assert.equal(seqDiff(0xffff, 2), 3);
const { version } = createRequire(import.meta.url)("@tipcjs/codec/package.json");
console.log(`@tipcjs/codec ${version} (ESM): publication round trip, decode error, serial arithmetic ok`);
