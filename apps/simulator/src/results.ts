/**
 * What a run measures, and the JSON shape of its results. Everything here is derived from the
 * virtual clock and the protocol's outputs: no wall-clock time, so the same scenario and seed
 * give byte-identical JSON.
 */
import type { Binding } from "@tipcjs/name-table";
import type { Measured } from "./measure.js";
import type { Difference } from "./protocol.js";
import type { Mode, Scenario } from "./scenario.js";

export interface MethodCount {
  messages: number;
  items: number;
  bytes: number;
}

export interface CheckOutcome {
  differences: number;
  /** (node, peer) pairs with at least one difference */
  pairs: number;
  first: Difference[];
}

export interface ModeResult {
  mode: Mode;
  fidelity: "protocol" | "full";
  nodes: number;
  events: number;
  endTime: number;
  updates: {
    count: number;
    /** transmissions by the publisher for its updates (a broadcast is one) */
    publisherTransmissions: number;
    perUpdateAtPublisher: number;
    /** every transmission the updates caused: the publisher's at protocol fidelity; with acks and retransmissions at full */
    totalTransmissions: number;
    perUpdateTotal: number;
    /** copies of updates received by nodes (bulk messages not included) */
    deliveries: number;
    /** bytes of the publishers' update messages (40-byte header + 20-byte item each), every copy counted */
    bytes: number;
    /**
     * protocol fidelity: the sender's queueing, ms from an update's publication until its last
     * copy has left the publisher's interface (`link.bandwidth`): one copy's time for a
     * broadcast, N-1 copies' for replicast, plus whatever was queued before it (time in the
     * broadcast link's window backlog, `link.broadcastWindow`, not included). Absent at full
     * fidelity, which models no interface rate.
     */
    senderQueue?: { mean: number; p50: number; p99: number; max: number };
  };
  sent: { broadcast: MethodCount; replicast: MethodCount; bulk: MethodCount };
  latency: {
    samples: number;
    /** updates whose receivers went down before all got them */
    incomplete: number;
    mean: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
    /** the distribution: `cdf[i]` is the i-th percentile, i = 0..100 (empty without samples) */
    cdf: number[];
    histogram: { binWidth: number; counts: number[] };
  };
  bulk: {
    initial: MethodCount;
    joins: ({ t: number; node: number } & MethodCount)[];
  };
  held: { peak: number; releasedFromHold: number };
  methodSwitches: number;
  switchPoints: { t: number; toReplicast: number; toBroadcast: number }[];
  /**
   * transmissions per time bin by method over the scenario's time [0, duration) (full fidelity:
   * from the end of formation, the origin of the scenario's times)
   */
  timeline: { binWidth: number; broadcast: number[]; replicast: number[]; bulk: number[] };
  checks: {
    performed: number;
    failed: number;
    points: { t: number; differences: number }[];
    final: CheckOutcome;
  };
  shadows?: { legacy: CheckOutcome; linux: CheckOutcome };
  internedBindings: number;
  extra?: Record<string, number>;
  /** wall time, events per second and memory per node pair: only when measured (`--measure`), never deterministic */
  measured?: Measured;
}

const BINS = 100;
export const round = (x: number, d = 3) => {
  const f = 10 ** d;
  return Math.round(x * f) / f;
};

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

interface Rec {
  t0: number;
  expected: number;
  got: number;
  last: number;
}

