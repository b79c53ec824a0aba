// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * Node identity, node address and UDP media address helpers (§6.2, §9 of the protocol brief).
 */
import { NODE_ID_LEN, TIPC_MEDIA_TYPE_UDP } from "./constants.js";
import { TipcDecodeError, TipcEncodeError } from "./errors.js";
import type { UdpMediaAddress } from "./types.js";

/**
 * The 32-bit node address the kernel derives from a 128-bit node id (hash128to32): the XOR of
 * the id's four big-endian words, or their OR when the XOR is 0.
 */
export function nodeAddressFromId(nodeId: Uint8Array): number {
  if (nodeId.length !== NODE_ID_LEN) throw new RangeError(`node id must be ${NODE_ID_LEN} bytes`);
  let x = 0;
  let o = 0;
  for (let i = 0; i < NODE_ID_LEN; i += 4) {
    const w = ((nodeId[i]! << 24) | (nodeId[i + 1]! << 16) | (nodeId[i + 2]! << 8) | nodeId[i + 3]!) >>> 0;
    x ^= w;
    o |= w;
  }
  return (x !== 0 ? x : o) >>> 0;
}

/**
 * A 16-byte node id from a shorter (or longer) one: zero-padded on the right (cut at 16 bytes),
 * as `tipc node set identity NAME` makes one from a short name. A 16-byte id is returned as is.
 */
export function padNodeId(id: Uint8Array): Uint8Array {
  if (id.length === NODE_ID_LEN) return id;
  const out = new Uint8Array(NODE_ID_LEN);
  out.set(id.subarray(0, NODE_ID_LEN));
  return out;
}

function isIdChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || // 0-9
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    c === 0x2e || // .
    c === 0x3a || // :
    c === 0x5f || // _
    c === 0x2d || // -
    c === 0x40 || // @
    c === 0
  );
}

/**
 * A node id as the kernel prints it (tipc_nodeid2string): the text itself when every byte is
 * in [0-9A-Za-z.:_@-] or NUL, otherwise 32 hex digits with trailing zeros removed.
 */
export function nodeIdToString(nodeId: Uint8Array): string {
  if (nodeId.length !== NODE_ID_LEN) throw new RangeError(`node id must be ${NODE_ID_LEN} bytes`);
  if (nodeId.every(isIdChar)) {
    const end = nodeId.indexOf(0);
    return String.fromCharCode(...nodeId.subarray(0, end < 0 ? NODE_ID_LEN : end));
  }
  let hex = "";
  for (const b of nodeId) hex += b.toString(16).padStart(2, "0");
  return hex.replace(/0+$/, "");
}

/**
 * A node id from its text form, as `tipc node set identity` takes it: up to 16 characters are
 * the id's bytes (zero-padded); 17 to 32 hex digits are the id in hex (zero-padded on the right).
 */
export function nodeIdFromString(text: string): Uint8Array {
  const id = new Uint8Array(NODE_ID_LEN);
  if (text.length <= NODE_ID_LEN) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) throw new RangeError(`node id text must be Latin-1: ${JSON.stringify(text)}`);
      id[i] = c;
    }
    return id;
  }
  if (text.length > 2 * NODE_ID_LEN || !/^[0-9a-fA-F]+$/.test(text)) {
    throw new RangeError(
      `node id must be up to 16 characters or up to 32 hex digits: ${JSON.stringify(text)}`,
    );
  }
  const padded = text.padEnd(2 * NODE_ID_LEN, "0");
  for (let i = 0; i < NODE_ID_LEN; i++) id[i] = Number.parseInt(padded.slice(2 * i, 2 * i + 2), 16);
  return id;
}

/** A 32-bit node address as the kernel prints it ("%x"). */
export function nodeAddressToString(address: number): string {
  return (address >>> 0).toString(16);
}

