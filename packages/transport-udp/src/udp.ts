import dgram from "node:dgram";
import { decodeMessage, peekUserValue, USER, validateHeader } from "@tipcjs/codec";
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
/** Default cap on replicast peers learned from discovery (configured peers do not count). */
export const DEFAULT_MAX_LEARNED_PEERS = 64;
/**
 * Default time (ms) after which a learned peer that sent no valid datagram is forgotten: twice
 * the longest link tolerance the kernel accepts (30 s), so a peer with a link up, which sends
 * link supervision at least every tolerance / 4, never expires, while one that only ever sent
 * discovery is kept only as long as it keeps sending it.
 */
export const DEFAULT_LEARNED_PEER_TIMEOUT = 60_000;
/**
 * Default bytes of data the socket may hold (handed to it, its send not yet completed) before
 * further data waits in the transport's own queue: about 4.7 datagrams of the IPv4 MTU.
 */
export const DEFAULT_SOCKET_QUEUE_LIMIT = 65_536;
/**
 * Default SO_RCVBUF asked for (bytes). A link keeps up to its window (50 packets) of up to
 * 14,000 bytes in flight, 700 KB, and the system default (often 208 KiB) loses most of a burst
 * of large messages, which the link then repairs a NACK at a time: 60,000-byte messages between
 * two nodes on loopback ran at 12.8 MB/s with 208 KiB and 70.8 MB/s with 4 MiB. Linux grants at
 * most `net.core.rmem_max` without an error: `receiveBufferSize()` tells what it granted.
 */
export const DEFAULT_RECEIVE_BUFFER_SIZE = 4 * 1024 * 1024;
/** Default bound (bytes) on data waiting in the transport's own queue; past it data is dropped. */
export const DEFAULT_SEND_QUEUE_LIMIT = 16 * 1024 * 1024;
/** Each datagram in the transport's queue is charged at least this many bytes against its bound. */
const QUEUE_ENTRY_MIN_CHARGE = 256;

/** Why a datagram from a source that is not a peer yet did not make it a learned peer. */
export type LearnRefusedCause =
  /** not a TIPC v2 message (the codec's header check failed) */
  | "bad-header"
  /** a TIPC message, but not discovery (LINK_CONFIG) */
  | "not-discovery"
  /** LINK_CONFIG that does not decode */
  | "bad-discovery"
  /** discovery, but not a DSC_REQ (responses and trial messages teach nothing) */
  | "not-request"
  /** a DSC_REQ of another network (net id other than `clusterId`) */
  | "foreign-net"
  /** a DSC_REQ advertising our own media address */
  | "own-address"
  /** a DSC_REQ advertising a media address other than its UDP source */
  | "address-mismatch"
  /** a valid DSC_REQ, but `maxLearnedPeers` or `maxPeers` is reached */
  | "peer-limit";

const LEARN_REFUSED_CAUSES: readonly LearnRefusedCause[] = [
  "bad-header",
  "not-discovery",
  "bad-discovery",
  "not-request",
  "foreign-net",
  "own-address",
  "address-mismatch",
  "peer-limit",
];

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
  /**
   * TIPC network id (default 4711): derives the default group (228.0.18.103 / ff02::4711), and
   * a replicast peer is learned only from discovery carrying this net id.
   */
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
   * Replicast: learn the UDP source of a valid discovery request of this cluster as a peer
   * (default true). `false` means configured peers only: nothing is learned. Valid: it decodes
   * as a LINK_CONFIG DSC_REQ, carries net id `clusterId`, advertises its own UDP source as its
   * media address, and that address is not ours. The kernel learns from any LINK_CONFIG, but
   * only while its bearer is down.
   */
  learnPeers?: boolean;
  /** Upper bound on replicast peers (configured plus learned; default 1024). */
  maxPeers?: number;
  /** Upper bound on learned replicast peers (default {@link DEFAULT_MAX_LEARNED_PEERS}, 64). */
  maxLearnedPeers?: number;
  /**
   * A learned peer is forgotten when it sent no valid datagram (one passing the codec's header
   * check; for discovery, the checks of `learnPeers`) for this long, in ms (default
   * {@link DEFAULT_LEARNED_PEER_TIMEOUT}, 60,000). Configured peers never expire.
   */
  learnedPeerTimeout?: number;
  /** Time source for peer expiry, ms (default `performance.now()`; tests pass a virtual clock). */
  clock?: { now(): number };
  /**
   * Bytes of data the socket may hold at once (handed to it, send not completed); more data
   * waits in the transport's own queue, so that link supervision (LINK_PROTOCOL) and discovery
   * (LINK_CONFIG), which always go to the socket at once, never wait behind a data backlog.
   * Default {@link DEFAULT_SOCKET_QUEUE_LIMIT} (65,536).
   */
  socketQueueLimit?: number;
  /**
   * Bound, in bytes, on data waiting in the transport's own queue (each datagram charged at
   * least 256 bytes). Data past it is dropped and counted in `sendQueueDropped`; the link
   * retransmits it. Default {@link DEFAULT_SEND_QUEUE_LIMIT} (16 MiB).
   */
  sendQueueLimit?: number;
  /** Largest datagram (default 14000 for IPv4, 1280 for IPv6, as the kernel). */
  mtu?: number;
  /**
   * SO_RCVBUF to ask for, bytes (default {@link DEFAULT_RECEIVE_BUFFER_SIZE}; 0 keeps the
   * system's default). The system caps it at `net.core.rmem_max`.
   */
  receiveBufferSize?: number;
  /** SO_SNDBUF to ask for, bytes (default: the system's). */
  sendBufferSize?: number;
}

