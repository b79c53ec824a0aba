/**
 * Issue 18 on the memory fabric with virtual time: @tipcjs/crypto between the link engine and
 * the bearers. Same key: links, bulk and updates, nothing in the clear on the wire. Different
 * keys: no link, failures counted. Rotation under load, the master-key exchange, replays,
 * plaintext refusal and the admission allow-list.
 */
import { isEncrypted } from "@tipcjs/crypto";
import { type MediaAddress, mediaAddressKey } from "@tipcjs/transport";
import { seededRandom as seededBytesSource } from "@tipcjs/transport-memory";
import { describe, expect, it } from "vitest";
import { Cluster } from "./__helpers__/cluster.js";
import { CRYPTO_MTU_OVERHEAD } from "./crypto.js";
import type { NodeOptions, TipcNode } from "./types.js";

const KEY_A = "0x000102030405060708090a0b0c0d0e0f10111213";
const KEY_B = "0xffeeddccbbaa99887766554433221100a0a1a2a3";
const KEY_C = "0x2122232425262728292a2b2c2d2e2f3031323334";

/** Deterministic random bytes for the crypto engines (session keys, key_gen, delays). */
function bytes(seed: number): (n: number) => Uint8Array {
  const r = seededBytesSource(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

function keyed(
  i: number,
  key: string | undefined,
  extra: Partial<NodeOptions["crypto"]> = {},
): Partial<NodeOptions> {
  return {
    crypto: { ...(key ? { keys: [{ key }] } : {}), random: bytes(100 + i), ...extra },
  };
}

async function pair(opts0: Partial<NodeOptions>, opts1: Partial<NodeOptions>, seed = 18): Promise<Cluster> {
  const c = new Cluster({ size: 2, seed });
  await c.startMember(0, opts0);
  await c.startMember(1, opts1);
  return c;
}

/** the peers' bindings of user types (not their node-state binding) */
const remote = (n: TipcNode) => n.bindings().filter((b) => b.node !== n.address && b.type >= 1000);
const sameAddress = (x: MediaAddress, y: MediaAddress | undefined) =>
  y !== undefined && mediaAddressKey(x) === mediaAddressKey(y);
const cryptoDrops = (n: TipcNode) => n.stats().drops.crypto;

describe("encrypted links (issue 18)", () => {
  it("same cluster key: link up, bulk and updates both ways, and only ciphertext on the wire", async () => {
    const c = new Cluster({ size: 2, seed: 1 });
    const seen = { total: 0, clear: 0 };
    c.fabric.observe((ev) => {
      if (ev.kind !== "transmit") return;
      seen.total++;
      if (!isEncrypted(ev.datagram)) seen.clear++;
    });
    const a = (await c.startMember(0, keyed(0, KEY_A))).node;
    const b = (await c.startMember(1, keyed(1, KEY_A))).node;
    // bulk: bindings published before the link
    for (let i = 0; i < 50; i++) a.publish({ type: 1000, lower: i });
    for (let i = 0; i < 50; i++) b.publish({ type: 2000, lower: i });
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    expect(c.runUntil(() => c.converged(), 3000)).toBeGreaterThanOrEqual(0);
    // updates after the link
    for (let i = 50; i < 100; i++) a.publish({ type: 1000, lower: i });
    for (let i = 50; i < 100; i++) b.publish({ type: 2000, lower: i });
    b.withdraw(b.ownBindings().find((x) => x.type === 2000 && x.lower === 7) as never);
    expect(c.runUntil(() => c.converged(), 3000)).toBeGreaterThanOrEqual(0);
    expect(remote(a).length).toBe(99);
    expect(remote(b).length).toBe(100);
    expect(seen.total).toBeGreaterThan(20);
    expect(seen.clear).toBe(0);
    // the kernel's counters: every frame authenticated, none failed
    const s = a.cryptoStatus();
    expect(s?.stats.rx.ok).toBeGreaterThan(0);
    expect(s?.stats.rx.nok).toBe(0);
    expect(cryptoDrops(a)["crypto-auth-failed"]).toBeUndefined();
  });

  it("the link MTU leaves room for the ehdr, the tag and the padding", async () => {
    const c = await pair(keyed(0, KEY_A), keyed(1, KEY_A));
    const mtus: number[] = [];
    c.get(0).on("nodeUp", (e) => mtus.push(e.mtu));
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    // the bearer's MTU less the overhead, rounded down to a multiple of 4 as the link keeps it
    const bearerMtu = c.members[0]?.transport.mtu as number;
    expect(mtus).toEqual([(bearerMtu - CRYPTO_MTU_OVERHEAD) & ~3]);
  });

  it("different keys: no link, authentication failures counted on both sides, nothing applied", async () => {
    const c = await pair(keyed(0, KEY_A), keyed(1, KEY_B));
    c.get(0).publish({ type: 1000, lower: 1 });
    c.get(1).publish({ type: 2000, lower: 1 });
    c.clock.advance(5000);
    for (const i of [0, 1]) {
      const n = c.get(i);
      expect(n.nodes().filter((p) => p.up)).toEqual([]);
      expect(remote(n)).toEqual([]);
      expect(cryptoDrops(n)["crypto-auth-failed"]).toBeGreaterThan(0);
      expect(n.stats().link.drops).toEqual({});
    }
  });

  it("refuses plaintext from a node without keys (and that node never sees a packet it can read)", async () => {
    const c = await pair(keyed(0, KEY_A), {});
    c.get(1).publish({ type: 2000, lower: 1 });
    c.clock.advance(5000);
    expect(c.get(0).nodes()).toEqual([]);
    expect(remote(c.get(0))).toEqual([]);
    expect(cryptoDrops(c.get(0))["crypto-plaintext-refused"]).toBeGreaterThan(0);
    // the keyless node counts our ciphertext as undecodable
    expect(
      c
        .get(1)
        .nodes()
        .filter((p) => p.up),
    ).toEqual([]);
  });

  it("refusePlaintext: false takes a keyless peer's plaintext, as the kernel does", async () => {
    const c = await pair(keyed(0, KEY_A, { refusePlaintext: false }), keyed(1, undefined));
    c.clock.advance(5000);
    // the keyless node cannot read our ciphertext: it never links, but we heard it in the clear
    expect(
      c
        .get(0)
        .nodes()
        .map((p) => p.address),
    ).toEqual([c.get(1).address]);
    expect(cryptoDrops(c.get(0))["crypto-plaintext-refused"]).toBeUndefined();
  });

  it("key rotation on both sides while 10,000 updates flow: none lost, no link reset", async () => {
    const c = await pair(keyed(0, KEY_A), keyed(1, KEY_A), 3);
    const a = c.get(0);
    const b = c.get(1);
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    // the first key goes from pending to active on the kernel's timers (10 s after both use it)
    const activeHint = (n: TipcNode) => n.cryptoStatus()?.keys.tx.find((k) => k.state === "active")?.hint;
    expect(
      c.runUntil(() => activeHint(a) !== undefined && activeHint(b) !== undefined, 30_000),
    ).toBeGreaterThan(0);
    const downs: string[] = [];
    for (const n of [a, b]) n.on("linkDown", (e) => downs.push(`${e.name} ${e.reason}`));
    let sent = 0;
    const TOTAL = 10_000;
    // 100 updates every 10 ms: 1 s of traffic; the new key is set at 300 ms on a, at 450 ms on b
    for (let step = 0; sent < TOTAL; step++) {
      for (let i = 0; i < 100; i++) a.publish({ type: 5000, lower: sent++ });
      if (step === 30) a.setKey({ key: KEY_C });
      if (step === 45) b.setKey({ key: KEY_C });
      c.clock.advance(10);
    }
    const arrived = c.runUntil(() => remote(b).length === TOTAL, 20_000);
    expect({ arrived, got: remote(b).length, drops: cryptoDrops(b), downs }).toMatchObject({
      got: TOTAL,
      downs: [],
    });
    expect(arrived).toBeGreaterThanOrEqual(0);
    expect(downs).toEqual([]);
    // both are now on the new key: the old one went passive (then away) on the kernel's timers
    c.clock.advance(30_000);
    const hint = "2c2d2e2f30"; // KEY_C: hex of the 5 key bytes before the salt
    expect([activeHint(a), activeHint(b)]).toEqual([hint, hint]);
    // and traffic still flows on it
    a.publish({ type: 5001, lower: 1 });
    expect(c.runUntil(() => remote(b).length === TOTAL + 1, 3000)).toBeGreaterThanOrEqual(0);
    expect(downs).toEqual([]);
    expect(cryptoDrops(b)["crypto-auth-failed"] ?? 0).toBe(0);
  });

  it("per-node keys: each node's TX key is the other's RX key; they link and carry updates", async () => {
    const c = await pair(
      {
        crypto: {
          keys: [
            { key: KEY_A, nodeId: "node0" },
            { key: KEY_B, nodeId: "node1" },
          ],
          random: bytes(5),
        },
      },
      {
        crypto: {
          keys: [
            { key: KEY_B, nodeId: "node1" },
            { key: KEY_A, nodeId: "node0" },
          ],
          random: bytes(6),
        },
      },
    );
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    c.get(0).publish({ type: 1000, lower: 1 });
    c.get(1).publish({ type: 2000, lower: 1 });
    expect(c.runUntil(() => c.converged(), 3000)).toBeGreaterThanOrEqual(0);
    for (const i of [0, 1]) {
      expect(
        c
          .get(i)
          .cryptoStatus()
          ?.keys.tx.find((k) => k.state !== "none")?.mode,
      ).toBe("per-node");
      expect(cryptoDrops(c.get(i))["crypto-auth-failed"] ?? 0).toBe(0);
    }
  });

  it("master key: two nodes exchange session keys by themselves and link", async () => {
    const c = await pair(
      { crypto: { keys: [{ key: KEY_A, master: true }], random: bytes(1) } },
      { crypto: { keys: [{ key: KEY_A, master: true }], random: bytes(2) } },
    );
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    c.get(0).setRekeying("now");
    c.get(1).setRekeying("now");
    c.get(0).publish({ type: 1000, lower: 1 });
    const sessionActive = (n: TipcNode) =>
      (n.cryptoStatus()?.keys.tx ?? []).some((k) => k.state === "active" && k.id !== 0);
    expect(
      c.runUntil(() => sessionActive(c.get(0)) && sessionActive(c.get(1)), 60_000),
    ).toBeGreaterThanOrEqual(0);
    // each side holds the other's session key as an RX key
    for (const i of [0, 1]) {
      const peers = c.get(i).cryptoStatus()?.keys.peers ?? [];
      expect(peers.some((p) => p.keys.some((k) => k.id !== 0 && k.state !== "none"))).toBe(true);
    }
    c.get(1).publish({ type: 2000, lower: 1 });
    expect(c.runUntil(() => c.converged(), 3000)).toBeGreaterThanOrEqual(0);
    expect(c.get(0).stats().drops.crypto["crypto-key-msg-not-decrypted"]).toBeUndefined();
  });

  it("replayed captured ciphertext is refused and counted; the table does not change", async () => {
    const c = await pair(keyed(0, KEY_A), keyed(1, KEY_A));
    const a = c.get(0);
    const b = c.get(1);
    expect(c.runUntil(() => c.allUp(), 5000)).toBeGreaterThanOrEqual(0);
    const aAddr = c.members[0]?.transport.localAddress;
    const bAddr = c.members[1]?.transport.localAddress;
    const captured: Uint8Array[] = [];
    const off = c.fabric.observe((ev) => {
      if (ev.kind === "deliver" && sameAddress(ev.from, aAddr) && sameAddress(ev.to, bAddr))
        captured.push(ev.datagram.slice());
    });
    const binding = a.publish({ type: 3000, lower: 9 });
    c.clock.advance(100);
    a.withdraw(binding);
    c.clock.advance(100);
    off();
    expect(c.runUntil(() => c.converged(), 2000)).toBeGreaterThanOrEqual(0);
    expect(remote(b)).toEqual([]);
    expect(captured.length).toBeGreaterThan(0);
    // an attacker on the network sends every captured frame again, as from a
    const attacker = c.fabric.join();
    for (const d of captured) attacker.send(bAddr as never, d);
    c.clock.advance(100);
    expect(remote(b)).toEqual([]);
    expect(cryptoDrops(b)).toEqual({ "crypto-replay": captured.length });
    expect(b.nodes().every((p) => p.up)).toBe(true);
  });

  it("admission allow-list without keys: only listed peers link, others are dropped and counted", async () => {
    const c = new Cluster({ size: 3, seed: 7 });
    // node0 admits node1 by node id, nobody else
    await c.startMember(0, { admission: { nodeIds: ["node1"] } });
    await c.startMember(1);
    await c.startMember(2);
    c.clock.advance(5000);
    const n0 = c.get(0);
    expect(n0.nodes().map((p) => p.address)).toEqual([c.get(1).address]);
    expect(n0.nodes()[0]?.up).toBe(true);
    expect(cryptoDrops(n0)["not-admitted"]).toBeGreaterThan(0);
    // and by address
    const c2 = new Cluster({ size: 2, seed: 8 });
    await c2.startMember(1);
    await c2.startMember(0, { admission: { addresses: [c2.get(1).address] } });
    expect(c2.runUntil(() => c2.allUp(), 5000)).toBeGreaterThanOrEqual(0);
  });

  it("setKey and friends: typed errors, and NOT_SUPPORTED without the crypto option", async () => {
    const c = await pair(keyed(0, undefined), {});
    expect(() => c.get(0).setKey({ key: "short" })).toThrow(
      expect.objectContaining({ code: "BAD_ARGUMENT" }),
    );
    expect(() => c.get(0).setKey({ key: KEY_A, algorithm: "ccm(aes)" })).toThrow(
      expect.objectContaining({ code: "BAD_ARGUMENT" }),
    );
    expect(() => c.get(1).setKey({ key: KEY_A })).toThrow(expect.objectContaining({ code: "NOT_SUPPORTED" }));
    expect(c.get(1).cryptoStatus()).toBeUndefined();
    expect(c.get(0).setKey({ key: KEY_A })).toBeGreaterThan(0);
    c.get(0).flushKeys();
    expect(
      c
        .get(0)
        .cryptoStatus()
        ?.keys.tx.every((k) => k.state === "none"),
    ).toBe(true);
  });
});
