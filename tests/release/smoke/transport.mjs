// Smoke program for @tipcjs/transport, installed alone from the registry: the helpers, the typed
// error, and the conformance suite's subpath export.
import assert from "node:assert/strict";
import {
  checkDatagram,
  isTransportError,
  mediaAddressEquals,
  mediaAddressKey,
  TransportError,
} from "@tipcjs/transport";
import { conformanceCases, runConformance } from "@tipcjs/transport/conformance";

const a = { family: "ipv4", address: "127.0.0.1", port: 6118 };
assert.ok(mediaAddressEquals(a, { ...a }));
assert.notEqual(mediaAddressKey(a), mediaAddressKey({ ...a, port: 6119 }));
assert.throws(
  () => checkDatagram(new Uint8Array(10), 4),
  (e) => isTransportError(e) && e.code === "OVERSIZE",
);
assert.ok(new TransportError("CLOSED", "closed") instanceof Error);
assert.ok(conformanceCases.length > 0);
assert.equal(typeof runConformance, "function");
console.log(
  `@tipcjs/transport (ESM): helpers, TransportError, ${conformanceCases.length} conformance cases ok`,
);
