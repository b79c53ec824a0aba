import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeMessage } from "@tipcjs/codec";
import { afterAll, describe, expect, it } from "vitest";
import { captureLoopback, PcapWriter, tsharkDecode } from "./pcap.js";
import { UdpPeer } from "./udp.js";

// A discovery request as the kernel (6.1, identity "guest1") sent it.
const KERNEL_DSC_REQ = Buffer.from(
  [
    "5bf0004c 07ffddb4 00000000 13446573 00001267 00000003 080017e6 0a00020f",
    "00000000 00000000 00000000 00000000 00000000 4e435db4 00000000",
    "67756573 74310000 00000000 00000000",
  ]
    .join(" ")
    .replace(/ /g, ""),
  "hex",
);

describe("pcap and tshark helpers", () => {
  const dir = mkdtempSync(join(tmpdir(), "tipcjs-interop-pcap-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("tshark decodes a kernel datagram cleanly and flags truncated ones as malformed", async () => {
    expect(KERNEL_DSC_REQ.length).toBe(76);
    expect(decodeMessage(KERNEL_DSC_REQ).user).toBe("LINK_CONFIG");
    const path = join(dir, "synthetic.pcap");
    const w = new PcapWriter(path);
    const a = { address: "127.0.0.1", port: 40001 };
    const b = { address: "127.0.0.1", port: 40002 };
    w.add(1_000, a, b, KERNEL_DSC_REQ);
    w.add(1_001, a, b, KERNEL_DSC_REQ.subarray(0, 30));
    w.close();
    const report = await tsharkDecode(path, [40002]);
    expect(report.frames.map((f) => f.number)).toEqual([1, 2]);
    expect(report.frames[0]?.info).toContain("Ngbr Disc");
    expect(report.notTipc).toEqual([]);
    expect(report.malformed.map((f) => f.number)).toEqual([2]);
  });

  it("captures UDP on the loopback interface with dumpcap", async () => {
    const x = await UdpPeer.open();
    const y = await UdpPeer.open();
    const path = join(dir, "lo.pcap");
    const capture = await captureLoopback(path, [y.port]);
    try {
      for (let i = 0; i < 3; i++) await x.send(KERNEL_DSC_REQ, { address: "127.0.0.1", port: y.port });
      await y.next(() => y.received.length >= 3, { timeoutMs: 10_000 });
    } finally {
      await capture.stop();
      await x.close();
      await y.close();
    }
    const report = await tsharkDecode(path, [y.port]);
    expect(report.frames.length).toBe(3);
    expect(report.frames.every((f) => f.dstPort === y.port && f.srcPort === x.port)).toBe(true);
    expect(report.malformed).toEqual([]);
  });
});
