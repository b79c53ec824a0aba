/**
 * Telling a retransmission from a forgery: the fingerprints of the last packets delivered on a
 * receive link (unicast or broadcast), by seqno.
 */

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
