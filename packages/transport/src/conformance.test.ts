import { describe, expect, it } from "vitest";
import { mediaAddressKey } from "./address.js";
import { conformanceCases, describeTransportConformance, runConformance } from "./conformance.js";
import { checkDatagram, Handlers } from "./helpers.js";
import { type MediaAddress, type Transport, TransportError } from "./transport.js";

// A minimal in-test hub transport: the smallest thing that should pass the suite, and a way
// to show that the suite catches a transport that breaks the rules.
function hub(
  options: {
    selfBroadcast?: boolean;
    syncDelivery?: boolean;
    /** give members a peers(): the others, the others and itself, or only the first other */
    peers?: "others" | "with-self" | "one-other";
    canBroadcast?: boolean;
    /** give members a drops(): valid counts, or a broken one (a negative, a fraction) */
    drops?: "valid" | "broken";
  } = {},
) {
  const members = new Map<string, { handlers: Handlers; closed: boolean; address: MediaAddress }>();
  let next = 1;
  return (): Transport => {
    const localAddress: MediaAddress = { family: "ipv4", address: `127.88.0.${next++}`, port: 6118 };
    const me = { handlers: new Handlers(), closed: false, address: localAddress };
    members.set(mediaAddressKey(localAddress), me);
    const deliver = (to: { handlers: Handlers; closed: boolean }, copy: Uint8Array) => {
      const run = () => {
        if (!to.closed) to.handlers.deliver(copy, localAddress);
      };
      if (options.syncDelivery) run();
      else setImmediate(run);
    };
    const guard = (d: Uint8Array) => {
      if (me.closed) throw new TransportError("CLOSED", "closed");
      checkDatagram(d, 1500);
    };
    const peers = (): MediaAddress[] => {
      const others = [...members.values()].filter((m) => m !== me).map((m) => m.address);
      if (options.peers === "with-self") return [...others, localAddress];
      if (options.peers === "one-other") return others.slice(0, 1);
      return others;
    };
    return {
      ...(options.peers ? { peers } : {}),
      ...(options.drops
        ? {
            drops: (): Record<string, number> =>
              options.drops === "valid" ? { "queue-full": 3, other: 0 } : { "queue-full": -1, half: 0.5 },
          }
        : {}),
      specificationVersion: "v1",
      localAddress,
      mtu: 1500,
      canBroadcast: options.canBroadcast ?? true,
      send(to, d) {
        guard(d);
        const target = members.get(mediaAddressKey(to));
        if (target) deliver(target, d.slice());
      },
      broadcast(d) {
        guard(d);
        const copy = d.slice();
        for (const m of members.values()) if (m !== me || options.selfBroadcast) deliver(m, copy);
      },
      onReceive: (h) => me.handlers.onReceive(h),
      onError: (h) => me.handlers.onError(h),
      async close() {
        me.closed = true;
        me.handlers.clear();
      },
    };
  };
}

function fixtureOf(make: () => Transport) {
  return { setup: async (n: number) => Array.from({ length: n }, make), timeoutMs: 500, quietMs: 20 };
}

describeTransportConformance("reference hub", fixtureOf(hub()), { describe, it });

describe("the conformance suite", () => {
  it("has cases and reports every one", async () => {
    const results = await runConformance(fixtureOf(hub()));
    expect(results).toHaveLength(conformanceCases.length);
    expect(results.filter((r) => !r.passed)).toEqual([]);
  });

  it("fails a transport that delivers its own broadcast to itself", async () => {
    const results = await runConformance(fixtureOf(hub({ selfBroadcast: true })));
    const failed = results.filter((r) => !r.passed).map((r) => r.name);
    expect(failed).toContain("broadcast reaches every other member once and never the sender");
  });

  it("fails a transport that delivers synchronously", async () => {
    const results = await runConformance(fixtureOf(hub({ syncDelivery: true })));
    const failed = results.filter((r) => !r.passed).map((r) => r.name);
    expect(failed).toContain("never calls a receive handler synchronously from send or broadcast");
  });

  it("passes a transport whose peers() lists the others, broadcasting or replicating", async () => {
    for (const canBroadcast of [true, false]) {
      const results = await runConformance(fixtureOf(hub({ peers: "others", canBroadcast })));
      expect(results.filter((r) => !r.passed)).toEqual([]);
    }
  });

  it("fails a transport whose peers() lists itself", async () => {
    const results = await runConformance(fixtureOf(hub({ peers: "with-self" })));
    const failed = results.filter((r) => !r.passed).map((r) => r.name);
    expect(failed).toEqual(["peers(), when present, lists each reachable member once and never itself"]);
  });

  it("fails a replicast transport whose peers() omits a member that broadcast reaches", async () => {
    const bad = await runConformance(fixtureOf(hub({ peers: "one-other", canBroadcast: false })));
    expect(bad.filter((r) => !r.passed).map((r) => r.name)).toEqual([
      "peers(), when present, lists each reachable member once and never itself",
    ]);
    // a transport that can broadcast may list fewer (its peers() is not what broadcast uses)
    const ok = await runConformance(fixtureOf(hub({ peers: "one-other", canBroadcast: true })));
    expect(ok.filter((r) => !r.passed)).toEqual([]);
  });

  it("passes a transport whose drops() counts, fails one whose counts are not non-negative integers", async () => {
    const ok = await runConformance(fixtureOf(hub({ drops: "valid" })));
    expect(ok.filter((r) => !r.passed)).toEqual([]);
    const bad = await runConformance(fixtureOf(hub({ drops: "broken" })));
    expect(bad.filter((r) => !r.passed).map((r) => r.name)).toEqual([
      "drops(), when present, returns non-negative integer counts by cause",
    ]);
  });

  it("checkDatagram refuses bad datagrams with typed errors", () => {
    expect(() => checkDatagram(new Uint8Array(0), 10)).toThrow(
      expect.objectContaining({ code: "BAD_DATAGRAM" }),
    );
    expect(() => checkDatagram(new Uint8Array(11), 10)).toThrow(
      expect.objectContaining({ code: "OVERSIZE" }),
    );
    expect(() => checkDatagram(new Uint8Array(10), 10)).not.toThrow();
  });
});