export class Collector {
  private readonly sentBy = {
    broadcast: { messages: 0, items: 0, bytes: 0 },
    replicast: { messages: 0, items: 0, bytes: 0 },
    bulk: { messages: 0, items: 0, bytes: 0 },
  };
  private readonly binWidth: number;
  private readonly tl = {
    broadcast: new Array<number>(BINS).fill(0),
    replicast: new Array<number>(BINS).fill(0),
    bulk: new Array<number>(BINS).fill(0),
  };
  private readonly recs = new Map<number, Rec>();
  private latencies: number[] = [];
  private queueing: number[] = [];
  /** time 0 of the timeline (full fidelity: the end of formation) */
  private origin = 0;
  private updates = 0;
  private publisherTx = 0;
  private updateBytes = 0;
  private deliveries = 0;
  private initial: MethodCount = { messages: 0, items: 0, bytes: 0 };
  private readonly joins: ({ t: number; node: number } & MethodCount)[] = [];
  private readonly switches = new Map<number, { t: number; toReplicast: number; toBroadcast: number }>();
  private readonly points: { t: number; differences: number }[] = [];
  private final: CheckOutcome = { differences: 0, pairs: 0, first: [] };
  private failed = 0;
  private shadows: { legacy: CheckOutcome; linux: CheckOutcome } | undefined;

  constructor(
    private readonly sc: Scenario,
    private readonly mode: Mode,
    private readonly total: number,
  ) {
    this.binWidth = Math.max(sc.duration, 1) / BINS;
  }

  /** Scenario times count from here (full fidelity: the end of formation). */
  timelineFrom(origin: number): void {
    this.origin = origin;
  }

  sent(t: number, method: "broadcast" | "replicast" | "bulk", bytes: number, items: number): void {
    const m = this.sentBy[method];
    m.messages++;
    m.items += items;
    m.bytes += bytes;
    // Only the scenario's time is binned: not formation before it (full fidelity), nor settling after it.
    const i = Math.floor((t - this.origin) / this.binWidth);
    if (i < 0 || i >= BINS) return;
    const tl = this.tl[method];
    tl[i] = (tl[i] as number) + 1;
  }

  delivered(_t: number, _m: unknown): void {
    this.deliveries++;
  }

  private static id(b: Binding, kind: "bound" | "unbound"): number {
    return ((b.node & 0xffffff) * 4194304 + b.key) * 2 + (kind === "unbound" ? 1 : 0);
  }

  /**
   * An update left its publisher: `tx` transmissions, `expected` receivers up; `queued`: ms until
   * its last copy left the publisher's interface (protocol fidelity).
   */
  update(
    t: number,
    _pub: number,
    b: Binding,
    kind: "bound" | "unbound",
    tx: number,
    expected: number,
    queued?: number,
  ): void {
    this.updates++;
    if (queued !== undefined && tx > 0) this.queueing.push(queued);
    this.publisherTx += tx;
    this.updateBytes += tx * (40 + 20);
    if (expected > 0) this.recs.set(Collector.id(b, kind), { t0: t, expected, got: 0, last: t });
  }

  /** A receiver applied an update (not through a bulk). */
  applied(t: number, kind: "bound" | "unbound", b: Binding): void {
    const id = Collector.id(b, kind);
    const r = this.recs.get(id);
    if (!r) return;
    r.got++;
    r.last = t;
    if (r.got >= r.expected) {
      this.latencies.push(t - r.t0);
      this.recs.delete(id);
    }
  }

  bulkMark(): MethodCount {
    return { ...this.sentBy.bulk };
  }

  private since(mark: MethodCount): MethodCount {
    const b = this.sentBy.bulk;
    return { messages: b.messages - mark.messages, items: b.items - mark.items, bytes: b.bytes - mark.bytes };
  }

  initialBulk(mark: MethodCount): void {
    this.initial = this.since(mark);
  }

  joinCost(t: number, node: number, mark: MethodCount): void {
    this.joins.push({ t: round(t), node, ...this.since(mark) });
  }

  /** switches recorded with `switched` */
  get switchCount(): number {
    let n = 0;
    for (const s of this.switches.values()) n += s.toReplicast + s.toBroadcast;
    return n;
  }

  switched(t: number, _node: number, method: string): void {
    const k = round(t);
    let s = this.switches.get(k);
    if (!s) {
      s = { t: k, toReplicast: 0, toBroadcast: 0 };
      this.switches.set(k, s);
    }
    if (method === "replicast") s.toReplicast++;
    else s.toBroadcast++;
  }

