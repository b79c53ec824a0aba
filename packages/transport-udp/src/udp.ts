import dgram from "node:dgram";
import {
  checkDatagram,
  type ErrorHandler,
  Handlers,
  isMediaAddress,
  isMulticastAddress,
  type MediaAddress,
  mediaAddressKey,
  normalizeMediaAddress,
  parseIpv4,
  parseIpv6,
  type ReceiveHandler,
  type Transport,
  TransportError,
  type Unsubscribe,
} from "@tipcjs/transport";

/** The IANA port of TIPC over UDP, local and remote (kernel default). */
export const TIPC_UDP_PORT = 6118;
/** The kernel's default UDP bearer MTU for IPv4 (it relies on IP fragmentation). */
export const TIPC_UDP_IPV4_MTU = 14000;
/** The kernel's UDP bearer MTU for IPv6. */
export const TIPC_UDP_IPV6_MTU = 1280;
/** The default TIPC network (cluster) id. */
export const TIPC_DEFAULT_NET_ID = 4711;
/** LINK_CONFIG, the discovery user (word 0 bits 25..28). */
const LINK_CONFIG = 13;

export interface UdpTransportOptions {
  /** The local IP to use and advertise (the kernel's `localip`): an IPv4 or IPv6 literal, no zone. */
  localAddress: string;
  /** Local UDP port (default 6118). 0 picks a free port (tests). */
  localPort?: number;
  /**
   * `"multicast"`: broadcasts go once to a multicast group (the kernel's mode when `remoteip` is
   * a group or absent). `"replicast"`: broadcasts are copied to each peer (the kernel's mode when
   * `remoteip` is a unicast address). Default: replicast when `peers` are given, else multicast.
   */
  mode?: "multicast" | "replicast";
  /** Multicast group. Default: the kernel tool's group for `clusterId` ({@link defaultMulticastGroup}). */
  group?: string;
  /** TIPC network id used to derive the default group (default 4711 → 228.0.18.103 / ff02::4711). */
  clusterId?: number;
  /** Port of the multicast group (default: `localPort`, or 6118 when that is 0). */
  groupPort?: number;
  /**
   * Interface for multicast: for IPv4 an interface address (default `localAddress`); for IPv6
   * an interface name such as `"eth0"` (required for link-scope groups like ff02::).
   */
  multicastInterface?: string;
  /** Multicast TTL / hop limit (default 1: the local link only). */
  multicastTtl?: number;
  /** Receive our own group's traffic from other sockets on this host (default true). */
  multicastLoopback?: boolean;
  /** Replicast peers: `MediaAddress`es, or IP literals (port 6118). */
  peers?: readonly (MediaAddress | string)[];
  /**
   * Replicast: add the UDP source of any received discovery (LINK_CONFIG) datagram as a peer
   * (default true). The kernel has the same rule, but only runs it while its bearer is down.
   */
  learnPeers?: boolean;
  /** Upper bound on replicast peers (configured plus learned; default 1024). */
  maxPeers?: number;
  /** Largest datagram (default 14000 for IPv4, 1280 for IPv6, as the kernel). */
  mtu?: number;
  /** Socket buffer sizes in bytes (default: the system's). */
  receiveBufferSize?: number;
  sendBufferSize?: number;
}

export interface UdpCounters {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  /** sends the socket reported as failed (each also reported to onError) */
  sendErrors: number;
  /** our own multicast datagrams looped back to us, dropped */
  ownDropped: number;
  /** peers learned from discovery datagrams */
  peersLearned: number;
  /** discovery sources not learned because `maxPeers` was reached */
  peersRefused: number;
}

export interface UdpTransport extends Transport {
  readonly mode: "multicast" | "replicast";
  /** The multicast group and port (multicast mode only). */
  readonly group: MediaAddress | undefined;
  readonly counters: UdpCounters;
  /** Replicast peers, configured and learned. Empty in multicast mode. */
  peers(): MediaAddress[];
  /** Adds a replicast peer (the kernel's `tipc bearer add ... remoteip`). Throws BAD_ADDRESS in multicast mode. */
  addPeer(peer: MediaAddress | string): void;
  /** Removes a replicast peer. Returns whether it was there. */
  removePeer(peer: MediaAddress | string): boolean;
}

/** The group the kernel's `tipc` tool derives from a network id when no remote IP is given. */
export function defaultMulticastGroup(clusterId: number, family: "ipv4" | "ipv6"): string {
  if (!Number.isInteger(clusterId) || clusterId < 1 || clusterId > 9999) {
    throw new TransportError("OPEN_FAILED", `cluster id ${clusterId} is outside 1..9999`);
  }
  // iproute2: 228.0.(id >> 8 & 0xff).(id & 0xff), or ff02::<id printed in decimal>
  return family === "ipv4" ? `228.0.${(clusterId >> 8) & 0xff}.${clusterId & 0xff}` : `ff02::${clusterId}`;
}

