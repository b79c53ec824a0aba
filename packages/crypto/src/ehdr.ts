// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * The encryption header the kernel puts in front of an encrypted TIPC message (`struct
 * tipc_ehdr`, net/tipc/crypto.h) and the nonce it derives from it (`tipc_aead_encrypt`,
 * `tipc_aead_decrypt`, net/tipc/crypto.c). Source lines are cited from torvalds/linux
 * net/tipc/crypto.h and crypto.c as of v6.1 (the layout has not changed since 5.10).
 *
 *   byte 0: version (3 bits, = 7) | user (4 bits) | destined (1 bit)      crypto.h "w0"
 *   byte 1: tx_key (2) | rx_key_active (2) | keepalive | master_key | rx_nokey | reserved_1
 *   bytes 2..3: reserved_2 (0)
 *   bytes 4..11: seqno, big-endian 64 bits                                  "__be64 seqno"
 *   bytes 12..15: addr (the TIPC header's word 3, prevnode, as on the wire)  "__be32 addr"
 *   or bytes 12..27: the sender's 16-byte node id, for LINK_CONFIG only      "u8 id[16]"
 *
 * The bitfields are declared under __BIG_ENDIAN_BITFIELD as `version:3, user:4, destined:1`
 * and `tx_key:2, rx_key_active:2, keepalive:1, master_key:1, rx_nokey:1, reserved_1:1`, the
 * first field being the most significant bits of the byte, which is what the wire carries on
 * every architecture (the __LITTLE_ENDIAN_BITFIELD branch lists the same fields reversed).
 */
import { NODE_ID_LEN } from "@tipcjs/codec";

/** TIPC_EVERSION: the version an encrypted message carries where a TIPC header carries 2. */
export const TIPC_EVERSION = 7;
/** EHDR_SIZE: w0 + seqno + addr. */
export const EHDR_SIZE = 16;
/** EHDR_CFG_SIZE: w0 + seqno + 16-byte node id (LINK_CONFIG only). */
export const EHDR_CFG_SIZE = 12 + NODE_ID_LEN;
/** TIPC_AES_GCM_TAG_SIZE */
export const TAG_SIZE = 16;
/** TIPC_AES_GCM_IV_SIZE: 4 bytes of salt then the 8 seqno bytes. */
export const IV_SIZE = 12;
/** TIPC_AES_GCM_SALT_SIZE */
export const SALT_SIZE = 4;
/**
 * EMSG_OVERHEAD: what encryption adds to a non-LINK_CONFIG packet, before the padding of the
 * message to a multiple of 4 (up to 3 more bytes). The kernel's `tipc_link_mss()` subtracts it.
 */
export const EMSG_OVERHEAD = EHDR_SIZE + TAG_SIZE;

/** TIPC users the ehdr names (msg.h). */
export const EHDR_USER_LINK_PROTOCOL = 7;
export const EHDR_USER_LINK_CONFIG = 13;

/** The header's fields, as `tipc_ehdr_build` fills them. */
export interface Ehdr {
  /** 0, LINK_PROTOCOL (7, STATE messages only) or LINK_CONFIG (13). */
  user: number;
  /** the destination node was known when encrypting (unicast link). */
  destined: boolean;
  /** the key slot that encrypted the message: 0 = master key, 1..3 session/cluster keys. */
  txKey: number;
  /** the sender's active RX key for the destination (meaningful when destined). */
  rxKeyActive: number;
  /** LINK_PROTOCOL STATE with the keepalive bit (word 0 bit 19) set. */
  keepalive: boolean;
  /** the sender has a master key. */
  masterKey: boolean;
  /** the sender has no RX key for the destination's TX key (when destined). */
  rxNokey: boolean;
  /** 64-bit sequence number; safe-integer range (the kernel starts at 1 and counts up). */
  seqno: number;
  /** the sender's address (prevnode) when user !== LINK_CONFIG. */
  addr: number;
  /** the sender's node id when user === LINK_CONFIG. */
  id?: Uint8Array;
}

/** `tipc_ehdr_size()`: 28 bytes for LINK_CONFIG, 16 otherwise. */
export function ehdrSize(user: number): number {
  return user === EHDR_USER_LINK_CONFIG ? EHDR_CFG_SIZE : EHDR_SIZE;
}

/**
 * Writes the header at `out[0..]`; returns its size. The caller reserves `ehdrSize(user)`
 * bytes. Throws RangeError for values that do not fit their fields.
 */
export function writeEhdr(h: Ehdr, out: Uint8Array): number {
  if (h.txKey < 0 || h.txKey > 3 || h.rxKeyActive < 0 || h.rxKeyActive > 3) throw new RangeError("key id");
  if (h.user < 0 || h.user > 15) throw new RangeError("user");
  if (!Number.isSafeInteger(h.seqno) || h.seqno < 0) throw new RangeError("seqno");
  const size = ehdrSize(h.user);
  out[0] = (TIPC_EVERSION << 5) | (h.user << 1) | (h.destined ? 1 : 0);
  out[1] =
    (h.txKey << 6) |
    (h.rxKeyActive << 4) |
    (h.keepalive ? 0x08 : 0) |
    (h.masterKey ? 0x04 : 0) |
    (h.rxNokey ? 0x02 : 0);
  out[2] = 0;
  out[3] = 0;
  const hi = Math.floor(h.seqno / 0x1_0000_0000);
  const lo = h.seqno >>> 0;
  writeU32(out, 4, hi);
  writeU32(out, 8, lo);
  if (h.user === EHDR_USER_LINK_CONFIG) {
    if (!h.id || h.id.length !== NODE_ID_LEN)
      throw new RangeError("LINK_CONFIG ehdr needs a 16-byte node id");
    out.set(h.id, 12);
  } else {
    writeU32(out, 12, h.addr >>> 0);
  }
  return size;
}

/**
 * `tipc_ehdr_validate()`: the datagram is an encrypted message when it has at least
 * EHDR_MIN_SIZE bytes, version 7, its whole header, and more than header + tag bytes.
 */
export function isEncrypted(bytes: Uint8Array): boolean {
  if (bytes.length < EHDR_SIZE) return false;
  if (bytes[0]! >>> 5 !== TIPC_EVERSION) return false;
  return bytes.length > ehdrSize((bytes[0]! >>> 1) & 0xf) + TAG_SIZE;
}

/** Reads a header that `isEncrypted` accepted. Returns undefined on a seqno past 2^53. */
export function readEhdr(bytes: Uint8Array): Ehdr | undefined {
  const user = (bytes[0]! >>> 1) & 0xf;
  const hi = readU32(bytes, 4);
  if (hi >= 0x20_0000) return undefined;
  const b1 = bytes[1]!;
  const h: Ehdr = {
    user,
    destined: (bytes[0]! & 1) === 1,
    txKey: b1 >>> 6,
    rxKeyActive: (b1 >>> 4) & 3,
    keepalive: (b1 & 0x08) !== 0,
    masterKey: (b1 & 0x04) !== 0,
    rxNokey: (b1 & 0x02) !== 0,
    seqno: hi * 0x1_0000_0000 + readU32(bytes, 8),
    addr: readU32(bytes, 12),
  };
  if (user === EHDR_USER_LINK_CONFIG) h.id = bytes.slice(12, 12 + NODE_ID_LEN);
  return h;
}

/**
 * The 12-byte nonce, "[SALT (4 octets)][SEQNO (8 octets)]" (tipc_aead_encrypt/decrypt):
 * - cluster-key mode: salt XOR the ehdr's addr read as a big-endian u32
 *   (`salt ^= __be32_to_cpu(ehdr->addr)`; for LINK_CONFIG the first 4 bytes of the node id),
 *   the XOR done on host-order u32s: on a little-endian kernel the addr's wire bytes mix into
 *   the salt reversed (`hostLE`), as a Linux 6.1 guest's frames show;
 * - per-node mode, destined: salt XOR the destination's address as a host-order u32
 *   (`salt ^= tipc_node_get_addr(__dnode)` on TX, `salt ^= tipc_own_addr(net)` on RX). The
 *   salt is memcpy'd bytes, so the XOR pattern is the address's little-endian bytes on a
 *   little-endian kernel (x86, arm64) and its big-endian bytes on a big-endian one: `hostLE`;
 * - per-node mode, not destined: the salt as is.
 * The seqno part is the ehdr's 8 seqno bytes as on the wire.
 */
export function buildIv(
  iv: Uint8Array,
  salt: Uint8Array,
  ehdr: Uint8Array,
  clusterMode: boolean,
  destAddr: number | undefined,
  hostLE = true,
): void {
  iv[0] = salt[0]!;
  iv[1] = salt[1]!;
  iv[2] = salt[2]!;
  iv[3] = salt[3]!;
  if (clusterMode) {
    // __be32_to_cpu(ehdr->addr) XORed into the host-order salt, stored in host order: on a
    // little-endian kernel the addr bytes mix in reversed (checked against a 6.1 guest's frames)
    if (hostLE) {
      iv[0]! ^= ehdr[15]!;
      iv[1]! ^= ehdr[14]!;
      iv[2]! ^= ehdr[13]!;
      iv[3]! ^= ehdr[12]!;
    } else {
      iv[0]! ^= ehdr[12]!;
      iv[1]! ^= ehdr[13]!;
      iv[2]! ^= ehdr[14]!;
      iv[3]! ^= ehdr[15]!;
    }
  } else if (destAddr !== undefined) {
    const a = destAddr >>> 0;
    const b0 = a >>> 24;
    const b1 = (a >>> 16) & 0xff;
    const b2 = (a >>> 8) & 0xff;
    const b3 = a & 0xff;
    if (hostLE) {
      iv[0]! ^= b3;
      iv[1]! ^= b2;
      iv[2]! ^= b1;
      iv[3]! ^= b0;
    } else {
      iv[0]! ^= b0;
      iv[1]! ^= b1;
      iv[2]! ^= b2;
      iv[3]! ^= b3;
    }
  }
  for (let i = 0; i < 8; i++) iv[4 + i] = ehdr[4 + i]!;
}

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
