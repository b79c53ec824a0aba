/**
 * Protocol fidelity's network: the links between nodes as reliable, ordered channels (TIPC's own
 * assumption about its links), one unicast and one broadcast channel per ordered node pair.
 * Each message gets its own latency and jitter from the seeded virtual clock, per receiver, so a
 * broadcast update can overtake a bulk or a replicast copy still in flight on a unicast channel:
 * exactly the seed's race. Each channel stays FIFO. A link session numbers each time a pair comes
 * up: what was in flight on an older session is dropped at arrival (a link reset loses it).
 * Also each node's interface (bandwidth) and its broadcast link's send window and backlog.
 */
import type { NameDistributorMessage } from "@tipcjs/codec";
import type { VirtualClock } from "@tipcjs/transport-memory";
import type { Scenario } from "./scenario.js";

/** Channel kinds: 0 unicast, 1 broadcast. */
export type ChannelKind = 0 | 1;

/** A message that reached its receiver on a session still up at both ends. */
export interface Arrival {
  from: number;
  to: number;
  message: NameDistributorMessage;
  kind: ChannelKind;
  /** a binding update (its arrival counts for latency), not a bulk */
  update: boolean;
  session: number;
}

interface Backlogged {
  m: NameDistributorMessage;
  bytes: number;
  /** the last session number given out when it was queued */
  sessionMark: number;
}

export class ChannelNetwork {
  /** `sessions[i][j]`: node i's link session with node j (0: i does not have j up) */
  readonly sessions: Int32Array[];
  /** messages scheduled but not delivered, and broadcast acks outstanding */
  inFlight = 0;
  /** broadcast messages waiting for room in a sender's window */
  backlogged = 0;
  /** one-way latency of a unicast message (ms), also the time a link's ack takes */
  readonly latency: number;

  private readonly total: number;
  private readonly bLat: number;
  private readonly jit: number;
  private readonly txMsPerByte: number;
  private readonly hasDelays: boolean;
  private readonly window: number;
  private sessionCounter = 0;
  // FIFO per channel (from, to, kind): the delivery time of the last message in flight on it.
  // Only channels with a message in flight have an entry (a full table would cost 32 bytes per
  // node pair): a message that arrives after the last one delivered needs no bound.
  readonly lastOnChannel = new Map<number, number>();
  /** when each node's interface is free again */
  private readonly busy: Float64Array;
  // The broadcast link's send window (link.broadcastWindow > 0): per sender, messages not yet
  // acknowledged by every receiver, and the backlog behind them.
  private readonly bcUnacked: Int32Array;
  readonly bcBacklog: Backlogged[][];

  constructor(
    private readonly sc: Scenario,
    private readonly clock: VirtualClock,
    total: number,
    /** whether node i is running (a crashed node receives nothing and sends no more) */
    private readonly alive: (i: number) => boolean,
    /** called for each arrival, in time order */
    private readonly arrive: (a: Arrival) => void,
  ) {
    this.total = total;
    this.sessions = Array.from({ length: total }, () => new Int32Array(total));
    this.latency = sc.link.latency;
    this.bLat = sc.link.broadcastLatency ?? this.latency;
    this.jit = sc.link.jitter;
    this.txMsPerByte = sc.link.bandwidth > 0 ? 8 / (sc.link.bandwidth * 1000) : 0;
    this.hasDelays = sc.delays.length > 0;
    this.busy = new Float64Array(total);
    this.window = sc.link.broadcastWindow;
    this.bcUnacked = new Int32Array(this.window > 0 ? total : 0);
    this.bcBacklog = this.window > 0 ? Array.from({ length: total }, () => []) : [];
  }

  /**
   * When the last datagram handed over since `markDepartures()` leaves its node's interface (the
   * sender's queueing cost of an update, report's senderQueue); a broadcast queued behind the
   * window counts when the window releases it, within the same call only.
   */
  lastDeparture = 0;

  /** Starts a new `lastDeparture` reading at now. */
  markDepartures(): void {
    this.lastDeparture = this.clock.now();
  }

  /** A new link session between a and b (both see each other up); returns its number. */
  linkUp(a: number, b: number): number {
    const s = ++this.sessionCounter;
    (this.sessions[a] as Int32Array)[b] = s;
    (this.sessions[b] as Int32Array)[a] = s;
    return s;
  }

