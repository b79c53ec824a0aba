import { decodeMessage, type LinkProtocolMessage } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { runTraffic, Sim } from "./__helpers__/sim.js";
import type { LinkOutput } from "./types.js";

function downEvents(sim: Sim, node: number) {
  return (sim.events[node] ?? []).filter((e) => e.out.kind === "nodeDown");
}

describe("supervision, partitions, graceful stop", () => {
  it("declares a partitioned peer down within the kernel's supervision bound and re-links after the heal", () => {
    const sim = new Sim({ nodes: 16, seed: 7 });
    sim.start();
    sim.run(10_000, () => sim.allUp());
    expect(sim.allUp()).toBe(true);
    sim.run(5000);
    const others = [...Array(16).keys()].filter((i) => i !== 0);
    const cut = sim.now;
    sim.partition([0], others);
    sim.run(5000);
    // tolerance 1500 ms, timer interval 375 ms: the kernel fails after abort_limit (4) silent
    // intervals, i.e. between 1.5 s and 1.5 s + 2 intervals after the last packet
    const bound = 1500 + 2 * 375;
    const d0 = downEvents(sim, 0);
    expect(d0).toHaveLength(15);
    for (const e of d0) expect(e.at - cut).toBeLessThanOrEqual(bound);
    for (const i of others) {
      const d = downEvents(sim, i);
      expect(d).toHaveLength(1);
      expect((d[0] as { at: number }).at - cut).toBeLessThanOrEqual(bound);
      expect(d[0]?.out).toMatchObject({ peer: sim.engines[0]?.address });
    }
    for (const i of others) expect(sim.engines[i]?.upPeers()).toHaveLength(14);
    const healed = sim.now;
    sim.heal();
    sim.run(30_000, () => sim.allUp());
    expect(sim.allUp()).toBe(true);
    // node 0 has no links, so its discovery runs at 1 s; its REQ draws an immediate RESET
    expect(sim.now - healed).toBeLessThan(1500);
    const r = runTraffic(sim, { total: 500 });
    expect(r.errors).toEqual([]);
    expect(r.missing).toBe(0);
  });

  it("re-links after a symmetric split into two halves", () => {
    const sim = new Sim({ nodes: 8, seed: 8 });
    sim.start();
    sim.run(10_000, () => sim.allUp());
    sim.run(70_000); // discovery backs off towards 60 s once links are up
    sim.partition([0, 1, 2, 3], [4, 5, 6, 7]);
    sim.run(5000);
    for (const e of sim.engines) expect(e.upPeers()).toHaveLength(3);
    const healed = sim.now;
    sim.heal();
    sim.run(120_000, () => sim.allUp());
    expect(sim.allUp()).toBe(true);
    // links in RESET keep sending RESET on every 16th tick (6 s), so no need to wait for discovery
    expect(sim.now - healed).toBeLessThan(7000);
  });

  it("stop() sends RESET with peer_stopping and peers go down at once", () => {
    const sim = new Sim({ nodes: 4, seed: 9 });
    sim.start();
    sim.run(10_000, () => sim.allUp());
    const e0 = sim.engines[0]!;
    e0.stop(sim.now);
    const out = e0.poll();
    const resets = out
      .filter((o): o is Extract<LinkOutput, { kind: "transmit" }> => o.kind === "transmit")
      .map((o) => decodeMessage(o.bytes) as LinkProtocolMessage);
    expect(resets).toHaveLength(3);
    for (const r of resets) expect(r).toMatchObject({ type: "RESET", peerStopping: true, priority: 0 });
    expect(out.filter((o) => o.kind === "nodeDown")).toHaveLength(3);
    // deliver them by hand
    for (let i = 1; i < 4; i++) {
      const r = out.find(
        (o) => o.kind === "transmit" && o.to !== "broadcast" && o.to.address === `10.1.0.${i}`,
      ) as Extract<LinkOutput, { kind: "transmit" }>;
      sim.engines[i]!.receive(r.bytes, { family: "ipv4", address: "10.1.0.0", port: 6118 }, sim.now);
      const ev = sim.engines[i]!.poll();
      expect(ev.find((o) => o.kind === "linkDown")).toMatchObject({ reason: "peer-stopping" });
      expect(ev.find((o) => o.kind === "nodeDown")).toMatchObject({ peer: e0.address });
    }
    expect(() => e0.sendBroadcast({} as never, sim.now)).toThrow(/stopped/);
  });

  it("sends routine STATE/RESET/ACTIVATE with priority 0 and tolerance 0, probes when idle", () => {
    const sim = new Sim({ nodes: 2, seed: 10 });
    const seen: LinkProtocolMessage[] = [];
    sim.start();
    const e0 = sim.engines[0]!;
    const orig = e0.poll.bind(e0);
    e0.poll = () => {
      const out = orig();
      for (const o of out) {
        if (o.kind === "transmit") {
          const m = decodeMessage(o.bytes);
          if (m.user === "LINK_PROTOCOL") seen.push(m);
        }
      }
      return out;
    };
    sim.run(10_000);
    const types = new Set(seen.map((m) => m.type));
    expect(types.has("STATE")).toBe(true);
    expect(types.has("RESET") || types.has("ACTIVATE")).toBe(true);
    for (const m of seen) {
      expect(m.priority).toBe(0);
      expect(m.tolerance).toBe(0);
    }
    const states = seen.filter((m) => m.type === "STATE");
    // idle link: about one probe per 375 ms interval
    expect(states.filter((m) => m.probe).length).toBeGreaterThan(20);
    expect(e0.stats().linkDowns).toBe(0);
  });
});
