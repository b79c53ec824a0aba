// Smoke program for @tipcjs/codec through require(), run against the package installed alone.
const assert = require("node:assert/strict");
const {
  decodeMessage,
  encodeMessage,
  less,
  seqDiff,
  TIPC_NAMED_BCAST,
  TipcDecodeError,
} = require("@tipcjs/codec");

const withdrawal = {
  user: "NAME_DISTRIBUTOR",
  type: "WITHDRAWAL",
  nonSeq: false,
  bcastAck: 0,
  ack: 0,
  seqno: 2,
  prevNode: 0x1001,
  origNode: 0x1001,
  destNode: 0x1002,
  bulk: false,
  lastBulk: false,
  nonLegacy: true,
  namedSeqno: 8,
  bcAckInvalid: false,
  items: [{ type: 1000, lower: 1, upper: 10, port: 42, key: 7 }],
};
const back = decodeMessage(encodeMessage(withdrawal));
assert.equal(back.type, "WITHDRAWAL");
assert.deepEqual(back.items, withdrawal.items);
assert.throws(() => decodeMessage(new Uint8Array(0)), TipcDecodeError);
assert.equal(TIPC_NAMED_BCAST, 0x800);
assert.ok(less(0xfffe, 1));
assert.equal(seqDiff(0xffff, 2), 3);
const { version } = require("@tipcjs/codec/package.json");
console.log(`@tipcjs/codec ${version} (CommonJS): withdrawal round trip, decode error, serial arithmetic ok`);