function familyOf(ip: string): "ipv4" | "ipv6" | undefined {
  if (parseIpv4(ip)) return "ipv4";
  if (parseIpv6(ip)) return "ipv6";
  return undefined;
}

function toAddress(peer: MediaAddress | string, port: number): MediaAddress {
  if (typeof peer === "string") {
    const family = familyOf(peer);
    if (!family) throw new TransportError("BAD_ADDRESS", `not an IP address: ${JSON.stringify(peer)}`);
    return normalizeMediaAddress({ family, address: peer, port });
  }
  return normalizeMediaAddress(peer);
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TransportError("BAD_ADDRESS", `${what} ${port} is not a port number`);
  }
}

function openError(e: unknown, where: string): TransportError {
  const code = (e as { code?: string }).code;
  if (code === "EADDRINUSE")
    return new TransportError("ADDRESS_IN_USE", `${where} is already in use`, { cause: e });
  if (code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT" || code === "EINVAL") {
    return new TransportError("BAD_ADDRESS", `cannot bind ${where}: ${code}`, { cause: e });
  }
  return new TransportError("OPEN_FAILED", `cannot open ${where}: ${(e as Error).message ?? String(e)}`, {
    cause: e,
  });
}

/**
 * Opens a UDP transport. Resolves once the socket is bound (and has joined its group).
 * Rejects with a `TransportError`: `BAD_ADDRESS` (bad local address, group or peer),
 * `ADDRESS_IN_USE` (port taken), `OPEN_FAILED` (anything else).
 */
