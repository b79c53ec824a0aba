// Smoke program for @tipcjs/codec, run against the package installed alone from the registry.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { TIPC_NAMED_BCAST, less, lessEq, mod16, seqDiff } from "@tipcjs/codec";

assert.equal(TIPC_NAMED_BCAST, 0x800);
assert.equal(mod16(0x1_0005), 5);
assert.ok(less(0xfffe, 1), "16-bit serial arithmetic wraps");
assert.ok(lessEq(7, 7));
assert.equal(seqDiff(0xffff, 2), 3);
const { version } = createRequire(import.meta.url)("@tipcjs/codec/package.json");
console.log(`@tipcjs/codec ${version} (ESM): serial arithmetic and constants ok`);
