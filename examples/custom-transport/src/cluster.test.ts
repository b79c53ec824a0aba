import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TipcNode } from "@tipcjs/node";
import { afterEach, describe, expect, it } from "vitest";
import { startNode, waitFor } from "./cluster.js";

const open: TipcNode[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("a two-node TIPC cluster over Unix datagram sockets", () => {
  it("discovers, brings the link up, exchanges bindings both ways and withdraws on close", async () => {
    const directory = mkdtempSync(join(tmpdir(), "tipcjs-unix-cluster-"));
    dirs.push(directory);
    const a = await startNode(directory, "unix-a");
    open.push(a);
    const b = await startNode(directory, "unix-b");
    open.push(b);
    expect(a.bearers()[0]?.canBroadcast).toBe(false);

    await waitFor(() => a.stats().nodes.up === 1 && b.stats().nodes.up === 1, 10_000, "the link");
    a.publish({ type: 5000, lower: 1, upper: 10, port: 7 });
    b.publish({ type: 5001, lower: 3 });
    await waitFor(
      () => b.lookupAnycast(5000, 4) !== undefined && a.lookupAnycast(5001, 3) !== undefined,
      5_000,
      "the bindings",
    );
    expect(b.lookupAnycast(5000, 4)).toEqual({ node: a.address, port: 7 });

    open.splice(open.indexOf(a), 1);
    await a.close();
    expect(b.lookupAnycast(5000, 4)).toBeUndefined();
    // a's sockets are gone from the directory
    expect(readdirSync(directory).sort()).toEqual(["127.66.0.2_6118.sock", "127.66.0.2_6118.tx.sock"]);
  }, 20_000);
});
