/** The README's example, run as written. */
import { NameTable } from "@tipcjs/name-table";
import { expect, it } from "vitest";
import { createSocketLayer, type SocketOutput } from "./index.js";

it("README example: a message to a service address reaches the socket bound on another node", () => {
  const A = 0x1001;
  const B = 0x2002;
  const tableA = new NameTable({ ownNode: A }); // each shared with that node's distributor
  const tableB = new NameTable({ ownNode: B });
  const a = createSocketLayer({ ownNode: A, table: tableA });
  const b = createSocketLayer({ ownNode: B, table: tableB });
  a.nodeUp(B); // the link A-B is up
  b.nodeUp(A);

  // B binds {1000, 5}; the node hands the publication to its distributor, which reaches A's table.
  const server = b.open({ type: "rdm" });
  for (const o of b.bind(server, { type: 1000, lower: 5, upper: 5 }))
    if (o.kind === "publish") for (const t of [tableA, tableB]) t.insert(o.binding);

  // A sends to the service; the node hands each transmit to the link, which carries it to B.
  const client = a.open({ type: "rdm" });
  const r = a.sendToService(client, { type: 1000, instance: 5 }, new TextEncoder().encode("hello"));
  if (r.status === "blocked") throw new Error("wait for this socket's wakeup output, then send again");
  const toB = r.outputs.filter(
    (o): o is Extract<SocketOutput, { kind: "transmit" }> => o.kind === "transmit",
  );
  const events = toB.flatMap((o) => b.receive(o.message)); // [{ kind: "readable", port: server }]

  const item = b.read(server);
  expect(events).toEqual([{ kind: "readable", port: server }]);
  expect(item).toEqual({
    kind: "message",
    data: new TextEncoder().encode("hello"),
    source: { node: A, port: client },
    destination: { kind: "service", type: 1000, instance: 5 },
    importance: 0,
  });
});
