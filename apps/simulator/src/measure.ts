/**
 * Wall-clock and memory figures of a run (opt-in: `measure`), kept apart from the deterministic
 * results: they differ from run to run, so JSON carries them only when asked (`--measure`).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface Measured {
  /** wall time of this mode's run, s */
  wallSeconds: number;
  /** events (deliveries and timers on the virtual clock) per wall second */
  eventsPerSecond: number;
  /** heap (JS objects and array buffers) the run held at its end, after a full collection */
  heapBytes: number;
  /** node pairs at the end: n (n - 1) / 2 over every node that ran */
  nodePairs: number;
  /** heapBytes / nodePairs: the simulator's state per node pair, both directions (tables included) */
  bytesPerNodePair: number;
  /** the process's peak resident set so far (all modes run before this one included), MiB */
  peakRssMiB: number;
}

let gcFn: (() => void) | undefined;
/** where `done` parks the run's state for a moment, so that it is reachable while measured */
const keepAlive: { ref: unknown } = { ref: undefined };
/** A full collection: `global.gc` if exposed, else the V8 flag turned on at run time. */
function collect(): void {
  if (!gcFn) {
    // V8 drops the bytecode of functions not run for a while at a collection: megabytes that
    // leave the heap between the two readings would be taken from the run's own figure (a
    // 3.7 MB reading once came out as 0.14 MB under load)
    setFlagsFromString("--no-flush-bytecode");
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    }
  }
  gcFn();
}

/** Live heap bytes after a full collection. */
export function heapBytes(): number {
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Starts a measurement; `done` gives the figures (call it while the run's state is still held). */
export function startMeasure(): { done(events: number, nodes: number, keep: unknown): Measured } {
  const h0 = heapBytes();
  const t0 = performance.now();
  return {
    done(events, nodes, keep) {
      const wall = (performance.now() - t0) / 1000;
      const heap = Math.max(0, heapBytes() - h0);
      // `keep` (the run's state) stays reachable until here, whatever the optimiser thinks.
      keepAlive.ref = keep;
      keepAlive.ref = undefined;
      const pairs = (nodes * (nodes - 1)) / 2;
      return {
        wallSeconds: Math.round(wall * 10) / 10,
        eventsPerSecond: wall > 0 ? Math.round(events / wall) : 0,
        heapBytes: heap,
        nodePairs: pairs,
        bytesPerNodePair: pairs > 0 ? Math.round((heap / pairs) * 10) / 10 : 0,
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      };
    },
  };
}
