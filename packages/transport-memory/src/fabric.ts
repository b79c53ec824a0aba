import {
  checkDatagram,
  type ErrorHandler,
  Handlers,
  isMediaAddress,
  type MediaAddress,
  mediaAddressKey,
  type ReceiveHandler,
  type Transport,
  TransportError,
  type Unsubscribe,
} from "@tipcjs/transport";
import { type Clock, isVirtualClock, realClock, seededRandom } from "./clock.js";

/**
 * Faults applied to a datagram on its way from one member to another. All optional; the
 * default is a perfect medium. Where several apply (fabric default, the sender's link, the
 * receiver's link, the pair), losses combine as independent events, delays and jitters add up,
 * and duplicate/reorder take the highest probability.
 */
export interface Faults {
  /** probability in [0, 1] that a datagram is lost */
  loss?: number;
  /** probability in [0, 1] that a datagram is delivered twice */
  duplicate?: number;
  /** probability in [0, 1] that a datagram is held back by `reorderDelay` (so later ones overtake it) */
  reorder?: number;
  /** extra hold-back for reordered datagrams, ms (default 1) */
  reorderDelay?: number;
  /** fixed one-way delay, ms */
  delay?: number;
  /** uniform extra delay in [0, jitter), ms */
  jitter?: number;
}

/** Why the fabric dropped a datagram: the keys of `counters.drops`, kebab-case as every drop cause in the tree. */
export type DropCause = "loss" | "partition" | "closed" | "no-route" | "mtu";

export interface FabricCounters {
  /** accepted `send` and `broadcast` calls */
  transmissions: number;
  /** bytes of accepted transmissions (a broadcast counts once) */
  bytesTransmitted: number;
  /** datagrams handed to a member's handlers */
  deliveries: number;
  /** bytes of those deliveries */
  bytesDelivered: number;
  /** extra copies made by the `duplicate` fault */
  duplicates: number;
  /** datagrams held back by the `reorder` fault */
  reordered: number;
  /** datagrams dropped, by cause */
  drops: Record<DropCause, number>;
}

/** What an observer sees, in order (for traces and the simulator). */
export type FabricEvent =
  | {
      kind: "transmit";
      time: number;
      from: MediaAddress;
      to: MediaAddress | "broadcast";
      datagram: Uint8Array;
    }
  | { kind: "deliver"; time: number; from: MediaAddress; to: MediaAddress; datagram: Uint8Array }
  | {
      kind: "drop";
      time: number;
      from: MediaAddress;
      to: MediaAddress;
      cause: DropCause;
      datagram: Uint8Array;
    };

export interface MemoryFabricOptions {
  /** Time source: `realClock()` (default) or a `createVirtualClock(seed)`. */
  clock?: Clock;
  /** Seed of the fault decisions. Default: the virtual clock's seed, or 1. */
  seed?: number;
  /** Default MTU of members, bytes (default 14000, like the kernel's UDP IPv4 bearer). */
  mtu?: number;
  /** Faults for every datagram. */
  faults?: Faults;
}

export interface JoinOptions {
  /** The member's media address (default: the next free pseudo address 127.77.x.y:6118). */
  address?: MediaAddress;
  /** This member's MTU (default: the fabric's). Datagrams larger than a receiver's MTU are dropped. */
  mtu?: number;
  /** Faults on this member's link, both directions. */
  faults?: Faults;
}

/** A member of a memory fabric: a `Transport` plus its own counters. */
export interface MemoryTransport extends Transport {
  readonly canBroadcast: true;
  readonly fabric: MemoryFabric;
  /** deliveries to this member, and transmissions by it */
  readonly counters: { transmissions: number; deliveries: number; bytesDelivered: number };
}

/** A partition between two groups of members; `heal()` ends it. */
export interface Partition {
  heal(): void;
  readonly healed: boolean;
}

export interface MemoryFabric {
  readonly clock: Clock;
  readonly counters: FabricCounters;
  /** Adds a member. */
  join(options?: JoinOptions): MemoryTransport;
  /** Current members (open ones). */
  members(): MemoryTransport[];
  /** Replaces the fabric-wide faults. */
  setFaults(faults: Faults | undefined): void;
  /** Replaces the faults on one member's link (both directions). */
  setLinkFaults(member: MediaAddress, faults: Faults | undefined): void;
  /** Replaces the faults between two members (`a` to `b`, and `b` to `a` unless `oneWay`). */
  setPairFaults(
    a: MediaAddress,
    b: MediaAddress,
    faults: Faults | undefined,
    options?: { oneWay?: boolean },
  ): void;
  /**
   * Cuts every path between group `a` and group `b` (both directions) until `heal()`, or until
   * `healAfter` ms on the fabric's clock.
   */
  partition(
    a: readonly MediaAddress[],
    b: readonly MediaAddress[],
    options?: { healAfter?: number },
  ): Partition;
  /** Heals every partition. */
  healAll(): void;
  /** Watches every transmission, delivery and drop. Slows the fabric a little while set. */
  observe(observer: (event: FabricEvent) => void): Unsubscribe;
  /** Zeroes the counters. */
  resetCounters(): void;
}

