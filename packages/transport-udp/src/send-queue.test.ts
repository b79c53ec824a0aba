// Link supervision must not wait behind data: LINK_PROTOCOL and LINK_CONFIG datagrams go to the
// socket at once, while data waits in the transport's bounded queue when the socket's is long.
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import { USER } from "@tipcjs/codec";
import { afterEach, describe, expect, it, vi } from "vitest";
import { header, rawSocket, until } from "./__helpers__/wire.js";
import { DEFAULT_RECEIVE_BUFFER_SIZE, DEFAULT_SOCKET_QUEUE_LIMIT, udpTransport } from "./udp.js";

/** Records the TIPC user and our tag (bytes 36..39) of each datagram handed to any dgram socket. */
function spySocketSends() {
  const handed: { user: number; tag: number }[] = [];
  const original = dgram.Socket.prototype.send;
  const spy = vi.spyOn(dgram.Socket.prototype, "send").mockImplementation(function (
    this: dgram.Socket,
    ...args: unknown[]
  ) {
    const buf = args[0] as Uint8Array;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    handed.push({ user: ((buf[0] as number) >> 1) & 0xf, tag: dv.getUint32(36) });
    return (original as (...a: unknown[]) => void).apply(this, args);
  });
  return { handed, spy };
}

function data(tag: number, size = 14000): Uint8Array {
  const d = header(USER.LOW_IMPORTANCE, size);
  new DataView(d.buffer).setUint32(36, tag);
  return d;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("UDP send queue", () => {
  it("hands supervision to the socket before data queued behind a long socket queue", async () => {
    const t = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    const r = await rawSocket();
    const arrivals: number[] = [];
    r.socket.on("message", (m) => arrivals.push(((m[0] as number) >> 1) & 0xf));
    const { handed } = spySocketSends();
    try {
      for (let i = 0; i < 40; i++) t.send(r.address, data(i)); // 560 KB in one turn
      t.send(r.address, header(USER.LINK_PROTOCOL));
      t.send(r.address, header(USER.LINK_CONFIG));
      const firstProto = handed.findIndex((h) => h.user !== USER.LOW_IMPORTANCE);
      // 5 x 14000 bytes fill the socket's 64 KiB; supervision goes next, not 41st
      expect(firstProto).toBe(5);
      expect(handed.slice(5, 7).map((h) => h.user)).toEqual([USER.LINK_PROTOCOL, USER.LINK_CONFIG]);
      expect(t.counters.sendQueued).toBe(35);
      expect(t.sendQueue()).toMatchObject({ datagrams: 35, bytes: 35 * 14000 });
      // the queued data follows as the socket drains, in order, none lost
      await until(() => handed.length === 42);
      expect(handed.filter((h) => h.user === USER.LOW_IMPORTANCE).map((h) => h.tag)).toEqual(
        Array.from({ length: 40 }, (_, i) => i),
      );
      expect(t.sendQueue()).toEqual({ datagrams: 0, bytes: 0, socketDatagrams: 0, socketBytes: 0 });
      expect(t.counters.sendQueueDropped).toBe(0);
      // on the wire too: the receiver sees supervision among the first six datagrams
      await until(() => arrivals.includes(USER.LINK_CONFIG));
      expect(arrivals).toContain(USER.LINK_PROTOCOL);
      expect(arrivals.indexOf(USER.LINK_PROTOCOL)).toBeLessThanOrEqual(5);
      expect(DEFAULT_SOCKET_QUEUE_LIMIT).toBe(65536);
    } finally {
      r.socket.close();
      await t.close();
    }
  });

  it("drops data past the queue's bound, counted; supervision and broadcasts keep their order rules", async () => {
    const t = await udpTransport({
      localAddress: "127.0.0.1",
      localPort: 0,
      mode: "replicast",
      socketQueueLimit: 28_000,
      sendQueueLimit: 140_000,
    });
    const r = await rawSocket();
    t.addPeer(r.address);
    const { handed } = spySocketSends();
    try {
      for (let i = 0; i < 50; i++) t.broadcast(data(i));
      t.broadcast(header(USER.LINK_PROTOCOL));
      // 2 handed (28,000 bytes), 10 queued (140,000 bytes), 38 dropped; supervision never dropped
      expect(t.counters.sendQueued).toBe(10);
      expect(t.counters.sendQueueDropped).toBe(38);
      expect(t.drops()).toEqual({ "send-queue-full": 38 });
      expect(handed.map((h) => h.user)).toEqual([0, 0, USER.LINK_PROTOCOL]);
      await until(() => handed.length === 13);
      expect(handed.filter((h) => h.user === 0).map((h) => h.tag)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
      ]);
      // small datagrams are charged at least 256 bytes each against the bound
      t.send(r.address, data(100));
      t.send(r.address, data(101)); // the socket's share is full again
      for (let i = 0; i < 700; i++) t.send(r.address, data(1000 + i, 40));
      expect(t.sendQueue().datagrams).toBe(Math.floor(140_000 / 256));
      expect(t.counters.sendQueueDropped).toBe(38 + 700 - Math.floor(140_000 / 256));
    } finally {
      r.socket.close();
      await t.close();
    }
  });

  it("rejects queue limits that are not positive integers", async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(
        udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast", socketQueueLimit: bad }),
      ).rejects.toMatchObject({ code: "OPEN_FAILED" });
      await expect(
        udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast", sendQueueLimit: bad }),
      ).rejects.toMatchObject({ code: "OPEN_FAILED" });
    }
  });

  it("asks for a 4 MiB receive buffer by default (a link window of large messages), 0 keeps the system's", async () => {
    const rmemMax = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
    const rmemDefault = Number(readFileSync("/proc/sys/net/core/rmem_default", "utf8"));
    const t = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    const sys = await udpTransport({
      localAddress: "127.0.0.1",
      localPort: 0,
      mode: "replicast",
      receiveBufferSize: 0,
    });
    try {
      // Linux grants min(asked, rmem_max) and reports twice that
      expect(t.receiveBufferSize()).toBe(2 * Math.min(DEFAULT_RECEIVE_BUFFER_SIZE, rmemMax));
      expect(sys.receiveBufferSize()).toBe(rmemDefault);
    } finally {
      await Promise.all([t.close(), sys.close()]);
    }
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 31]) {
      await expect(
        udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast", receiveBufferSize: bad }),
      ).rejects.toMatchObject({ code: "OPEN_FAILED" });
      await expect(
        udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast", sendBufferSize: bad }),
      ).rejects.toMatchObject({ code: "OPEN_FAILED" });
    }
  });
});
