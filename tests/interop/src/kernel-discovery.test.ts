/**
 * The real kernel's neighbour discovery, received on a UDP socket of this test and decoded with
 * @tipcjs/codec: who the kernel says it is (node id, address, network id, capabilities, media
 * address), that it answers a discovery request encoded by @tipcjs/codec, and that tshark's TIPC
 * dissector finds nothing malformed in the exchange.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  decodeMessage,
  encodeMessage,
  type LinkConfigMessage,
  nodeAddressFromId,
  nodeIdFromString,
  nodeIdToString,
  TIPC_DEFAULT_NET_ID,
  TIPC_NODE_CAPABILITIES,
  TIPC_UDP_PORT,
} from "@tipcjs/codec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bootGuest,
  type Datagram,
  freeUdpPort,
  GUEST_IP,
  HOST_IP_FROM_GUEST,
  type KernelGuest,
  parseNodeList,
  tsharkDecode,
  UdpPeer,
} from "./harness/index.js";

function linkConfig(d: Datagram): LinkConfigMessage | undefined {
  const m = decodeMessage(d.data);
  return m.user === "LINK_CONFIG" ? m : undefined;
}

const isRequest = (d: Datagram) => linkConfig(d)?.type === "DSC_REQ";

describe("kernel discovery, decoded with @tipcjs/codec", () => {
  const dir = mkdtempSync(join(tmpdir(), "tipcjs-interop-"));
  let peer: UdpPeer;
  let guest: KernelGuest;

  beforeAll(async () => {
    peer = await UdpPeer.open({ pcapPath: join(dir, "discovery.pcap") });
    guest = await bootGuest({
      hostPort: peer.port,
      identity: "guest1",
      consoleLogPath: join(dir, "console.txt"),
    });
  });

  afterAll(async () => {
    await guest?.close();
    await peer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends address-trial messages, then discovery requests that say who it is", async () => {
    await peer.next(isRequest, { timeoutMs: 60_000 });
    const all = peer.received.map((d) => decodeMessage(d.data));
    expect(all.every((m) => m.user === "LINK_CONFIG")).toBe(true);
    const msgs = all as LinkConfigMessage[];
    // the 1 s address trial comes first (READY waits for it), then requests
    expect(msgs[0]?.type).toBe("DSC_TRIAL");
    const firstReq = msgs.findIndex((m) => m.type === "DSC_REQ");
    expect(msgs.slice(firstReq).every((m) => m.type === "DSC_REQ")).toBe(true);

    const address = nodeAddressFromId(nodeIdFromString("guest1"));
    expect(address).toBe(0x13446573);
    for (const m of msgs) {
      expect(nodeIdToString(m.nodeId)).toBe("guest1");
      expect(m.prevNode).toBe(address);
      expect(m.netId).toBe(TIPC_DEFAULT_NET_ID);
      expect(m.capabilities).toBe(TIPC_NODE_CAPABILITIES);
      expect(m.destDomain).toBe(0);
      // the kernel advertises its own bearer address, not what the host sees
      expect(m.mediaAddress).toEqual({ family: "ipv4", address: GUEST_IP, port: TIPC_UDP_PORT });
      // one signature per boot; its bit 15 is capability bit 0 (TIPC_SYN_BIT)
      expect(m.signature).toBe(msgs[0]?.signature);
      expect(m.signature & 0x8000).toBe(0x8000);
    }
    // what the guest's own tipc tool says agrees with the wire
    expect(Number.parseInt(await guest.exec("tipc node get address"), 16)).toBe(address);
  });

  it("answers a discovery request encoded by @tipcjs/codec with a response addressed to us", async () => {
    const kernelReq = linkConfig(await peer.next(isRequest));
    const kernelFrom = peer.received.find(isRequest)?.from;
    expect(kernelReq && kernelFrom).toBeTruthy();
    if (!kernelReq || !kernelFrom) return;
    const nodeId = nodeIdFromString("hostpeer");
    const ourAddress = nodeAddressFromId(nodeId);
    const req: LinkConfigMessage = {
      user: "LINK_CONFIG",
      type: "DSC_REQ",
      capabilities: TIPC_NODE_CAPABILITIES,
      signature: 0x9234,
      destDomain: 0,
      prevNode: ourAddress,
      netId: TIPC_DEFAULT_NET_ID,
      // the host as the guest sees it: the kernel sends link traffic to this address
      mediaAddress: { family: "ipv4", address: HOST_IP_FROM_GUEST, port: peer.port },
      peerNetHash: 0,
      suggestedAddress: 0,
      nodeId,
    };
    const from = peer.received.length;
    // the kernel may still be in its address trial when a request arrives: repeat, as a peer would
    let resp: Datagram | undefined;
    for (let i = 0; i < 20 && !resp; i++) {
      await peer.send(encodeMessage(req), kernelFrom);
      resp = await peer
        .next((d) => linkConfig(d)?.type === "DSC_RESP", { timeoutMs: 1_500, from })
        .catch(() => undefined);
    }
    expect(resp).toBeDefined();
    const m = linkConfig(resp as Datagram);
    expect(m?.destDomain).toBe(ourAddress);
    expect(m?.prevNode).toBe(kernelReq.prevNode);
    expect(m?.signature).toBe(kernelReq.signature);
    // the kernel now knows our node (its link stays down: this test speaks no link protocol)
    const nodes = await guest.waitFor("hostpeer in tipc node list", async () =>
      parseNodeList(await guest.exec("tipc node list")).find((n) => n.identity === "hostpeer"),
    );
    expect(nodes.address).toBe(ourAddress);
  });

  it("exchanged nothing that tshark's TIPC dissector marks malformed", async () => {
    await peer.close();
    const report = await tsharkDecode(join(dir, "discovery.pcap"), [peer.port]);
    expect(report.frames.length).toBe(peer.received.length + peer.sentCount);
    expect(report.notTipc).toEqual([]);
    expect(report.malformed).toEqual([]);
    expect(report.frames.some((f) => f.info.includes("Ngbr Disc"))).toBe(true);
  });
});

describe("kernel discovery with boot options", () => {
  it("uses the identity, network id and ports it was booted with", async () => {
    const peer = await UdpPeer.open();
    const forward = await freeUdpPort();
    const guest = await bootGuest({
      hostPort: peer.port,
      hostForwardPort: forward,
      guestPort: 7118,
      identity: "interop-b",
      netId: 1234,
    });
    try {
      const d = await peer.next(isRequest, { timeoutMs: 60_000 });
      const m = linkConfig(d);
      expect(m && nodeIdToString(m.nodeId)).toBe("interop-b");
      expect(m?.netId).toBe(1234);
      expect(m?.prevNode).toBe(nodeAddressFromId(nodeIdFromString("interop-b")));
      expect(m?.mediaAddress).toEqual({ family: "ipv4", address: GUEST_IP, port: 7118 });
      // through the forward, the guest's bearer port appears as 127.0.0.1:forward on the host
      expect(d.from).toEqual({ address: "127.0.0.1", port: forward });
    } finally {
      await guest.close();
      await peer.close();
    }
  });
});
