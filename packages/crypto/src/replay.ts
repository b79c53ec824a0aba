// biome-ignore-all lint/style/noNonNullAssertion: indices are masked into the bitmap
/**
 * Replay protection for one sender's seqno stream under one key. The kernel has none: it
 * uses the ehdr seqno only as part of the nonce and relies on the link's own sequence numbers,
 * so a captured LINK_PROTOCOL RESET or discovery message decrypts again when replayed. This is
 * our addition, an anti-replay window in the manner of RFC 4303 §3.4.3: seqnos more than
 * `size` below the highest seen are refused, and each seqno inside the window is accepted once.
 */

/** Default window: 1024 seqnos, well above a link window's worth of reordering. */
export const REPLAY_WINDOW_SIZE = 1024;

export class ReplayWindow {
  /** highest seqno accepted, 0 before the first */
  top = 0;
  private readonly bits: Uint32Array;
  readonly size: number;

  constructor(size: number = REPLAY_WINDOW_SIZE) {
    if (size < 32 || size % 32 !== 0)
      throw new RangeError("replay window size: a multiple of 32, at least 32");
    this.size = size;
    this.bits = new Uint32Array(size / 32);
  }

  /** True when `seqno` (>= 1) has not been accepted and is not older than the window. */
  check(seqno: number): boolean {
    if (seqno < 1) return false;
    if (seqno > this.top) return true;
    if (this.top - seqno >= this.size) return false;
    const i = seqno % this.size;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) === 0;
  }

  /** Records `seqno` as accepted; call only after `check` and authentication passed. */
  mark(seqno: number): void {
    if (seqno > this.top) {
      const shift = seqno - this.top;
      if (shift >= this.size) {
        this.bits.fill(0);
      } else {
        for (let s = this.top + 1; s <= seqno; s++) {
          const i = s % this.size;
          this.bits[i >>> 5]! &= ~(1 << (i & 31));
        }
      }
      this.top = seqno;
    }
    const i = seqno % this.size;
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }
}

/**
 * A stream that the sender may restart from 1 under the same key: the kernel resets its
 * per-peer `sndnxt` when the peer's reported RX active key changes (`tipc_crypto_key_synch`).
 * `restart()` opens a fresh window and keeps the old one for packets still in flight from
 * before the restart. A seqno nearer the old window's top than the new one's belongs to the
 * old stream; the old window is dropped once the new stream is half way to it. What this
 * cannot tell apart (the kernel reuses seqnos under one key here) is accepted at most once.
 */
export class ReplayGuard {
  private current: ReplayWindow;
  private previous: ReplayWindow | undefined;

  constructor(private readonly size: number = REPLAY_WINDOW_SIZE) {
    this.current = new ReplayWindow(size);
  }

  restart(): void {
    if (this.current.top > 0) this.previous = this.current;
    this.current = new ReplayWindow(this.size);
  }

  private pick(seqno: number): ReplayWindow {
    const prev = this.previous;
    if (prev) {
      if (2 * this.current.top >= prev.top) this.previous = undefined;
      else if (2 * seqno > prev.top + this.current.top) return prev;
    }
    return this.current;
  }

  check(seqno: number): boolean {
    return this.pick(seqno).check(seqno);
  }

  mark(seqno: number): void {
    this.pick(seqno).mark(seqno);
  }
}
