// Smoke program for @tipcjs/decode through require(), installed alone from the registry.
const assert = require("node:assert/strict");
const { parseHex } = require("@tipcjs/decode");

assert.equal(parseHex("0a0b").length, 2);
console.log("@tipcjs/decode (CommonJS): hex parsed");
