// Forged NAME_DISTRIBUTOR messages claiming a linked peer, on the broadcast link (eight copies
// ahead of the peer's next broadcast seqno, then the peer's genuine updates) and on the unicast
// link (a blind sweep of every 16-bit seqno, legacy messages that publish a stranger's bindings
// and withdraw real ones). Once from the attacker's own address (the source check must drop
// them) and once with the peer's own source address, spoofed through a raw socket (nothing can
// tell those apart: a gap that does not close must lead to a re-sync of that peer). Every table
// must equal the truth afterwards.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAUSE, COUNTER } from "./causes.js";
import { nameUpdate } from "./craft.js";
import {
  Attacker,
  type Cluster,
  type Daemon,
  healthy,
  measure,
  pastLinkUpGrace,
  RSS_BOUND_KB,
  record,
  refreshTruth,
  Spoofer,
  snapshot,
  startCluster,
  TYPE,
} from "./kit.js";

const BCAST_FORGED = 8;
const SWEEP = 65_536;
/** genuine updates the claimed peer makes after the forgery */
const CHURN = 100;

let c: Cluster;
let attacker: Attacker;
let spoofer: Spoofer;

beforeAll(async () => {
  attacker = await Attacker.open();
  spoofer = Spoofer.open();
  c = await startCluster("names");
});

afterAll(async () => {
  await c?.stop();
  await attacker?.close();
  spoofer?.close();
});

/** The claimed peer publishes CHURN new bindings and withdraws CHURN / 2 of them. */
async function churn(b: Daemon, round: number): Promise<void> {
  const base = 500_000_000 + round * 10_000;
  await Promise.all(
    Array.from({ length: CHURN }, (_, k) => b.client.bind({ type: TYPE, lower: base + k, upper: base + k })),
  );
  await Promise.all(
    Array.from({ length: CHURN / 2 }, (_, k) =>
      b.client.unbind({ type: TYPE, lower: base + k, upper: base + k }),
    ),
  );
  await refreshTruth(c);
}

async function broadcastForgery(spoofed: boolean, round: number) {
  c = await healthy(c, "names");
  if (spoofed) await pastLinkUpGrace(c);
  const [a, b] = c.daemons as [Daemon, Daemon];
  // the peer's next broadcast seqno: its first-time broadcast packets so far, from 1
  const sent = Number((await snapshot(b))["stat:broadcastSent"] ?? 0);
  const next = (sent + 1) & 0xffff;
  const forged = Array.from({ length: BCAST_FORGED }, (_, k) =>
    nameUpdate({
      prevNode: b.address,
      destNode: 0,
      broadcast: true,
      seqno: next + k,
      namedSeqno: 40_000 + k,
      items: [{ type: TYPE, lower: 900_000_000 + k, upper: 900_000_000 + k, port: 7, key: k }],
    }),
  );
  return measure(
    c,
    `${BCAST_FORGED} broadcast updates claiming a peer, ${spoofed ? "spoofed source" : "attacker's source"}`,
    async () => {
      const kernelDropped = spoofed
        ? await spoofer.flood(forged, b.port, a.port)
        : await attacker.flood(forged, a.port);
      await churn(b, round);
      return { sent: BCAST_FORGED, kernelDropped };
    },
    { expectLinksUp: !spoofed },
  );
}

async function unicastSweep(spoofed: boolean) {
  c = await healthy(c, "names");
  if (spoofed) await pastLinkUpGrace(c);
  const [a, b] = c.daemons as [Daemon, Daemon];
  const real = (await b.client.bindings({ own: true })).filter((x) => x.type === TYPE);
  const sweep = Array.from({ length: SWEEP }, (_, s) => {
    const victim = real[(s >> 1) % real.length];
    return nameUpdate({
      prevNode: b.address,
      destNode: a.address,
      seqno: s,
      namedSeqno: s,
      legacy: true,
      withdrawal: (s & 1) === 1 && victim !== undefined,
      items:
        (s & 1) === 1 && victim
          ? [
              {
                type: victim.type,
                lower: victim.lower,
                upper: victim.upper,
                port: victim.port,
                key: victim.key,
              },
            ]
          : [{ type: TYPE, lower: 800_000_000 + s, upper: 800_000_000 + s, port: 9, key: s }],
    });
  });
  return measure(
    c,
    `unicast seqno sweep 0..65535 claiming a peer, ${spoofed ? "spoofed source" : "attacker's source"}`,
    async () => {
      const kernelDropped = spoofed
        ? await spoofer.flood(sweep, b.port, a.port)
        : await attacker.flood(sweep, a.port);
      await churn(b, spoofed ? 11 : 10);
      return { sent: SWEEP, kernelDropped };
    },
    { expectLinksUp: !spoofed },
  );
}

const common = (f: Awaited<ReturnType<typeof measure>>) => {
  expect(f.alive).toBe(true);
  expect(f.tablesEqual, f.notes).toBe(true);
  for (const kb of f.rssAfterKb) expect(kb).toBeLessThan(RSS_BOUND_KB);
};

describe("forged NAME_DISTRIBUTOR", () => {
  it("on the broadcast link, from the attacker's address: dropped as a source mismatch", async () => {
    const f = await broadcastForgery(false, 1);
    record("bcast-names", f);
    common(f);
    expect(f.linksUp).toBe(true);
    expect(f.counters.linkDowns ?? 0).toBe(0);
    expect(f.drops[CAUSE.sourceMismatch] ?? 0).toBeGreaterThanOrEqual(BCAST_FORGED - (f.kernelDropped ?? 0));
  });

  it("on the broadcast link, spoofed from the peer's address: the gap leads to one re-sync", async () => {
    const f = await broadcastForgery(true, 2);
    record("bcast-names-spoofed", f);
    common(f);
    expect(f.linksUp).toBe(true);
    expect(f.counters[COUNTER.resyncs] ?? 0).toBeGreaterThanOrEqual(1);
  });

  it("a blind unicast seqno sweep from the attacker's address: every one dropped", async () => {
    const f = await unicastSweep(false);
    record("unicast-sweep", f);
    common(f);
    expect(f.linksUp).toBe(true);
    expect(f.counters.linkDowns ?? 0).toBe(0);
    expect(f.drops[CAUSE.sourceMismatch] ?? 0).toBeGreaterThanOrEqual(SWEEP - (f.kernelDropped ?? 0));
  });

  it("a blind unicast seqno sweep spoofed from the peer's address: out-of-window counted, re-synced", async () => {
    const f = await unicastSweep(true);
    record("unicast-sweep-spoofed", f);
    common(f);
    expect(f.linksUp).toBe(true);
    expect(f.drops[CAUSE.outOfWindow] ?? 0).toBeGreaterThan(0);
    expect(f.counters[COUNTER.resyncs] ?? 0).toBeGreaterThanOrEqual(1);
  });
});
