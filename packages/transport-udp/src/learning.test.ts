// Replicast peer learning: only from a valid DSC_REQ of this cluster, capped, and forgotten when
// the peer goes quiet. Each refusal is counted under its cause.
import type dgram from "node:dgram";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeMessage, encodeMessage } from "@tipcjs/codec";
import type { MediaAddress } from "@tipcjs/transport";
import { describe, expect, it } from "vitest";
import { discovery, header, rawSocket, until } from "./__helpers__/wire.js";
import { DEFAULT_LEARNED_PEER_TIMEOUT, DEFAULT_MAX_LEARNED_PEERS, udpTransport } from "./udp.js";

const none = {
  "bad-header": 0,
  "not-discovery": 0,
  "bad-discovery": 0,
  "not-request": 0,
  "foreign-net": 0,
  "own-address": 0,
  "address-mismatch": 0,
  "peer-limit": 0,
};

async function sockets(n: number) {
  return Promise.all(Array.from({ length: n }, () => rawSocket()));
}

function closeAll(raw: { socket: dgram.Socket }[]) {
  for (const r of raw) r.socket.close();
}

describe("UDP replicast peer learning", () => {
  it("learns only from a DSC_REQ of its own cluster, naming why anything else is not learned", async () => {
    const t = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    const raw = await sockets(6);
    const [s0, s1, s2, s3, s4, s5] = raw as [
      (typeof raw)[0],
      (typeof raw)[0],
      (typeof raw)[0],
      (typeof raw)[0],
      (typeof raw)[0],
      (typeof raw)[0],
    ];
    try {
      let got = 0;
      t.onReceive(() => got++);
      const to = (s: dgram.Socket, d: Uint8Array) => s.send(d, t.localAddress.port, "127.0.0.1");
      for (let i = 0; i < 50; i++) to(s0.socket, discovery(s0.address, { netId: 1234 }));
      const bare = new Uint8Array(76); // LINK_CONFIG word 0 only: no media address
      new DataView(bare.buffer).setUint32(0, 0x5bf0004c);
      for (let i = 0; i < 3; i++) to(s1.socket, bare);
      to(s2.socket, discovery(s2.address, { type: "DSC_RESP" }));
      to(s2.socket, discovery(s2.address, { type: "DSC_TRIAL" }));
      to(s3.socket, discovery(s3.address, { mediaAddress: { ...s3.address, port: 1 } }));
      to(s4.socket, discovery(s4.address, { mediaAddress: t.localAddress }));
      to(s5.socket, header(0));
      to(s5.socket, Uint8Array.of(1, 2, 3));
      await until(() => got === 59);
      to(s5.socket, discovery(s5.address));
      await until(() => got === 60);
      expect(got).toBe(60); // every datagram still reaches the node, which has its own checks
      expect(t.peers()).toEqual([s5.address]);
      expect(t.counters.peersLearned).toBe(1);
      expect(t.counters.learnRefused).toEqual({
        ...none,
        "foreign-net": 50,
        "bad-discovery": 3,
        "not-request": 2,
        "address-mismatch": 1,
        "own-address": 1,
        "not-discovery": 1,
        "bad-header": 1,
      });
      // the same refusals through the Transport contract's drops(), only the causes counted
      expect(t.drops()).toEqual({
        "learn-foreign-net": 50,
        "learn-bad-discovery": 3,
        "learn-not-request": 2,
        "learn-address-mismatch": 1,
        "learn-own-address": 1,
        "learn-not-discovery": 1,
        "learn-bad-header": 1,
      });
    } finally {
      closeAll(raw);
      await t.close();
    }
  });

  it("learns from the kernel's own DSC_REQ (Linux 6.1 capture), placed at the address it comes from", async () => {
    // the capture's bearer is 10.0.2.15:6118; here it comes from a loopback socket, so the
    // unchanged bytes are an address mismatch and the same message naming its source is learned
    const captured = (name: string) =>
      Uint8Array.from(
        Buffer.from(
          readFileSync(
            join(import.meta.dirname, "../../codec/src/__fixtures__/link-up", name),
            "utf8",
          ).trim(),
          "hex",
        ),
      );
    const request = captured("010-LINK_CONFIG-DSC_REQ_MSG.hex");
    const response = captured("009-LINK_CONFIG-DSC_RESP_MSG.hex");
    const state = captured("013-LINK_PROTOCOL-STATE_MSG.hex");
    const t = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
    const [s0] = (await sockets(1)) as [{ socket: dgram.Socket; address: MediaAddress }];
    try {
      let got = 0;
      t.onReceive(() => got++);
      const m = decodeMessage(request);
      if (m.user !== "LINK_CONFIG") throw new Error("not discovery");
      for (const d of [request, response, state, encodeMessage({ ...m, mediaAddress: s0.address })])
        s0.socket.send(d, t.localAddress.port, "127.0.0.1");
      await until(() => got === 4);
      expect(t.peers()).toEqual([s0.address]);
      expect(t.counters.learnRefused).toEqual({
        ...none,
        "address-mismatch": 1,
        "not-request": 1,
        "not-discovery": 1,
      });
    } finally {
      s0.socket.close();
      await t.close();
    }
  });

  it("holds at most maxLearnedPeers learned peers (64 by default); configured peers do not count", async () => {
    const t = await udpTransport({
      localAddress: "127.0.0.1",
      localPort: 0,
      mode: "replicast",
      peers: [{ family: "ipv4", address: "127.0.0.2", port: 6118 }],
      maxLearnedPeers: 2,
    });
    const raw = await sockets(3);
    try {
      let got = 0;
      t.onReceive(() => got++);
      for (const r of raw) r.socket.send(discovery(r.address), t.localAddress.port, "127.0.0.1");
      await until(() => got === 3);
      expect(t.peers()).toHaveLength(3); // the configured one and two learned
      expect(t.counters.peersLearned).toBe(2);
      expect(t.counters.peersRefused).toBe(1);
      expect(t.counters.learnRefused).toEqual({ ...none, "peer-limit": 1 });
      expect(DEFAULT_MAX_LEARNED_PEERS).toBe(64);
    } finally {
      closeAll(raw);
      await t.close();
    }
  });

  it("forgets a learned peer quiet for learnedPeerTimeout; valid traffic from it keeps it", async () => {
    let now = 1000;
    const configured: MediaAddress = { family: "ipv4", address: "127.0.0.2", port: 6118 };
    const t = await udpTransport({
      localAddress: "127.0.0.1",
      localPort: 0,
      mode: "replicast",
      peers: [configured],
      clock: { now: () => now },
    });
    const [s0] = (await sockets(1)) as [{ socket: dgram.Socket; address: MediaAddress }];
    try {
      let got = 0;
      t.onReceive(() => got++);
      const send = async (d: Uint8Array) => {
        const before = got;
        s0.socket.send(d, t.localAddress.port, "127.0.0.1");
        await until(() => got > before);
      };
      await send(discovery(s0.address)); // learned at 1000
      expect(t.peers()).toEqual([configured, s0.address]);
      now = 1000 + 59_000;
      await send(header(7)); // a valid LINK_PROTOCOL header refreshes it at 60,000
      await send(Uint8Array.of(9, 9, 9)); // garbage does not
      await send(discovery(s0.address, { netId: 99 })); // nor a discovery of another cluster
      now = 60_000 + 59_999;
      expect(t.peers()).toEqual([configured, s0.address]);
      now = 60_000 + 60_000;
      const sent = t.counters.datagramsSent;
      t.broadcast(Uint8Array.of(1)); // broadcast forgets it too, before copying
      expect(t.counters.datagramsSent - sent).toBe(1);
      expect(t.peers()).toEqual([configured]);
      expect(t.counters.peersExpired).toBe(1);
      now += 10 * 60_000; // configured peers never expire
      expect(t.peers()).toEqual([configured]);
      await send(discovery(s0.address)); // it comes back with its next DSC_REQ
      expect(t.peers()).toEqual([configured, s0.address]);
      expect(t.counters.peersLearned).toBe(2);
      expect(DEFAULT_LEARNED_PEER_TIMEOUT).toBe(60_000);
    } finally {
      s0.socket.close();
      await t.close();
    }
  });

  it("learns nothing and counts nothing with learnPeers: false (configured peers only)", async () => {
    const t = await udpTransport({
      localAddress: "127.0.0.1",
      localPort: 0,
      mode: "replicast",
      learnPeers: false,
    });
    const [s0] = (await sockets(1)) as [{ socket: dgram.Socket; address: MediaAddress }];
    try {
      let got = 0;
      t.onReceive(() => got++);
      s0.socket.send(discovery(s0.address), t.localAddress.port, "127.0.0.1");
      s0.socket.send(header(0), t.localAddress.port, "127.0.0.1");
      await until(() => got === 2);
      expect(got).toBe(2);
      expect(t.peers()).toEqual([]);
      expect(t.counters.peersLearned).toBe(0);
      expect(t.counters.learnRefused).toEqual(none);
    } finally {
      s0.socket.close();
      await t.close();
    }
  });

  it("makes a learned peer configured when it is added, and removes either kind", async () => {
    let now = 0;
    const t = await udpTransport({
      localAddress: "127.0.0.1",
      localPort: 0,
      mode: "replicast",
      clock: { now: () => now },
    });
    const [s0] = (await sockets(1)) as [{ socket: dgram.Socket; address: MediaAddress }];
    try {
      let got = 0;
      t.onReceive(() => got++);
      s0.socket.send(discovery(s0.address), t.localAddress.port, "127.0.0.1");
      await until(() => got === 1);
      expect(t.peers()).toEqual([s0.address]);
      t.addPeer(s0.address);
      now += 10 * 60_000;
      expect(t.peers()).toEqual([s0.address]);
      expect(t.counters.peersExpired).toBe(0);
      expect(t.removePeer(s0.address)).toBe(true);
      expect(t.peers()).toEqual([]);
    } finally {
      s0.socket.close();
      await t.close();
    }
  });
});
