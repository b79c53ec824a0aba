/**
 * The hash index on a binding's identity (type, lower, upper, node, key), for the bindings whose
 * records carry the INDEXED flag: those of an exact range that holds two or more. A range's only
 * binding is found from the range itself, so in the common case of one binding per range the index
 * is never touched (one cache miss and 16 bytes per binding saved).
 *
 * Open addressing with linear probing over pairs [slot + 1, hash] (0 = empty), each hash stored
 * beside its slot so that a probe compares a record only when the hashes agree. Load factor <= 1/2;
 * deletion shifts entries back instead of leaving tombstones.
 */
import { RECORD } from "./records.js";

const { KEY, LOWER, NODE, NONE, STRIDE, TYPE, UPPER } = RECORD;

/** Mixes the identity (type, lower, upper, node, key) into 32 bits. */
export function hashOf(type: number, lower: number, upper: number, node: number, key: number): number {
  let h = Math.imul(type ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ lower, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13) ^ upper, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16) ^ node, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ key, 0x165667b1);
  return h ^ (h >>> 16);
}

/** The identity hash of the record in slot `s`, as if it belonged to `node`. */
export function recordHash(rec: Int32Array, s: number, node: number): number {
  const o = s * STRIDE;
  return hashOf(
    rec[o + TYPE] as number,
    rec[o + LOWER] as number,
    rec[o + UPPER] as number,
    node,
    rec[o + KEY] as number,
  );
}

export class HashIndex {
  /** Pairs [slot + 1, hash]; 0 = empty. */
  private pairs = new Int32Array(2 * 1024);
  private mask = 1023;
  private count = 0;

  /** The slot whose record in `rec` has this identity (and `hash`), or NONE. */
  find(
    rec: Int32Array,
    hash: number,
    type: number,
    lower: number,
    upper: number,
    node: number,
    key: number,
  ): number {
    const pairs = this.pairs;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = pairs[2 * i] as number;
      if (e === 0) return NONE;
      if (pairs[2 * i + 1] !== hash) continue;
      const o = (e - 1) * STRIDE;
      if (
        rec[o + KEY] === (key | 0) &&
        rec[o + NODE] === (node | 0) &&
        rec[o + LOWER] === (lower | 0) &&
        rec[o + UPPER] === (upper | 0) &&
        rec[o + TYPE] === (type | 0)
      ) {
        return e - 1;
      }
    }
  }

  add(s: number, hash: number): void {
    if (++this.count * 4 > this.pairs.length) this.grow();
    const pairs = this.pairs;
    const mask = this.mask;
    let i = hash & mask;
    while (pairs[2 * i] !== 0) i = (i + 1) & mask;
    pairs[2 * i] = s + 1;
    pairs[2 * i + 1] = hash;
  }

  /** Takes slot `s`, indexed under `hash`, out (backward-shift deletion: probes stay short under churn). */
  remove(s: number, hash: number): void {
    this.count--;
    const pairs = this.pairs;
    const mask = this.mask;
    let i = hash & mask;
    while (pairs[2 * i] !== s + 1) i = (i + 1) & mask;
    pairs[2 * i] = 0;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = pairs[2 * j] as number;
      if (e === 0) return;
      const k = (pairs[2 * j + 1] as number) & mask;
      // The entry at j stays if its home k lies cyclically in (i, j]; otherwise it fills the hole.
      if (i <= j ? k <= i || k > j : k <= i && k > j) {
        pairs[2 * i] = e;
        pairs[2 * i + 1] = pairs[2 * j + 1] as number;
        pairs[2 * j] = 0;
        i = j;
      }
    }
  }

  /** Doubles the number of buckets. */
  private grow(): void {
    const old = this.pairs;
    const buckets = old.length; // twice the old bucket count
    const pairs = new Int32Array(2 * buckets);
    const mask = buckets - 1;
    for (let x = 0; x < old.length; x += 2) {
      const e = old[x] as number;
      if (e === 0) continue;
      const h = old[x + 1] as number;
      let i = h & mask;
      while (pairs[2 * i] !== 0) i = (i + 1) & mask;
      pairs[2 * i] = e;
      pairs[2 * i + 1] = h;
    }
    this.pairs = pairs;
    this.mask = mask;
  }
}
