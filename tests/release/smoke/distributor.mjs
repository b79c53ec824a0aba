// release-check: install @tipcjs/name-table
// Smoke program for @tipcjs/distributor (the README's example), installed from the registry
// with @tipcjs/name-table: a publication reaches the peer's name table through the bulk gate.
import assert from "node:assert/strict";
import { createDistributor } from "@tipcjs/distributor";
import { NameTable } from "@tipcjs/name-table";

const A = 0x1001;
const B = 0x1002;
const tableB = new NameTable({ ownNode: B });
const a = createDistributor({ ownNode: A, table: new NameTable({ ownNode: A }) });
const b = createDistributor({ ownNode: B, table: tableB });
const toB = a.nodeUp(B, { capabilities: b.capabilities, mtu: 1500 });
const toA = b.nodeUp(A, { capabilities: a.capabilities, mtu: 1500 });
const outs = a.publish({ type: 1000, lower: 1, upper: 10, node: A, port: 42, key: 7, scope: "cluster" });
assert.ok(
  outs.some((o) => o.kind === "send" && o.method === "broadcast"),
  "both advertise TIPC_NAMED_BCAST",
);
// The publication arrives before the bulk: B holds it until the bulk opens the gate.
for (const o of [...outs, ...toB]) if (o.kind === "send") b.receive(A, o.message);
for (const o of toA) if (o.kind === "send") a.receive(B, o.message);
assert.deepEqual(tableB.lookupAnycast(1000, 5), { node: A, port: 42 });
console.log("@tipcjs/distributor (ESM): publication applied after the bulk gate opened");