  check(t: number, final: boolean, diffs: { count: number; pairs: number; first: Difference[] }): void {
    if (diffs.count > 0) this.failed++;
    if (final) this.final = { differences: diffs.count, pairs: diffs.pairs, first: diffs.first };
    else this.points.push({ t: round(t), differences: diffs.count });
  }

  shadow(kind: "legacy" | "linux", diffs: { count: number; pairs: number; first: Difference[] }): void {
    this.shadows ??= {
      legacy: { differences: 0, pairs: 0, first: [] },
      linux: { differences: 0, pairs: 0, first: [] },
    };
    this.shadows[kind] = { differences: diffs.count, pairs: diffs.pairs, first: diffs.first.slice(0, 10) };
  }

  finish(x: {
    events: number;
    endTime: number;
    methodSwitches: number;
    heldPeak: number;
    releasedFromHold: number;
    interned: number;
    totalTransmissions?: number;
    extra?: Record<string, number>;
    measured?: Measured;
  }): ModeResult {
    const sorted = Float64Array.from(this.latencies).sort();
    const max = sorted.length ? (sorted[sorted.length - 1] as number) : 0;
    const binWidth = max > 0 ? max / 30 : 1;
    const counts = new Array<number>(30).fill(0);
    for (const v of sorted) {
      const i = Math.min(29, Math.floor(v / binWidth));
      counts[i] = (counts[i] as number) + 1;
    }
    let sum = 0;
    for (const v of sorted) sum += v;
    const u = this.updates || 1;
    const queue = Float64Array.from(this.queueing).sort();
    let queueSum = 0;
    for (const v of queue) queueSum += v;
    const total = x.totalTransmissions ?? this.publisherTx;
    const r: ModeResult = {
      mode: this.mode,
      fidelity: this.sc.fidelity,
      nodes: this.total,
      events: x.events,
      endTime: round(x.endTime),
      updates: {
        count: this.updates,
        publisherTransmissions: this.publisherTx,
        perUpdateAtPublisher: round(this.publisherTx / u),
        totalTransmissions: total,
        perUpdateTotal: round(total / u),
        deliveries: this.deliveries,
        bytes: this.updateBytes,
        ...(this.sc.fidelity === "protocol"
          ? {
              senderQueue: {
                mean: round(queue.length ? queueSum / queue.length : 0, 4),
                p50: round(percentile(queue, 50), 4),
                p99: round(percentile(queue, 99), 4),
                max: round(queue.length ? (queue[queue.length - 1] as number) : 0, 4),
              },
            }
          : {}),
      },
      sent: this.sentBy,
      latency: {
        samples: sorted.length,
        incomplete: this.recs.size,
        mean: round(sorted.length ? sum / sorted.length : 0),
        p50: round(percentile(sorted, 50)),
        p90: round(percentile(sorted, 90)),
        p99: round(percentile(sorted, 99)),
        max: round(max),
        cdf: sorted.length ? Array.from({ length: 101 }, (_, i) => round(percentile(sorted, i))) : [],
        histogram: { binWidth: round(binWidth, 4), counts },
      },
      bulk: { initial: this.initial, joins: this.joins },
      held: { peak: x.heldPeak, releasedFromHold: x.releasedFromHold },
      methodSwitches: x.methodSwitches,
      switchPoints: [...this.switches.values()],
      timeline: { binWidth: round(this.binWidth), ...this.tl },
      checks: {
        performed: this.points.length + 1,
        failed: this.failed,
        points: this.points,
        final: this.final,
      },
      internedBindings: x.interned,
    };
    if (this.shadows) r.shadows = this.shadows;
    if (x.extra) r.extra = x.extra;
    if (x.measured) r.measured = x.measured;
    return r;
  }
}
