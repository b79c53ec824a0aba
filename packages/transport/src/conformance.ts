/**
 * The conformance suite every tipcjs transport runs (`@tipcjs/transport/conformance`).
 *
 * It needs no test framework: {@link conformanceCases} are plain async checks that throw on
 * failure, {@link runConformance} runs them all and returns a report, and
 * {@link describeTransportConformance} registers them with any `describe`/`it` pair (vitest,
 * mocha, jest, node:test):
 *
 * ```ts
 * import { describe, it } from "vitest";
 * import { describeTransportConformance } from "@tipcjs/transport/conformance";
 *
 * describeTransportConformance("my transport", {
 *   setup: async (count) => Promise.all(Array.from({ length: count }, () => myTransport())),
 * }, { describe, it });
 * ```
 *
 * The fixture must give the suite a fault-free medium (no loss, duplication or reordering):
 * the contract allows all three, but the suite checks that datagrams CAN arrive intact.
 */
import { isMediaAddress, mediaAddressEquals, mediaAddressKey } from "./address.js";
import { isTransportError, type MediaAddress, type Transport, type TransportErrorCode } from "./transport.js";

export interface ConformanceFixture {
  /**
   * Creates `count` (2 or 3) fresh, open transports that can reach one another by `send`, and
   * whose `broadcast` reaches all the others.
   */
  setup(count: number): Promise<Transport[]>;
  /** Releases what `setup` made. The suite has already called `close()` on every transport. */
  teardown?(transports: Transport[]): Promise<void>;
  /**
   * Moves time forward for transports on a virtual clock (e.g. `clock.runUntilIdle()`); the
   * suite calls it repeatedly while it waits for deliveries. Not needed for real-time transports.
   */
  advance?(): void | Promise<void>;
  /** How long (real milliseconds) to wait for an expected delivery before failing. Default 3000. */
  timeoutMs?: number;
  /** How long (real milliseconds) to wait to conclude that nothing more arrives. Default 60. */
  quietMs?: number;
}

/** One check of the suite. `run` throws a {@link ConformanceFailure} (or any error) on failure. */
export interface ConformanceCase {
  readonly name: string;
  /** How many transports the case needs. */
  readonly members: 2 | 3;
  run(t: Transport[], env: ConformanceEnv): Promise<void>;
}

/** Helpers a case uses to wait on the fixture's medium. */
export interface ConformanceEnv {
  /** Waits until `done()` is true; fails with `what` after the fixture's timeout. */
  waitFor(done: () => boolean, what: string): Promise<void>;
  /** Lets the medium run for the quiet period (so that anything in flight arrives). */
  quiet(): Promise<void>;
}

export class ConformanceFailure extends Error {
  override readonly name = "ConformanceFailure";
}

export interface ConformanceResult {
  name: string;
  passed: boolean;
  error?: unknown;
}

interface Received {
  bytes: Uint8Array;
  from: MediaAddress;
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ConformanceFailure(message);
}

