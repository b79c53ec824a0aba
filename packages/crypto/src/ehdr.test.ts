import { createCipheriv } from "node:crypto";
import { nodeAddressFromId } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { data, discovery, ID_A, ID_B, seededRandom, state } from "./__helpers__/packets.js";
import { buildIv, EHDR_CFG_SIZE, EHDR_SIZE, isEncrypted, readEhdr, writeEhdr } from "./ehdr.js";
import { createCrypto } from "./engine.js";
import { parseKey } from "./key.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("struct tipc_ehdr byte layout (crypto.h)", () => {
  it("short form: w0 bits, 64-bit seqno, addr", () => {
    const out = new Uint8Array(EHDR_SIZE);
    const n = writeEhdr(
      {
        user: 0,
        destined: true,
        txKey: 2,
        rxKeyActive: 1,
        keepalive: false,
        masterKey: true,
        rxNokey: false,
        seqno: 0x0001_0203_0405_0607,
        addr: 0x01001001,
      },
      out,
    );
    expect(n).toBe(16);
    // byte 0: version 7 (111) user 0 (0000) destined 1 -> 1110 0001
    // byte 1: tx_key 2 (10) rx_key_active 1 (01) K0 M1 N0 R0 -> 1001 0100
    expect(hex(out)).toBe("e1940000" + "0001020304050607" + "01001001");
  });

  it("LINK_PROTOCOL STATE with keepalive and rx_nokey", () => {
    const out = new Uint8Array(EHDR_SIZE);
    writeEhdr(
      {
        user: 7,
        destined: false,
        txKey: 3,
        rxKeyActive: 0,
        keepalive: true,
        masterKey: false,
        rxNokey: true,
        seqno: 1,
        addr: 0xdeadbeef,
      },
      out,
    );
    // 111 0111 0 = 0xee; 11 00 1 0 1 0 = 0xca
    expect(hex(out)).toBe("eeca0000" + "0000000000000001" + "deadbeef");
  });

  it("long form for LINK_CONFIG: 28 bytes ending in the node id", () => {
    const out = new Uint8Array(EHDR_CFG_SIZE);
    const n = writeEhdr(
      {
        user: 13,
        destined: false,
        txKey: 0,
        rxKeyActive: 0,
        keepalive: false,
        masterKey: true,
        rxNokey: false,
        seqno: 0x1_0000_0000,
        addr: 0,
        id: ID_A,
      },
      out,
    );
    expect(n).toBe(28);
    // 111 1101 0 = 0xfa; 00 00 0 1 0 0 = 0x04
    expect(hex(out.subarray(0, 12))).toBe("fa040000" + "0000000100000000");
    expect(hex(out.subarray(12))).toBe(hex(ID_A));
  });

  it("reads back what it writes, and validates like tipc_ehdr_validate", () => {
    const out = new Uint8Array(EHDR_SIZE + 17 + 16);
    const h = {
      user: 7,
      destined: true,
      txKey: 1,
      rxKeyActive: 3,
      keepalive: true,
      masterKey: false,
      rxNokey: true,
      seqno: 2 ** 52 + 3,
      addr: 0x1002003,
    };
    writeEhdr(h, out);
    expect(readEhdr(out)).toEqual(h);
    expect(isEncrypted(out)).toBe(true);
    expect(isEncrypted(out.subarray(0, EHDR_SIZE + 16))).toBe(false); // needs more than ehdr + tag
    expect(isEncrypted(out.subarray(0, EHDR_SIZE + 17))).toBe(true);
    const v2 = Uint8Array.from(out);
    v2[0] = (2 << 5) | (v2[0]! & 0x1f);
    expect(isEncrypted(v2)).toBe(false);
    const cfg = new Uint8Array(EHDR_CFG_SIZE + 16);
    cfg[0] = 0xfa; // LINK_CONFIG: the 28-byte form must fit before the tag
    expect(isEncrypted(cfg)).toBe(false);
  });

  it("rejects field values that do not fit", () => {
    const out = new Uint8Array(EHDR_SIZE);
    const base = {
      user: 0,
      destined: false,
      txKey: 1,
      rxKeyActive: 0,
      keepalive: false,
      masterKey: false,
      rxNokey: false,
      seqno: 1,
      addr: 1,
    };
    expect(() => writeEhdr({ ...base, txKey: 4 }, out)).toThrow(RangeError);
    expect(() => writeEhdr({ ...base, seqno: -1 }, out)).toThrow(RangeError);
    expect(() => writeEhdr({ ...base, user: 13 }, new Uint8Array(EHDR_CFG_SIZE))).toThrow(RangeError);
  });
});

