// Datagrams for the transport's tests: real TIPC messages from the codec, and raw loopback sockets.
import dgram from "node:dgram";
import { encodeMessage, type LinkConfigType } from "@tipcjs/codec";
import type { MediaAddress } from "@tipcjs/transport";

/** A LINK_CONFIG message as a peer at `from` sends it (DSC_REQ of net 4711 unless told). */
export function discovery(
  from: MediaAddress,
  o: { netId?: number; type?: LinkConfigType; mediaAddress?: MediaAddress } = {},
): Uint8Array {
  return encodeMessage({
    user: "LINK_CONFIG",
    type: o.type ?? "DSC_REQ",
    capabilities: 0,
    signature: 0x1234,
    destDomain: 0,
    prevNode: 0x01001001,
    netId: o.netId ?? 4711,
    mediaAddress: o.mediaAddress ?? from,
    peerNetHash: 0,
    suggestedAddress: 0,
    nodeId: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
  });
}

/** A header-only message of `user` (40-byte internal header) that the codec's header check accepts. */
export function header(user: number, size = 40): Uint8Array {
  const d = new Uint8Array(size);
  new DataView(d.buffer).setUint32(0, ((2 << 29) | (user << 25) | (10 << 21) | size) >>> 0);
  return d;
}

/** A raw UDP socket bound on `ip` (any port), and its media address. */
export async function rawSocket(ip = "127.0.0.1"): Promise<{ socket: dgram.Socket; address: MediaAddress }> {
  const socket = dgram.createSocket(ip.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((r) => socket.bind(0, ip, () => r()));
  const family = ip.includes(":") ? ("ipv6" as const) : ("ipv4" as const);
  return { socket, address: { family, address: ip, port: socket.address().port } };
}

/** Polls `done` every 5 ms, at most `tries` times (a bounded wait, not a time assertion). */
export async function until(done: () => boolean, tries = 400): Promise<void> {
  for (let i = 0; i < tries && !done(); i++) await new Promise((r) => setTimeout(r, 5));
}
