// Smoke program for @tipcjs/socket through require(), installed alone from the registry.
const assert = require("node:assert/strict");
const { NameTable } = require("@tipcjs/name-table");
const { createSocketLayer } = require("@tipcjs/socket");

const layer = createSocketLayer({ ownNode: 0x1001, table: new NameTable({ ownNode: 0x1001 }) });
const port = layer.open({ type: "dgram" });
assert.equal(typeof port, "number");
assert.equal(layer.read(port), undefined);
console.log("@tipcjs/socket (CommonJS): a socket opened");