interface Member {
  index: number;
  address: Readonly<MediaAddress>;
  mtu: number;
  faults: Faults | undefined;
  handlers: Handlers;
  closed: boolean;
  transport: MemoryTransport;
  counters: { transmissions: number; deliveries: number; bytesDelivered: number };
}

interface Effective {
  loss: number;
  duplicate: number;
  reorder: number;
  reorderDelay: number;
  delay: number;
  jitter: number;
}

const PAIR = 1 << 20;

function newCounters(): FabricCounters {
  return {
    transmissions: 0,
    bytesTransmitted: 0,
    deliveries: 0,
    bytesDelivered: 0,
    duplicates: 0,
    reordered: 0,
    drops: { loss: 0, partition: 0, closed: 0, "no-route": 0, mtu: 0 },
  };
}

function checkFaults(f: Faults | undefined): void {
  if (!f) return;
  for (const k of ["loss", "duplicate", "reorder"] as const) {
    const v = f[k];
    if (v !== undefined && !(v >= 0 && v <= 1))
      throw new RangeError(`fault ${k} must be in [0, 1], got ${v}`);
  }
  for (const k of ["delay", "jitter", "reorderDelay"] as const) {
    const v = f[k];
    if (v !== undefined && !(v >= 0 && Number.isFinite(v)))
      throw new RangeError(`fault ${k} must be >= 0, got ${v}`);
  }
}

