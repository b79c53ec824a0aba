// A discovery flood of fake identities whose media address points at a victim the attacker
// chose: the nodes known but not linked stay under a cap, replies are rate-limited (datagrams
// reaching the victim per forged datagram, the amplification, stays under BOUND.amplification),
// each refused identity is a counted `unlinked-peers-full` drop, each reply left out a rate-limit drop, and nothing else changes.
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOUND, CAUSE } from "./causes.js";
import { discovery } from "./craft.js";
import {
  Attacker,
  type Cluster,
  type Daemon,
  measure,
  RSS_BOUND_KB,
  record,
  snapshot,
  startCluster,
} from "./kit.js";

const FAKE = 3000;
/** how long the victim keeps counting after the flood (the fake links' RESETs go on) */
const OBSERVE_MS = 3000;

let c: Cluster;
let attacker: Attacker;
let victim: Attacker;

beforeAll(async () => {
  attacker = await Attacker.open();
  victim = await Attacker.open();
  c = await startCluster("disc");
});

afterAll(async () => {
  await c?.stop();
  await attacker?.close();
  await victim?.close();
});

describe("discovery flood", () => {
  it("fake identities: capped, rate-limited replies, counted drops", async () => {
    const [a] = c.daemons as [Daemon];
    const known0 = (await snapshot(a))["nodes:known"] ?? 0;
    const forged = Array.from({ length: FAKE }, (_, k) =>
      discovery({ nodeId: `fake-${k}`, port: victim.port, capabilities: 0x7ff, signature: k & 0x7fff }),
    );
    let reflected = 0;
    let knownAfter = 0;
    const f = await measure(c, `DSC_REQ from ${FAKE} fake identities, replies to a victim port`, async () => {
      const kernelDropped = await attacker.flood(forged, a.port);
      // a fixed observation window (a measurement, not a wait for a condition): what reaches the
      // victim in it is the figure the amplification is computed from
      await delay(OBSERVE_MS);
      reflected = victim.received.length;
      knownAfter = (await snapshot(a))["nodes:known"] ?? 0;
      return {
        sent: FAKE,
        kernelDropped,
        amplification: reflected / FAKE,
        notes: `victim received ${reflected} datagrams (${victim.received.reduce((n, x) => n + x.bytes.byteLength, 0)} bytes) in the flood + ${OBSERVE_MS} ms; nodes known ${known0} -> ${knownAfter}`,
      };
    });
    record("discovery-flood", f);
    expect(f.alive).toBe(true);
    expect(f.tablesEqual, f.notes).toBe(true);
    expect(f.linksUp).toBe(true);
    expect(f.counters.linkDowns ?? 0).toBe(0);
    for (const kb of f.rssAfterKb) expect(kb).toBeLessThan(RSS_BOUND_KB);
    expect(knownAfter - known0).toBeLessThanOrEqual(BOUND.unlinkedNodes);
    expect(f.amplification ?? 0).toBeLessThan(BOUND.amplification);
    // every identity past the cap is refused and counted; the ones taken (more than the bucket's
    // burst of 100) draw replies and RESETs from the rate limit, so some of those are left out
    expect(f.drops[CAUSE.unlinkedFull] ?? 0).toBeGreaterThanOrEqual(
      FAKE - BOUND.unlinkedNodes - (f.kernelDropped ?? 0),
    );
    expect(
      (f.drops[CAUSE.discoveryRateLimited] ?? 0) + (f.drops[CAUSE.resetRateLimited] ?? 0),
    ).toBeGreaterThan(0);
  });
});
