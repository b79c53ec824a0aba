import { canonicalMediaAddress, mediaAddressKey as codecMediaAddressKey } from "@tipcjs/codec";
import { type MediaAddress, TransportError } from "./transport.js";

// Media addresses are wire primitives (the UDP bearer's media info area): their parsers,
// comparison and keys live in @tipcjs/codec, re-exported here for transports. Only the two
// helpers that reject a malformed address with a TransportError are this package's own.
export {
  formatIpv4,
  formatIpv6,
  formatMediaAddress,
  isMediaAddress,
  isMulticastAddress,
  mediaAddressEquals,
  parseIpv4,
  parseIpv6,
} from "@tipcjs/codec";

/** Returns the address in canonical form (RFC 5952 for ipv6), or throws `BAD_ADDRESS`. */
export function normalizeMediaAddress(a: MediaAddress): MediaAddress {
  const n = canonicalMediaAddress(a);
  if (!n) throw new TransportError("BAD_ADDRESS", `not a media address: ${safeString(a)}`);
  return n;
}

/**
 * A string that identifies the address, equal for equal addresses (`"ipv4 127.0.0.1:6118"`,
 * `"ipv6 [::1]:6118"`). Use it as a Map key. Throws `BAD_ADDRESS` for malformed input.
 */
export function mediaAddressKey(a: MediaAddress): string {
  return codecMediaAddressKey(normalizeMediaAddress(a));
}

function safeString(a: unknown): string {
  try {
    return JSON.stringify(a) ?? String(a);
  } catch {
    return String(a);
  }
}
