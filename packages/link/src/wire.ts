/**
 * The few header words the link layer reads and rewrites on raw packets, so that sequencing,
 * acking and retransmission need no full decode (positions: tipc-protocol.md §1.2-§1.4).
 * Full decoding is @tipcjs/codec's job and happens once, on delivery.
 */

export const USER_BCAST_PROTOCOL = 5;
export const USER_MSG_BUNDLER = 6;
export const USER_LINK_PROTOCOL = 7;
export const USER_NAME_DISTRIBUTOR = 11;
export const USER_MSG_FRAGMENTER = 12;
export const USER_LINK_CONFIG = 13;

export interface PeekedHeader {
  user: number;
  headerSize: number;
  size: number;
  nonSeq: boolean;
  bcastAck: number;
  ack: number;
  seqno: number;
  prevNode: number;
  word5: number;
  destNode: number | undefined;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Validates word 0 as the kernel does (§1.5); returns undefined for a packet to drop. */
export function peekHeader(b: Uint8Array): PeekedHeader | undefined {
  if (b.byteLength < 24) return undefined;
  const dv = view(b);
  const w0 = dv.getUint32(0);
  if (w0 >>> 29 !== 2) return undefined;
  const headerSize = ((w0 >>> 21) & 0xf) * 4;
  const size = w0 & 0x1ffff;
  if (headerSize < 24 || headerSize > 60 || size < headerSize || size > b.byteLength) return undefined;
  if (size - headerSize > 66000) return undefined;
  const w1 = dv.getUint32(4);
  const w2 = dv.getUint32(8);
  return {
    user: (w0 >>> 25) & 0xf,
    headerSize,
    size,
    nonSeq: ((w0 >>> 20) & 1) === 1,
    bcastAck: w1 & 0xffff,
    ack: w2 >>> 16,
    seqno: w2 & 0xffff,
    prevNode: dv.getUint32(12),
    word5: dv.getUint32(20),
    destNode: headerSize >= 32 ? dv.getUint32(28) : undefined,
  };
}

/** word 5 bit 14 for the users that carry it; the kernel's msg_bc_ack_invalid(). */
export function bcAckInvalid(b: Uint8Array, user: number): boolean {
  if (user !== USER_BCAST_PROTOCOL && user !== USER_NAME_DISTRIBUTOR && user !== USER_LINK_PROTOCOL)
    return false;
  return ((view(b).getUint32(20) >>> 14) & 1) === 1;
}

export interface SequencedFields {
  nonSeq: boolean;
  seqno: number;
  ack: number;
  bcastAck: number;
  prevNode: number;
  /** set word 7 when the header has one and it is 0 */
  destNode?: number;
  /** set word 6 when the header has one and it is 0 */
  origNode?: number;
  /** broadcast-link packets: word 5 becomes the network id */
  netId?: number;
}

/** Writes the link-layer fields into an encoded packet, in place. */
export function stampHeader(b: Uint8Array, f: SequencedFields): void {
  const dv = view(b);
  const w0 = dv.getUint32(0);
  const headerSize = ((w0 >>> 21) & 0xf) * 4;
  dv.setUint32(0, f.nonSeq ? (w0 | (1 << 20)) >>> 0 : (w0 & ~(1 << 20)) >>> 0);
  dv.setUint16(6, f.bcastAck & 0xffff);
  dv.setUint32(8, (((f.ack & 0xffff) << 16) | (f.seqno & 0xffff)) >>> 0);
  dv.setUint32(12, f.prevNode >>> 0);
  if (f.netId !== undefined) dv.setUint32(20, f.netId >>> 0);
  if (headerSize >= 32) {
    if (f.origNode !== undefined && dv.getUint32(24) === 0) dv.setUint32(24, f.origNode >>> 0);
    if (f.destNode !== undefined) {
      if (f.netId !== undefined) dv.setUint32(28, 0);
      else if (dv.getUint32(28) === 0) dv.setUint32(28, f.destNode >>> 0);
    }
  }
}

/** Rewrites ack and bcast_ack on a (copy of a) packet being retransmitted. */
export function restampAcks(b: Uint8Array, ack: number, bcastAck: number): void {
  const dv = view(b);
  dv.setUint16(6, bcastAck & 0xffff);
  dv.setUint16(8, ack & 0xffff);
}

export function userOf(b: Uint8Array): number {
  return ((b[0] ?? 0) >>> 1) & 0xf;
}

export function sizeOf(b: Uint8Array): number {
  return view(b).getUint32(0) & 0x1ffff;
}

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * A fingerprint of a sequenced packet that a retransmission keeps: word 0 and everything from
 * word 3 on (up to 96 bytes), not words 1 and 2, which carry the acks a retransmission
 * restamps. FNV-1a, 32 bits.
 */
export function packetFingerprint(b: Uint8Array): number {
  let h = 0x811c9dc5;
  const end = Math.min(b.byteLength, 96);
  for (let i = 0; i < end; i++) {
    if (i >= 4 && i < 12) continue;
    h = Math.imul(h ^ (b[i] as number), 0x01000193);
  }
  return h >>> 0;
}

const RECENT = 64;

/**
 * The fingerprints of the last 64 packets delivered on a receive link, by seqno: a duplicate of
 * one of them that differs is not a retransmission, so one of the two copies was forged (the
 * first copy of a seqno wins, and a forged first copy would take the place of the real one).
 */
export class RecentPackets {
  private readonly seqnos = new Int32Array(RECENT).fill(-1);
  private readonly prints = new Uint32Array(RECENT);

  note(seqno: number, b: Uint8Array): void {
    const i = seqno % RECENT;
    this.seqnos[i] = seqno;
    this.prints[i] = packetFingerprint(b);
  }

  /** True when `b` is a copy of a recent seqno whose first copy had other contents. */
  conflicts(seqno: number, b: Uint8Array): boolean {
    const i = seqno % RECENT;
    return this.seqnos[i] === seqno && this.prints[i] !== packetFingerprint(b);
  }

  clear(): void {
    this.seqnos.fill(-1);
  }
}
