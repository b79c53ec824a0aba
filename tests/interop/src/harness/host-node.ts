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
  /** see `SlirpOptions.broadcastMedium` */
  broadcastMedium?: boolean;
}

export interface HostNode {
  node: TipcNode;
  /** the transport the node uses (slirp-translated) */
  transport: Transport;
}

/**
 * A tipcjs node (@tipcjs/node over @tipcjs/transport-udp) on the host that peers with the
 * kernel guest through QEMU's user-mode network. Resolves after its 1 s address trial.
 */
export async function startHostNode(o: HostNodeOptions): Promise<HostNode> {
  const { hostPort, hostForwardPort, guestPort, pcap, broadcastMedium, ...nodeOptions } = o;
  const inner = await udpTransport({
    localAddress: "127.0.0.1",
    localPort: hostPort,
    mode: "replicast",
    peers: [{ family: "ipv4", address: "127.0.0.1", port: hostForwardPort }],
    learnPeers: false,
  });
  const transport = slirpTransport(inner, {
    hostPort,
    hostForwardPort,
    ...(guestPort !== undefined ? { guestPort } : {}),
    ...(pcap !== undefined ? { pcap } : {}),
    ...(broadcastMedium !== undefined ? { broadcastMedium } : {}),
  });
  const node = await createNode({
    nodeId: "tipcjs-host",
    ...nodeOptions,
    transport,
    discoveryPeers: [guestMediaAddress(guestPort)],
  });
  return {
    node,
    transport,
  };
}
