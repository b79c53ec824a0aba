// A never-finishing fragment flood from a stranger that linked itself to one tipcd: a link's
// reassembly holds at most one message of at most 66,000 bytes; every fragment past that is a
// counted drop and RSS stays bounded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAUSE } from "./causes.js";
import { addressOf } from "./craft.js";
import { FakeNode } from "./fake-node.js";
import { type Cluster, type Daemon, measure, RSS_BOUND_KB, record, startCluster } from "./kit.js";

const FRAGMENTS = 5000;
const SIZE = 40_000;
/** a reassembly's bound, as the kernel's: one message of at most 66,000 bytes */
const REASM_MAX = 66_000;

let c: Cluster;
let fake: FakeNode | undefined;

beforeAll(async () => {
  c = await startCluster("frag");
});

afterAll(async () => {
  await fake?.close();
  await c?.stop();
});

describe("fragment flood", () => {
  it(`${FRAGMENTS} fragments of 40 KB that never finish: bounded and counted`, async () => {
    const [a, b] = c.daemons as [Daemon, Daemon];
    const caps = (await a.client.nodes()).find((n) => n.address === b.address)?.capabilities ?? 0x7ff;
    fake = await FakeNode.link(a, "fake-fragments", addressOf("fake-fragments"), caps);
    const link = fake;
    const f = await measure(
      c,
      `FIRST_FRAGMENT + ${FRAGMENTS - 1} FRAGMENTs of ${SIZE} bytes, no LAST`,
      async () => {
        const kernelDropped = await link.fragmentFlood(FRAGMENTS, SIZE);
        return { sent: FRAGMENTS, kernelDropped };
      },
    );
    record("fragments", f);
    expect(f.alive).toBe(true);
    expect(f.tablesEqual, f.notes).toBe(true);
    expect(f.linksUp).toBe(true);
    expect(f.counters.linkDowns ?? 0).toBe(0);
    for (const kb of f.rssAfterKb) expect(kb).toBeLessThan(RSS_BOUND_KB);
    // the first fragment that takes the message past 66,000 bytes is `reassembly-oversize` and the
    // partial message goes; every later FRAGMENT then has no FIRST: `fragment-out-of-order`
    const dropped = (f.drops[CAUSE.reassemblyOversize] ?? 0) + (f.drops[CAUSE.fragmentOutOfOrder] ?? 0);
    expect(f.drops[CAUSE.reassemblyOversize] ?? 0).toBeGreaterThanOrEqual(1);
    expect(dropped).toBeGreaterThanOrEqual(FRAGMENTS - Math.ceil(REASM_MAX / SIZE) - (f.kernelDropped ?? 0));
  });
});
