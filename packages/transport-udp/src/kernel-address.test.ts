// The transport's addresses are the kernel's UDP media addresses: what the link layer writes
// into discovery with @tipcjs/codec, and what the kernel parses (tipc-protocol.md §6.2).
import { decodeMediaAddress, encodeMediaAddress } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { udpTransport } from "./udp.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("UDP media address as the kernel encodes it", () => {
  it("IPv4: 00 00 00 03 | 08 00 | port | address, zero-filled to 32 bytes", async () => {
    const t = await udpTransport({ localAddress: "127.41.18.3", mode: "replicast" });
    try {
      const area = encodeMediaAddress(t.localAddress);
      expect(hex(area)).toBe(`00000003080017e67f291203${"00".repeat(20)}`);
      expect(decodeMediaAddress(area)).toEqual(t.localAddress);
    } finally {
      await t.close();
    }
  });

  it("IPv6: proto 86 DD and the 16 address bytes", async () => {
    const t = await udpTransport({ localAddress: "::1", localPort: 0, mode: "replicast" });
    try {
      const area = encodeMediaAddress(t.localAddress);
      const port = t.localAddress.port.toString(16).padStart(4, "0");
      expect(hex(area)).toBe(`0000000386dd${port}${"00".repeat(15)}01${"00".repeat(8)}`);
      expect(decodeMediaAddress(area)).toEqual(t.localAddress);
    } finally {
      await t.close();
    }
  });
});