describe("nonce (tipc_aead_encrypt: [SALT][SEQNO])", () => {
  const salt = Uint8Array.from([0x11, 0x22, 0x33, 0x44]);
  const ehdr = Uint8Array.from(Buffer.from("e1400000" + "0000000000000005" + "01001001", "hex"));
  const iv = new Uint8Array(12);

  it("cluster mode: salt ^ the ehdr addr as a host-order u32 (its wire bytes reversed on little-endian)", () => {
    // __be32_to_cpu(ehdr->addr) ^ salt, stored host order: a Linux 6.1 x86-64 guest's frames
    // authenticate only under this rule (kernel-crypto interop test, diagnose.test.ts fixture)
    buildIv(iv, salt, ehdr, true, 0x99999999);
    expect(hex(iv)).toBe("10323345" + "0000000000000005");
    buildIv(iv, salt, ehdr, true, 0x99999999, false);
    expect(hex(iv)).toBe("10222345" + "0000000000000005");
  });

  it("per-node mode, destined: salt ^ the address as a little-endian host u32", () => {
    buildIv(iv, salt, ehdr, false, 0x01002003);
    // 0x01002003 in LE memory: 03 20 00 01
    expect(hex(iv)).toBe("12023345" + "0000000000000005");
    buildIv(iv, salt, ehdr, false, 0x01002003, false);
    expect(hex(iv)).toBe("10221347" + "0000000000000005");
  });

  it("per-node mode, not destined: the salt as is", () => {
    buildIv(iv, salt, ehdr, false, undefined);
    expect(hex(iv)).toBe("11223344" + "0000000000000005");
  });
});

describe("a whole encrypted frame, computed independently", () => {
  const keyText = "this_is_a_key16_salt"; // 16 key bytes + "salt"
  const A = nodeAddressFromId(ID_A);
  const B = nodeAddressFromId(ID_B);

  function gcm(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array {
    const c = createCipheriv("aes-128-gcm", key, iv, { authTagLength: 16 });
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return Uint8Array.from(Buffer.concat([ct, c.getAuthTag()]));
  }

  it("cluster key, unicast data: ehdr | AES-GCM(msg padded to 4) | tag", () => {
    const a = createCrypto({ ownAddr: A, ownNodeId: ID_A, random: seededRandom(1) });
    expect(a.setKey(parseKey(keyText), {}, 0)).toBe(1);
    const msg = data(A, B, 7); // 40 + 8 = 48 bytes: aligned
    const odd = data(A, B, 77); // 49 bytes: padded with 3 zero bytes
    const r1 = a.encrypt(msg, B, 0);
    const r2 = a.encrypt(odd, B, 0);
    if (!r1.ok || !r2.ok) throw new Error("encrypt failed");
    const material = new TextEncoder().encode(keyText);
    const key = material.subarray(0, 16);
    const saltA = material.subarray(16);
    for (const [frame, plain, seq] of [
      [r1.frames[0]!, msg, 1],
      [r2.frames[0]!, odd, 2],
    ] as const) {
      // D=1, tx_key=1 (pending, no active: used at once), rx_key_active 0, seqno = key's counter
      const ehdr = Buffer.from(
        `e1400000${seq.toString(16).padStart(16, "0")}${A.toString(16).padStart(8, "0")}`,
        "hex",
      );
      const iv = new Uint8Array(12);
      for (let i = 0; i < 4; i++) iv[i] = saltA[i]! ^ ehdr[15 - i]!;
      iv.set(ehdr.subarray(4, 12), 4);
      const padded = new Uint8Array((plain.length + 3) & ~3);
      padded.set(plain);
      expect(hex(frame)).toBe(hex(ehdr) + hex(gcm(key, iv, ehdr, padded)));
    }
  });

  it("cluster key, discovery: the 28-byte ehdr with the node id, nonce from its first 4 bytes", () => {
    const a = createCrypto({ ownAddr: A, ownNodeId: ID_A, random: seededRandom(2) });
    a.setKey(parseKey(keyText), {}, 0);
    const msg = discovery(A);
    const r = a.encrypt(msg, undefined, 0);
    if (!r.ok) throw new Error(r.cause);
    const ehdr = Buffer.concat([Buffer.from("fa400000" + "0000000000000001", "hex"), Buffer.from(ID_A)]);
    const material = new TextEncoder().encode(keyText);
    const iv = new Uint8Array(12);
    for (let i = 0; i < 4; i++) iv[i] = material[16 + i]! ^ ID_A[3 - i]!;
    iv.set(ehdr.subarray(4, 12), 4);
    expect(hex(r.frames[0]!)).toBe(hex(ehdr) + hex(gcm(material.subarray(0, 16), iv, ehdr, msg)));
  });

  it("per-node key, unicast STATE keepalive: user 7, K bit, per-peer seqno, nonce with the peer's address", () => {
    const a = createCrypto({ ownAddr: A, ownNodeId: ID_A, random: seededRandom(3) });
    a.setKey(parseKey(keyText), { nodeId: ID_A }, 0);
    const msg = state(A, B, true);
    const r = a.encrypt(msg, B, 0);
    if (!r.ok) throw new Error(r.cause);
    const ehdr = Buffer.from(`ef480000${"1".padStart(16, "0")}${A.toString(16).padStart(8, "0")}`, "hex");
    const material = new TextEncoder().encode(keyText);
    const le = Buffer.alloc(4);
    le.writeUInt32LE(B);
    const iv = new Uint8Array(12);
    for (let i = 0; i < 4; i++) iv[i] = material[16 + i]! ^ le[i]!;
    iv.set(ehdr.subarray(4, 12), 4);
    expect(hex(r.frames[0]!)).toBe(hex(ehdr) + hex(gcm(material.subarray(0, 16), iv, ehdr, msg)));
  });
});
