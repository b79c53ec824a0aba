// release-check: install @tipcjs/name-table
// Smoke program for @tipcjs/distributor (the README's example), installed from the registry
// with @tipcjs/name-table: updates go behind the bulk until it is acked, then on the broadcast
// link, and the peer applies them in order.
import assert from "node:assert/strict";
import { createDistributor } from "@tipcjs/distributor";
import { NameTable } from "@tipcjs/name-table";

const A = 0x1001;
const B = 0x1002;
const tableB = new NameTable({ ownNode: B });
const a = createDistributor({ ownNode: A, table: new NameTable({ ownNode: A }) });
const b = createDistributor({ ownNode: B, table: tableB });
const deliver = (outs) => {
  for (const o of outs) if (o.kind === "send") b.receive(A, o.message);
};
const toB = a.nodeUp(B, { capabilities: b.capabilities, mtu: 1500 });
const toA = b.nodeUp(A, { capabilities: a.capabilities, mtu: 1500 });
for (const o of toA) if (o.kind === "send") a.receive(B, o.message);
const first = a.publish({ type: 1000, lower: 1, upper: 10, node: A, port: 42, key: 7, scope: "cluster" });
assert.ok(
  first.some((o) => o.kind === "send" && o.method === "replicast"),
  "until B acks the bulk, updates go to B by unicast behind it",
);
deliver(toB);
assert.equal(a.bulkAcked(B), true);
const second = a.publish({ type: 1000, lower: 20, upper: 30, node: A, port: 43, key: 8, scope: "cluster" });
assert.ok(
  second.some((o) => o.kind === "send" && o.method === "broadcast"),
  "bulk acked and both advertise TIPC_NAMED_BCAST: once on the broadcast link",
);
// The broadcast copy overtakes the unicast one; B holds it until both apply in order.
deliver(second);
deliver(first);
assert.deepEqual(tableB.lookupAnycast(1000, 5), { node: A, port: 42 });
assert.deepEqual(tableB.lookupAnycast(1000, 25), { node: A, port: 43 });
console.log("@tipcjs/distributor (ESM): updates applied in order across the switch to broadcast");
