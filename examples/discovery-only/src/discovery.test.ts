// biome-ignore-all lint/style/noNonNullAssertion: members are started before use
import type { TipcNode } from "@tipcjs/node";
import { createNode } from "@tipcjs/node";
import { createVirtualClock, memoryFabric, seededRandom } from "@tipcjs/transport-memory";
import { describe, expect, it } from "vitest";
import { discoverOnLoopback } from "./loopback.js";
import { formatPeers, listPeers, watchPeers } from "./peers.js";

describe("a discovery-only node", () => {
  it("lists every peer with its state, where it was found, its update method and links; sees a crash after the tolerance", async () => {
    const clock = createVirtualClock(7);
    const fabric = memoryFabric({ clock });
    const start = (nodeId: string, i: number, legacy = false) =>
      createNode({
        nodeId,
        legacy,
        transport: fabric.join({ address: { family: "ipv4", address: `10.0.0.${i}`, port: 6118 } }),
        clock,
        random: seededRandom(i),
        skipTrial: true,
      });
    const nodes: TipcNode[] = [
      await start("observer", 1),
      await start("web-1", 2),
      await start("db-1", 3),
      await start("old-kernel", 4, true),
    ];
    const [observer, web, db, old] = nodes as [TipcNode, TipcNode, TipcNode, TipcNode];
    const lines: string[] = [];
    watchPeers(observer, (l) => lines.push(l));
    web.publish({ type: 4000, lower: 1 });
    for (let t = 0; t < 10_000 && listPeers(observer).filter((p) => p.up).length < 3; t += 10)
      clock.advance(10);

    const peers = listPeers(observer);
    expect(peers.map((p) => [p.nodeId, p.up, p.media, p.namedBroadcast, p.links])).toEqual([
      ["db-1", true, "10.0.0.3:6118", true, ["udp0 ESTABLISHED"]],
      ["old-kernel", true, "10.0.0.4:6118", false, ["udp0 ESTABLISHED"]],
      ["web-1", true, "10.0.0.2:6118", true, ["udp0 ESTABLISHED"]],
    ]);
    expect(peers.map((p) => p.hash)).toEqual(
      [db, old, web].map((n) => n.address.toString(16).padStart(8, "0")),
    );
    expect(lines.sort()).toEqual(
      [db, old, web].map((n) => `up    ${n.nodeId} (${n.address.toString(16).padStart(8, "0")})`).sort(),
    );
    const table = formatPeers(observer, peers).split("\n");
    expect(table[0]).toMatch(/^Node Identity +Hash +State +Found at +Updates +Links$/);
    expect(table[1]).toMatch(/^observer +[0-9a-f]{8} +up +\(this node\)$/);
    expect(table[3]).toMatch(/^old-kernel +[0-9a-f]{8} +up +10\.0\.0\.4:6118 +replicast +udp0 ESTABLISHED$/);
    // It only discovers: no service of its own anywhere (only the node-state binding {0, self}
    // that every TIPC node publishes), while it holds web-1's service binding.
    const own = [{ type: 0, lower: observer.address, upper: observer.address, node: observer.address }];
    expect(observer.ownBindings()).toMatchObject(own);
    for (const n of [web, db, old])
      expect(n.bindings().filter((b) => b.node === observer.address)).toMatchObject(own);
    expect(observer.bindings().filter((b) => b.type !== 0)).toMatchObject([
      { type: 4000, node: web.address },
    ]);

    // db-1 drops off the network (no RESET, as a crash): the observer lists it down once link
    // supervision gives up (tolerance 1.5 s plus at most two probe intervals), not before.
    const media = (i: number) => ({ family: "ipv4" as const, address: `10.0.0.${i}`, port: 6118 });
    fabric.partition([media(3)], [media(1), media(2), media(4)]);
    clock.advance(1_000);
    expect(listPeers(observer).find((p) => p.nodeId === "db-1")!.up).toBe(true);
    clock.advance(1_500);
    const after = listPeers(observer);
    expect(after.find((p) => p.nodeId === "db-1")).toMatchObject({ up: false, links: ["udp0 RESET"] });
    expect(after.filter((p) => p.up).map((p) => p.nodeId)).toEqual(["old-kernel", "web-1"]);
    expect(lines).toContain(`down  db-1 (${db.address.toString(16).padStart(8, "0")})`);
    fabric.healAll();
    // Closing waits for acknowledgements: let virtual time run until every node has closed.
    let closed = false;
    const closing = Promise.all(nodes.map((n) => n.close())).then(() => {
      closed = true;
    });
    for (let t = 0; t < 10_000 && !closed; t += 10) {
      clock.advance(10);
      await new Promise((r) => setImmediate(r));
    }
    await closing;
  });

  it("finds two real nodes over UDP on 127.0.0.1, lists them, and sees one leave (the demo)", async () => {
    const printed: string[] = [];
    const run = await discoverOnLoopback((l) => printed.push(l));
    expect(run.withBoth.map((p) => [p.nodeId, p.up, p.links])).toEqual([
      ["service-a", true, ["udp0 ESTABLISHED"]],
      ["service-b", true, ["udp0 ESTABLISHED"]],
    ]);
    for (const p of run.withBoth) expect(p.media).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(run.afterLeave.map((p) => [p.nodeId, p.up])).toEqual([
      ["service-a", true],
      ["service-b", false],
    ]);
    expect(run.bindingsFromObserver).toBe(0);
    expect(run.events.map((e) => e.split(/\s+/).slice(0, 2).join(" ")).sort()).toEqual([
      "down service-b",
      "up service-a",
      "up service-b",
    ]);
    expect(printed.filter((l) => l.startsWith("Node Identity"))).toHaveLength(2);
  }, 30_000);
});
