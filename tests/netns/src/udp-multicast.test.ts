// The UDP transport in multicast mode, between network namespaces this file creates and
// removes: the conformance suite for IPv4 (the kernel's default group 228.0.18.103) and IPv6
// (ff02::4711 on the veth), and one broadcast being one transmission.
import { describeTransportConformance } from "@tipcjs/transport/conformance";
import type { UdpTransportOptions } from "@tipcjs/transport-udp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNetwork, existingNamespaces, type Network } from "./netns.js";
import { MemberProcess } from "./proxy.js";

let network: Network | undefined;
let members: MemberProcess[] = [];

beforeAll(async () => {
  network = createNetwork(3);
  members = network.members.map((m) => new MemberProcess(m.ns));
  await Promise.all(members.map((m) => m.ready()));
});

afterAll(() => {
  for (const m of members) m.kill();
  const id = network?.id;
  network?.destroy();
  if (id) expect(existingNamespaces(id)).toEqual([]);
});

function fixture(options: (i: number) => UdpTransportOptions) {
  return {
    setup: (count: number) => Promise.all(members.slice(0, count).map((m, i) => m.open(options(i)))),
  };
}

const ipv4 = (i: number): UdpTransportOptions => ({ localAddress: `10.77.0.${i + 1}`, clusterId: 4711 });
const ipv6 = (i: number): UdpTransportOptions => ({
  localAddress: `fd77::${i + 1}`,
  clusterId: 4711,
  multicastInterface: "eth0",
});

describeTransportConformance("UDP multicast, IPv4, between namespaces", fixture(ipv4), { describe, it });
describeTransportConformance("UDP multicast, IPv6, between namespaces", fixture(ipv6), { describe, it });

describe("UDP multicast between namespaces", () => {
  for (const [name, options, group] of [
    ["IPv4", ipv4, "228.0.18.103"],
    ["IPv6", ipv6, "ff02::4711"],
  ] as const) {
    it(`${name}: one broadcast is one transmission to ${group}:6118 and reaches both other namespaces`, async () => {
      const ts = await Promise.all(members.map((m, i) => m.open(options(i))));
      try {
        const got: string[] = [];
        for (const [i, t] of ts.entries())
          t.onReceive((_d, from) => got.push(`${i}<-${from.address}:${from.port}`));
        ts[0]?.broadcast(Uint8Array.of(1, 2, 3));
        for (let i = 0; i < 400 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, 50));
        const a = ts[0]?.localAddress.address;
        expect(got.sort()).toEqual([`1<-${a}:6118`, `2<-${a}:6118`]);
        const counters = await members[0]?.counters();
        expect(counters?.datagramsSent).toBe(1);
        expect(counters?.ownDropped).toBe(1); // the looped-back copy of our own multicast
      } finally {
        await Promise.all(ts.map((t) => t.close()));
      }
    });
  }
});
