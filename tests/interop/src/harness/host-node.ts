import { createNode, type NodeOptions, type TipcNode } from "@tipcjs/node";
import type { Transport } from "@tipcjs/transport";
import { udpTransport } from "@tipcjs/transport-udp";
import type { PcapWriter } from "./pcap.js";
import { guestMediaAddress, slirpTransport } from "./slirp.js";

export interface HostNodeOptions extends Partial<Omit<NodeOptions, "transport">> {
  /** the guest's `hostPort`: the node's socket is bound to 127.0.0.1:hostPort */
  hostPort: number;
  /** the guest's `hostForwardPort` */
  hostForwardPort: number;
  /** the guest's bearer port (default 6118) */
  guestPort?: number;
  pcap?: PcapWriter;
}

export interface HostNode {
  node: TipcNode;
  /** the transport the node uses (slirp-translated) */
  transport: Transport;
  /** every datagram received from the guest, in order, with host wall-clock time */
  received: Array<{ data: Uint8Array; at: number }>;
  /** every datagram the node sent (and that left), in order, with host wall-clock time */
  sent: Array<{ data: Uint8Array; at: number }>;
  /**
   * Silences the node as a killed process would: from now on nothing it sends leaves and
   * nothing reaches it. `node.close()` afterwards then only releases resources.
   */
  blackhole(): void;
}

/**
 * A tipcjs node (@tipcjs/node over @tipcjs/transport-udp) on the host that peers with the
 * kernel guest through QEMU's user-mode network. Resolves after its 1 s address trial.
 */
export async function startHostNode(o: HostNodeOptions): Promise<HostNode> {
  const { hostPort, hostForwardPort, guestPort, pcap, ...nodeOptions } = o;
  const inner = await udpTransport({
    localAddress: "127.0.0.1",
    localPort: hostPort,
    mode: "replicast",
    peers: [{ family: "ipv4", address: "127.0.0.1", port: hostForwardPort }],
    learnPeers: false,
  });
  const translated = slirpTransport(inner, { hostPort, hostForwardPort, guestPort, pcap });
  let dead = false;
  const received: HostNode["received"] = [];
  const sent: HostNode["sent"] = [];
  // outermost: a blackholed node sends nothing (so the pcap holds only what really left)
  const transport: Transport = {
    specificationVersion: translated.specificationVersion,
    localAddress: translated.localAddress,
    get mtu() {
      return translated.mtu;
    },
    canBroadcast: translated.canBroadcast,
    send: (to, d) => {
      if (dead) return;
      sent.push({ data: Uint8Array.from(d), at: Date.now() });
      translated.send(to, d);
    },
    broadcast: (d) => {
      if (dead) return;
      sent.push({ data: Uint8Array.from(d), at: Date.now() });
      translated.broadcast(d);
    },
    onReceive: (h) =>
      translated.onReceive((d, from) => {
        if (dead) return;
        received.push({ data: d, at: Date.now() });
        h(d, from);
      }),
    onError: (h) => translated.onError(h),
    close: () => translated.close(),
  };
  const node = await createNode({
    nodeId: "tipcjs-host",
    ...nodeOptions,
    transport,
    discoveryPeers: [guestMediaAddress(guestPort)],
  });
  return {
    node,
    transport,
    received,
    sent,
    blackhole: () => {
      dead = true;
    },
  };
}
