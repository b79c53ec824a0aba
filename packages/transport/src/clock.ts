/**
 * Interfaces every tipcjs package shares with whoever drives it: time, randomness and logging.
 * They live in the contract package because it has no dependencies and sits below everything
 * that needs them (transports, the node, the apps), as js-libp2p keeps its shared interfaces in
 * `@libp2p/interface`. The sans-I/O cores (`link`, `distributor`, `name-table`) take `now` as a
 * number and need none of this.
 *
 * The virtual clock (a seeded discrete-event scheduler) is an implementation, not an interface:
 * it stays in `@tipcjs/transport-memory` beside the fabric it drives.
 */

/** A cancellable timer. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time source, milliseconds. `@tipcjs/transport-memory`'s `createVirtualClock(seed)` is one, and
 * so is {@link realClock}.
 */
export interface Clock {
  now(): number;
  /** Calls `callback` once after `delayMs` (0 = as soon as possible, never synchronously). */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

export interface RealClockOptions {
  /**
   * Unref the delayed timers, so that a pending timer alone does not keep the process alive
   * (the node's choice: its transport keeps the process alive). Default false.
   */
  unref?: boolean;
}

/** Wall-clock time (`performance.now()`, milliseconds) with Node timers; delay 0 uses setImmediate. */
export function realClock(options: RealClockOptions = {}): Clock {
  const unref = options.unref === true;
  return {
    now: () => performance.now(),
    setTimer(delayMs, callback) {
      if (delayMs <= 0) {
        const h = setImmediate(callback);
        return { cancel: () => clearImmediate(h) };
      }
      const h = setTimeout(callback, delayMs);
      if (unref) h.unref?.();
      return { cancel: () => clearTimeout(h) };
    },
  };
}

/** A seeded generator: xoshiro128** over a splitmix32-expanded seed. Uniform floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let z = seed >>> 0;
  const split = () => {
    z = (z + 0x9e3779b9) >>> 0;
    let x = z;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
    return (x ^ (x >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  if ((a | b | c | d) === 0) a = 1;
  return () => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A pino-compatible logger (any object with these four methods). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
