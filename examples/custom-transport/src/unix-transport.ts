/**
 * A tipcjs transport over Unix datagram sockets, written only against the public
 * `@tipcjs/transport` contract: the worked example of "Writing a custom transport".
 *
 * Every member binds one SOCK_DGRAM socket in a shared directory. Unix sockets have no IP
 * addresses, but the contract (and TIPC discovery, which carries the address) names members by
 * `{ family, address, port }`, so each member takes a pseudo address 127.66.x.y:6118 and its
 * socket file is named after it: `127.66.0.7_6118.sock`. Mapping a path back to an address is
 * then a parse of the file name, with no registry. Unix datagram sockets cannot broadcast, so
 * `canBroadcast` is false and `broadcast` sends one copy to every other socket in the directory
 * (the kernel calls this "replicast"); `peers()` lists them for the node's discovery.
 *
 * Each member uses two sockets: `NAME.sock` only receives and `NAME.tx.sock` only sends. With
 * one socket for both, node-unix-socket stops reading while a send waits for room in a full
 * peer queue (Linux allows `net.unix.max_dgram_qlen` = 10 datagrams), and two members sending
 * bursts to each other deadlock. Receivers map either name back to the same address.
 */
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import {
  checkDatagram,
  Handlers,
  isMediaAddress,
  type MediaAddress,
  mediaAddressKey,
  type Transport,
  TransportError,
} from "@tipcjs/transport";
import { DgramSocket } from "node-unix-socket";

export interface UnixTransportOptions {
  /** The directory the members of one cluster share. */
  directory: string;
  /** This member's pseudo address (default: the first free 127.66.0.N:6118). */
  address?: MediaAddress;
  /** Largest datagram (default 14000, like UDP over IPv4). */
  mtu?: number;
}

export interface UnixTransport extends Transport {
  readonly canBroadcast: false;
  /** The path of this member's socket. */
  readonly path: string;
  /** Every other member whose socket is in the directory now. */
  peers(): MediaAddress[];
}

const SUFFIX = ".sock";
const TX_SUFFIX = ".tx.sock";

/** The receiving socket's file name; the sending one adds `.tx`. */
function fileName(a: MediaAddress, suffix = SUFFIX): string {
  return `${a.address}_${a.port}${suffix}`;
}

/** The member a socket path belongs to, or undefined if the name is not one of ours. */
function addressOf(path: string, options: { receiversOnly?: boolean } = {}): MediaAddress | undefined {
  const name = path.slice(path.lastIndexOf("/") + 1);
  let stem: string;
  if (name.endsWith(TX_SUFFIX)) {
    if (options.receiversOnly) return undefined;
    stem = name.slice(0, -TX_SUFFIX.length);
  } else if (name.endsWith(SUFFIX)) {
    stem = name.slice(0, -SUFFIX.length);
  } else {
    return undefined;
  }
  const [address, port] = stem.split("_");
  const candidate = { family: "ipv4" as const, address: address ?? "", port: Number(port) };
  return isMediaAddress(candidate) ? candidate : undefined;
}

