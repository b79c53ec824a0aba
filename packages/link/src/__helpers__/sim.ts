/**
 * A deterministic in-test network for link engines: virtual clock, seeded loss, duplication,
 * reordering (delay jitter) and partitions. Used by the tests and the bench/soak scripts.
 */
import { MinHeap, type NameDistributorMessage, nodeIdFromString, type TipcMessage } from "@tipcjs/codec";
import type { LinkEngine } from "../api.js";
import { createLinkEngine } from "../engine.js";
import type { LinkEngineOptions, LinkOutput, MediaAddress } from "../types.js";

/** mulberry32 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimOptions {
  nodes: number;
  seed?: number;
  /** probability a datagram copy is lost */
  loss?: number;
  /** probability a datagram copy is delivered twice */
  duplicate?: number;
  /** base one-way delay, ms */
  delay?: number;
  /** uniform extra delay in [0, jitter) ms: reorders packets */
  jitter?: number;
  canBroadcast?: boolean;
  /** bearers per node (default 1): bearer b of node i is at mediaOf(i, b), a network of its own */
  bearers?: number;
  /** MTU of each bearer (default 1400 for all) */
  mtus?: number[];
  engine?: Partial<LinkEngineOptions>;
  /** per-node overrides */
  engineFor?: (i: number) => Partial<LinkEngineOptions>;
}

interface Ev {
  at: number;
  seq: number;
  node: number;
  /** undefined for a timer event */
  bytes?: Uint8Array;
  from?: MediaAddress;
  bearer?: number;
  version?: number;
}

function lt(x: Ev, y: Ev): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

export function mediaOf(i: number, bearer = 0): MediaAddress {
  return { family: "ipv4", address: `10.${1 + bearer}.${(i >> 8) & 255}.${i & 255}`, port: 6118 };
}

