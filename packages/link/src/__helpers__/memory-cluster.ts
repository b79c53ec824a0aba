/**
 * Link engines driven over @tipcjs/transport-memory with its seeded virtual clock: the way the
 * node package drives them, minus everything above the link layer.
 */

import { nodeIdFromString } from "@tipcjs/codec";
import {
  createVirtualClock,
  type Faults,
  type MemoryFabric,
  type MemoryTransport,
  memoryFabric,
  type VirtualClock,
} from "@tipcjs/transport-memory";
import type { LinkEngine } from "../api.js";
import { createLinkEngine } from "../engine.js";
import type { LinkEngineOptions, LinkOutput } from "../types.js";
import { prng } from "./sim.js";

export interface Cluster {
  readonly engines: LinkEngine[];
  readonly now: number;
  onOutput: ((node: number, out: LinkOutput) => void) | undefined;
  poke(i: number): void;
  run(ms: number, stop?: () => boolean): void;
  allUp(): boolean;
}

export class MemoryCluster implements Cluster {
  readonly clock: VirtualClock;
  readonly fabric: MemoryFabric;
  readonly members: MemoryTransport[] = [];
  readonly engines: LinkEngine[] = [];
  readonly events: { out: LinkOutput; at: number }[][] = [];
  onOutput: ((node: number, out: LinkOutput) => void) | undefined;
  keepEvents = true;
  private readonly timers: ({ cancel(): void } | undefined)[] = [];
  private readonly deadlines: (number | undefined)[] = [];

  constructor(o: {
    nodes: number;
    seed?: number;
    faults?: Faults;
    engine?: Partial<LinkEngineOptions>;
    /** engines replicate broadcast traffic per peer (the kernel's UDP replicast) */
    replicast?: boolean;
  }) {
    this.clock = createVirtualClock(o.seed ?? 1);
    this.fabric = memoryFabric({ clock: this.clock, faults: o.faults, mtu: 14000 });
    for (let i = 0; i < o.nodes; i++) this.members.push(this.fabric.join());
    for (let i = 0; i < o.nodes; i++) {
      const m = this.members[i] as MemoryTransport;
      const others = o.replicast ? this.members.filter((x) => x !== m).map((x) => x.localAddress) : undefined;
      const e = createLinkEngine({
        nodeId: nodeIdFromString(`m${i}`),
        random: prng((o.seed ?? 1) * 1000 + i),
        skipTrial: true,
        bearer: {
          name: "mem0",
          mediaAddress: m.localAddress,
          mtu: 1400,
          canBroadcast: !o.replicast,
          discoveryPeers: others,
        },
        ...o.engine,
      });
      this.engines.push(e);
      this.events.push([]);
      this.timers.push(undefined);
      this.deadlines.push(undefined);
      m.onReceive((bytes, from) => {
        e.receive(bytes, from, this.clock.now());
        this.drain(i);
      });
    }
  }

  get now(): number {
    return this.clock.now();
  }

  start(): void {
    for (let i = 0; i < this.engines.length; i++) {
      (this.engines[i] as LinkEngine).start(this.now);
      this.drain(i);
    }
  }

  poke(i: number): void {
    this.drain(i);
  }

  private drain(i: number): void {
    const e = this.engines[i] as LinkEngine;
    const m = this.members[i] as MemoryTransport;
    for (const out of e.poll()) {
      if (out.kind === "transmit") {
        if (out.to === "broadcast") m.broadcast(out.bytes);
        else m.send(out.to, out.bytes);
      } else {
        if (this.keepEvents && out.kind !== "deliver") this.events[i]?.push({ out, at: this.now });
        this.onOutput?.(i, out);
      }
    }
    const d = e.nextDeadline();
    if (d === this.deadlines[i]) return;
    this.deadlines[i] = d;
    this.timers[i]?.cancel();
    this.timers[i] =
      d === undefined
        ? undefined
        : this.clock.setTimer(Math.max(0, d - this.now), () => {
            this.deadlines[i] = undefined;
            this.timers[i] = undefined;
            e.tick(this.clock.now());
            this.drain(i);
          });
  }

  run(ms: number, stop?: () => boolean): void {
    const until = this.now + ms;
    if (!stop) {
      this.clock.runUntil(until);
      return;
    }
    while (!stop()) {
      const t = this.clock.nextTime();
      if (t === undefined || t > until) break;
      this.clock.step();
    }
    if (!stop()) this.clock.runUntil(until);
  }

  allUp(): boolean {
    const n = this.engines.length;
    return this.engines.every((e) => e.upPeers().length === n - 1);
  }
}
