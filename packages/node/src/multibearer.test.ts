// biome-ignore-all lint/style/noNonNullAssertion: test members are started before use
import { createVirtualClock, type MemoryFabric, memoryFabric, seededRandom } from "@tipcjs/transport-memory";
import { describe, expect, it } from "vitest";
import { key } from "./__helpers__/cluster.js";
import { createNode } from "./node.js";
import type { NodeEvents, TipcNode } from "./types.js";

const media = (net: number, i: number) => ({
  family: "ipv4" as const,
  address: `10.${net}.0.${i + 1}`,
  port: 6118,
});

/** Nodes with two bearers each, "lan0" and "lan1", on two independent memory fabrics. */
async function twoLanCluster(size: number, seed: number) {
  const clock = createVirtualClock(seed);
  const lans: MemoryFabric[] = [memoryFabric({ clock }), memoryFabric({ clock })];
  const nodes: TipcNode[] = [];
  const events: { node: number; kind: keyof NodeEvents; payload: unknown }[] = [];
  for (let i = 0; i < size; i++) {
    const node = await createNode({
      nodeId: `dual${i}`,
      bearers: lans.map((lan, b) => ({ transport: lan.join({ address: media(b, i) }), name: `lan${b}` })),
      clock,
      random: seededRandom(seed * 100 + i),
      skipTrial: true,
    });
    for (const kind of ["nodeUp", "nodeDown", "linkUp", "linkDown", "bindingChange"] as const)
      node.on(kind, (payload) => events.push({ node: i, kind, payload }));
    nodes.push(node);
  }
  const runUntil = (cond: () => boolean, ms: number) => {
    for (let t = 0; t <= ms && !cond(); t += 5) clock.advance(5);
    return cond();
  };
  const linksUp = () =>
    nodes.every((n) => n.links().filter((l) => l.state === "ESTABLISHED").length === 2 * (size - 1));
  const truth = () =>
    nodes
      .flatMap((n) => n.ownBindings())
      .filter((b) => b.scope === "cluster")
      .map(key)
      .sort();
  const converged = () =>
    nodes.every((n) => {
      const want = truth()
        .concat(
          n
            .ownBindings()
            .filter((b) => b.scope === "node")
            .map(key),
        )
        .sort();
      const have = n.bindings().map(key).sort();
      return have.length === want.length && have.every((k, j) => k === want[j]);
    });
  expect(runUntil(linksUp, 10_000)).toBe(true);
  return { clock, lans, nodes, events, runUntil, converged, linksUp };
}

