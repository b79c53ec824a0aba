// Issue 18, test 5: the attack classes of the hardening work rerun against encrypted daemons
// (one cluster key from an owner-only key file). Forged distributor messages, RESETs, a
// discovery flood and identity spoofing, each from the attacker's address and spoofed from a
// peer's: plaintext is refused (`crypto-plaintext-refused`), forgeries dressed in an encryption
// header fail authentication (`crypto-auth-failed`). No table changes, no link resets (a spoofed
// RESET resets a link in the clear; here it cannot), no new node is known, nothing answers, and
// every forged datagram is counted as refused by the crypto layer.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EHDR_SIZE, TAG_SIZE, writeEhdr } from "../../../packages/crypto/src/index.js";
import { discovery, linkProtocol, nameUpdate } from "./craft.js";
import {
  Attacker,
  type ClassFigures,
  type Cluster,
  type Daemon,
  measure,
  RSS_BOUND_KB,
  record,
  Spoofer,
  snapshot,
  startCluster,
  sum,
  TYPE,
} from "./kit.js";

const KEY = `0x${randomBytes(20).toString("hex")}`;
const SWEEP = 4096;
const FAKE = 3000;

let c: Cluster;
let attacker: Attacker;
let spoofer: Spoofer;
let victim: Attacker;
let flags: string[];

const REFUSED = "crypto:crypto-plaintext-refused";
const AUTH_FAILED = "crypto:crypto-auth-failed";

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "tipcd-attack-keys-"));
  const file = join(dir, "cluster.key");
  writeFileSync(file, `${KEY}\n`);
  chmodSync(file, 0o600);
  flags = ["--key-file", file];
  attacker = await Attacker.open();
  victim = await Attacker.open();
  spoofer = Spoofer.open();
  c = await startCluster("crypt", [], flags);
});

afterAll(async () => {
  await c?.stop();
  await attacker?.close();
  await victim?.close();
  spoofer?.close();
});

/** A forged TIPC packet dressed as the kernel's encrypted frame: ehdr, the bytes, a random tag. */
function sealedForgery(packet: Uint8Array, prevNode: number, seqno: number): Uint8Array {
  const padded = (packet.length + 3) & ~3;
  const out = new Uint8Array(EHDR_SIZE + padded + TAG_SIZE);
  writeEhdr(
    {
      user: 0,
      destined: false,
      txKey: 1,
      rxKeyActive: 0,
      keepalive: false,
      masterKey: false,
      rxNokey: false,
      seqno,
      addr: prevNode,
    },
    out,
  );
  out.set(packet, EHDR_SIZE);
  out.set(randomBytes(TAG_SIZE), EHDR_SIZE + padded);
  return out;
}

/** Forged traffic claiming `b`, to `a`: updates on both links, RESETs, a discovery naming b's address with another id. */
function forgeries(a: Daemon, b: Daemon): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let k = 0; k < 8; k++)
    out.push(
      nameUpdate({
        prevNode: b.address,
        destNode: 0,
        broadcast: true,
        seqno: k + 1,
        namedSeqno: 40_000 + k,
        items: [{ type: TYPE, lower: 900_000_000 + k, upper: 900_000_000 + k, port: 7, key: k }],
      }),
    );
  for (let s = 0; s < SWEEP; s++)
    out.push(
      nameUpdate({
        prevNode: b.address,
        destNode: a.address,
        seqno: s,
        namedSeqno: s,
        legacy: true,
        withdrawal: s % 2 === 1,
        items: [{ type: TYPE, lower: 800_000_000 + s, upper: 800_000_000 + s, port: 9, key: s }],
      }),
    );
  for (const session of [0, 0x4000, 0x8000, 0xc000])
    out.push(linkProtocol({ type: "RESET", prevNode: b.address, destNode: a.address, session }));
  out.push(discovery({ nodeId: "impostor", prevNode: b.address, port: b.port, capabilities: 0x7ff }));
  return out;
}

function expectUnharmed(f: ClassFigures, sent: number): void {
  expect(f.alive).toBe(true);
  expect(f.tablesEqual, f.notes).toBe(true);
  expect(f.linksUp).toBe(true);
  expect(f.counters.linkDowns ?? 0).toBe(0);
  expect(f.counters.resyncs ?? 0).toBe(0);
  for (const kb of f.rssAfterKb) expect(kb).toBeLessThan(RSS_BOUND_KB);
  // every forged datagram that reached tipcd is refused by the crypto layer, before the link
  expect((f.drops[REFUSED] ?? 0) + (f.drops[AUTH_FAILED] ?? 0)).toBeGreaterThanOrEqual(
    sent - (f.kernelDropped ?? 0),
  );
  expect(sum(f.drops, (k) => k.startsWith("link:") || k.startsWith("distributor:"))).toBe(0);
}

describe("attacks on encrypted daemons (issue 18, test 5)", () => {
  for (const spoofed of [false, true])
    for (const sealed of [false, true]) {
      const how = `${sealed ? "in a forged encryption header" : "in the clear"}, ${spoofed ? "spoofed from the peer's address" : "from the attacker's address"}`;
      it(`forged updates, RESETs and identity claims ${how}: refused and counted, nothing changes`, async () => {
        const [a, b] = c.daemons as [Daemon, Daemon];
        let seq = 1_000_000 + (spoofed ? 1_000_000 : 0);
        const forged = forgeries(a, b).map((p) => (sealed ? sealedForgery(p, b.address, seq++) : p));
        const f = await measure(c, `forged updates, RESETs, impostor discovery ${how}`, async () => {
          const kernelDropped = spoofed
            ? await spoofer.flood(forged, b.port, a.port)
            : await attacker.flood(forged, a.port);
          return { sent: forged.length, kernelDropped };
        });
        record(`encrypted-${sealed ? "sealed" : "clear"}-${spoofed ? "spoofed" : "direct"}`, f);
        expectUnharmed(f, forged.length);
        expect(f.drops[sealed ? AUTH_FAILED : REFUSED] ?? 0).toBeGreaterThan(0);
      });
    }

  it("a discovery flood of fake identities: no node learned, no reply, every datagram refused", async () => {
    const [a] = c.daemons as [Daemon];
    const known0 = (await snapshot(a))["nodes:known"] ?? 0;
    const forged = Array.from({ length: FAKE }, (_, k) =>
      discovery({ nodeId: `fake-${k}`, port: victim.port, capabilities: 0x7ff, signature: k & 0x7fff }),
    );
    let knownAfter = known0;
    const f = await measure(c, `DSC_REQ from ${FAKE} fake identities to an encrypted daemon`, async () => {
      const kernelDropped = await attacker.flood(forged, a.port);
      // a fixed observation window (a measurement): what reaches the victim in it
      await delay(1000);
      knownAfter = (await snapshot(a))["nodes:known"] ?? 0;
      return { sent: FAKE, kernelDropped, amplification: victim.received.length / FAKE };
    });
    record("encrypted-discovery-flood", f);
    expectUnharmed(f, FAKE);
    expect(knownAfter).toBe(known0);
    expect(f.amplification).toBe(0);
  });
});
