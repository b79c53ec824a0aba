// Smoke program for @tipcjs/name-table (the README's example), installed alone from the registry.
import assert from "node:assert/strict";
import { NameTable, NameTableError } from "@tipcjs/name-table";

const table = new NameTable({ ownNode: 0x1001 });
assert.equal(
  table.insert({ type: 1000, lower: 1, upper: 10, scope: "cluster", node: 0x1001, port: 3, key: 4 }).ok,
  true,
);
table.insert({ type: 1000, lower: 5, upper: 5, scope: "cluster", node: 0x2002, port: 9, key: 10 });
assert.deepEqual(table.lookupAnycast(1000, 5), { node: 0x1001, port: 3 });
assert.equal(table.lookupMulticast(1000, 0, 100).length, 2);

const sub = table.subscribe({ type: 1000, lower: 4, upper: 6, mode: "ports", timeout: 10_000 }, 0);
assert.deepEqual(
  table.takeEvents().map((e) => e.kind),
  ["published", "published"],
);
table.purgeNode(0x2002);
assert.deepEqual(
  table.takeEvents().map((e) => e.kind),
  ["withdrawn"],
);
table.unsubscribe(sub);
assert.throws(
  () => table.insert({ type: 1000, lower: 9, upper: 1, scope: "cluster", node: 1, port: 1, key: 1 }),
  NameTableError,
);
assert.equal(table.size, 1);
console.log(`@tipcjs/name-table (ESM): insert, anycast/multicast lookups, subscription events ok`);
