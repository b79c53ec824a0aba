// Smoke program for @tipcjs/name-table through require(), installed alone from the registry.
const assert = require("node:assert/strict");
const { NameTable, NameTableError } = require("@tipcjs/name-table");

const table = new NameTable({ ownNode: 0x1001 });
table.insert({ type: 2000, lower: 0, upper: 99, scope: "cluster", node: 0x1001, port: 1, key: 1 });
assert.deepEqual(table.lookupAnycast(2000, 50), { node: 0x1001, port: 1 });
assert.equal(table.lookupAnycast(2000, 100), undefined);
assert.throws(() => new NameTable({ ownNode: -1 }), NameTableError);
console.log(`@tipcjs/name-table (CommonJS): insert and lookup ok`);
