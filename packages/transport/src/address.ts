import { type MediaAddress, TransportError } from "./transport.js";

// Pure-JS address helpers shared by transports and the link layer (no node: imports, so the
// contract package stays platform neutral).

/** Parses a dotted quad; returns the four bytes or undefined. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

/** Parses IPv6 text (with `::` and an optional embedded IPv4 tail); returns 16 bytes or undefined. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45 || text.includes("%")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    const items = s.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as string;
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseIpv4(item);
        if (!v4) return undefined;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        out.push(Number.parseInt(item, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  if (!head || !tail) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** Formats 16 bytes as RFC 5952 text (lowercase, longest zero run of 2+ groups compressed). */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Formats four bytes as a dotted quad. */
export function formatIpv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** True when `a` is a well-formed media address (family, parseable address, integer port 0..65535). */
export function isMediaAddress(a: unknown): a is MediaAddress {
  if (typeof a !== "object" || a === null) return false;
  const { family, address, port } = a as Record<string, unknown>;
  if (typeof address !== "string" || typeof port !== "number") return false;
  if (!Number.isInteger(port) || port < 0 || port > 65535) return false;
  if (family === "ipv4") return parseIpv4(address) !== undefined;
  if (family === "ipv6") return parseIpv6(address) !== undefined;
  return false;
}

/** Returns the address in canonical form (RFC 5952 for ipv6), or throws `BAD_ADDRESS`. */
export function normalizeMediaAddress(a: MediaAddress): MediaAddress {
  if (!isMediaAddress(a)) {
    throw new TransportError("BAD_ADDRESS", `not a media address: ${safeString(a)}`);
  }
  if (a.family === "ipv4") return { family: "ipv4", address: a.address, port: a.port };
  return { family: "ipv6", address: formatIpv6(parseIpv6(a.address) as Uint8Array), port: a.port };
}

/**
 * A string that identifies the address, equal for equal addresses (`"ipv4 127.0.0.1:6118"`,
 * `"ipv6 [::1]:6118"`). Use it as a Map key. Throws `BAD_ADDRESS` for malformed input.
 */
export function mediaAddressKey(a: MediaAddress): string {
  const n = normalizeMediaAddress(a);
  return n.family === "ipv4" ? `ipv4 ${n.address}:${n.port}` : `ipv6 [${n.address}]:${n.port}`;
}

/** True when both name the same member (ipv6 compared in canonical form). */
export function mediaAddressEquals(a: MediaAddress, b: MediaAddress): boolean {
  if (a.family !== b.family || a.port !== b.port) return false;
  if (a.address === b.address) return true;
  if (!isMediaAddress(a) || !isMediaAddress(b)) return false;
  return mediaAddressKey(a) === mediaAddressKey(b);
}

/** Human text: `127.0.0.1:6118` or `[::1]:6118`. */
export function formatMediaAddress(a: MediaAddress): string {
  return a.family === "ipv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** True for IPv4 224.0.0.0/4 and IPv6 ff00::/8 (the kernel refuses these as a peer's address). */
export function isMulticastAddress(a: MediaAddress): boolean {
  if (a.family === "ipv4") {
    const b = parseIpv4(a.address);
    return b !== undefined && ((b[0] as number) & 0xf0) === 0xe0;
  }
  const b = parseIpv6(a.address);
  return b !== undefined && b[0] === 0xff;
}

function safeString(a: unknown): string {
  try {
    return JSON.stringify(a) ?? String(a);
  } catch {
    return String(a);
  }
}
