// A two-node TIPC cluster over Unix datagram sockets in a temporary directory:
//   npx tsx examples/custom-transport/src/demo.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode, waitFor } from "./cluster.js";

const directory = mkdtempSync(join(tmpdir(), "tipcjs-unix-demo-"));
try {
  const a = await startNode(directory, "unix-demo-a");
  const b = await startNode(directory, "unix-demo-b");
  await waitFor(() => a.stats().nodes.up === 1 && b.stats().nodes.up === 1, 10_000, "the link");
  console.log(`link up between ${a.address.toString(16)} and ${b.address.toString(16)} over ${directory}`);
  a.publish({ type: 1000, lower: 1, upper: 9, port: 42 });
  await waitFor(() => b.lookupAnycast(1000, 5) !== undefined, 5_000, "the binding");
  console.log("b sees a's binding {1000, 1..9}:", b.lookupAnycast(1000, 5));
  await a.close();
  await b.close();
} finally {
  rmSync(directory, { recursive: true, force: true });
}