  /**
   * Sends one datagram of `bytes` from node `from`: to one peer, or to every peer it has up.
   * The sender's interface sends one datagram after another (bytes / bandwidth each); with a
   * broadcast window, broadcast messages queue in the sender's backlog.
   */
  send(
    from: number,
    to: "broadcast" | number,
    m: NameDistributorMessage,
    bytes: number,
    update: boolean,
  ): void {
    const now = this.clock.now();
    const queued = to === "broadcast" && this.window > 0;
    const dep = queued ? now : Math.max(now, this.busy[from] as number) + bytes * this.txMsPerByte;
    if (!queued) {
      this.busy[from] = dep;
      if (dep > this.lastDeparture) this.lastDeparture = dep;
    }
    if (queued) {
      this.bcBacklog[from]?.push({ m, bytes, sessionMark: this.sessionCounter });
      this.backlogged++;
      this.pumpBroadcast(from);
    } else if (to === "broadcast") {
      const s = this.sessions[from] as Int32Array;
      for (let j = 0; j < this.total; j++) if (s[j] !== 0) this.schedule(from, j, m, 1, true, dep);
    } else {
      this.schedule(from, to, m, 0, update, dep);
    }
  }

  /** A crash loses the node's broadcast backlog (and window). */
  crashed(i: number): void {
    if (this.window > 0) {
      this.backlogged -= (this.bcBacklog[i] as Backlogged[]).length;
      this.bcBacklog[i] = [];
    }
  }

  private extraDelay(from: number, to: number, kind: "unicast" | "broadcast"): number {
    let x = 0;
    for (const d of this.sc.delays) {
      if (d.kind !== kind) continue;
      if (d.from !== undefined && d.from !== from) continue;
      if (d.to !== undefined && d.to !== to) continue;
      const t = this.clock.now();
      if (t < d.start || (d.end !== undefined && t >= d.end)) continue;
      x += d.extra;
      // A lost transmission is sent again after the timeout, as often as it takes.
      if (d.loss > 0) while (this.clock.random() < d.loss) x += d.retransmitAfter;
    }
    return x;
  }

  /** Puts `m` on the channel (from, to, kind); returns its delivery time. */
  private schedule(
    from: number,
    to: number,
    m: NameDistributorMessage,
    kind: ChannelKind,
    update: boolean,
    departure: number,
  ): number {
    const sess = (this.sessions[from] as Int32Array)[to] as number;
    const ch = (from * this.total + to) * 2 + kind;
    let t =
      departure +
      (kind === 1 ? this.bLat : this.latency) +
      (this.jit > 0 ? this.clock.random() * this.jit : 0) +
      (this.hasDelays ? this.extraDelay(from, to, kind === 1 ? "broadcast" : "unicast") : 0);
    const prev = this.lastOnChannel.get(ch);
    if (prev !== undefined && t <= prev) t = prev + 1e-6;
    this.lastOnChannel.set(ch, t);
    this.inFlight++;
    this.clock.setTimer(t - this.clock.now(), () => {
      this.inFlight--;
      if (this.lastOnChannel.get(ch) === t) this.lastOnChannel.delete(ch);
      // The receiver must still be the same session with the sender (a link reset drops what was in flight).
      if (!this.alive(to) || (this.sessions[to] as Int32Array)[from] !== sess || sess === 0) return;
      this.arrive({ from, to, message: m, kind, update, session: sess });
    });
    return t;
  }

  /** Release what the window allows; each message's ack frees its place one latency after its slowest delivery. */
  private pumpBroadcast(from: number): void {
    const q = this.bcBacklog[from] as Backlogged[];
    while (q.length > 0 && (this.bcUnacked[from] as number) < this.window) {
      const e = q.shift() as Backlogged;
      this.backlogged--;
      const now = this.clock.now();
      const dep = Math.max(now, this.busy[from] as number) + e.bytes * this.txMsPerByte;
      this.busy[from] = dep;
      if (dep > this.lastDeparture) this.lastDeparture = dep;
      let slowest = dep;
      const s = this.sessions[from] as Int32Array;
      for (let j = 0; j < this.total; j++) {
        const sj = s[j] as number;
        if (sj === 0) continue;
        // With the fix, a peer that came up after the message was queued got a synch point past
        // it (sessions are numbered in order); without it, every peer up now gets it.
        if (this.sc.synchPastBacklog && sj > e.sessionMark) continue;
        slowest = Math.max(slowest, this.schedule(from, j, e.m, 1, true, dep));
      }
      this.bcUnacked[from] = (this.bcUnacked[from] as number) + 1;
      this.inFlight++;
      this.clock.setTimer(slowest + this.latency - now, () => {
        this.inFlight--;
        this.bcUnacked[from] = (this.bcUnacked[from] as number) - 1;
        if (this.alive(from)) this.pumpBroadcast(from);
      });
    }
  }
}
