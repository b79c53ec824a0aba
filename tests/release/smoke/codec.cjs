// Smoke program for @tipcjs/codec through require(), run against the package installed alone.
const assert = require("node:assert/strict");
const { TIPC_NAMED_BCAST, less, mod16, seqDiff } = require("@tipcjs/codec");

assert.equal(TIPC_NAMED_BCAST, 0x800);
assert.equal(mod16(0x1_0005), 5);
assert.ok(less(0xfffe, 1), "16-bit serial arithmetic wraps");
assert.equal(seqDiff(0xffff, 2), 3);
const { version } = require("@tipcjs/codec/package.json");
console.log(`@tipcjs/codec ${version} (CommonJS): serial arithmetic and constants ok`);
