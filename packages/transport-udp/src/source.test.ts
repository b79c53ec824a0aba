// Every datagram leaves from `localAddress:port`, in every mode, as the kernel's bearer sends
// (it routes with our address as the source). On loopback: the transport uses 127.0.0.2, and
// the route to 127.0.0.1 would pick 127.0.0.1 as the source of a socket bound to the wildcard.
// Multicast stays on loopback with TTL 0, on a port chosen by the system.
import type dgram from "node:dgram";
import type { MediaAddress } from "@tipcjs/transport";
import { afterEach, describe, expect, it } from "vitest";
import { header, rawSocket } from "./__helpers__/wire.js";
import { type UdpTransport, type UdpTransportOptions, udpTransport } from "./udp.js";

const GROUP = "239.77.0.2"; // administratively scoped; never leaves loopback here (TTL 0)

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function transport(options: UdpTransportOptions): Promise<UdpTransport> {
  const t = await udpTransport(options);
  open.push(t);
  return t;
}
async function raw(ip: string): Promise<{ socket: dgram.Socket; address: MediaAddress }> {
  const r = await rawSocket(ip);
  open.push({ close: () => new Promise<void>((done) => r.socket.close(() => done())) });
  return r;
}

/** Waits (bounded) until `count` items arrived. */
async function until(items: unknown[], count: number): Promise<void> {
  for (let i = 0; i < 400 && items.length < count; i++) await new Promise((r) => setTimeout(r, 5));
}

/** A port free on every local address now (the group's port must be known before opening). */
async function freePort(): Promise<number> {
  const probe = await rawSocket("0.0.0.0");
  const port = probe.address.port;
  await new Promise<void>((done) => probe.socket.close(() => done()));
  return port;
}

const multicast = (localPort: number): UdpTransportOptions => ({
  localAddress: "127.0.0.2",
  localPort,
  mode: "multicast",
  group: GROUP,
  groupPort: localPort,
  multicastTtl: 0,
});

describe("UDP transport source address", () => {
  for (const [mode, options] of [
    ["multicast", async () => multicast(await freePort())],
    ["replicast", async () => ({ localAddress: "127.0.0.2", localPort: 0, mode: "replicast" }) as const],
  ] as const) {
    it(`${mode}: unicast data and link protocol leave from localAddress:port, and replies to it arrive`, async () => {
      const t = await transport(await options());
      const peer = await raw("127.0.0.1");
      const seen: string[] = [];
      peer.socket.on("message", (m, r) =>
        seen.push(`user ${((m[0] as number) >> 1) & 0xf} ${r.address}:${r.port}`),
      );
      t.send(peer.address, header(0)); // data (user 0)
      t.send(peer.address, header(7)); // LINK_PROTOCOL (user 7): bypasses the data queue
      await until(seen, 2);
      const us = `127.0.0.2:${t.localAddress.port}`;
      expect(seen.sort()).toEqual([`user 0 ${us}`, `user 7 ${us}`]);

      const got: MediaAddress[] = [];
      t.onReceive((_d, from) => got.push(from));
      peer.socket.send(header(7), t.localAddress.port, "127.0.0.2");
      await until(got, 1);
      expect(got).toEqual([peer.address]);
      expect(t.counters).toMatchObject({ datagramsSent: 2, datagramsReceived: 1 });
    });
  }

  it("multicast: the group's datagrams and unicast both reach the handler, each once; our own loop back is dropped", async () => {
    const t = await transport(multicast(await freePort()));
    const port = t.localAddress.port;
    // only one multicast transport per port and host, as the kernel's bearer (it binds the wildcard)
    expect(await transport({ ...multicast(port), localAddress: "127.0.0.3" }).catch((e) => e)).toMatchObject({
      code: "ADDRESS_IN_USE",
    });

    const sender = await raw("127.0.0.1");
    sender.socket.setMulticastInterface("127.0.0.2");
    sender.socket.setMulticastTTL(0);
    const got: string[] = [];
    t.onReceive((d, from) => got.push(`${d[0]} ${from.address}`));
    sender.socket.send(Uint8Array.of(1), port, GROUP); // the group
    sender.socket.send(Uint8Array.of(2), port, "127.0.0.2"); // unicast to us
    await until(got, 2);
    t.broadcast(Uint8Array.of(3)); // to the group: loops back to us, and is dropped as our own
    for (let i = 0; i < 400 && t.counters.ownDropped < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(got.sort()).toEqual(["1 127.0.0.1", "2 127.0.0.1"]);
    expect(t.counters).toMatchObject({ datagramsReceived: 2, ownDropped: 1, datagramsSent: 1 });
  });

  it("multicast: ADDRESS_IN_USE for a port taken at our address, and close() frees both sockets", async () => {
    const t = await transport(multicast(await freePort()));
    const port = t.localAddress.port;
    expect(await udpTransport(multicast(port)).catch((e) => e)).toMatchObject({ code: "ADDRESS_IN_USE" });
    expect(
      await udpTransport({ localAddress: "127.0.0.2", localPort: port, mode: "replicast" }).catch((e) => e),
    ).toMatchObject({ code: "ADDRESS_IN_USE" });
    await t.close();
    // both the wildcard and the address are free again: the same port opens, in either mode
    const again = await transport(multicast(port));
    expect(again.localAddress.port).toBe(port);
    await again.close();
    const replicast = await transport({ localAddress: "127.0.0.2", localPort: port, mode: "replicast" });
    expect(replicast.localAddress.port).toBe(port);
  });
});