function pattern(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function record(t: Transport): Received[] {
  const got: Received[] = [];
  // copy: the contract lets a transport share or reuse received buffers
  t.onReceive((bytes, from) => got.push({ bytes: Uint8Array.from(bytes), from: { ...from } }));
  return got;
}

function expectThrows(fn: () => void, code: TransportErrorCode, what: string): void {
  try {
    fn();
  } catch (e) {
    check(isTransportError(e), `${what}: threw ${String(e)} instead of a TransportError`);
    check(e.code === code, `${what}: TransportError code ${e.code}, expected ${code}`);
    return;
  }
  throw new ConformanceFailure(`${what}: did not throw (expected TransportError ${code})`);
}

function names(t: Transport): string {
  return mediaAddressKey(t.localAddress);
}

/** The checks, in order. */
export const conformanceCases: readonly ConformanceCase[] = [
  {
    name: "states specificationVersion v1, a well-formed local address, an MTU and canBroadcast",
    members: 2,
    async run(t) {
      const keys = new Set<string>();
      for (const x of t) {
        check(x.specificationVersion === "v1", `specificationVersion is ${String(x.specificationVersion)}`);
        check(isMediaAddress(x.localAddress), `localAddress ${JSON.stringify(x.localAddress)} is malformed`);
        check(Number.isInteger(x.mtu) && x.mtu >= 128, `mtu ${x.mtu} is not an integer >= 128`);
        check(typeof x.canBroadcast === "boolean", "canBroadcast is not a boolean");
        keys.add(names(x));
      }
      check(keys.size === t.length, "two members share one localAddress");
    },
  },
  {
    name: "send delivers the bytes intact with the sender's address as from",
    members: 3,
    async run(t, env) {
      const [a, b, c] = t as [Transport, Transport, Transport];
      const gotB = record(b);
      const gotC = record(c);
      const data = pattern(300, 1);
      a.send(b.localAddress, data);
      await env.waitFor(() => gotB.length >= 1, "B to receive A's datagram");
      const first = gotB[0] as Received;
      check(sameBytes(first.bytes, data), "B received different bytes than A sent");
      check(
        mediaAddressEquals(first.from, a.localAddress),
        `from is ${JSON.stringify(first.from)}, A is ${JSON.stringify(a.localAddress)}`,
      );
      await env.quiet();
      check(gotB.length === 1, `B received ${gotB.length} copies`);
      check(gotC.length === 0, "C received a datagram sent to B");
    },
  },
  {
    name: "from can be used to reply",
    members: 2,
    async run(t, env) {
      const [a, b] = t as [Transport, Transport];
      const gotA = record(a);
      b.onReceive((bytes, from) => b.send(from, Uint8Array.from(bytes).reverse()));
      a.send(b.localAddress, Uint8Array.of(1, 2, 3, 4));
      await env.waitFor(() => gotA.length >= 1, "A to receive B's reply");
      check(sameBytes((gotA[0] as Received).bytes, Uint8Array.of(4, 3, 2, 1)), "reply bytes differ");
      check(mediaAddressEquals((gotA[0] as Received).from, b.localAddress), "reply's from is not B");
    },
  },
  {
    name: "a datagram of exactly mtu bytes is delivered",
    members: 2,
    async run(t, env) {
      const [a, b] = t as [Transport, Transport];
      const gotB = record(b);
      const data = pattern(a.mtu, 7);
      a.send(b.localAddress, data);
      await env.waitFor(() => gotB.length >= 1, `B to receive an ${a.mtu}-byte datagram`);
      check(sameBytes((gotB[0] as Received).bytes, data), "the mtu-sized datagram arrived altered");
    },
  },
  {
    name: "send and broadcast refuse oversize, empty and non-Uint8Array datagrams with typed errors",
    members: 2,
    async run(t) {
      const [a, b] = t as [Transport, Transport];
      expectThrows(
        () => a.send(b.localAddress, new Uint8Array(a.mtu + 1)),
        "OVERSIZE",
        "send(mtu + 1 bytes)",
      );
      expectThrows(() => a.broadcast(new Uint8Array(a.mtu + 1)), "OVERSIZE", "broadcast(mtu + 1 bytes)");
      expectThrows(() => a.send(b.localAddress, new Uint8Array(0)), "BAD_DATAGRAM", "send(empty)");
      expectThrows(
        () => a.send(b.localAddress, [1, 2, 3] as unknown as Uint8Array),
        "BAD_DATAGRAM",
        "send(array)",
      );
    },
  },
  {
    name: "send refuses malformed addresses with BAD_ADDRESS",
    members: 2,
    async run(t) {
      const [a] = t as [Transport];
      const bad: unknown[] = [
        { family: a.localAddress.family, address: "300.1.2.3", port: 6118 },
        { family: a.localAddress.family, address: "::zz", port: 6118 },
        { ...a.localAddress, port: 70000 },
        { ...a.localAddress, port: -1 },
        { ...a.localAddress, port: 1.5 },
        { ...a.localAddress, family: "ipx" },
        null,
      ];
      for (const to of bad) {
        expectThrows(
          () => a.send(to as MediaAddress, Uint8Array.of(1)),
          "BAD_ADDRESS",
          `send to ${JSON.stringify(to)}`,
        );
      }
    },
  },
  {
    name: "never calls a receive handler synchronously from send or broadcast",
    members: 2,
    async run(t, env) {
      const [a, b] = t as [Transport, Transport];
      let inside = false;
      let reentered = false;
      let count = 0;
      const handler = () => {
        if (inside) reentered = true;
        count++;
      };
      a.onReceive(handler);
      b.onReceive(handler);
      inside = true;
      a.send(b.localAddress, Uint8Array.of(1));
      b.send(a.localAddress, Uint8Array.of(2));
      a.broadcast(Uint8Array.of(3));
      inside = false;
      await env.waitFor(() => count >= 3, "three deliveries");
      check(!reentered, "a handler ran inside send/broadcast");
    },
  },
  {
    name: "the caller may reuse its buffer as soon as send returns",
    members: 2,
    async run(t, env) {
      const [a, b] = t as [Transport, Transport];
      const gotB = record(b);
      const buf = pattern(64, 3);
      const copy = Uint8Array.from(buf);
      a.send(b.localAddress, buf);
      buf.fill(0xee);
      a.broadcast(buf.subarray(8, 40));
      buf.fill(0x11);
      await env.waitFor(() => gotB.length >= 2, "both datagrams");
      const bySize = [...gotB].sort((x, y) => y.bytes.byteLength - x.bytes.byteLength);
      check(sameBytes((bySize[0] as Received).bytes, copy), "send used the buffer after returning");
      check(
        sameBytes((bySize[1] as Received).bytes, new Uint8Array(32).fill(0xee)),
        "broadcast of a subarray arrived altered",
      );
    },
  },
  {
    name: "broadcast reaches every other member once and never the sender",
    members: 3,
    async run(t, env) {
      const got = t.map(record);
      const data = pattern(200, 5);
      (t[0] as Transport).broadcast(data);
      await env.waitFor(() => (got[1]?.length ?? 0) >= 1 && (got[2]?.length ?? 0) >= 1, "B and C to receive");
      await env.quiet();
      check(got[0]?.length === 0, "the sender received its own broadcast");
      for (const i of [1, 2]) {
        const g = got[i] as Received[];
        check(g.length === 1, `member ${i} received the broadcast ${g.length} times`);
        check(sameBytes((g[0] as Received).bytes, data), `member ${i} received different bytes`);
        check(mediaAddressEquals((g[0] as Received).from, (t[0] as Transport).localAddress), "from is not A");
      }
    },
  },
  {
    name: "carries a burst of 100 datagrams each way",
    members: 2,
    async run(t, env) {
      const [a, b] = t as [Transport, Transport];
      const gotA = record(a);
      const gotB = record(b);
      for (let i = 0; i < 100; i++) {
        a.send(b.localAddress, pattern(20 + i, 100 + i));
        b.send(a.localAddress, pattern(20 + i, 200 + i));
      }
      await env.waitFor(() => gotA.length >= 100 && gotB.length >= 100, "100 datagrams each way");
      const sizes = (g: Received[]) => new Set(g.map((r) => r.bytes.byteLength));
      check(sizes(gotB).size === 100 && sizes(gotA).size === 100, "some datagrams are missing or duplicated");
      for (const r of gotB)
        check(sameBytes(r.bytes, pattern(r.bytes.byteLength, 80 + r.bytes.byteLength)), "A->B altered");
      for (const r of gotA)
        check(sameBytes(r.bytes, pattern(r.bytes.byteLength, 180 + r.bytes.byteLength)), "B->A altered");
    },
  },
  {
    name: "every handler receives; an unsubscribed handler does not",
    members: 2,
    async run(t, env) {
      const [a, b] = t as [Transport, Transport];
      let one = 0;
      let two = 0;
      const offOne = b.onReceive(() => one++);
      b.onReceive(() => two++);
      a.send(b.localAddress, Uint8Array.of(1));
      await env.waitFor(() => one === 1 && two === 1, "both handlers");
      offOne();
      a.send(b.localAddress, Uint8Array.of(2));
      await env.waitFor(() => two === 2, "the remaining handler");
      await env.quiet();
      check(one === 1, "an unsubscribed handler was called");
    },
  },
  {
    name: "a throwing handler is reported as HANDLER and does not stop other handlers",
    members: 2,
    async run(t, env) {
      const [a, b] = t as [Transport, Transport];
      const errors: string[] = [];
      b.onError((e) => errors.push(e.code));
      b.onReceive(() => {
        throw new Error("boom");
      });
      const gotB = record(b);
      a.send(b.localAddress, Uint8Array.of(9));
      a.send(b.localAddress, Uint8Array.of(10));
      await env.waitFor(() => gotB.length >= 2 && errors.length >= 2, "two deliveries and two errors");
      check(
        errors.every((c) => c === "HANDLER"),
        `errors reported: ${errors.join(",")}`,
      );
    },
  },
  {
    name: "peers(), when present, lists each reachable member once and never itself",
    members: 3,
    async run(t) {
      for (const x of t) {
        if (x.peers === undefined) continue;
        check(typeof x.peers === "function", "peers is present but not a function");
        const list: unknown = x.peers();
        check(Array.isArray(list), `peers() returned ${String(list)}, not an array`);
        const keys = new Set<string>();
        for (const p of list) {
          check(isMediaAddress(p), `peers() lists a malformed address ${JSON.stringify(p)}`);
          const key = mediaAddressKey(p);
          check(!keys.has(key), `peers() lists ${key} twice`);
          check(key !== names(x), `peers() of ${names(x)} lists itself`);
          keys.add(key);
        }
        if (!x.canBroadcast) {
          for (const other of t) {
            if (other === x) continue;
            check(keys.has(names(other)), `peers() of replicast ${names(x)} omits ${names(other)}`);
          }
        }
      }
    },
  },
  {
    name: "drops(), when present, returns non-negative integer counts by cause",
    members: 2,
    async run(t) {
      for (const x of t) {
        if (x.drops === undefined) continue;
        check(typeof x.drops === "function", "drops is present but not a function");
        const d: unknown = x.drops();
        check(typeof d === "object" && d !== null && !Array.isArray(d), `drops() returned ${String(d)}`);
        for (const [cause, n] of Object.entries(d as Record<string, unknown>))
          check(
            typeof n === "number" && Number.isInteger(n) && n >= 0,
            `drops() counts ${cause} as ${String(n)}, not a non-negative integer`,
          );
      }
    },
  },
  {
    name: "close is idempotent, stops delivery, and a later send throws CLOSED",
    members: 3,
    async run(t, env) {
      const [a, b, c] = t as [Transport, Transport, Transport];
      const gotB = record(b);
      const gotC = record(c);
      await b.close();
      await b.close();
      expectThrows(() => b.send(a.localAddress, Uint8Array.of(1)), "CLOSED", "send after close");
      expectThrows(() => b.broadcast(Uint8Array.of(1)), "CLOSED", "broadcast after close");
      // sending to a member that went away is a network event, not a caller mistake: no throw
      a.send(b.localAddress, Uint8Array.of(2));
      a.broadcast(Uint8Array.of(3));
      a.send(c.localAddress, Uint8Array.of(4));
      await env.waitFor(() => gotC.length >= 2, "C to keep receiving after B closed");
      await env.quiet();
      check(gotB.length === 0, "a closed transport delivered a datagram");
    },
  },
];

function makeEnv(fixture: ConformanceFixture): ConformanceEnv {
  const timeoutMs = fixture.timeoutMs ?? 3000;
  const quietMs = fixture.quietMs ?? 60;
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 2));
  return {
    async waitFor(done, what) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (fixture.advance) await fixture.advance();
        if (done()) return;
        if (Date.now() > deadline) throw new ConformanceFailure(`timed out waiting for ${what}`);
        await pause();
      }
    },
    async quiet() {
      const until = Date.now() + quietMs;
      do {
        if (fixture.advance) await fixture.advance();
        await pause();
      } while (Date.now() < until);
    },
  };
}