export async function udpTransport(options: UdpTransportOptions): Promise<UdpTransport> {
  const family = familyOf(options.localAddress);
  if (!family)
    throw new TransportError(
      "BAD_ADDRESS",
      `localAddress ${JSON.stringify(options.localAddress)} is not an IP`,
    );
  const localPort = options.localPort ?? TIPC_UDP_PORT;
  checkPort(localPort, "localPort");
  const mode = options.mode ?? (options.peers && options.peers.length > 0 ? "replicast" : "multicast");
  if (mode !== "multicast" && mode !== "replicast")
    throw new TransportError("OPEN_FAILED", `unknown mode ${String(mode)}`);
  const ipLocal = normalizeMediaAddress({ family, address: options.localAddress, port: 0 }).address;
  if (isMulticastAddress({ family, address: ipLocal, port: 0 })) {
    throw new TransportError("BAD_ADDRESS", `localAddress ${ipLocal} is a multicast address`);
  }
  const mtu = options.mtu ?? (family === "ipv4" ? TIPC_UDP_IPV4_MTU : TIPC_UDP_IPV6_MTU);
  const maxMtu = family === "ipv4" ? 65507 : 65527;
  if (!Number.isInteger(mtu) || mtu < 128 || mtu > maxMtu) {
    throw new TransportError("OPEN_FAILED", `mtu ${mtu} is outside 128..${maxMtu}`);
  }
  const maxPeers = options.maxPeers ?? 1024;
  const learnPeers = options.learnPeers ?? true;

  let group: MediaAddress | undefined;
  if (mode === "multicast") {
    if (options.peers && options.peers.length > 0) {
      throw new TransportError(
        "BAD_ADDRESS",
        "a multicast transport takes no replicast peers (as the kernel's bearer)",
      );
    }
    const groupIp = options.group ?? defaultMulticastGroup(options.clusterId ?? TIPC_DEFAULT_NET_ID, family);
    const groupPort = options.groupPort ?? (localPort === 0 ? TIPC_UDP_PORT : localPort);
    checkPort(groupPort, "groupPort");
    if (familyOf(groupIp) !== family) {
      throw new TransportError("BAD_ADDRESS", `group ${groupIp} is not an ${family} address`);
    }
    group = Object.freeze(normalizeMediaAddress({ family, address: groupIp, port: groupPort }));
    if (!isMulticastAddress(group))
      throw new TransportError("BAD_ADDRESS", `group ${groupIp} is not a multicast address`);
  }

  const peerMap = new Map<string, MediaAddress>();
  for (const p of options.peers ?? []) {
    const a = toAddress(p, TIPC_UDP_PORT);
    if (a.family !== family) throw new TransportError("BAD_ADDRESS", `peer ${a.address} is not ${family}`);
    if (isMulticastAddress(a))
      throw new TransportError("BAD_ADDRESS", `peer ${a.address} is a multicast address`);
    peerMap.set(mediaAddressKey(a), Object.freeze(a));
  }

  // Sockets. IPv4 multicast: one socket bound to the wildcard address (as the kernel's bearer),
  // joined to the group, sending with IP_MULTICAST_IF = our address, which makes that address
  // the source. IPv6 multicast: source selection would pick the link-local address for an ff02::
  // group, so a socket bound to our own address sends (and takes unicast), and a second one
  // bound to the wildcard on the same port only receives the group. Replicast: one socket bound
  // to our own address.
  const makeSocket = (reuseAddr: boolean) =>
    dgram.createSocket({
      type: family === "ipv4" ? "udp4" : "udp6",
      ipv6Only: family === "ipv6",
      reuseAddr,
      ...(options.receiveBufferSize ? { recvBufferSize: options.receiveBufferSize } : {}),
      ...(options.sendBufferSize ? { sendBufferSize: options.sendBufferSize } : {}),
    });
  const bindSocket = (s: dgram.Socket, ip: string, port: number) =>
    new Promise<void>((resolve, reject) => {
      const where = `${family === "ipv6" ? `[${ip}]` : ip}:${port}`;
      const onError = (e: Error) => reject(openError(e, where));
      s.once("error", onError);
      s.bind({ address: ip, port, exclusive: true }, () => {
        s.off("error", onError);
        resolve();
      });
    });
  const wildcard = family === "ipv4" ? "0.0.0.0" : "::";
  const split = mode === "multicast" && family === "ipv6";
  const socket = makeSocket(split);
  let groupSocket: dgram.Socket | undefined;
  const closeAll = () => {
    for (const s of [socket, groupSocket]) {
      try {
        s?.close();
      } catch {
        // not bound yet, or already closed
      }
    }
  };
  try {
    await bindSocket(socket, mode === "multicast" && !split ? wildcard : ipLocal, localPort);
    if (split) {
      groupSocket = makeSocket(true);
      await bindSocket(groupSocket, wildcard, socket.address().port);
    }
    if (group) {
      if (family === "ipv4") {
        const iface = options.multicastInterface ?? ipLocal;
        socket.addMembership(group.address, iface);
        socket.setMulticastInterface(iface);
      } else {
        if (!options.multicastInterface && group.address.startsWith("ff02")) {
          throw new TransportError(
            "OPEN_FAILED",
            "an IPv6 link-scope group needs multicastInterface (an interface name)",
          );
        }
        const iface = options.multicastInterface ? `::%${options.multicastInterface}` : undefined;
        (groupSocket as dgram.Socket).addMembership(group.address, iface);
        if (iface) socket.setMulticastInterface(iface);
      }
      socket.setMulticastTTL(options.multicastTtl ?? 1);
      socket.setMulticastLoopback(options.multicastLoopback ?? true);
    }
  } catch (e) {
    closeAll();
    throw e instanceof TransportError
      ? e
      : new TransportError("OPEN_FAILED", `cannot join ${group?.address}: ${(e as Error).message}`, {
          cause: e,
        });
  }

  const boundPort = socket.address().port;
  const localAddress: MediaAddress = Object.freeze({ family, address: ipLocal, port: boundPort });
  const localKey = mediaAddressKey(localAddress);
  const handlers = new Handlers();
  let closed = false;
  const counters: UdpCounters = {
    datagramsSent: 0,
    bytesSent: 0,
    datagramsReceived: 0,
    bytesReceived: 0,
    sendErrors: 0,
    ownDropped: 0,
    peersLearned: 0,
    peersRefused: 0,
  };

  // Sources are few: keep one frozen MediaAddress per source so `from` costs nothing per datagram.
  const sources = new Map<string, MediaAddress>();
  // Destinations the caller passes are usually the same objects: validate each object once.
  const checked = new WeakMap<object, MediaAddress>();

  const onSent = (error: Error | null) => {
    if (error) {
      counters.sendErrors++;
      handlers.error(new TransportError("SOCKET", `send failed: ${error.message}`, { cause: error }));
    }
  };
  const rawSend = (buf: Buffer, to: MediaAddress) => {
    counters.datagramsSent++;
    counters.bytesSent += buf.byteLength;
    try {
      // with a callback: without one, Node 20 silently drops a failed synchronous send (EACCES,
      // ENETUNREACH...), and the contract wants failures reported to onError
      socket.send(buf, to.port, to.address, onSent);
    } catch (e) {
      onSent(e as Error);
    }
  };
  const destination = (to: MediaAddress): MediaAddress => {
    const hit = checked.get(to as object);
    if (hit) return hit;
    if (!isMediaAddress(to))
      throw new TransportError("BAD_ADDRESS", `not a media address: ${JSON.stringify(to)}`);
    if (to.family !== family)
      throw new TransportError("BAD_ADDRESS", `cannot reach ${to.family} from an ${family} socket`);
    const n = normalizeMediaAddress(to);
    checked.set(to as object, n);
    return n;
  };
  const guard = () => {
    if (closed) throw new TransportError("CLOSED", "this UDP transport is closed");
  };

  const learn = (from: MediaAddress) => {
    const key = mediaAddressKey(from);
    if (key === localKey || peerMap.has(key)) return;
    if (peerMap.size >= maxPeers) {
      counters.peersRefused++;
      return;
    }
    peerMap.set(key, from);
    counters.peersLearned++;
  };

  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    if (closed) return;
    const sourceKey = `${rinfo.address} ${rinfo.port}`;
    let from = sources.get(sourceKey);
    if (!from) {
      const ip = rinfo.address.includes("%") ? (rinfo.address.split("%")[0] as string) : rinfo.address;
      const parsed = { family, address: ip, port: rinfo.port } as MediaAddress;
      if (!isMediaAddress(parsed)) return;
      from = Object.freeze(normalizeMediaAddress(parsed));
      if (sources.size >= 4096) sources.clear();
      sources.set(sourceKey, from);
    }
    if (from.port === localAddress.port && from.address === localAddress.address) {
      counters.ownDropped++; // our own multicast, looped back
      return;
    }
    counters.datagramsReceived++;
    counters.bytesReceived += msg.byteLength;
    // Replicast: learn peers from discovery, reading the user from word 0 (version 2, user 13)
    if (mode === "replicast" && learnPeers && msg.byteLength >= 4) {
      const w0 = msg.readUInt32BE(0);
      if (w0 >>> 29 === 2 && ((w0 >>> 25) & 0xf) === LINK_CONFIG) learn(from);
    }
    handlers.deliver(msg, from);
  };
  const onSocketError = (e: Error) => {
    if (closed) return;
    handlers.error(new TransportError("SOCKET", `socket error: ${e.message}`, { cause: e }));
  };
  for (const s of [socket, groupSocket]) {
    s?.on("message", onMessage);
    s?.on("error", onSocketError);
  }

  const transport: UdpTransport = {
    specificationVersion: "v1",
    localAddress,
    mtu,
    canBroadcast: mode === "multicast",
    mode,
    group,
    counters,
    send(to: MediaAddress, datagram: Uint8Array) {
      guard();
      const dest = destination(to);
      checkDatagram(datagram, mtu);
      rawSend(Buffer.from(datagram), dest);
    },
    broadcast(datagram: Uint8Array) {
      guard();
      checkDatagram(datagram, mtu);
      const buf = Buffer.from(datagram);
      if (group) {
        rawSend(buf, group);
        return;
      }
      for (const peer of peerMap.values()) rawSend(buf, peer);
    },
    onReceive(handler: ReceiveHandler): Unsubscribe {
      return closed ? () => {} : handlers.onReceive(handler);
    },
    onError(handler: ErrorHandler): Unsubscribe {
      return closed ? () => {} : handlers.onError(handler);
    },
    peers() {
      return [...peerMap.values()];
    },
    addPeer(peer) {
      guard();
      if (mode === "multicast")
        throw new TransportError("BAD_ADDRESS", "a multicast transport takes no replicast peers");
      const a = toAddress(peer, TIPC_UDP_PORT);
      if (a.family !== family) throw new TransportError("BAD_ADDRESS", `peer ${a.address} is not ${family}`);
      if (isMulticastAddress(a))
        throw new TransportError("BAD_ADDRESS", `peer ${a.address} is a multicast address`);
      const key = mediaAddressKey(a);
      if (key !== localKey) peerMap.set(key, Object.freeze(a));
    },
    removePeer(peer) {
      return peerMap.delete(mediaAddressKey(toAddress(peer, TIPC_UDP_PORT)));
    },
    async close() {
      if (closed) return;
      closed = true;
      handlers.clear();
      await Promise.all(
        [socket, groupSocket].map(
          (s) =>
            new Promise<void>((resolve) => {
              if (!s) return resolve();
              try {
                s.close(() => resolve());
              } catch {
                resolve();
              }
            }),
        ),
      );
    },
  };
  // configured peers never include ourselves
  peerMap.delete(localKey);
  return transport;
}