describe("a node with two bearers", () => {
  it("links on both, loses one LAN mid-publication and keeps its table whole, with no node down and no update twice", async () => {
    const c = await twoLanCluster(3, 1);
    const { nodes, events } = c;
    for (const n of nodes) {
      expect(n.bearers().map((b) => b.name)).toEqual(["lan0", "lan1"]);
      expect(n.links().filter((l) => l.active)).toHaveLength(2);
    }
    expect(events.filter((e) => e.kind === "nodeUp")).toHaveLength(6);
    nodes.forEach((n, i) => {
      for (let k = 0; k < 20; k++) n.publish({ type: 100 + i, lower: k });
    });
    expect(c.runUntil(c.converged, 2000)).toBe(true);

    // lan0 dies; the next updates leave on it and are never acknowledged there
    c.lans[0]!.setFaults({ loss: 1 });
    nodes.forEach((n, i) => {
      for (let k = 20; k < 60; k++) n.publish({ type: 100 + i, lower: k });
      for (const b of n.ownBindings().filter((b) => b.type === 100 + i && b.lower % 3 === 0)) n.withdraw(b);
    });
    expect(c.runUntil(c.converged, 5000)).toBe(true);
    expect(events.filter((e) => e.kind === "nodeDown")).toEqual([]);
    const downs = events.filter((e) => e.kind === "linkDown").map((e) => e.payload as NodeEvents["linkDown"]);
    expect(downs).toHaveLength(6);
    for (const d of downs) expect(d).toMatchObject({ bearer: "lan0", failoverTo: "lan1" });
    for (const n of nodes) {
      const s = n.stats();
      expect(s.nodes.up).toBe(2);
      expect(s.link.failovers).toBe(2);
      expect(
        n
          .links()
          .filter((l) => l.active)
          .every((l) => l.bearerName === "lan1"),
      ).toBe(true);
    }
    // every remote binding was bound exactly once on every node (no update delivered twice)
    nodes.forEach((n, i) => {
      const bound = events
        .filter((e) => e.node === i && e.kind === "bindingChange")
        .map((e) => e.payload as NodeEvents["bindingChange"])
        .filter((p) => p.kind === "bound" && p.binding.node !== n.address)
        .map((p) => key(p.binding));
      expect(new Set(bound).size).toBe(bound.length);
      expect(bound).toHaveLength(2 * 60 + 2); // plus each peer's node-state binding
    });

    // lan0 comes back: its links re-form as standby; then lan1 dies and traffic moves back
    c.lans[0]!.setFaults(undefined);
    expect(c.runUntil(c.linksUp, 15_000)).toBe(true);
    c.lans[1]!.setFaults({ loss: 1 });
    nodes[0]!.publish({ type: 999, lower: 1 });
    expect(c.runUntil(c.converged, 5000)).toBe(true);
    c.clock.advance(3000); // links that carried nothing notice lan1's loss by supervision
    expect(events.filter((e) => e.kind === "nodeDown")).toEqual([]);
    for (const n of nodes)
      expect(
        n
          .links()
          .filter((l) => l.active)
          .every((l) => l.bearerName === "lan0"),
      ).toBe(true);

    // both gone: now the peers are down and their bindings purged
    c.lans[0]!.setFaults({ loss: 1 });
    c.clock.advance(5000);
    expect(events.filter((e) => e.kind === "nodeDown")).toHaveLength(6);
    for (const n of nodes) expect(n.bindings().filter((b) => b.node !== n.address)).toEqual([]);
  });

  it("disableBearer fails traffic over at once; enableBearer brings the links back", async () => {
    const c = await twoLanCluster(2, 2);
    const [a, b] = c.nodes as [TipcNode, TipcNode];
    for (let k = 0; k < 10; k++) a.publish({ type: 500, lower: k });
    a.disableBearer("lan0");
    expect(a.bearers().map((x) => x.enabled)).toEqual([false, true]);
    expect(a.links().map((l) => l.bearerName)).toEqual(["lan1"]);
    for (let k = 10; k < 20; k++) a.publish({ type: 500, lower: k });
    b.publish({ type: 501, lower: 1 });
    expect(c.runUntil(c.converged, 5000)).toBe(true);
    expect(b.lookupInstance(500, 15)).toHaveLength(1);
    expect(c.events.filter((e) => e.kind === "nodeDown")).toEqual([]);
    expect(() => a.disableBearer("nope")).toThrow(expect.objectContaining({ code: "BAD_ARGUMENT" }));
    a.enableBearer("lan0");
    expect(c.runUntil(c.linksUp, 15_000)).toBe(true);
    expect(a.bearers().every((x) => x.enabled)).toBe(true);
  });

  it("stats().drops.transport sums each bearer's Transport.drops() by cause", async () => {
    const clock = createVirtualClock(2);
    const lan = memoryFabric({ clock });
    const counted = (d: Record<string, number>) => Object.assign(lan.join(), { drops: () => d });
    const node = await createNode({
      nodeId: "drops",
      bearers: [
        { transport: counted({ "learn-foreign-net": 2, "send-queue-full": 1 }), name: "a" },
        { transport: counted({ "learn-foreign-net": 3 }), name: "b" },
        { transport: lan.join(), name: "c" },
      ],
      clock,
      skipTrial: true,
    });
    expect(node.stats().drops.transport).toEqual({ "learn-foreign-net": 5, "send-queue-full": 1 });
  });

  it("rejects bad bearer lists with a typed error", async () => {
    const clock = createVirtualClock(1);
    const lan = memoryFabric({ clock });
    const t = () => lan.join();
    const base = { nodeId: "x", clock, skipTrial: true };
    await expect(createNode({ ...base })).rejects.toMatchObject({ code: "BAD_OPTIONS" });
    await expect(createNode({ ...base, transport: t(), bearers: [{ transport: t() }] })).rejects.toThrow(
      /either transport or bearers/,
    );
    await expect(createNode({ ...base, bearers: [] })).rejects.toThrow(/1\.\.3/);
    await expect(
      createNode({
        ...base,
        bearers: [
          { transport: t(), name: "a" },
          { transport: t(), name: "a" },
        ],
      }),
    ).rejects.toThrow(/used twice/);
    await expect(createNode({ ...base, bearers: [{ transport: t(), priority: 40 }] })).rejects.toThrow(
      /priority/,
    );
    await expect(createNode({ ...base, bearers: [{ transport: {} as never }] })).rejects.toThrow(
      /bearers\[0\]\.transport/,
    );
  });
});
