import dgram from "node:dgram";
import { type MediaAddress, TransportError } from "@tipcjs/transport";
import { describeTransportConformance } from "@tipcjs/transport/conformance";
import { describe, expect, it } from "vitest";
import { discovery } from "./__helpers__/wire.js";
import { defaultMulticastGroup, type UdpTransport, udpTransport } from "./udp.js";

async function replicastMesh(count: number, localAddress: string): Promise<UdpTransport[]> {
  const ts = await Promise.all(
    Array.from({ length: count }, () => udpTransport({ localAddress, localPort: 0, mode: "replicast" })),
  );
  for (const a of ts) for (const b of ts) if (a !== b) a.addPeer(b.localAddress);
  return ts;
}

describeTransportConformance(
  "UDP replicast on IPv4 loopback",
  { setup: (n) => replicastMesh(n, "127.0.0.1") },
  { describe, it },
);
describeTransportConformance(
  "UDP replicast on IPv6 loopback",
  { setup: (n) => replicastMesh(n, "::1") },
  {
    describe,
    it,
  },
);

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    return e as TransportError;
  }
  throw new Error("expected a rejection");
}

describe("UDP transport", () => {
  it("derives the kernel tool's default multicast group from the cluster id", () => {
    expect(defaultMulticastGroup(4711, "ipv4")).toBe("228.0.18.103");
    expect(defaultMulticastGroup(4711, "ipv6")).toBe("ff02::4711");
    expect(defaultMulticastGroup(1, "ipv4")).toBe("228.0.0.1");
    expect(() => defaultMulticastGroup(0, "ipv4")).toThrow(TransportError);
    expect(() => defaultMulticastGroup(10000, "ipv6")).toThrow(TransportError);
  });

  it("defaults to port 6118, the kernel's MTUs and the mode implied by peers", async () => {
    const t = await udpTransport({ localAddress: "127.41.18.1", peers: ["127.41.18.2"] });
    try {
      expect(t.localAddress).toEqual({ family: "ipv4", address: "127.41.18.1", port: 6118 });
      expect(t.mode).toBe("replicast");
      expect(t.canBroadcast).toBe(false);
      expect(t.mtu).toBe(14000);
      expect(t.peers()).toEqual([{ family: "ipv4", address: "127.41.18.2", port: 6118 }]);
    } finally {
      await t.close();
    }
    const six = await udpTransport({ localAddress: "::1", localPort: 0, mode: "replicast" });
    expect(six.mtu).toBe(1280);
    await six.close();
  });

  it("rejects a port in use with ADDRESS_IN_USE", async () => {
    const a = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    try {
      const e = await rejection(
        udpTransport({ localAddress: "127.0.0.1", localPort: a.localAddress.port, mode: "replicast" }),
      );
      expect(e.code).toBe("ADDRESS_IN_USE");
    } finally {
      await a.close();
    }
  });

  it("rejects bad addresses, groups, peers and options with typed errors", async () => {
    expect((await rejection(udpTransport({ localAddress: "nope" }))).code).toBe("BAD_ADDRESS");
    expect((await rejection(udpTransport({ localAddress: "127.0.0.1", localPort: 70000 }))).code).toBe(
      "BAD_ADDRESS",
    );
    expect((await rejection(udpTransport({ localAddress: "228.0.0.1" }))).code).toBe("BAD_ADDRESS");
    expect((await rejection(udpTransport({ localAddress: "127.0.0.1", group: "10.0.0.1" }))).code).toBe(
      "BAD_ADDRESS",
    );
    expect((await rejection(udpTransport({ localAddress: "127.0.0.1", group: "ff02::1" }))).code).toBe(
      "BAD_ADDRESS",
    );
    expect(
      (await rejection(udpTransport({ localAddress: "127.0.0.1", mode: "multicast", peers: ["127.0.0.2"] })))
        .code,
    ).toBe("BAD_ADDRESS");
    expect((await rejection(udpTransport({ localAddress: "127.0.0.1", peers: ["::1"] }))).code).toBe(
      "BAD_ADDRESS",
    );
    expect((await rejection(udpTransport({ localAddress: "127.0.0.1", peers: ["228.0.18.103"] }))).code).toBe(
      "BAD_ADDRESS",
    );
    // 192.0.2.1 (TEST-NET-1) is not assigned to this machine: binding it fails
    expect(
      (await rejection(udpTransport({ localAddress: "192.0.2.1", localPort: 0, mode: "replicast" }))).code,
    ).toBe("BAD_ADDRESS");
    expect((await rejection(udpTransport({ localAddress: "127.0.0.1", mtu: 70000 }))).code).toBe(
      "OPEN_FAILED",
    );
    expect((await rejection(udpTransport({ localAddress: "::1", localPort: 0 }))).code).toBe("OPEN_FAILED");
  });

  it("refuses to send across families and reports unsendable datagrams without throwing", async () => {
    const t = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    try {
      expect(() => t.send({ family: "ipv6", address: "::1", port: 1 }, Uint8Array.of(1))).toThrow(
        expect.objectContaining({ code: "BAD_ADDRESS" }),
      );
      expect(() => t.addPeer("::1")).toThrow(expect.objectContaining({ code: "BAD_ADDRESS" }));
      const errors: TransportError[] = [];
      t.onError((e) => errors.push(e));
      // port 0 is not a valid destination: the socket refuses it, the transport reports it
      t.send({ family: "ipv4", address: "127.0.0.1", port: 0 }, Uint8Array.of(1));
      await new Promise((r) => setTimeout(r, 50));
      expect(errors.map((e) => e.code)).toEqual(["SOCKET"]);
      expect(t.counters.sendErrors).toBe(1);
    } finally {
      await t.close();
    }
  });

  it("reports an asynchronous socket failure as SOCKET and keeps working", async () => {
    const [a, b] = await replicastMesh(2, "127.0.0.1");
    if (!a || !b) throw new Error("unreachable");
    try {
      const errors: TransportError[] = [];
      a.onError((e) => errors.push(e));
      // the limited broadcast address without SO_BROADCAST: the kernel refuses it (EACCES)
      a.send({ family: "ipv4", address: "255.255.255.255", port: 6118 }, Uint8Array.of(1));
      let got = 0;
      b.onReceive(() => got++);
      a.send(b.localAddress, Uint8Array.of(2));
      for (let i = 0; i < 200 && (errors.length < 1 || got < 1); i++)
        await new Promise((r) => setTimeout(r, 5));
      expect(errors.map((e) => e.code)).toEqual(["SOCKET"]);
      expect(a.counters.sendErrors).toBe(1);
      expect(got).toBe(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("learns replicast peers from discovery datagrams only, up to maxPeers", async () => {
    const t = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast", maxPeers: 1 });
    const raw = [dgram.createSocket("udp4"), dgram.createSocket("udp4"), dgram.createSocket("udp4")];
    try {
      await Promise.all(raw.map((s) => new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()))));
      const got: MediaAddress[] = [];
      t.onReceive((_d, from) => got.push(from));
      const [s0, s1, s2] = raw as [dgram.Socket, dgram.Socket, dgram.Socket];
      s0.send(Uint8Array.of(0x40, 0, 0, 0, 1, 2, 3, 4), t.localAddress.port, "127.0.0.1"); // user 0 data: no learning
      const at = (s: dgram.Socket) => ({
        family: "ipv4" as const,
        address: "127.0.0.1",
        port: s.address().port,
      });
      s1.send(discovery(at(s1)), t.localAddress.port, "127.0.0.1");
      s2.send(discovery(at(s2)), t.localAddress.port, "127.0.0.1");
      for (let i = 0; i < 100 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
      expect(got).toHaveLength(3);
      const learned = t.peers();
      expect(learned).toHaveLength(1);
      expect([s1.address().port, s2.address().port]).toContain(learned[0]?.port);
      expect(t.counters).toMatchObject({ peersLearned: 1, peersRefused: 1 });
      // the learned peer now receives broadcasts
      const target = raw.find((s) => s.address().port === learned[0]?.port) as dgram.Socket;
      const seen = new Promise<Buffer>((r) => target.once("message", (m) => r(m)));
      t.broadcast(Uint8Array.of(7, 7));
      expect([...(await seen)]).toEqual([7, 7]);
      expect(t.removePeer(learned[0] as MediaAddress)).toBe(true);
      expect(t.peers()).toEqual([]);
    } finally {
      for (const s of raw) s.close();
      await t.close();
    }
  });

  it("does not learn peers when learnPeers is false", async () => {
    const t = await udpTransport({
      localAddress: "127.0.0.1",
      localPort: 0,
      mode: "replicast",
      learnPeers: false,
    });
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    try {
      let got = 0;
      t.onReceive(() => got++);
      s.send(
        discovery({ family: "ipv4", address: "127.0.0.1", port: s.address().port }),
        t.localAddress.port,
        "127.0.0.1",
      );
      for (let i = 0; i < 100 && got < 1; i++) await new Promise((r) => setTimeout(r, 5));
      expect(got).toBe(1);
      expect(t.peers()).toEqual([]);
    } finally {
      s.close();
      await t.close();
    }
  });

  it("survives a burst of garbage and keeps working", async () => {
    const [a, b] = (await replicastMesh(2, "127.0.0.1")) as [UdpTransport, UdpTransport];
    const s = dgram.createSocket("udp4");
    try {
      let got = 0;
      b.onReceive(() => got++);
      for (let i = 0; i < 50; i++) s.send(Buffer.alloc(i + 1, i), b.localAddress.port, "127.0.0.1");
      a.send(b.localAddress, Uint8Array.of(1));
      for (let i = 0; i < 200 && got < 51; i++) await new Promise((r) => setTimeout(r, 5));
      expect(got).toBe(51);
    } finally {
      s.close();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
