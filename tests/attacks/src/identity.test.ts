// Forged RESETs and identity spoofing against a linked peer: from the attacker's own address a
// RESET claiming a peer is a source mismatch and no link drops; a discovery message claiming a
// linked node's address with another identity is a counted drop and the node keeps its name.
// Spoofed from the peer's address a RESET is indistinguishable from the peer's: the link may
// reset, but it comes back and every table returns to the truth.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAUSE } from "./causes.js";
import { discovery, linkProtocol } from "./craft.js";
import {
  Attacker,
  type Cluster,
  type Daemon,
  healthy,
  linksUp,
  measure,
  RSS_BOUND_KB,
  record,
  Spoofer,
  startCluster,
} from "./kit.js";

/** four sessions a quarter of the 16-bit space apart: one is always "newer" than the peer's */
const SESSIONS = [0, 0x4000, 0x8000, 0xc000];
const RESET_ROUNDS = 50;
const SPOOF_ROUNDS = 20;

let c: Cluster;
let attacker: Attacker;
let spoofer: Spoofer;

beforeAll(async () => {
  attacker = await Attacker.open();
  spoofer = Spoofer.open();
  c = await startCluster("ident");
});

afterAll(async () => {
  await c?.stop();
  await attacker?.close();
  spoofer?.close();
});

/** RESETs claiming `b`, to `a`, one per session guess, for every pair of daemons. */
function resets(rounds: number): { to: Daemon; from: Daemon; bytes: Uint8Array }[] {
  const out: { to: Daemon; from: Daemon; bytes: Uint8Array }[] = [];
  for (let r = 0; r < rounds; r++)
    for (const a of c.daemons)
      for (const b of c.daemons) {
        if (a === b) continue;
        for (const s of SESSIONS)
          out.push({
            to: a,
            from: b,
            bytes: linkProtocol({ type: "RESET", prevNode: b.address, destNode: a.address, session: s + r }),
          });
      }
  return out;
}

describe("forged RESET and identity spoofing", () => {
  it("RESETs claiming a linked peer from the attacker's address: dropped, no link goes down", async () => {
    c = await healthy(c, "ident");
    const forged = resets(RESET_ROUNDS);
    const f = await measure(c, "RESET claiming a peer, 4 session guesses, every pair", async () => {
      let kernelDropped = 0;
      for (const d of c.daemons)
        kernelDropped += await attacker.flood(
          forged.filter((x) => x.to === d).map((x) => x.bytes),
          d.port,
        );
      return { sent: forged.length, kernelDropped };
    });
    record("reset", f);
    expect(f.alive).toBe(true);
    expect(f.tablesEqual, f.notes).toBe(true);
    expect(f.counters.linkDowns ?? 0).toBe(0);
    expect(f.linksUp).toBe(true);
    for (const kb of f.rssAfterKb) expect(kb).toBeLessThan(RSS_BOUND_KB);
    expect(f.drops[CAUSE.sourceMismatch] ?? 0).toBeGreaterThanOrEqual(forged.length - (f.kernelDropped ?? 0));
  });

  it("RESETs spoofed from the peer's address: links come back, tables return to the truth", async () => {
    c = await healthy(c, "ident");
    const forged = resets(2);
    const f = await measure(
      c,
      "RESET spoofed from the peer's address, 4 session guesses, every pair, twice",
      async () => {
        let kernelDropped = 0;
        for (const x of forged) kernelDropped += await spoofer.flood([x.bytes], x.from.port, x.to.port);
        return { sent: forged.length, kernelDropped };
      },
      { expectLinksUp: false },
    );
    record("reset-spoofed", f);
    expect(f.alive).toBe(true);
    expect(f.tablesEqual, f.notes).toBe(true);
    expect(f.linksUp).toBe(true);
    for (const kb of f.rssAfterKb) expect(kb).toBeLessThan(RSS_BOUND_KB);
  });

  it("a linked node keeps its identity: conflicting discovery claims are counted drops", async () => {
    c = await healthy(c, "ident");
    const [a, b] = c.daemons as [Daemon, Daemon];
    const caps = (await a.client.nodes()).find((n) => n.address === b.address)?.capabilities ?? 0x7ff;
    // each round: the four RESETs, then discovery claiming b's address as "attacker-id" with the
    // attacker's media address (so replies and the link come to the attacker)
    // first six discovery datagrams alone, then rounds with RESETs ahead of them
    const forged: Uint8Array[] = Array.from({ length: 6 }, (_, k) =>
      discovery({
        type: k % 2 === 0 ? "DSC_REQ" : "DSC_RESP",
        nodeId: "attacker-id",
        prevNode: b.address,
        port: attacker.port,
        capabilities: caps,
        signature: 0x1000 + k,
      }),
    );
    for (let r = 0; r < SPOOF_ROUNDS; r++) {
      for (const s of SESSIONS)
        forged.push(
          linkProtocol({ type: "RESET", prevNode: b.address, destNode: a.address, session: s + r }),
        );
      forged.push(
        discovery({
          nodeId: "attacker-id",
          prevNode: b.address,
          port: attacker.port,
          capabilities: caps,
          signature: 0x2000 + r,
        }),
      );
      forged.push(
        discovery({
          type: "DSC_RESP",
          nodeId: "attacker-id",
          prevNode: b.address,
          port: attacker.port,
          capabilities: caps,
        }),
      );
    }
    const f = await measure(c, "RESET + discovery claiming a linked node as attacker-id", async () => {
      const kernelDropped = await attacker.flood(forged, a.port);
      return { sent: forged.length, kernelDropped };
    });
    const seen = (await a.client.nodes()).find((n) => n.address === b.address);
    f.notes = `${f.notes ?? ""} ${b.nodeId} seen by ${a.nodeId} as ${seen?.nodeId} (up: ${seen?.up})`.trim();
    record("identity-spoof", f);
    expect(f.alive).toBe(true);
    expect(seen?.nodeId).toBe(b.nodeId);
    expect(await linksUp(c)).toBe(true);
    expect(f.counters.linkDowns ?? 0).toBe(0);
    expect(f.tablesEqual, f.notes).toBe(true);
    expect(f.drops[CAUSE.identityConflict] ?? 0).toBeGreaterThanOrEqual(1);
  });
});
