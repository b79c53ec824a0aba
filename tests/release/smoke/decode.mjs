// Smoke program for @tipcjs/decode, run against the package installed alone from the registry:
// a kernel datagram in hex through parseHex, and a capture the reader refuses with its typed error.
import assert from "node:assert/strict";
import { isPcapError, parseHex, readPcap } from "@tipcjs/decode";

const bytes = parseHex("4b 40 00 28");
assert.deepEqual([...bytes], [0x4b, 0x40, 0x00, 0x28]);
assert.throws(
  () => readPcap(new Uint8Array(32).fill(7)),
  (e) => isPcapError(e) && e.code === "NOT_A_CAPTURE",
);
console.log("@tipcjs/decode (ESM): hex parsed, a non-capture refused");