export class Sim {
  now = 0;
  readonly engines: LinkEngine[] = [];
  readonly events: { node: number; out: LinkOutput; at: number }[][] = [];
  onOutput: ((node: number, out: LinkOutput) => void) | undefined;
  /** sees every datagram a node emits (also those to addresses no node has) */
  onTransmit: ((node: number, out: Extract<LinkOutput, { kind: "transmit" }>) => void) | undefined;
  /** pairs "i-j" (i<j) that cannot talk, on any bearer */
  readonly blocked = new Set<string>();
  /** "b:i-j": pairs that cannot talk on bearer b */
  readonly blockedOn = new Set<string>();
  /** datagrams sent per bearer */
  readonly sentOn: number[] = [];
  /** a datagram from node `from` to node `to` it returns true for is lost (every copy) */
  dropIf: ((from: number, to: number, bytes: Uint8Array) => boolean) | undefined;
  transmissions = 0;
  private readonly heap = new MinHeap<Ev>(lt);
  private seq = 0;
  private readonly versions: number[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly rnd: () => number;
  readonly opts: Required<Pick<SimOptions, "loss" | "duplicate" | "delay" | "jitter" | "canBroadcast">>;
  keepEvents = true;

  constructor(o: SimOptions) {
    this.rnd = prng((o.seed ?? 1) * 7919 + 13);
    this.opts = {
      loss: o.loss ?? 0,
      duplicate: o.duplicate ?? 0,
      delay: o.delay ?? 1,
      jitter: o.jitter ?? 0,
      canBroadcast: o.canBroadcast ?? true,
    };
    const nb = o.bearers ?? 1;
    for (let b = 0; b < nb; b++) this.sentOn.push(0);
    for (let i = 0; i < o.nodes; i++) {
      const bearers = [...Array(nb).keys()].map((b) => {
        const media = mediaOf(i, b);
        this.byKey.set(`${media.address}:${media.port}`, i);
        return {
          name: `sim${b}`,
          mediaAddress: media,
          mtu: o.mtus?.[b] ?? 1400,
          canBroadcast: this.opts.canBroadcast,
          discoveryPeers: this.opts.canBroadcast
            ? undefined
            : [...Array(o.nodes).keys()].filter((j) => j !== i).map((j) => mediaOf(j, b)),
        };
      });
      const e = createLinkEngine({
        nodeId: nodeIdFromString(`n${i}`),
        random: prng((o.seed ?? 1) * 1000 + i),
        skipTrial: true,
        ...(nb === 1 ? { bearer: bearers[0] } : { bearers }),
        ...o.engine,
        ...o.engineFor?.(i),
      });
      this.engines.push(e);
      this.events.push([]);
      this.versions.push(0);
    }
  }

  start(): void {
    for (let i = 0; i < this.engines.length; i++) {
      (this.engines[i] as LinkEngine).start(this.now);
      this.drain(i);
    }
  }

  index(addr: number): number {
    return this.engines.findIndex((e) => e.address === addr);
  }

  private blockedPair(a: number, b: number): boolean {
    if (this.blocked.size === 0) return false;
    return this.blocked.has(a < b ? `${a}-${b}` : `${b}-${a}`);
  }

  partition(groupA: number[], groupB: number[]): void {
    for (const a of groupA) for (const b of groupB) this.blocked.add(a < b ? `${a}-${b}` : `${b}-${a}`);
  }

  /** Cut bearer `bearer` only between the two groups (the other bearers still carry traffic). */
  partitionBearer(bearer: number, groupA: number[], groupB: number[]): void {
    for (const a of groupA)
      for (const b of groupB) this.blockedOn.add(`${bearer}:${a < b ? `${a}-${b}` : `${b}-${a}`}`);
  }

  heal(): void {
    this.blocked.clear();
    this.blockedOn.clear();
  }

  private send(from: number, to: number, bytes: Uint8Array, bearer: number): void {
    this.transmissions++;
    this.sentOn[bearer] = (this.sentOn[bearer] ?? 0) + 1;
    if (this.blockedPair(from, to)) return;
    if (this.dropIf?.(from, to, bytes)) return;
    if (
      this.blockedOn.size > 0 &&
      this.blockedOn.has(`${bearer}:${from < to ? `${from}-${to}` : `${to}-${from}`}`)
    )
      return;
    const o = this.opts;
    let copies = 1;
    if (o.loss > 0 && this.rnd() < o.loss) copies = 0;
    else if (o.duplicate > 0 && this.rnd() < o.duplicate) copies = 2;
    for (let c = 0; c < copies; c++) {
      const at = this.now + o.delay + (o.jitter > 0 ? this.rnd() * o.jitter : 0);
      this.heap.push({ at, seq: this.seq++, node: to, bytes, from: mediaOf(from, bearer), bearer });
    }
  }

  drain(i: number): void {
    const e = this.engines[i] as LinkEngine;
    for (const out of e.poll()) {
      if (out.kind === "transmit") {
        this.onTransmit?.(i, out);
        if (out.to === "broadcast") {
          for (let j = 0; j < this.engines.length; j++) if (j !== i) this.send(i, j, out.bytes, out.bearer);
        } else {
          const j = this.byKey.get(`${out.to.address}:${out.to.port}`);
          if (j !== undefined) this.send(i, j, out.bytes, out.bearer);
        }
      } else {
        if (this.keepEvents && out.kind !== "deliver")
          (this.events[i] as { node: number; out: LinkOutput; at: number }[]).push({
            node: i,
            out,
            at: this.now,
          });
        this.onOutput?.(i, out);
      }
    }
    const d = e.nextDeadline();
    const v = ++(this.versions[i] as number);
    if (d !== undefined) this.heap.push({ at: Math.max(d, this.now), seq: this.seq++, node: i, version: v });
  }

  /** Run events until virtual time `until` (inclusive) or the queue is empty. */
  runUntil(until: number, stop?: () => boolean): void {
    for (;;) {
      const ev = this.heap.peek();
      if (!ev || ev.at > until) break;
      this.heap.pop();
      if (ev.bytes === undefined && ev.version !== this.versions[ev.node]) continue;
      this.now = Math.max(this.now, ev.at);
      const e = this.engines[ev.node] as LinkEngine;
      if (ev.bytes) e.receive(ev.bytes, ev.from as MediaAddress, this.now, ev.bearer ?? 0);
      else e.tick(this.now);
      this.drain(ev.node);
      if (stop?.()) return;
    }
    this.now = Math.max(this.now, until);
  }

  run(ms: number, stop?: () => boolean): void {
    this.runUntil(this.now + ms, stop);
  }

  /** Call after sending from outside an event (the engine's outputs must be drained). */
  poke(i: number): void {
    this.drain(i);
  }

  allUp(): boolean {
    const n = this.engines.length;
    return this.engines.every((e) => e.upPeers().length === n - 1);
  }
}

/** A NAME_DISTRIBUTOR message used as a test payload: (tag, counter) in its items. */
export function testMessage(tag: number, counter: number, items = 1): NameDistributorMessage {
  return {
    user: "NAME_DISTRIBUTOR",
    type: "PUBLICATION",
    bulk: false,
    lastBulk: false,
    nonLegacy: true,
    namedSeqno: counter & 0xffff,
    bcAckInvalid: false,
    nonSeq: false,
    bcastAck: 0,
    ack: 0,
    seqno: 0,
    prevNode: 0,
    origNode: 0,
    destNode: 0,
    items: Array.from({ length: items }, (_, k) => ({
      type: tag,
      lower: counter,
      upper: counter,
      port: k,
      key: k,
    })),
  };
}

export function payloadOf(m: TipcMessage): { tag: number; counter: number; items: number } | undefined {
  if (m.user !== "NAME_DISTRIBUTOR" || m.items.length === 0) return undefined;
  const it = m.items[0] as { type: number; lower: number };
  return { tag: it.type, counter: it.lower, items: m.items.length };
}

export interface TrafficResult {
  sentUnicast: number;
  sentBroadcast: number;
  deliveredUnicast: number;
  deliveredBroadcast: number;
  /** out-of-order, duplicated or unexpected deliveries (must be 0) */
  errors: string[];
  /** messages not delivered when the run ended (must be 0) */
  missing: number;
  linkDowns: number;
  virtualMs: number;
}

/**
 * Drives `total` messages through an all-up cluster: every `stepMs` each node sends one unicast
 * message to a random peer, and every `broadcastEvery`-th message is a broadcast instead.
 * Checks exactly-once, in-order delivery per (sender, receiver, path).
 */
export function runTraffic(
  sim: {
    readonly engines: LinkEngine[];
    readonly now: number;
    onOutput: ((node: number, out: LinkOutput) => void) | undefined;
    poke(i: number): void;
    run(ms: number, stop?: () => boolean): void;
  },
  o: {
    total: number;
    broadcastEvery?: number;
    stepMs?: number;
    items?: number;
    seed?: number;
    maxMs?: number;
    /** soak scripts only: stop sending once this returns true (e.g. a wall-clock budget) */
    stopSending?: () => boolean;
    onProgress?: (sent: number, r: TrafficResult) => void;
    /** called before every sending step with the number sent so far (e.g. to cut a link mid-stream) */
    onStep?: (sent: number) => void;
  },
): TrafficResult {
  const n = sim.engines.length;
  const rnd = prng(o.seed ?? 99);
  const bcEvery = o.broadcastEvery ?? 4;
  const stepMs = o.stepMs ?? 1;
  const items = o.items ?? 1;
  const addrIndex = new Map<number, number>();
  for (const [i, e] of sim.engines.entries()) addrIndex.set(e.address, i);
  // expected next counter per (sender, receiver) for unicast, and per sender broadcast
  const ucNext = new Uint32Array(n * n);
  const ucSent = new Uint32Array(n * n);
  const bcNext = new Uint32Array(n * n);
  const bcSent = new Uint32Array(n);
  const res: TrafficResult = {
    sentUnicast: 0,
    sentBroadcast: 0,
    deliveredUnicast: 0,
    deliveredBroadcast: 0,
    errors: [],
    missing: 0,
    linkDowns: 0,
    virtualMs: 0,
  };
  const prev = sim.onOutput;
  sim.onOutput = (node, out) => {
    if (out.kind === "linkDown") res.linkDowns++;
    if (out.kind !== "deliver") return;
    const from = addrIndex.get(out.peer);
    const p = payloadOf(out.message);
    if (from === undefined || !p) {
      if (res.errors.length < 20) res.errors.push(`unexpected delivery at ${node}`);
      return;
    }
    if (out.via === "unicast") {
      const k = from * n + node;
      if (p.tag !== 1 || p.counter !== ucNext[k] || p.items !== items) {
        if (res.errors.length < 20)
          res.errors.push(`unicast ${from}->${node}: got ${p.counter} want ${ucNext[k]}`);
      }
      ucNext[k] = p.counter + 1;
      res.deliveredUnicast++;
    } else {
      const k = from * n + node;
      if (p.tag !== 2 || p.counter !== bcNext[k] || p.items !== items) {
        if (res.errors.length < 20)
          res.errors.push(`broadcast ${from}->${node}: got ${p.counter} want ${bcNext[k]}`);
      }
      bcNext[k] = p.counter + 1;
      res.deliveredBroadcast++;
    }
  };
  const start = sim.now;
  let sent = 0;
  let turn = 0;
  while (sent < o.total) {
    if (o.stopSending?.()) break;
    if (o.onProgress && turn % 100_000 < n) o.onProgress(sent, res);
    o.onStep?.(sent);
    for (let i = 0; i < n && sent < o.total; i++) {
      const e = sim.engines[i] as LinkEngine;
      if (++turn % bcEvery === 0) {
        e.sendBroadcast(testMessage(2, bcSent[i] as number, items), sim.now);
        bcSent[i] = (bcSent[i] as number) + 1;
        res.sentBroadcast++;
      } else {
        let j = Math.floor(rnd() * (n - 1));
        if (j >= i) j++;
        const k = i * n + j;
        e.sendUnicast(
          (sim.engines[j] as LinkEngine).address,
          testMessage(1, ucSent[k] as number, items),
          sim.now,
        );
        ucSent[k] = (ucSent[k] as number) + 1;
        res.sentUnicast++;
      }
      sent++;
      sim.poke(i);
    }
    sim.run(stepMs);
  }
  const expected = res.sentUnicast + res.sentBroadcast * (n - 1);
  const done = () => res.deliveredUnicast + res.deliveredBroadcast >= expected;
  const maxMs = o.maxMs ?? 600_000;
  while (!done() && sim.now - start < maxMs) sim.run(100, done);
  res.missing = expected - res.deliveredUnicast - res.deliveredBroadcast;
  res.virtualMs = sim.now - start;
  sim.onOutput = prev;
  return res;
}