export interface UdpCounters {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  /** sends the socket reported as failed (each also reported to onError) */
  sendErrors: number;
  /** data datagrams that waited in the transport's queue because the socket's was full */
  sendQueued: number;
  /** data datagrams dropped because the transport's queue was at `sendQueueLimit` */
  sendQueueDropped: number;
  /** our own multicast datagrams looped back to us, dropped */
  ownDropped: number;
  /** peers learned from discovery datagrams */
  peersLearned: number;
  /** valid discovery requests not learned because `maxLearnedPeers` or `maxPeers` was reached */
  peersRefused: number;
  /** learned peers forgotten after `learnedPeerTimeout` without a valid datagram */
  peersExpired: number;
  /**
   * Replicast with `learnPeers`: datagrams from a source that is not a peer which did not make
   * it one, by cause (every datagram is still delivered: the node has its own checks).
   * `peer-limit` counts the same refusals as `peersRefused`.
   */
  learnRefused: Record<LearnRefusedCause, number>;
}

/** What waits to be sent: in the transport's queue, and in the socket (handed, not completed). */
export interface UdpSendQueue {
  datagrams: number;
  bytes: number;
  socketDatagrams: number;
  socketBytes: number;
}

export interface UdpTransport extends Transport {
  readonly mode: "multicast" | "replicast";
  /** The multicast group and port (multicast mode only). */
  readonly group: MediaAddress | undefined;
  readonly counters: UdpCounters;
  /** Replicast peers, configured and learned (expired ones forgotten first). Empty in multicast mode. */
  peers(): MediaAddress[];
  /**
   * Adds a configured replicast peer (the kernel's `tipc bearer add ... remoteip`); a learned
   * peer added this way becomes configured and no longer expires. Throws BAD_ADDRESS in
   * multicast mode.
   */
  addPeer(peer: MediaAddress | string): void;
  /** Removes a replicast peer, configured or learned. Returns whether it was there. */
  removePeer(peer: MediaAddress | string): boolean;
  /** What waits to be sent now. */
  sendQueue(): UdpSendQueue;
  /**
   * The receive buffer the system granted the bearer's socket, in bytes as Linux reports it
   * (twice what was asked, for its own bookkeeping, up to twice `net.core.rmem_max`).
   */
  receiveBufferSize(): number;
  /**
   * Counted drops and refusals by cause, only those counted at least once: `learn-<cause>` for
   * each `learnRefused` cause, and `send-queue-full` (`sendQueueDropped`).
   */
  drops(): Readonly<Record<string, number>>;
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

function checkLimit(value: number, what: string, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new TransportError("OPEN_FAILED", `${what} ${value} is not an integer >= ${min}`);
  }
  return value;
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
  const maxLearnedPeers = checkLimit(
    options.maxLearnedPeers ?? DEFAULT_MAX_LEARNED_PEERS,
    "maxLearnedPeers",
    0,
  );
  const learnedPeerTimeout = checkLimit(
    options.learnedPeerTimeout ?? DEFAULT_LEARNED_PEER_TIMEOUT,
    "learnedPeerTimeout",
    1,
  );
  const socketQueueLimit = checkLimit(
    options.socketQueueLimit ?? DEFAULT_SOCKET_QUEUE_LIMIT,
    "socketQueueLimit",
    1,
  );
  const sendQueueLimit = checkLimit(options.sendQueueLimit ?? DEFAULT_SEND_QUEUE_LIMIT, "sendQueueLimit", 1);
  const netId = options.clusterId ?? TIPC_DEFAULT_NET_ID;
  const clock = options.clock ?? performance;

