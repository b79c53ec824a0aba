// Smoke program for @tipcjs/crypto through require(), installed alone from the registry.
const assert = require("node:assert/strict");
const { createCrypto, EMSG_OVERHEAD, parseKey, readEhdr, writeEhdr } = require("@tipcjs/crypto");

assert.equal(EMSG_OVERHEAD, 32);
const h = new Uint8Array(16);
writeEhdr(
  {
    user: 0,
    destined: true,
    txKey: 1,
    rxKeyActive: 0,
    keepalive: false,
    masterKey: false,
    rxNokey: false,
    seqno: 1,
    addr: 0x01001001,
  },
  h,
);
assert.equal(readEhdr(h).txKey, 1);
const e = createCrypto({ ownAddr: 0x01001001, ownNodeId: new Uint8Array(16).fill(1) });
assert.equal(e.setKey(parseKey("this_is_a_key16_salt"), {}, 0), 1);
assert.equal(e.hasKeys(), true);
console.log("@tipcjs/crypto (CommonJS): engine created and keyed");
