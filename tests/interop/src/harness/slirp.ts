import type { MediaAddress, Transport } from "@tipcjs/transport";
import type { PcapWriter } from "./pcap.js";
import { GUEST_IP, HOST_IP_FROM_GUEST } from "./qemu.js";

export interface SlirpOptions {
  /** the host port the transport is bound to on 127.0.0.1 (the guest's `hostPort`) */
  hostPort: number;
  /** the guest's bearer port (default 6118) */
  guestPort?: number;
  /** the guest's `hostForwardPort`: 127.0.0.1:hostForwardPort reaches the guest's bearer */
  hostForwardPort: number;
  /** record every datagram sent and received (with the real 127.0.0.1 addresses) for tshark */
  pcap?: PcapWriter;
  /**
   * Present the path to the guest as a broadcast medium of two nodes (`canBroadcast` true; a
   * broadcast reaches the guest, the only other node on it), as a UDP multicast bearer would be.
   * Default: the inner transport's `canBroadcast` (false for a replicast UDP transport, like the
   * kernel's UDP bearer with a unicast remote IP, `TIPC_REPLICAST_SUPPORT`). A node's multicast
   * can use its broadcast link only on a bearer that can broadcast (bcast.c).
   */
  broadcastMedium?: boolean;
}

/**
 * Wraps a UDP transport bound to 127.0.0.1 so a TIPC node on the host and the kernel in QEMU
 * see each other at the addresses QEMU's user-mode network (slirp) gives them:
 *
 * - the node advertises 10.0.2.2:hostPort (the host as the guest reaches it), because the
 *   kernel sends all link traffic to the media address inside the discovery message;
 * - the kernel advertises 10.0.2.15:guestPort, which the host cannot reach: sends there go to
 *   127.0.0.1:hostForwardPort instead, and datagrams from that forward are reported as coming
 *   from 10.0.2.15:guestPort, so the link layer sees one consistent peer address.
 *
 * It is the same translation a NAT does; the transport and the node stay unchanged.
 */
export function slirpTransport(inner: Transport, o: SlirpOptions): Transport {
  const guest: MediaAddress = { family: "ipv4", address: GUEST_IP, port: o.guestPort ?? 6118 };
  const forward: MediaAddress = { family: "ipv4", address: "127.0.0.1", port: o.hostForwardPort };
  const same = (a: MediaAddress, b: MediaAddress) => a.address === b.address && a.port === b.port;
  const local = { address: "127.0.0.1", port: o.hostPort };
  const send = (to: MediaAddress, datagram: Uint8Array) => {
    const real = same(to, guest) ? forward : to;
    o.pcap?.add(Date.now(), local, real, datagram);
    inner.send(real, datagram);
  };
  return {
    specificationVersion: inner.specificationVersion,
    localAddress: { family: "ipv4", address: HOST_IP_FROM_GUEST, port: o.hostPort },
    get mtu() {
      return inner.mtu;
    },
    canBroadcast: o.broadcastMedium ?? inner.canBroadcast,
    send,
    broadcast: (datagram) => send(forward, datagram),
    onReceive: (handler) =>
      inner.onReceive((d, from) => {
        o.pcap?.add(Date.now(), from, local, d);
        handler(d, same(from, forward) ? guest : from);
      }),
    onError: (handler) => inner.onError(handler),
    close: () => inner.close(),
  };
}

/** The guest's bearer address as the kernel advertises it (what a node's `discoveryPeers` names). */
export function guestMediaAddress(guestPort = 6118): MediaAddress {
  return { family: "ipv4", address: GUEST_IP, port: guestPort };
}