/** Capability bit names (discovery word 1 bits 15..27), bit 0 first. */
export const CAPABILITY_NAMES = [
  "SYN_BIT",
  "BCAST_SYNCH",
  "BCAST_STATE_NACK",
  "BLOCK_FLOWCTL",
  "BCAST_RCAST",
  "NODE_ID128",
  "LINK_PROTO_SEQNO",
  "MCAST_RBCTL",
  "GAP_ACK_BLOCK",
  "TUNNEL_ENHANCED",
  "NAGLE",
  "NAMED_BCAST",
] as const;
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** Names of the capability bits set in `capabilities`; unknown bits appear as `BIT_n`. */
export function capabilityNames(capabilities: number): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 13; bit++) {
    if (capabilities & (1 << bit)) names.push(CAPABILITY_NAMES[bit] ?? `BIT_${bit}`);
  }
  return names;
}

/** The capability mask for a list of names (the inverse of capabilityNames). */
export function capabilitiesFromNames(names: Iterable<string>): number {
  let caps = 0;
  for (const name of names) {
    const bit = (CAPABILITY_NAMES as readonly string[]).indexOf(name.replace(/^TIPC_/, ""));
    if (bit < 0) throw new RangeError(`unknown capability ${name}`);
    caps |= 1 << bit;
  }
  return caps;
}

// ---------------------------------------------------------------------------------------------
// IP address text

/**
 * Parses dotted-quad IPv4 text into 4 bytes, or returns undefined. Strict as inet_pton: four
 * decimal parts 0..255, no leading zeros.
 */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

/**
 * Parses IPv6 text (with `::` and an optional trailing dotted quad, optionally in brackets) into
 * 16 bytes, or undefined. No zone (`%eth0`).
 */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 47 || text.includes("%")) return undefined;
  let s = text;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const out = new Uint8Array(16);
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseIpv4(item);
        if (!v4) return undefined;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        groups.push(Number.parseInt(item, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

/** IPv4 bytes as dotted-quad text. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** IPv6 bytes as RFC 5952 text (lower case, longest zero run as `::`, IPv4-mapped as ::ffff:a.b.c.d). */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number) => x.toString(16);
  if (bestLen < 2) return g.map(hex).join(":");
  return `${g.slice(0, bestStart).map(hex).join(":")}::${g
    .slice(bestStart + bestLen)
    .map(hex)
    .join(":")}`;
}

// ---------------------------------------------------------------------------------------------
// Media addresses (the UDP bearer's, and every transport's: see @tipcjs/transport)

/** True when `a` is a well-formed media address (family, parseable address, integer port 0..65535). */
export function isMediaAddress(a: unknown): a is UdpMediaAddress {
  if (typeof a !== "object" || a === null) return false;
  const { family, address, port } = a as Record<string, unknown>;
  if (typeof address !== "string" || typeof port !== "number") return false;
  if (!Number.isInteger(port) || port < 0 || port > 65535) return false;
  if (family === "ipv4") return parseIpv4(address) !== undefined;
  if (family === "ipv6") return parseIpv6(address) !== undefined;
  return false;
}

/** The address in canonical form (RFC 5952 for ipv6), or undefined when it is not well-formed. */
export function canonicalMediaAddress(a: UdpMediaAddress): UdpMediaAddress | undefined {
  if (!isMediaAddress(a)) return undefined;
  if (a.family === "ipv4") return { family: "ipv4", address: a.address, port: a.port };
  return { family: "ipv6", address: formatIpv6(parseIpv6(a.address)!), port: a.port };
}

/**
 * A string that identifies the address, equal for equal addresses (`"ipv4 127.0.0.1:6118"`,
 * `"ipv6 [::1]:6118"`): a Map key. A malformed address keys as written.
 */
export function mediaAddressKey(a: UdpMediaAddress): string {
  const n = canonicalMediaAddress(a) ?? a;
  return n.family === "ipv6" ? `ipv6 [${n.address}]:${n.port}` : `${n.family} ${n.address}:${n.port}`;
}

/** True when both name the same address (ipv6 compared in canonical form). */
export function mediaAddressEquals(a: UdpMediaAddress, b: UdpMediaAddress): boolean {
  if (a.family !== b.family || a.port !== b.port) return false;
  if (a.address === b.address) return true;
  const x = canonicalMediaAddress(a);
  const y = canonicalMediaAddress(b);
  return x !== undefined && y !== undefined && x.address === y.address;
}

