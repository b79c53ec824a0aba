// Smoke program for @tipcjs/distributor through require(), installed from the registry.
const assert = require("node:assert/strict");
const { createDistributor, DistributorError } = require("@tipcjs/distributor");
const { NameTable } = require("@tipcjs/name-table");

const d = createDistributor({ ownNode: 0x1001, table: new NameTable({ ownNode: 0x1001 }) });
assert.throws(
  () => d.publish({ type: 1000, lower: 1, upper: 1, node: 0x2002, port: 1, key: 1, scope: "cluster" }),
  DistributorError,
);
assert.equal(d.stats().constructor, Object);
console.log("@tipcjs/distributor (CommonJS): misuse gives DistributorError");
