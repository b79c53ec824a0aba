/** The README's example, run as written. */
import { NameTable } from "@tipcjs/name-table";
import { expect, it } from "vitest";
import { createDistributor, type DistributorOutput } from "./index.js";

it("README example: updates behind the bulk until it is acked, then broadcast, applied in order", () => {
  const A = 0x1001;
  const B = 0x1002;
  const tableB = new NameTable({ ownNode: B });
  const a = createDistributor({ ownNode: A, table: new NameTable({ ownNode: A }) });
  const b = createDistributor({ ownNode: B, table: tableB });
  const deliver = (outs: DistributorOutput[]) =>
    outs.flatMap((o) => (o.kind === "send" ? b.receive(A, o.message) : []));
  const bound = (outs: DistributorOutput[]) =>
    outs.map((c) => (c.kind === "bound" ? `${c.binding.type}:${c.binding.lower}` : c.kind));

  // The link came up: each side sends its bulk (unicast) to the other.
  const bulkToB = a.nodeUp(B, { capabilities: b.capabilities, mtu: 1500 });
  b.nodeUp(A, { capabilities: a.capabilities, mtu: 1500 });

  // Until B's link acknowledges the bulk, A's updates go to B by unicast, behind the bulk.
  const first = a.publish({ type: 1000, lower: 1, upper: 10, node: A, port: 42, key: 7, scope: "cluster" });
  expect(first.filter((o) => o.kind === "send")).toMatchObject([{ to: B, method: "replicast" }]);
  expect(bound(deliver(bulkToB))).toEqual([`0:${A}`]); // A's node-state binding
  expect(a.bulkAcked(B)).toBe(true); // the node calls this when B's link acks the bulk

  // Every peer has acked its bulk and advertises TIPC_NAMED_BCAST: once on the broadcast link.
  const second = a.publish({ type: 1000, lower: 20, upper: 30, node: A, port: 43, key: 8, scope: "cluster" });
  expect(second.filter((o) => o.kind === "send")).toMatchObject([{ to: "broadcast", method: "broadcast" }]);

  // The broadcast link is another path: `second` overtakes `first`, and B holds it until in order.
  expect(deliver(second)).toEqual([]);
  expect(bound(deliver(first))).toEqual(["1000:1", "1000:20"]);
  expect(tableB.lookupAnycast(1000, 25)).toEqual({ node: A, port: 43 });
});
