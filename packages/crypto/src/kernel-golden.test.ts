// A frame a real kernel sent (Debian 6.1, x86-64, `tipc node set key
// 0x000102030405060708090a0b0c0d0e0f10111213`, node identity "guest1"): its first discovery
// datagram, captured on the interop test's tap0 (tests/interop kernel-crypto.test.ts). It pins
// the cluster-key nonce to the kernel's: `salt ^= __be32_to_cpu(ehdr->addr)` on host-order
// u32s, so on little-endian the addr bytes mix in reversed (the first reading, the wire bytes
// as they are, authenticated nothing the kernel sent).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeMessage, nodeAddressFromId, nodeIdFromString, peekPrevNode } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { seededRandom } from "./__helpers__/packets.js";
import { diagnoseFrame } from "./diagnose.js";
import { createCrypto } from "./engine.js";
import { parseKey } from "./key.js";

const KEY = parseKey("0x000102030405060708090a0b0c0d0e0f10111213");
const FRAME = Uint8Array.from(
  Buffer.from(
    readFileSync(join(__dirname, "__fixtures__/kernel-6.1-discovery-cluster-key.hex"), "utf8").trim(),
    "hex",
  ),
);
const GUEST = nodeIdFromString("guest1");

describe("a Linux 6.1 kernel's encrypted discovery frame (cluster key)", () => {
  it("authenticates under the cluster nonce rule and holds the kernel's DSC_REQ", () => {
    const d = diagnoseFrame(FRAME, KEY);
    expect(d.rule).toBe("cluster");
    expect(d.ehdr).toMatchObject({ user: 13, txKey: 1, seqno: 1, destined: false });
    const m = decodeMessage(d.plaintext as Uint8Array);
    expect(m.user).toBe("LINK_CONFIG");
    if (m.user !== "LINK_CONFIG") return;
    expect(Buffer.from(m.nodeId).equals(Buffer.from(GUEST))).toBe(true);
  });

  it("the engine decrypts it, and encrypting the same packet as that node gives the kernel's bytes", () => {
    const me = nodeIdFromString("tipcd-crypt");
    const rx = createCrypto({ ownAddr: nodeAddressFromId(me), ownNodeId: me, random: seededRandom(1) });
    rx.setKey(KEY, {}, 0);
    const r = rx.decrypt(FRAME, 0);
    if (!r.ok) throw new Error(r.cause);
    expect(r.encrypted).toBe(true);
    const guestAddr = peekPrevNode(r.packet);
    const tx = createCrypto({ ownAddr: guestAddr, ownNodeId: GUEST, random: seededRandom(2) });
    tx.setKey(KEY, {}, 0);
    const out = tx.encrypt(r.packet, undefined, 0);
    if (!out.ok) throw new Error(out.cause);
    expect(Buffer.from(out.frames[0] as Uint8Array).toString("hex")).toBe(Buffer.from(FRAME).toString("hex"));
  });
});