  let group: MediaAddress | undefined;
  if (mode === "multicast") {
    if (options.peers && options.peers.length > 0) {
      throw new TransportError(
        "BAD_ADDRESS",
        "a multicast transport takes no replicast peers (as the kernel's bearer)",
      );
    }
    const groupIp = options.group ?? defaultMulticastGroup(netId, family);
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

  // Sockets. The kernel's bearer sends every datagram with its local IP as the source (it routes
  // with that source set), and in multicast mode binds the wildcard address to receive the
  // group. A dgram socket cannot choose its source per datagram, and one bound to the wildcard
  // gets the route's preferred source, which on a host with several addresses need not be ours
  // (peers then drop what we send, or answer elsewhere). So `socket`, bound to our own address,
  // sends every datagram in every mode and receives unicast to us. In multicast mode a second
  // socket, `groupSocket`, bound to the wildcard on the same port, joins the group and receives
  // its datagrams (and, as the kernel's bearer, unicast to our other addresses on that port);
  // Linux gives a unicast datagram to the socket bound to its exact destination address before
  // a wildcard one, and the group's datagrams to the wildcard socket only. Both sockets need
  // SO_REUSEADDR to share the port, which would let another socket with it share the port too:
  // a probe bound to the wildcard without it first refuses a port held at any address
  // (ADDRESS_IN_USE), as the kernel's wildcard bind does.
  const receiveBufferSize = options.receiveBufferSize ?? DEFAULT_RECEIVE_BUFFER_SIZE;
  // SO_RCVBUF/SO_SNDBUF take a C int; the system caps what it grants
  for (const [what, v] of [
    ["receiveBufferSize", receiveBufferSize],
    ["sendBufferSize", options.sendBufferSize ?? 0],
  ] as const)
    if (checkLimit(v, what, 0) > 0x7fffffff)
      throw new TransportError("OPEN_FAILED", `${what} ${v} is over 2^31 - 1`);
  const makeSocket = (reuseAddr: boolean) =>
    dgram.createSocket({
      type: family === "ipv4" ? "udp4" : "udp6",
      ipv6Only: family === "ipv6",
      reuseAddr,
      ...(receiveBufferSize ? { recvBufferSize: receiveBufferSize } : {}),
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
  const closeSocket = (s: dgram.Socket | undefined) =>
    new Promise<void>((resolve) => {
      if (!s) return resolve();
      try {
        s.close(() => resolve());
      } catch {
        resolve(); // not bound yet, or already closed
      }
    });
  const wildcard = family === "ipv4" ? "0.0.0.0" : "::";
  const split = mode === "multicast";
  let port = localPort;
  if (split) {
    const probe = makeSocket(false);
    try {
      await bindSocket(probe, wildcard, port);
      port = probe.address().port;
    } finally {
      await closeSocket(probe);
    }
  }
  const socket = makeSocket(split);
  let groupSocket: dgram.Socket | undefined;
  const closeAll = () => Promise.all([closeSocket(socket), closeSocket(groupSocket)]);
  try {
    await bindSocket(socket, ipLocal, port);
    if (split) {
      groupSocket = makeSocket(true);
      await bindSocket(groupSocket, wildcard, socket.address().port);
    }
    if (group) {
      if (family === "ipv4") {
        const iface = options.multicastInterface ?? ipLocal;
        (groupSocket as dgram.Socket).addMembership(group.address, iface);
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
    await closeAll();
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
    sendQueued: 0,
    sendQueueDropped: 0,
    ownDropped: 0,
    peersLearned: 0,
    peersRefused: 0,
    peersExpired: 0,
    learnRefused: Object.fromEntries(LEARN_REFUSED_CAUSES.map((c) => [c, 0])) as Record<
      LearnRefusedCause,
      number
    >,
  };

  // Sources are few: keep one frozen MediaAddress (and its key) per source so `from` costs
  // nothing per datagram.
  const sources = new Map<string, { from: MediaAddress; key: string }>();
  // Destinations the caller passes are usually the same objects: validate each object once.
  const checked = new WeakMap<object, MediaAddress>();

  const onSent = (error: Error) => {
    counters.sendErrors++;
    handlers.error(new TransportError("SOCKET", `send failed: ${error.message}`, { cause: error }));
  };

  // Sending. Node's dgram socket queues without bound (in libuv) whatever the kernel's send
  // buffer cannot take yet, and link supervision queued behind a data backlog arrives too late
  // (the peer declares the link silent). So the socket holds at most `socketQueueLimit` bytes
  // of data (counted from hand-off to the send's callback: the lookup tick and libuv's queue,
  // what `getSendQueueSize()` shows and more); further data waits here, FIFO, up to
  // `sendQueueLimit`, and LINK_PROTOCOL / LINK_CONFIG datagrams go to the socket at once, as
  // the kernel gives them TC_PRIO_CONTROL.
  let socketDatagrams = 0;
  let socketBytes = 0;
  const queue: ({ buf: Buffer; to: MediaAddress; charge: number } | undefined)[] = [];
  let queueHead = 0;
  let queuedBytes = 0;
  let queuedCharge = 0;
  let pumping = false;

  const handOver = (buf: Buffer, to: MediaAddress) => {
    const size = buf.byteLength;
    counters.datagramsSent++;
    counters.bytesSent += size;
    socketDatagrams++;
    socketBytes += size;
    const done = (error: Error | null) => {
      socketDatagrams--;
      socketBytes -= size;
      if (error) onSent(error);
      if (!closed && queueHead < queue.length) pump();
    };
    try {
      // with a callback: without one, Node 20 silently drops a failed synchronous send (EACCES,
      // ENETUNREACH...), and the contract wants failures reported to onError
      socket.send(buf, to.port, to.address, done);
    } catch (e) {
      done(e as Error);
    }
  };
  const pump = () => {
    if (pumping) return; // a send failing synchronously calls back into pump
    pumping = true;
    try {
      while (queueHead < queue.length && socketBytes < socketQueueLimit) {
        const next = queue[queueHead] as { buf: Buffer; to: MediaAddress; charge: number };
        queue[queueHead++] = undefined;
        queuedBytes -= next.buf.byteLength;
        queuedCharge -= next.charge;
        handOver(next.buf, next.to);
      }
    } finally {
      pumping = false;
    }
    if (queueHead === queue.length) {
      queue.length = 0;
      queueHead = 0;
    } else if (queueHead > 1024 && queueHead * 2 > queue.length) {
      queue.splice(0, queueHead);
      queueHead = 0;
    }
  };
  const submit = (buf: Buffer, to: MediaAddress) => {
    const user = peekUserValue(buf);
    if (
      user === USER.LINK_PROTOCOL ||
      user === USER.LINK_CONFIG ||
      (queueHead === queue.length && socketBytes < socketQueueLimit)
    ) {
      handOver(buf, to);
      return;
    }
    const charge = Math.max(buf.byteLength, QUEUE_ENTRY_MIN_CHARGE);
    if (queuedCharge + charge > sendQueueLimit) {
      counters.sendQueueDropped++;
      return;
    }
    queue.push({ buf, to, charge });
    queuedBytes += buf.byteLength;
    queuedCharge += charge;
    counters.sendQueued++;
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

  // Learned replicast peers: key -> time of the last valid datagram from it.
  const learned = new Map<string, number>();
  // No learned peer is due before this time (a lower bound: refreshes only push dues later).
  let nextExpiry = Number.POSITIVE_INFINITY;
  const expire = () => {
    if (learned.size === 0) return;
    const now = clock.now();
    if (now < nextExpiry) return;
    let next = Number.POSITIVE_INFINITY;
    for (const [key, seen] of learned) {
      const due = seen + learnedPeerTimeout;
      if (now >= due) {
        learned.delete(key);
        peerMap.delete(key);
        counters.peersExpired++;
      } else if (due < next) next = due;
    }
    nextExpiry = next;
  };

  /**
   * Why a discovery datagram from the source `key` may not teach us that source as a peer, or
   * undefined when it may. `anyType`: responses and trial messages pass too (for refreshing).
   */
  const discoveryRefusal = (
    msg: Uint8Array,
    key: string,
    anyType: boolean,
  ): LearnRefusedCause | undefined => {
    try {
      validateHeader(msg);
    } catch {
      return "bad-header";
    }
    if (peekUserValue(msg) !== USER.LINK_CONFIG) return "not-discovery";
    let m: ReturnType<typeof decodeMessage>;
    try {
      m = decodeMessage(msg);
    } catch {
      return "bad-discovery";
    }
    if (m.user !== "LINK_CONFIG") return "bad-discovery";
    if (m.netId !== netId) return "foreign-net";
    if (!anyType && m.type !== "DSC_REQ") return "not-request";
    if (m.mediaAddress.family !== family) return "address-mismatch";
    const advertised = mediaAddressKey(m.mediaAddress);
    if (advertised === localKey) return "own-address";
    if (advertised !== key) return "address-mismatch";
    return undefined;
  };
  /** A datagram that keeps a learned peer: a TIPC header, and for discovery a valid one. */
  const validTraffic = (msg: Uint8Array, key: string): boolean => {
    try {
      validateHeader(msg);
    } catch {
      return false;
    }
    return peekUserValue(msg) !== USER.LINK_CONFIG || discoveryRefusal(msg, key, true) === undefined;
  };
  const learnFrom = (msg: Uint8Array, from: MediaAddress, key: string) => {
    expire();
    const seen = learned.get(key);
    if (seen !== undefined) {
      if (validTraffic(msg, key)) learned.set(key, clock.now());
      return;
    }
    if (peerMap.has(key)) return; // configured
    let cause = discoveryRefusal(msg, key, false);
    if (cause === undefined && (learned.size >= maxLearnedPeers || peerMap.size >= maxPeers)) {
      cause = "peer-limit";
      counters.peersRefused++;
    }
    if (cause !== undefined) {
      counters.learnRefused[cause]++;
      return;
    }
    const now = clock.now();
    peerMap.set(key, from);
    learned.set(key, now);
    if (now + learnedPeerTimeout < nextExpiry) nextExpiry = now + learnedPeerTimeout;
    counters.peersLearned++;
  };

  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    if (closed) return;
    const sourceKey = `${rinfo.address} ${rinfo.port}`;
    let source = sources.get(sourceKey);
    if (!source) {
      const ip = rinfo.address.includes("%") ? (rinfo.address.split("%")[0] as string) : rinfo.address;
      const parsed = { family, address: ip, port: rinfo.port } as MediaAddress;
      if (!isMediaAddress(parsed)) return;
      const from = Object.freeze(normalizeMediaAddress(parsed));
      source = { from, key: mediaAddressKey(from) };
      if (sources.size >= 4096) sources.clear();
      sources.set(sourceKey, source);
    }
    const from = source.from;
    if (from.port === localAddress.port && from.address === localAddress.address) {
      counters.ownDropped++; // our own multicast, looped back
      return;
    }
    counters.datagramsReceived++;
    counters.bytesReceived += msg.byteLength;
    if (mode === "replicast" && learnPeers) learnFrom(msg, from, source.key);
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
      submit(Buffer.from(datagram), dest);
    },
    broadcast(datagram: Uint8Array) {
      guard();
      checkDatagram(datagram, mtu);
      const buf = Buffer.from(datagram);
      if (group) {
        submit(buf, group);
        return;
      }
      expire();
      for (const peer of peerMap.values()) submit(buf, peer);
    },
    onReceive(handler: ReceiveHandler): Unsubscribe {
      return closed ? () => {} : handlers.onReceive(handler);
    },
    onError(handler: ErrorHandler): Unsubscribe {
      return closed ? () => {} : handlers.onError(handler);
    },
    peers() {
      expire();
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
      if (key === localKey) return;
      learned.delete(key);
      peerMap.set(key, Object.freeze(a));
    },
    removePeer(peer) {
      const key = mediaAddressKey(toAddress(peer, TIPC_UDP_PORT));
      learned.delete(key);
      return peerMap.delete(key);
    },
    drops() {
      // learned-peer refusals as `learn-<cause>` (the datagrams themselves were still delivered)
      // and data dropped at the transport's queue bound
      const out: Record<string, number> = {};
      for (const [cause, n] of Object.entries(counters.learnRefused)) if (n > 0) out[`learn-${cause}`] = n;
      if (counters.sendQueueDropped > 0) out["send-queue-full"] = counters.sendQueueDropped;
      return out;
    },
    receiveBufferSize() {
      return socket.getRecvBufferSize();
    },
    sendQueue() {
      return {
        datagrams: queue.length - queueHead,
        bytes: queuedBytes,
        socketDatagrams,
        socketBytes,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      handlers.clear();
      queue.length = 0; // data not yet handed to the socket is lost, as in a closing socket
      queueHead = 0;
      queuedBytes = 0;
      queuedCharge = 0;
      await closeAll();
    },
  };
  // configured peers never include ourselves
  peerMap.delete(localKey);
  return transport;
}