export function unixTransport(options: UnixTransportOptions): UnixTransport {
  const { directory } = options;
  const mtu = options.mtu ?? 14000;
  let localAddress = options.address;
  if (localAddress) {
    if (!isMediaAddress(localAddress) || localAddress.family !== "ipv4") {
      throw new TransportError("BAD_ADDRESS", `not an ipv4 media address: ${JSON.stringify(localAddress)}`);
    }
  } else {
    for (let n = 1; n < 0xffff && !localAddress; n++) {
      const candidate: MediaAddress = { family: "ipv4", address: `127.66.${n >> 8}.${n & 0xff}`, port: 6118 };
      if (!existsSync(join(directory, fileName(candidate)))) localAddress = candidate;
    }
    if (!localAddress) throw new TransportError("OPEN_FAILED", `no free pseudo address in ${directory}`);
  }
  const self: MediaAddress = Object.freeze({ ...localAddress });
  const path = join(directory, fileName(self));
  const txPath = join(directory, fileName(self, TX_SUFFIX));
  const handlers = new Handlers();
  let closed = false;

  const bind = (p: string): DgramSocket => {
    const s = new DgramSocket();
    try {
      s.bind(p);
      return s;
    } catch (cause) {
      s.close();
      const inUse = /EADDRINUSE|in use/i.test(String(cause));
      throw new TransportError(inUse ? "ADDRESS_IN_USE" : "OPEN_FAILED", `cannot bind ${p}`, { cause });
    }
  };
  const socket = bind(path);
  let tx: DgramSocket;
  try {
    tx = bind(txPath);
  } catch (e) {
    socket.close();
    unlinkSync(path);
    throw e;
  }
  // Sources repeat: one frozen address per path, so `from` costs nothing per datagram.
  const sources = new Map<string, MediaAddress>();
  socket.on("data", (datagram: Buffer, from: string) => {
    if (closed) return;
    let source = sources.get(from);
    if (!source) {
      const parsed = addressOf(from);
      if (!parsed) return; // not one of our members: ignore
      source = Object.freeze(parsed);
      sources.set(from, source);
    }
    // the library already delivers on a later tick (process.nextTick), never inside sendTo
    handlers.deliver(datagram, source);
  });
  const onSocketError = (cause: Error) => {
    if (!closed) handlers.error(new TransportError("SOCKET", `socket error: ${cause.message}`, { cause }));
  };
  socket.on("error", onSocketError);
  tx.on("error", onSocketError);

  const onSent = (cause: Error | undefined) => {
    // a member that went away (ENOENT, ECONNREFUSED) is a lost datagram, reported, not thrown
    if (cause && !closed)
      handlers.error(new TransportError("SOCKET", `send failed: ${cause.message}`, { cause }));
  };
  const sendTo = (target: string, datagram: Uint8Array) => {
    try {
      const buf = Buffer.from(datagram); // a copy: the caller may reuse its buffer at once
      tx.sendTo(buf, 0, buf.byteLength, target, onSent);
    } catch (cause) {
      onSent(cause as Error);
    }
  };
  const guard = (datagram: Uint8Array) => {
    if (closed) throw new TransportError("CLOSED", "this transport is closed");
    checkDatagram(datagram, mtu);
  };
  const peers = (): MediaAddress[] => {
    let names: string[];
    try {
      names = readdirSync(directory);
    } catch {
      return [];
    }
    const selfKey = mediaAddressKey(self);
    return names
      .map((n) => addressOf(n, { receiversOnly: true }))
      .filter((a): a is MediaAddress => a !== undefined && mediaAddressKey(a) !== selfKey);
  };

  return {
    specificationVersion: "v1",
    localAddress: self,
    mtu,
    canBroadcast: false,
    path,
    peers,
    send(to, datagram) {
      if (closed) throw new TransportError("CLOSED", "this transport is closed");
      if (!isMediaAddress(to) || to.family !== "ipv4") {
        throw new TransportError("BAD_ADDRESS", `not an ipv4 media address: ${JSON.stringify(to)}`);
      }
      guard(datagram);
      sendTo(join(directory, fileName(to)), datagram);
    },
    broadcast(datagram) {
      guard(datagram);
      for (const peer of peers()) sendTo(join(directory, fileName(peer)), datagram);
    },
    onReceive: (handler) => (closed ? () => {} : handlers.onReceive(handler)),
    onError: (handler) => (closed ? () => {} : handlers.onError(handler)),
    async close() {
      if (closed) return;
      closed = true;
      handlers.clear();
      for (const [s, p] of [
        [socket, path],
        [tx, txPath],
      ] as const) {
        s.close();
        try {
          unlinkSync(p);
        } catch {
          // already removed
        }
      }
    },
  };
}
