import { createHash } from "node:crypto";
import { describeTransportConformance } from "@tipcjs/transport/conformance";
import { describe, expect, it } from "vitest";
import { createVirtualClock } from "./clock.js";
import { type Faults, memoryFabric } from "./fabric.js";

describeTransportConformance(
  "memory fabric, real time",
  {
    setup: async (n) => {
      const fabric = memoryFabric();
      return Array.from({ length: n }, () => fabric.join());
    },
    timeoutMs: 1000,
    quietMs: 20,
  },
  { describe, it },
);

{
  const clock = createVirtualClock(7);
  describeTransportConformance(
    "memory fabric, virtual clock",
    {
      setup: async (n) => {
        const fabric = memoryFabric({ clock });
        return Array.from({ length: n }, () => fabric.join());
      },
      advance: () => {
        clock.runUntilIdle();
      },
      timeoutMs: 1000,
      quietMs: 10,
    },
    { describe, it },
  );
}

/** Runs a small faulty cluster conversation and returns the delivery trace. */
function traceRun(seed: number): string[] {
  const clock = createVirtualClock(seed);
  const fabric = memoryFabric({
    clock,
    faults: { loss: 0.1, duplicate: 0.05, reorder: 0.1, delay: 2, jitter: 3 },
  });
  const members = Array.from({ length: 6 }, () => fabric.join());
  const at = (i: number) => members[i % members.length] as (typeof members)[number];
  const trace: string[] = [];
  fabric.observe((e) => {
    const bytes = Buffer.from(e.datagram).toString("hex");
    const to = e.to === "broadcast" ? "*" : `${e.to.address}:${e.to.port}`;
    const extra = e.kind === "drop" ? ` ${e.cause}` : "";
    trace.push(`${e.time.toFixed(6)} ${e.kind} ${e.from.address} ${to} ${bytes}${extra}`);
  });
  members.forEach((m, i) => {
    m.onReceive((d, from) => {
      // echo some back, so that the conversation depends on what arrived when
      if ((d[0] as number) < 3 && clock.random() < 0.5) m.send(from, Uint8Array.of((d[0] as number) + 1, i));
    });
  });
  for (let round = 0; round < 20; round++) {
    clock.setTimer(round * 5, () => {
      const sender = at(round);
      if (round % 3 === 0) sender.broadcast(Uint8Array.of(0, round));
      else sender.send(at(round * 7).localAddress, Uint8Array.of(1, round));
    });
  }
  fabric.partition([at(0).localAddress], [at(1).localAddress], { healAfter: 40 });
  clock.runUntilIdle();
  return trace;
}

