import { describe, expect, it } from "vitest";
import { Cluster } from "./__helpers__/cluster.js";

describe("cluster of broadcast-capable nodes", () => {
  it("five nodes come up and every table converges to the truth", async () => {
    const c = await Cluster.start({ size: 5, seed: 1 });
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    for (const m of c.live()) {
      for (let i = 0; i < 10; i++) m.node.publish({ type: 1000 + m.index, lower: i * 10, upper: i * 10 + 9 });
      m.node.publish({ type: 2000, lower: 1, upper: 1, scope: "node" });
    }
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    const s = c.get(0).stats();
    console.log(JSON.stringify(s.updates), s.bindings, c.clock.now());
  });
});
