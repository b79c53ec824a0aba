/** A deterministic cluster of nodes on a memory fabric with a virtual clock (tests only). */
import { decodeMessage } from "@tipcjs/codec";
import {
  createVirtualClock,
  type Faults,
  type MemoryFabric,
  type MemoryTransport,
  memoryFabric,
  seededRandom,
  type VirtualClock,
} from "@tipcjs/transport-memory";
import { createNode } from "../node.js";
import type { Binding, NodeOptions, TipcNode } from "../types.js";

export interface ClusterOptions {
  size: number;
  seed?: number;
  faults?: Faults;
  /** the fabric's MTU (default the fabric's, 14,000) */
  mtu?: number;
  /** indexes of legacy (pre-2020) nodes */
  legacy?: number[];
  tolerance?: number;
  node?: Partial<NodeOptions>;
}

export interface Member {
  index: number;
  name: string;
  node: TipcNode;
  transport: MemoryTransport;
  legacy: boolean;
}

export class Cluster {
  readonly clock: VirtualClock;
  readonly fabric: MemoryFabric;
  readonly members: (Member | undefined)[] = [];
  private readonly seed: number;
  private starts = 0;

  constructor(private readonly o: ClusterOptions) {
    this.seed = o.seed ?? 1;
    this.clock = createVirtualClock(this.seed);
    this.fabric = memoryFabric({ clock: this.clock, faults: o.faults, ...(o.mtu ? { mtu: o.mtu } : {}) });
  }

  static async start(o: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(o);
    for (let i = 0; i < o.size; i++) await c.startMember(i);
    return c;
  }

  async startMember(i: number, extra: Partial<NodeOptions> = {}): Promise<Member> {
    const legacy = this.o.legacy?.includes(i) ?? false;
    const transport = this.fabric.join();
    const node = await createNode({
      nodeId: `node${i}`,
      transport,
      clock: this.clock,
      random: seededRandom(this.seed * 1000 + i * 17 + this.starts++),
      skipTrial: true,
      legacy,
      tolerance: this.o.tolerance,
      ...this.o.node,
      ...extra,
    });
    const m = { index: i, name: `node${i}`, node, transport, legacy };
    this.members[i] = m;
    return m;
  }

  live(): Member[] {
    return this.members.filter((m): m is Member => m !== undefined && !m.node.closed);
  }

  get(i: number): TipcNode {
    const m = this.members[i];
    if (!m) throw new Error(`no member ${i}`);
    return m.node;
  }

  /** Runs the clock in steps until `cond` holds or `ms` pass. Returns the time it took, or -1. */
  runUntil(cond: () => boolean, ms: number, step = 5): number {
    const start = this.clock.now();
    while (this.clock.now() - start <= ms) {
      if (cond()) return this.clock.now() - start;
      this.clock.advance(step);
    }
    return cond() ? this.clock.now() - start : -1;
  }

  allUp(members = this.live()): boolean {
    const addrs = new Set(members.map((m) => m.node.address));
    return members.every((m) => {
      const up = new Set(
        m.node
          .nodes()
          .filter((n) => n.up)
          .map((n) => n.address),
      );
      for (const a of addrs) if (a !== m.node.address && !up.has(a)) return false;
      return true;
    });
  }

  /** Every live node's peers have acknowledged its bulk (its updates may go by broadcast). */
  bulksAcked(members = this.live()): boolean {
    return members.every((m) => m.node.stats().distributor.awaitingBulkAck === 0);
  }

  /** What every live node's table should hold: every live node's cluster bindings, plus its own node-scope ones. */
  truth(m: Member, members = this.live()): string[] {
    const out: string[] = [];
    for (const x of members) {
      for (const b of x.node.ownBindings()) if (b.scope === "cluster" || x === m) out.push(key(b));
    }
    return out.sort();
  }

  table(m: Member): string[] {
    return m.node.bindings().map(key).sort();
  }

  converged(members = this.live()): boolean {
    return members.every((m) => {
      const t = this.table(m);
      const want = this.truth(m, members);
      return t.length === want.length && t.every((k, i) => k === want[i]);
    });
  }

  /** Runs the clock until `p` settles (close() needs the clock to move). */
  async settle<T>(p: Promise<T>, ms = 10_000): Promise<T> {
    let done = false;
    const q = p.finally(() => {
      done = true;
    });
    const start = this.clock.now();
    while (!done && this.clock.now() - start < ms) {
      this.clock.advance(1);
      await new Promise((r) => setImmediate(r));
    }
    return q;
  }

  /**
   * Counts the NAME_DISTRIBUTOR datagrams a member transmits (to "broadcast" or to one peer) and
   * the fabric's deliveries of them, while `fn` runs and the clock then runs `ms`.
   */
  countUpdates(
    from: Member,
    fn: () => void,
    ms = 50,
  ): { broadcast: number; unicast: number; delivered: number } {
    const counts = { broadcast: 0, unicast: 0, delivered: 0 };
    const me = from.transport.localAddress;
    const isUpdate = (d: Uint8Array) => {
      try {
        return decodeMessage(d).user === "NAME_DISTRIBUTOR";
      } catch {
        return false;
      }
    };
    const off = this.fabric.observe((ev) => {
      if (ev.kind === "drop" || ev.from.address !== me.address || ev.from.port !== me.port) return;
      if (!isUpdate(ev.datagram)) return;
      if (ev.kind === "deliver") counts.delivered++;
      else if (ev.to === "broadcast") counts.broadcast++;
      else counts.unicast++;
    });
    try {
      fn();
      this.clock.advance(ms);
    } finally {
      off();
    }
    return counts;
  }
}

export function key(b: Binding): string {
  return `${b.type}:${b.lower}:${b.upper}@${b.node}:${b.port}#${b.key}/${b.scope}`;
}