describe("memory fabric", () => {
  it("replays a faulty run exactly from its seed (identical delivery trace, byte for byte)", () => {
    const a = traceRun(1234);
    const b = traceRun(1234);
    const c = traceRun(4321);
    expect(a.length).toBeGreaterThan(50);
    const digest = (t: string[]) => createHash("sha256").update(t.join("\n")).digest("hex");
    expect(digest(b)).toBe(digest(a));
    expect(b).toEqual(a);
    expect(digest(c)).not.toBe(digest(a));
    expect(a.some((l) => l.includes(" drop ") || l.includes("drop"))).toBe(true);
  });

  it("broadcasts once to every other member and counts it", () => {
    const clock = createVirtualClock(1);
    const fabric = memoryFabric({ clock });
    const members = Array.from({ length: 50 }, () => fabric.join());
    let got = 0;
    for (const m of members) m.onReceive(() => got++);
    members[0]?.broadcast(new Uint8Array(10));
    expect(got).toBe(0);
    clock.runUntilIdle();
    expect(got).toBe(49);
    expect(fabric.counters).toMatchObject({
      transmissions: 1,
      bytesTransmitted: 10,
      deliveries: 49,
      bytesDelivered: 490,
    });
    expect(members[1]?.counters.deliveries).toBe(1);
    expect(members[0]?.counters.transmissions).toBe(1);
  });

  it("hands out distinct pseudo addresses and refuses a taken one until its member closes", async () => {
    const fabric = memoryFabric();
    const a = fabric.join();
    const b = fabric.join();
    expect(a.localAddress).toEqual({ family: "ipv4", address: "127.77.0.1", port: 6118 });
    expect(b.localAddress.address).toBe("127.77.0.2");
    expect(() => fabric.join({ address: { ...a.localAddress } })).toThrow(
      expect.objectContaining({ code: "ADDRESS_IN_USE" }),
    );
    await a.close();
    const again = fabric.join({ address: { ...a.localAddress } });
    expect(again.localAddress).toEqual(a.localAddress);
    expect(fabric.members()).toHaveLength(2);
  });

  it("delivers to a member that rejoined with the address of a closed one", async () => {
    const clock = createVirtualClock(1);
    const fabric = memoryFabric({ clock });
    const a = fabric.join();
    const b = fabric.join();
    await b.close();
    const b2 = fabric.join({ address: { ...b.localAddress } });
    let got = 0;
    b2.onReceive(() => got++);
    a.send(b.localAddress, Uint8Array.of(1)); // the old, frozen address object
    clock.runUntilIdle();
    expect(got).toBe(1);
  });

  it("counts drops by cause: loss, partition, closed, no-route and mtu", async () => {
    const clock = createVirtualClock(9);
    const fabric = memoryFabric({ clock });
    const [a, b, c] = [fabric.join(), fabric.join({ mtu: 200 }), fabric.join()];
    if (!a || !b || !c) throw new Error("unreachable");
    fabric.setPairFaults(a.localAddress, c.localAddress, { loss: 1 }, { oneWay: true });
    a.send(c.localAddress, Uint8Array.of(1));
    c.send(a.localAddress, Uint8Array.of(1));
    a.send(b.localAddress, new Uint8Array(201));
    a.send({ family: "ipv4", address: "10.9.9.9", port: 1 }, Uint8Array.of(1));
    const p = fabric.partition([a.localAddress], [b.localAddress]);
    a.send(b.localAddress, Uint8Array.of(1));
    clock.runUntilIdle();
    p.heal();
    expect(p.healed).toBe(true);
    a.send(b.localAddress, Uint8Array.of(2));
    await c.close();
    a.send(c.localAddress, Uint8Array.of(3));
    fabric.setPairFaults(a.localAddress, c.localAddress, undefined);
    clock.runUntilIdle();
    expect(fabric.counters.drops).toEqual({ loss: 1, partition: 1, closed: 1, "no-route": 1, mtu: 1 });
    expect(fabric.counters.deliveries).toBe(2);
    fabric.resetCounters();
    expect(fabric.counters.deliveries).toBe(0);
  });

  it("heals a timed partition on the fabric clock", () => {
    const clock = createVirtualClock(1);
    const fabric = memoryFabric({ clock });
    const [a, b] = [fabric.join(), fabric.join()];
    if (!a || !b) throw new Error("unreachable");
    const got: number[] = [];
    b.onReceive((d) => got.push(d[0] as number));
    fabric.partition([a.localAddress], [b.localAddress], { healAfter: 100 });
    for (let t = 0; t < 200; t += 25) clock.setTimer(t, () => a.send(b.localAddress, Uint8Array.of(t)));
    clock.runUntilIdle();
    expect(got).toEqual([100, 125, 150, 175]);
    expect(fabric.counters.drops.partition).toBe(4);
  });

  it("applies delay and jitter on the virtual clock, and reorders", () => {
    const clock = createVirtualClock(3);
    const faults: Faults = { delay: 10, jitter: 5 };
    const fabric = memoryFabric({ clock });
    const [a, b] = [fabric.join({ faults }), fabric.join()];
    if (!a || !b) throw new Error("unreachable");
    const arrivals: { n: number; t: number }[] = [];
    b.onReceive((d) => arrivals.push({ n: d[0] as number, t: clock.now() }));
    for (let i = 0; i < 50; i++) a.send(b.localAddress, Uint8Array.of(i));
    clock.runUntilIdle();
    expect(arrivals).toHaveLength(50);
    expect(arrivals.every((x) => x.t >= 10 && x.t < 15)).toBe(true);
    const order = arrivals.map((x) => x.n);
    expect(order).not.toEqual([...order].sort((x, y) => x - y)); // jitter reorders
  });

  it("duplicates and holds back datagrams with the fault probabilities given", () => {
    const clock = createVirtualClock(5);
    const fabric = memoryFabric({ clock, faults: { duplicate: 0.5, reorder: 0.5, reorderDelay: 3 } });
    const [a, b] = [fabric.join(), fabric.join()];
    if (!a || !b) throw new Error("unreachable");
    let got = 0;
    b.onReceive(() => got++);
    for (let i = 0; i < 1000; i++) a.send(b.localAddress, Uint8Array.of(1));
    clock.runUntilIdle();
    expect(got).toBe(1000 + fabric.counters.duplicates);
    expect(fabric.counters.duplicates).toBeGreaterThan(400);
    expect(fabric.counters.duplicates).toBeLessThan(600);
    expect(fabric.counters.reordered).toBeGreaterThan(600);
  });

  it("loses about the configured fraction, combining link and pair faults", () => {
    const clock = createVirtualClock(11);
    const fabric = memoryFabric({ clock });
    const [a, b] = [fabric.join({ faults: { loss: 0.5 } }), fabric.join()];
    if (!a || !b) throw new Error("unreachable");
    fabric.setPairFaults(a.localAddress, b.localAddress, { loss: 0.5 });
    let got = 0;
    b.onReceive(() => got++);
    for (let i = 0; i < 2000; i++) a.send(b.localAddress, Uint8Array.of(1));
    clock.runUntilIdle();
    expect(got).toBeGreaterThan(400); // 1 - 0.5*0.5 lost: about 500 arrive
    expect(got).toBeLessThan(600);
    fabric.setLinkFaults(a.localAddress, undefined);
    fabric.setPairFaults(a.localAddress, b.localAddress, undefined);
    a.send(b.localAddress, Uint8Array.of(1));
    clock.runUntilIdle();
    expect(fabric.counters.drops.loss + got).toBe(2001);
  });

  it("refuses bad fault values and unknown members", () => {
    const fabric = memoryFabric();
    expect(() => fabric.setFaults({ loss: 2 })).toThrow(RangeError);
    expect(() => fabric.setFaults({ delay: -1 })).toThrow(RangeError);
    expect(() => fabric.setLinkFaults({ family: "ipv4", address: "1.2.3.4", port: 1 }, {})).toThrow(
      expect.objectContaining({ code: "BAD_ADDRESS" }),
    );
  });
});
