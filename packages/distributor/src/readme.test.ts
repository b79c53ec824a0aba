/** The README's example, run as written. */
import { NameTable } from "@tipcjs/name-table";
import { expect, it } from "vitest";
import { createDistributor, type DistributorOutput } from "./index.js";

it("README example: a broadcast publication overtakes the bulk and is still applied in order", () => {
  const A = 0x1001;
  const B = 0x1002;
  const tableB = new NameTable({ ownNode: B });
  const a = createDistributor({ ownNode: A, table: new NameTable({ ownNode: A }) });
  const b = createDistributor({ ownNode: B, table: tableB });

  // The link came up: each side sends its bulk (unicast) to the other.
  const bulkToB = a.nodeUp(B, { capabilities: b.capabilities, mtu: 1500 });
  b.nodeUp(A, { capabilities: a.capabilities, mtu: 1500 });

  // Every peer advertises TIPC_NAMED_BCAST, so this goes once on the broadcast link.
  const update = a.publish({ type: 1000, lower: 1, upper: 10, node: A, port: 42, key: 7, scope: "cluster" });

  // The broadcast update arrives before the bulk: B holds it until A's lastBulk opens the gate.
  const deliver = (outs: DistributorOutput[]) =>
    outs.flatMap((o) => (o.kind === "send" ? b.receive(A, o.message) : []));
  expect(deliver(update)).toEqual([]);
  const changes = deliver(bulkToB);
  expect(changes.map((c) => (c.kind === "bound" ? `${c.binding.type}:${c.binding.lower}` : c.kind))).toEqual([
    `0:${A}`, // A's node-state binding, from the bulk
    "1000:1", // then the held publication
  ]);
  expect(tableB.lookupAnycast(1000, 5)).toEqual({ node: A, port: 42 });
});
