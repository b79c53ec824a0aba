// Smoke program for @tipcjs/socket, run against the package installed alone from the registry.
// release-check: install @tipcjs/socket @tipcjs/name-table
// Two socket layers with their own name tables: a message to a service address arrives.
import assert from "node:assert/strict";
import { NameTable } from "@tipcjs/name-table";
import { createSocketLayer, isSocketError } from "@tipcjs/socket";

const A = 0x1001;
const B = 0x2002;
const tableA = new NameTable({ ownNode: A });
const tableB = new NameTable({ ownNode: B });
const a = createSocketLayer({ ownNode: A, table: tableA });
const b = createSocketLayer({ ownNode: B, table: tableB });
a.nodeUp(B);
b.nodeUp(A);
const server = b.open({ type: "rdm" });
for (const o of b.bind(server, { type: 1000, lower: 5, upper: 5 }))
  if (o.kind === "publish") for (const t of [tableA, tableB]) t.insert(o.binding);
const client = a.open({ type: "rdm" });
const r = a.sendToService(client, { type: 1000, instance: 5 }, new TextEncoder().encode("hello"));
assert.equal(r.status, "sent");
for (const o of r.outputs) if (o.kind === "transmit") b.receive(o.message);
const item = b.read(server);
assert.equal(item?.kind, "message");
assert.equal(new TextDecoder().decode(item.data), "hello");
assert.deepEqual(item.source, { node: A, port: client });
assert.equal(isSocketError(new Error("x")), false);
console.log("@tipcjs/socket (ESM): a message to {1000, 5} arrived");
