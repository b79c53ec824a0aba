// Smoke program for @tipcjs/transport through require(), installed alone from the registry.
const assert = require("node:assert/strict");
const { checkDatagram, isTransportError, mediaAddressKey } = require("@tipcjs/transport");
const { conformanceCases } = require("@tipcjs/transport/conformance");

assert.equal(typeof mediaAddressKey({ family: "ipv6", address: "::1", port: 6118 }), "string");
assert.throws(
  () => checkDatagram(new Uint8Array(0), 1500),
  (e) => isTransportError(e) && e.code === "BAD_DATAGRAM",
);
assert.ok(conformanceCases.length > 0);
console.log("@tipcjs/transport (CommonJS): helpers and conformance subpath ok");
