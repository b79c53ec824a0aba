import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatIpv6,
  formatMediaAddress,
  isMediaAddress,
  isMulticastAddress,
  mediaAddressEquals,
  mediaAddressKey,
  normalizeMediaAddress,
  parseIpv4,
  parseIpv6,
} from "./address.js";
import { isTransportError, TransportError } from "./transport.js";

describe("media address helpers", () => {
  it("parses dotted quads strictly", () => {
    expect(parseIpv4("127.0.0.1")).toEqual(Uint8Array.of(127, 0, 0, 1));
    for (const bad of ["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "a.b.c.d", "", "1..2.3"]) {
      expect(parseIpv4(bad)).toBeUndefined();
    }
  });

  it("parses and formats IPv6 in RFC 5952 form", () => {
    expect(formatIpv6(parseIpv6("::1") as Uint8Array)).toBe("::1");
    expect(formatIpv6(parseIpv6("FF02:0:0:0:0:0:0:4711") as Uint8Array)).toBe("ff02::4711");
    expect(formatIpv6(parseIpv6("2001:db8:0:0:1:0:0:1") as Uint8Array)).toBe("2001:db8::1:0:0:1");
    expect(formatIpv6(parseIpv6("2001:db8::") as Uint8Array)).toBe("2001:db8::");
    expect(formatIpv6(parseIpv6("1:0:2:3:4:5:6:7") as Uint8Array)).toBe("1:0:2:3:4:5:6:7");
    expect(parseIpv6("::ffff:10.0.0.1")?.slice(12)).toEqual(Uint8Array.of(10, 0, 0, 1));
    for (const bad of ["1:2", ":::1", "1::2::3", "12345::", "fe80::1%eth0", "", "1:2:3:4:5:6:7:8:9"]) {
      expect(parseIpv6(bad)).toBeUndefined();
    }
  });

  it("round-trips any 16 bytes through format and parse", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(parseIpv6(formatIpv6(b))).toEqual(b);
      }),
    );
  });

  it("validates, normalizes, keys and compares", () => {
    expect(isMediaAddress({ family: "ipv4", address: "10.0.0.1", port: 6118 })).toBe(true);
    expect(isMediaAddress({ family: "ipv4", address: "::1", port: 6118 })).toBe(false);
    expect(isMediaAddress({ family: "ipv6", address: "::1", port: 65536 })).toBe(false);
    expect(isMediaAddress(null)).toBe(false);
    const a = { family: "ipv6" as const, address: "0:0::1", port: 1 };
    expect(normalizeMediaAddress(a).address).toBe("::1");
    expect(mediaAddressKey(a)).toBe("ipv6 [::1]:1");
    expect(mediaAddressEquals(a, { family: "ipv6", address: "::1", port: 1 })).toBe(true);
    expect(mediaAddressEquals(a, { family: "ipv6", address: "::1", port: 2 })).toBe(false);
    expect(formatMediaAddress({ family: "ipv4", address: "1.2.3.4", port: 5 })).toBe("1.2.3.4:5");
    const thrown = (() => {
      try {
        mediaAddressKey({ family: "ipv4", address: "x", port: 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(isTransportError(thrown) && thrown.code).toBe("BAD_ADDRESS");
    expect(thrown).toBeInstanceOf(TransportError);
  });

  it("recognizes multicast groups", () => {
    expect(isMulticastAddress({ family: "ipv4", address: "228.0.18.103", port: 6118 })).toBe(true);
    expect(isMulticastAddress({ family: "ipv4", address: "127.0.0.1", port: 6118 })).toBe(false);
    expect(isMulticastAddress({ family: "ipv6", address: "ff02::4711", port: 6118 })).toBe(true);
    expect(isMulticastAddress({ family: "ipv6", address: "::1", port: 6118 })).toBe(false);
  });
});
