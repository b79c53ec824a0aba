// Random bytes, mutated real datagrams and another cluster's discovery, against three linked
// tipcd holding 6,000 bindings: every datagram that claims a linked peer is a counted drop, no
// table changes, no link drops, RSS stays bounded, learned UDP peers do not grow.
import { USER } from "@tipcjs/codec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAUSE, MALFORMED_CAUSES } from "./causes.js";
import { discovery, fragment, linkProtocol, mutate, nameUpdate, rng } from "./craft.js";
import {
  Attacker,
  type Cluster,
  healthy,
  measure,
  RSS_BOUND_KB,
  record,
  startCluster,
  sum,
  TYPE,
  waitFor,
} from "./kit.js";

const RANDOM = 6000;
const MUTATED = 12_000;
const FOREIGN = 3000;
const FOREIGN_SOURCES = 30;

let c: Cluster;
let spy: Attacker;

beforeAll(async () => {
  // the spy is a configured peer of every daemon: it receives their real discovery datagrams
  spy = await Attacker.open();
  c = await startCluster("garbage", [spy.port]);
});

afterAll(async () => {
  await c?.stop();
  await spy?.close();
});

const userOf = (b: Uint8Array) =>
  b.byteLength >= 4 ? (new DataView(b.buffer, b.byteOffset).getUint32(0) >>> 25) & 0xf : -1;