/** Creates an in-process fabric. Members join with `fabric.join()`. */
export function memoryFabric(options: MemoryFabricOptions = {}): MemoryFabric {
  const clock = options.clock ?? realClock();
  const seed = options.seed ?? (isVirtualClock(clock) ? clock.seed : 1);
  // a stream of its own, so the fabric's decisions do not shift when others draw from the clock
  const random = seededRandom((seed ^ 0x5eed_fab1) >>> 0);
  const defaultMtu = options.mtu ?? 14000;
  checkFaults(options.faults);

  const all: Member[] = [];
  let open: Member[] = [];
  const byKey = new Map<string, Member>();
  const byObject = new WeakMap<object, Member>();
  let nextPseudo = 1;

  let fabricFaults = options.faults;
  const pairFaults = new Map<number, Faults>();
  const partitions = new Set<{ a: Set<number>; b: Set<number> }>();
  /** true when any fault or partition is configured: the per-delivery slow path */
  let faulty = fabricFaults !== undefined;
  let observers: ((e: FabricEvent) => void)[] = [];
  let counters = newCounters();

  const recomputeFaulty = () => {
    faulty =
      fabricFaults !== undefined ||
      pairFaults.size > 0 ||
      partitions.size > 0 ||
      all.some((m) => m.faults !== undefined);
  };

  const emit = (e: FabricEvent) => {
    for (const o of observers) o(e);
  };

  /**
   * Address objects a sender used before, with the member they named: a link sends to the same
   * peer address object again and again, and canonicalizing it each time (parse, format, key)
   * was 6 % of a two-node bulk run's CPU. Checked field by field on a hit, so an object changed
   * since is looked up again.
   */
  const seen = new WeakMap<object, Member>();
  const lookup = (to: MediaAddress): Member | undefined => {
    const hit = byObject.get(to);
    if (hit && !hit.closed) return hit;
    const known = typeof to === "object" && to !== null ? seen.get(to) : undefined;
    if (
      known &&
      !known.closed &&
      known.address.family === to.family &&
      known.address.address === to.address &&
      known.address.port === to.port
    )
      return known;
    if (!isMediaAddress(to))
      throw new TransportError("BAD_ADDRESS", `not a media address: ${JSON.stringify(to)}`);
    const m = byKey.get(mediaAddressKey(to));
    if (m) seen.set(to, m);
    return m ?? hit;
  };

  const memberOf = (a: MediaAddress): Member => {
    const m = lookup(a);
    if (!m) throw new TransportError("BAD_ADDRESS", `no member ${mediaAddressKey(a)} in this fabric`);
    return m;
  };

  const partitioned = (from: number, to: number): boolean => {
    for (const p of partitions) {
      if ((p.a.has(from) && p.b.has(to)) || (p.b.has(from) && p.a.has(to))) return true;
    }
    return false;
  };

  const effective = (from: Member, to: Member): Effective => {
    const e: Effective = { loss: 0, duplicate: 0, reorder: 0, reorderDelay: 1, delay: 0, jitter: 0 };
    let keep = 1;
    const add = (f: Faults | undefined) => {
      if (!f) return;
      keep *= 1 - (f.loss ?? 0);
      e.duplicate = Math.max(e.duplicate, f.duplicate ?? 0);
      if ((f.reorder ?? 0) > e.reorder) {
        e.reorder = f.reorder ?? 0;
        e.reorderDelay = f.reorderDelay ?? 1;
      }
      e.delay += f.delay ?? 0;
      e.jitter += f.jitter ?? 0;
    };
    add(fabricFaults);
    add(from.faults);
    add(to.faults);
    add(pairFaults.get(from.index * PAIR + to.index));
    e.loss = 1 - keep;
    return e;
  };

  const drop = (from: Member, to: Member, cause: DropCause, datagram: Uint8Array) => {
    counters.drops[cause]++;
    if (observers.length)
      emit({ kind: "drop", time: clock.now(), from: from.address, to: to.address, cause, datagram });
  };

  /** Final hop: the receiver's handlers. Runs inside a clock event, never inside send(). */
  const arrive = (from: Member, to: Member, datagram: Uint8Array) => {
    if (to.closed) return drop(from, to, "closed", datagram);
    counters.deliveries++;
    counters.bytesDelivered += datagram.byteLength;
    to.counters.deliveries++;
    to.counters.bytesDelivered += datagram.byteLength;
    if (observers.length)
      emit({ kind: "deliver", time: clock.now(), from: from.address, to: to.address, datagram });
    to.handlers.deliver(datagram, from.address);
  };

  /** Applies partitions, MTU and faults to one copy; delivers now or schedules it. */
  const route = (from: Member, to: Member, datagram: Uint8Array) => {
    if (to.closed) return drop(from, to, "closed", datagram);
    if (datagram.byteLength > to.mtu) return drop(from, to, "mtu", datagram);
    if (!faulty) return arrive(from, to, datagram);
    if (partitions.size > 0 && partitioned(from.index, to.index))
      return drop(from, to, "partition", datagram);
    const f = effective(from, to);
    if (f.loss > 0 && random() < f.loss) return drop(from, to, "loss", datagram);
    const copies = f.duplicate > 0 && random() < f.duplicate ? 2 : 1;
    if (copies === 2) counters.duplicates++;
    for (let c = 0; c < copies; c++) {
      let d = f.delay;
      if (f.jitter > 0) d += random() * f.jitter;
      if (f.reorder > 0 && random() < f.reorder) {
        d += f.reorderDelay;
        counters.reordered++;
      }
      if (d <= 0 && c === 0) arrive(from, to, datagram);
      else clock.setTimer(d, () => arrive(from, to, datagram));
    }
  };

  const fabric: MemoryFabric = {
    clock,
    get counters() {
      return counters;
    },
    join(joinOptions = {}) {
      checkFaults(joinOptions.faults);
      let address: MediaAddress;
      if (joinOptions.address) {
        if (!isMediaAddress(joinOptions.address)) {
          throw new TransportError(
            "BAD_ADDRESS",
            `not a media address: ${JSON.stringify(joinOptions.address)}`,
          );
        }
        address = joinOptions.address;
      } else {
        for (;;) {
          const n = nextPseudo++;
          if (n > 0xfffe)
            throw new TransportError("OPEN_FAILED", "no free pseudo address left in this fabric");
          address = { family: "ipv4", address: `127.77.${n >> 8}.${n & 0xff}`, port: 6118 };
          if (!byKey.has(mediaAddressKey(address))) break;
        }
      }
      const key = mediaAddressKey(address);
      if (byKey.has(key))
        throw new TransportError("ADDRESS_IN_USE", `${key} is already a member of this fabric`);
      const frozen = Object.freeze({ family: address.family, address: address.address, port: address.port });
      const mtu = joinOptions.mtu ?? defaultMtu;
      if (!Number.isInteger(mtu) || mtu < 1)
        throw new RangeError(`mtu must be a positive integer, got ${mtu}`);
      const member: Member = {
        index: all.length,
        address: frozen,
        mtu,
        faults: joinOptions.faults,
        handlers: new Handlers(),
        closed: false,
        counters: { transmissions: 0, deliveries: 0, bytesDelivered: 0 },
        transport: undefined as unknown as MemoryTransport,
      };
      const guard = (datagram: Uint8Array) => {
        if (member.closed) throw new TransportError("CLOSED", "this memory transport is closed");
        checkDatagram(datagram, mtu);
      };
      const transmitted = (datagram: Uint8Array) => {
        counters.transmissions++;
        counters.bytesTransmitted += datagram.byteLength;
        member.counters.transmissions++;
      };
      const transport: MemoryTransport = {
        specificationVersion: "v1",
        localAddress: frozen,
        mtu,
        canBroadcast: true,
        fabric,
        counters: member.counters,
        send(to: MediaAddress, datagram: Uint8Array) {
          if (member.closed) throw new TransportError("CLOSED", "this memory transport is closed");
          const target = lookup(to);
          checkDatagram(datagram, mtu);
          const copy = datagram.slice();
          transmitted(copy);
          if (observers.length)
            emit({
              kind: "transmit",
              time: clock.now(),
              from: frozen,
              to: target?.address ?? to,
              datagram: copy,
            });
          if (!target) {
            counters.drops["no-route"]++;
            return;
          }
          clock.setTimer(0, () => route(member, target, copy));
        },
        broadcast(datagram: Uint8Array) {
          guard(datagram);
          const copy = datagram.slice();
          transmitted(copy);
          if (observers.length)
            emit({ kind: "transmit", time: clock.now(), from: frozen, to: "broadcast", datagram: copy });
          // one event for the whole fan-out: what makes a 1,000-member broadcast cheap
          clock.setTimer(0, () => {
            const list = open;
            if (faulty || observers.length > 0) {
              for (let i = 0; i < list.length; i++) {
                const to = list[i] as Member;
                if (to !== member) route(member, to, copy);
              }
              return;
            }
            // fast path (no faults, no observer): what route() + arrive() do, inlined
            const size = copy.byteLength;
            let delivered = 0;
            for (let i = 0; i < list.length; i++) {
              const to = list[i] as Member;
              if (to === member) continue;
              if (to.closed) {
                counters.drops.closed++;
                continue;
              }
              if (size > to.mtu) {
                counters.drops.mtu++;
                continue;
              }
              delivered++;
              to.counters.deliveries++;
              to.counters.bytesDelivered += size;
              to.handlers.deliver(copy, frozen);
            }
            counters.deliveries += delivered;
            counters.bytesDelivered += delivered * size;
          });
        },
        onReceive(handler: ReceiveHandler) {
          return member.closed ? () => {} : member.handlers.onReceive(handler);
        },
        onError(handler: ErrorHandler) {
          return member.closed ? () => {} : member.handlers.onError(handler);
        },
        async close() {
          if (member.closed) return;
          member.closed = true;
          member.handlers.clear();
          open = open.filter((m) => m !== member);
          // the address is free again: a member may rejoin with it (a node restart)
          if (byKey.get(key) === member) byKey.delete(key);
        },
      };
      member.transport = transport;
      all.push(member);
      open = [...open, member];
      byKey.set(key, member);
      byObject.set(frozen, member);
      if (member.faults) faulty = true;
      return transport;
    },
    members() {
      return open.map((m) => m.transport);
    },
    setFaults(faults) {
      checkFaults(faults);
      fabricFaults = faults;
      recomputeFaulty();
    },
    setLinkFaults(address, faults) {
      checkFaults(faults);
      memberOf(address).faults = faults;
      recomputeFaulty();
    },
    setPairFaults(a, b, faults, pairOptions = {}) {
      checkFaults(faults);
      const ma = memberOf(a);
      const mb = memberOf(b);
      const keys = [ma.index * PAIR + mb.index];
      if (!pairOptions.oneWay) keys.push(mb.index * PAIR + ma.index);
      for (const k of keys) {
        if (faults) pairFaults.set(k, faults);
        else pairFaults.delete(k);
      }
      recomputeFaulty();
    },
    partition(a, b, partitionOptions = {}) {
      const p = { a: new Set(a.map((x) => memberOf(x).index)), b: new Set(b.map((x) => memberOf(x).index)) };
      partitions.add(p);
      faulty = true;
      const handle: Partition = {
        get healed() {
          return !partitions.has(p);
        },
        heal() {
          partitions.delete(p);
          recomputeFaulty();
        },
      };
      if (partitionOptions.healAfter !== undefined)
        clock.setTimer(partitionOptions.healAfter, () => handle.heal());
      return handle;
    },
    healAll() {
      partitions.clear();
      recomputeFaulty();
    },
    observe(observer) {
      observers = [...observers, observer];
      return () => {
        observers = observers.filter((o) => o !== observer);
      };
    },
    resetCounters() {
      counters = newCounters();
    },
  };
  return fabric;
}