/** Runs one case with fresh transports from the fixture, closing them and tearing down after. */
export async function runConformanceCase(fixture: ConformanceFixture, c: ConformanceCase): Promise<void> {
  const transports = await fixture.setup(c.members);
  check(transports.length >= c.members, `setup(${c.members}) returned ${transports.length} transports`);
  try {
    await c.run(transports, makeEnv(fixture));
  } finally {
    await Promise.allSettled(transports.map((x) => x.close()));
    await fixture.teardown?.(transports);
  }
}

/** Runs every case and reports each result (never throws for a failing case). */
export async function runConformance(fixture: ConformanceFixture): Promise<ConformanceResult[]> {
  const results: ConformanceResult[] = [];
  for (const c of conformanceCases) {
    try {
      await runConformanceCase(fixture, c);
      results.push({ name: c.name, passed: true });
    } catch (error) {
      results.push({ name: c.name, passed: false, error });
    }
  }
  return results;
}

/** The `describe`/`it` pair of a test framework. */
export interface TestApi {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>, timeout?: number): unknown;
}

/**
 * Registers the suite as one `describe` block with one `it` per case. Pass your framework's
 * `describe` and `it` (or rely on globals, as with `vitest --globals`, mocha or jest).
 */
export function describeTransportConformance(
  title: string,
  fixture: ConformanceFixture,
  api?: TestApi,
): void {
  const g = globalThis as unknown as Partial<TestApi>;
  const describe = api?.describe ?? g.describe;
  const it = api?.it ?? g.it;
  if (!describe || !it) throw new TypeError("pass { describe, it } from your test framework");
  const caseTimeout = (fixture.timeoutMs ?? 3000) * 4 + 10_000;
  describe(`${title}: @tipcjs/transport conformance (v1)`, () => {
    for (const c of conformanceCases) it(c.name, () => runConformanceCase(fixture, c), caseTimeout);
  });
}
