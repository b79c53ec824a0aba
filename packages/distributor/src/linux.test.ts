/**
 * The `linux` flavour reproduces Linux 5.9..6.x, gaps included. These tests show each gap the
 * `tipcjs` flavour closes, on the same scenario for both, and that the random model finds
 * them on its own.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Cluster, svc } from "./__helpers__/cluster.js";
import { run, scenarioArb } from "./__helpers__/scenario.js";
import type { Flavor } from "./types.js";

const A = 0x1001;
const B = 0x1002;

describe.each(["tipcjs", "linux"] as const)("flavour %s", (flavor: Flavor) => {
  const fine = flavor === "tipcjs";

  it(`an update with seqno 32769..65535 that overtakes the bulk is ${fine ? "applied" : "lost (less than rcvNxt 0 while shut)"}`, () => {
    const c = new Cluster([
      { addr: A, flavor, initialSndNxt: 40000 },
      { addr: B, flavor },
    ]);
    c.up(A, B);
    c.publish(A, svc(1000, 1, 1));
    c.deliver(A, B, "broadcast");
    c.drain();
    expect(c.mismatches().length === 0).toBe(fine);
    if (!fine) expect(c.node(B).d.stats().drops.stale).toBe(1);
  });

  it(`a node with no cluster binding ${fine ? "sends a header-only lastBulk" : "sends no bulk, so its peer never opens the gate"}`, () => {
    const c = new Cluster([
      { addr: A, flavor, publishNodeState: false },
      { addr: B, flavor },
    ]);
    c.up(A, B);
    expect(c.queued(A, B, "unicast")).toBe(fine ? 1 : 0);
    c.publish(A, svc(1000, 1, 1));
    c.drain();
    expect(c.mismatches().length === 0).toBe(fine);
    expect(c.node(B).d.peer(A)).toMatchObject(fine ? { open: true, held: 0 } : { open: false, held: 1 });
  });

  it(`after a reconnect, ${fine ? "the gate starts shut again" : "the old gate (open, stale rcvNxt) is kept"}`, () => {
    const c = new Cluster([
      { addr: A, flavor, publishNodeState: false },
      { addr: B, flavor },
    ]);
    c.publish(A, svc(1000, 1, 1));
    c.up(A, B);
    for (let i = 2; i <= 50; i++) c.publish(A, svc(1000, i, i));
    c.drain();
    c.down(A, B);
    expect(c.node(B).d.peer(A)).toMatchObject(fine ? { open: false, rcvNxt: 0 } : { open: true, rcvNxt: 50 });
    // A restarts and counts from 0 again; with no binding left at restart it sends no bulk
    // in the linux flavour, and its updates fall below the stale rcvNxt.
    c.restart(A, { initialSndNxt: 0 });
    c.up(A, B);
    c.publish(A, svc(2000, 1, 1));
    c.drain();
    expect(c.mismatches().length === 0).toBe(fine);
  });
});

describe("the model finds the linux flavour's gaps by itself", () => {
  it("the convergence property fails for linux nodes and holds for tipcjs nodes on the same scenarios", () => {
    const converges = (flavor: Flavor) =>
      fc.check(
        fc.property(scenarioArb, (sc) => run(sc, "map", flavor).mismatches().length === 0),
        { numRuns: 300, seed: 7 },
      );
    const linux = converges("linux");
    expect(linux.failed).toBe(true);
    expect(converges("tipcjs").failed).toBe(false);
  }, 60_000);
});

describe("a tipcjs node among Linux and pre-2020 nodes", () => {
  // One gap a receiver cannot close: a Linux node left with no cluster binding (here, it
  // withdrew its own node-state binding) sends no bulk at node up, so no receiver's gate opens
  // for it and its later updates wait for ever, at a tipcjs node as at a Linux one. (Rare in
  // these runs; fast-check found it as: a Linux node withdraws {0, addr}, joins, publishes.)
  const sentNoBulk = (c: ReturnType<typeof run>, owner: number) =>
    c.node(owner).d.flavor === "linux" && c.node(owner).d.stats().sent.emptyBulks > 0;

  it("ends with the right view of every peer, unless a Linux peer sent no bulk (1,000 runs)", () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const c = run(sc, "map", "mixed");
        const wrong = c.mismatches().filter((m) => c.node(m.viewer).d.flavor === "tipcjs");
        expect(wrong.filter((m) => !sentNoBulk(c, m.owner))).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);
});
