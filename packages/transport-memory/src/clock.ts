/**
 * The virtual clock for the fabric (and for whoever drives tipcjs with the fabric: the simulator,
 * link tests). The `Clock` interface, `realClock()` and `seededRandom()` live in
 * `@tipcjs/transport` and are re-exported here; `createVirtualClock(seed)` is a seeded
 * discrete-event scheduler: time only moves when you call `runUntil`, `advance`,
 * `runUntilIdle` or `step`, and events at the same time run in the order they were scheduled,
 * so a run replays exactly.
 */

import { MinHeap } from "@tipcjs/codec";
import { type Clock, seededRandom } from "@tipcjs/transport";

// The interfaces and the real clock live in @tipcjs/transport (shared with the node and every
// transport); re-exported here, where they were first published.
export { type Clock, realClock, seededRandom, type TimerHandle } from "@tipcjs/transport";

/** A clock whose time moves only when told to. */
export interface VirtualClock extends Clock {
  readonly kind: "virtual";
  /** The seed the clock's random stream started from. */
  readonly seed: number;
  /** Uniform in [0, 1), from a seeded generator (xoshiro128**). */
  random(): number;
  /** Runs every event due at or before `time` (in order), then sets now() to `time`. Returns the count run. */
  runUntil(time: number): number;
  /** `runUntil(now() + ms)`. */
  advance(ms: number): number;
  /**
   * Runs events until none is left. Throws a RangeError after `maxEvents` (default 10 million),
   * which catches self-rescheduling timers that never let the clock go idle.
   */
  runUntilIdle(maxEvents?: number): number;
  /** Runs the next event, moving time to it. Returns false when none is pending. */
  step(): boolean;
  /** Number of scheduled, not cancelled events. */
  readonly pending: number;
  /** Time of the next event, or undefined. */
  nextTime(): number | undefined;
}

interface Event {
  time: number;
  seq: number;
  callback: (() => void) | undefined;
}

/** Events by (time, seq): same-time events run in scheduling order. Cancelled ones stay until they come to the top. */
class EventQueue {
  private readonly heap = new MinHeap<Event>(
    (a, b) => a.time < b.time || (a.time === b.time && a.seq < b.seq),
  );
  live = 0;

  push(e: Event): void {
    this.heap.push(e);
    this.live++;
  }

  /** The earliest live event, discarding cancelled ones. */
  peek(): Event | undefined {
    const h = this.heap;
    let top = h.peek();
    while (top !== undefined && top.callback === undefined) {
      h.pop();
      top = h.peek();
    }
    return top;
  }

  pop(): Event | undefined {
    return this.heap.pop();
  }
}

/** Creates a virtual clock starting at time 0 with a seeded random stream. */
export function createVirtualClock(seed = 1, options: { startTime?: number } = {}): VirtualClock {
  const queue = new EventQueue();
  let now = options.startTime ?? 0;
  let seq = 0;
  const random = seededRandom(seed);

  const runOne = (): boolean => {
    const e = queue.peek();
    if (!e) return false;
    queue.pop();
    const cb = e.callback as () => void;
    e.callback = undefined;
    queue.live--;
    if (e.time > now) now = e.time;
    cb();
    return true;
  };

  const clock: VirtualClock = {
    kind: "virtual",
    seed,
    random,
    now: () => now,
    setTimer(delayMs, callback) {
      const d = Math.max(delayMs || 0, 0);
      const e: Event = { time: now + d, seq: seq++, callback };
      queue.push(e);
      return {
        cancel() {
          if (e.callback !== undefined) {
            e.callback = undefined;
            queue.live--;
          }
        },
      };
    },
    runUntil(time) {
      let n = 0;
      for (;;) {
        const e = queue.peek();
        if (!e || e.time > time) break;
        runOne();
        n++;
      }
      if (time > now) now = time;
      return n;
    },
    advance(ms) {
      return clock.runUntil(now + ms);
    },
    runUntilIdle(maxEvents = 10_000_000) {
      let n = 0;
      while (runOne()) {
        if (++n >= maxEvents && queue.peek()) {
          throw new RangeError(
            `virtual clock not idle after ${n} events (a timer keeps rescheduling itself?)`,
          );
        }
      }
      return n;
    },
    step: runOne,
    get pending() {
      return queue.live;
    },
    nextTime() {
      return queue.peek()?.time;
    },
  };
  return clock;
}

/** True for a clock made by `createVirtualClock`. */
export function isVirtualClock(clock: Clock): clock is VirtualClock {
  return (clock as Partial<VirtualClock>).kind === "virtual";
}