/** Human text: `127.0.0.1:6118` or `[::1]:6118`. */
export function formatMediaAddress(a: UdpMediaAddress): string {
  return a.family === "ipv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** True for IPv4 224.0.0.0/4 and IPv6 ff00::/8 (the kernel refuses these as a peer's address). */
export function isMulticastAddress(a: UdpMediaAddress): boolean {
  if (a.family === "ipv4") {
    const b = parseIpv4(a.address);
    return b !== undefined && (b[0]! & 0xf0) === 0xe0;
  }
  const b = parseIpv6(a.address);
  return b !== undefined && b[0] === 0xff;
}

// ---------------------------------------------------------------------------------------------
// UDP media address (the 32-byte media info area of discovery messages)

export const MEDIA_INFO_SIZE = 32;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

/**
 * Decodes the 32-byte media info area starting at `offset` of `bytes` (message byte 20 in a
 * discovery message). Errors carry offsets relative to `bytes`.
 */
export function decodeMediaAddress(bytes: Uint8Array, offset = 0): UdpMediaAddress {
  if (bytes.length < offset + MEDIA_INFO_SIZE) {
    throw new TipcDecodeError("DATA_TOO_SHORT", bytes.length, "media info area needs 32 bytes");
  }
  const mediaType = bytes[offset + 3]!;
  if (mediaType !== TIPC_MEDIA_TYPE_UDP) {
    throw new TipcDecodeError(
      "BAD_MEDIA_TYPE",
      offset + 3,
      `media type ${mediaType}, only UDP (3) is supported`,
    );
  }
  const proto = (bytes[offset + 4]! << 8) | bytes[offset + 5]!;
  const port = (bytes[offset + 6]! << 8) | bytes[offset + 7]!;
  if (proto === ETH_P_IP) return { family: "ipv4", address: formatIpv4(bytes, offset + 8), port };
  if (proto === ETH_P_IPV6) return { family: "ipv6", address: formatIpv6(bytes, offset + 8), port };
  throw new TipcDecodeError("BAD_MEDIA_ADDRESS", offset + 4, `protocol 0x${proto.toString(16)}`);
}

/** Writes the 32-byte media info area for `address` at `offset` of `target` (zero-filled around it). */
export function writeMediaAddress(address: UdpMediaAddress, target: Uint8Array, offset = 0): void {
  target.fill(0, offset, offset + MEDIA_INFO_SIZE);
  target[offset + 3] = TIPC_MEDIA_TYPE_UDP;
  const port = address.port;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new TipcEncodeError("mediaAddress.port", `not a UDP port: ${port}`);
  }
  target[offset + 6] = port >> 8;
  target[offset + 7] = port & 0xff;
  if (address.family === "ipv4") {
    const ip = parseIpv4(address.address);
    if (!ip) throw new TipcEncodeError("mediaAddress.address", `not an IPv4 address: ${address.address}`);
    target[offset + 4] = ETH_P_IP >> 8;
    target[offset + 5] = ETH_P_IP & 0xff;
    target.set(ip, offset + 8);
  } else if (address.family === "ipv6") {
    const ip = parseIpv6(address.address);
    if (!ip) throw new TipcEncodeError("mediaAddress.address", `not an IPv6 address: ${address.address}`);
    target[offset + 4] = ETH_P_IPV6 >> 8;
    target[offset + 5] = ETH_P_IPV6 & 0xff;
    target.set(ip, offset + 8);
  } else {
    throw new TipcEncodeError("mediaAddress.family", `must be "ipv4" or "ipv6"`);
  }
}

/** The 32-byte media info area for a UDP address. */
export function encodeMediaAddress(address: UdpMediaAddress): Uint8Array {
  const out = new Uint8Array(MEDIA_INFO_SIZE);
  writeMediaAddress(address, out, 0);
  return out;
}