describe("malformed input", () => {
  it("random datagrams: all dropped under a named cause, nothing else moves", async () => {
    c = await healthy(c, "garbage", [spy.port]);
    const r = rng(14);
    const f = await measure(c, "random bytes, 1..1500 long", async () => {
      let kernelDropped = 0;
      for (const d of c.daemons) {
        const dgs = Array.from({ length: RANDOM / 3 }, () => {
          const b = new Uint8Array(1 + Math.floor(r() * 1500));
          for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
          return b;
        });
        kernelDropped += await spy.flood(dgs, d.port);
      }
      return { sent: RANDOM, kernelDropped };
    });
    record("random", f);
    expect(f.alive).toBe(true);
    expect(f.tablesEqual, f.notes).toBe(true);
    expect(f.linksUp).toBe(true);
    expect(f.counters.linkDowns ?? 0).toBe(0);
    for (const kb of f.rssAfterKb) expect(kb).toBeLessThan(RSS_BOUND_KB);
    expect(sum(f.drops)).toBeGreaterThanOrEqual(RANDOM - (f.kernelDropped ?? 0));
  });

  it("mutated real datagrams: every one claiming a linked peer is a counted drop", async () => {
    // real datagrams: the discovery each daemon sent the spy, and link messages shaped exactly
    // as a linked peer sends them (encoded with the codec, real addresses, plausible seqnos)
    c = await healthy(c, "garbage", [spy.port]);
    await waitFor(() => spy.received.length >= 3, 30_000, "discovery from the daemons");
    // one captured discovery datagram per daemon
    const captured = c.daemons
      .map((d) => spy.received.find((x) => x.port === d.port))
      .filter((x) => x !== undefined)
      .map((x) => new Uint8Array(x.bytes));
    const r = rng(1414);
    const corpus: { to: number; bytes: Uint8Array }[] = [];
    for (const a of c.daemons) {
      for (const b of c.daemons) {
        if (a === b) continue;
        const links = await b.client.links();
        const l = links.find((x) => x.peer === a.address);
        const seqno = typeof l?.rcvNxt === "number" ? l.rcvNxt : 1;
        const base = [
          linkProtocol({ type: "STATE", prevNode: a.address, destNode: b.address, session: 1, seqno }),
          linkProtocol({ type: "RESET", prevNode: a.address, destNode: b.address, session: 1 }),
          nameUpdate({
            prevNode: a.address,
            destNode: b.address,
            seqno,
            namedSeqno: 1,
            items: [{ type: TYPE, lower: 999_999_999, upper: 999_999_999, port: 1, key: 1 }],
          }),
          nameUpdate({
            prevNode: a.address,
            destNode: 0,
            broadcast: true,
            seqno,
            namedSeqno: 1,
            items: [{ type: TYPE, lower: 999_999_998, upper: 999_999_998, port: 1, key: 1 }],
          }),
          fragment({
            prevNode: a.address,
            destNode: b.address,
            seqno,
            type: "FIRST_FRAGMENT",
            fragmentNumber: 1,
            data: new Uint8Array(600),
          }),
        ];
        for (const bytes of base) corpus.push({ to: b.port, bytes });
      }
      for (const bytes of captured) for (const b of c.daemons) corpus.push({ to: b.port, bytes });
    }
    let claimingPeers = 0;
    const f = await measure(c, "mutations of captured and peer-shaped datagrams", async () => {
      let kernelDropped = 0;
      for (const d of c.daemons) {
        const mine = corpus.filter((x) => x.to === d.port);
        const dgs: Uint8Array[] = [];
        for (let k = 0; k < MUTATED / 3; k++) {
          const m = mutate((mine[k % mine.length] as { bytes: Uint8Array }).bytes, r);
          if (userOf(m) !== USER.LINK_CONFIG) claimingPeers++;
          dgs.push(m);
        }
        kernelDropped += await spy.flood(dgs, d.port);
      }
      return { sent: MUTATED, kernelDropped, notes: `${claimingPeers} not discovery` };
    });
    record("mutated", f);
    expect(f.alive).toBe(true);
    expect(f.tablesEqual, f.notes).toBe(true);
    expect(f.counters.linkDowns ?? 0).toBe(0);
    expect(f.linksUp).toBe(true);
    for (const kb of f.rssAfterKb) expect(kb).toBeLessThan(RSS_BOUND_KB);
    // none of them comes from a peer's address: each is dropped, most as a source mismatch
    expect(sum(f.drops)).toBeGreaterThanOrEqual(claimingPeers - (f.kernelDropped ?? 0));
    expect(f.drops[CAUSE.sourceMismatch] ?? 0).toBeGreaterThan(0);
    expect(sum(f.drops, (k) => (MALFORMED_CAUSES as readonly string[]).includes(k))).toBeGreaterThan(0);
  });

  it("another cluster's discovery from many sources: counted, no peer learned", async () => {
    c = await healthy(c, "garbage", [spy.port]);
    const sources = await Promise.all(Array.from({ length: FOREIGN_SOURCES }, () => Attacker.open()));
    const peersBefore = await Promise.all(
      c.daemons.map(async (d) => (await d.client.bearers())[0]?.discoveryPeers.length ?? 0),
    );
    try {
      const f = await measure(c, "discovery with net id 4712, 30 source ports", async () => {
        let kernelDropped = 0;
        for (const [i, s] of sources.entries()) {
          const d = c.daemons[i % c.daemons.length] as (typeof c.daemons)[number];
          const dgs = Array.from({ length: FOREIGN / FOREIGN_SOURCES }, (_, k) =>
            discovery({ nodeId: `foreign-${i}-${k}`, netId: 4712, port: s.port, capabilities: 0x7ff }),
          );
          kernelDropped += await s.flood(dgs, d.port);
        }
        return { sent: FOREIGN, kernelDropped };
      });
      const peersAfter = await Promise.all(
        c.daemons.map(async (d) => (await d.client.bearers())[0]?.discoveryPeers.length ?? 0),
      );
      f.notes = `${f.notes ?? ""} bearer peers ${peersBefore.join("/")} -> ${peersAfter.join("/")}`.trim();
      record("foreign-net-id", f);
      expect(f.alive).toBe(true);
      expect(f.tablesEqual, f.notes).toBe(true);
      expect(f.linksUp).toBe(true);
      expect(peersAfter).toEqual(peersBefore);
      expect(
        (f.drops[CAUSE.otherCluster] ?? 0) + (f.drops[CAUSE.udpForeignNetId] ?? 0),
      ).toBeGreaterThanOrEqual(FOREIGN - (f.kernelDropped ?? 0));
      expect(f.drops[CAUSE.udpForeignNetId] ?? 0).toBeGreaterThan(0);
    } finally {
      await Promise.all(sources.map((s) => s.close()));
    }
  });
});
