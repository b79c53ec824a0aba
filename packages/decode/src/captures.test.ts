/**
 * Golden tests, the capture half: every UDP datagram of the real Linux 6.1 kernel's captures
 * (the codec's __fixtures__, see its golden.test.ts) read from the pcap files decodes and
 * re-encodes to the identical bytes, and the link-up capture holds the documented exchange.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeMessage, encodeMessage } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { readPcap, udpDatagrams } from "./pcap.js";

const FIXTURES = join(import.meta.dirname, "..", "..", "codec", "src", "__fixtures__");
const hexFiles = readdirSync(join(FIXTURES, "link-up"))
  .filter((f) => f.endsWith(".hex"))
  .map((f) => `link-up/${f}`);
const hexFixture = (name: string) =>
  new Uint8Array(Buffer.from(readFileSync(join(FIXTURES, name), "utf8").trim(), "hex"));

describe("kernel captures: every datagram of the pcaps", { timeout: 60_000 }, () => {
  for (const dir of ["link-up", "passive"]) {
    it(`${dir}/capture.pcap: every UDP payload decodes and re-encodes byte for byte`, () => {
      const file = readPcap(readFileSync(join(FIXTURES, dir, "capture.pcap")));
      expect(file.linkType).toBe(101); // LINKTYPE_RAW, as listener.py writes it
      const datagrams = udpDatagrams(file);
      expect(datagrams.length).toBe(file.records.length);
      expect(datagrams.length).toBeGreaterThan(0);
      for (const d of datagrams) {
        const msg = decodeMessage(d.payload);
        expect(encodeMessage(msg)).toEqual(new Uint8Array(d.payload));
      }
    });
  }

  it("the link-up pcap holds the documented exchange, in order", () => {
    const datagrams = udpDatagrams(readPcap(readFileSync(join(FIXTURES, "link-up", "capture.pcap"))));
    const seq = datagrams.map((d) => {
      const m = decodeMessage(d.payload);
      return `${d.sourcePort === 6119 ? "host" : "kernel"}:${m.user}:${m.type}`;
    });
    const firstReset = seq.indexOf("kernel:LINK_PROTOCOL:RESET");
    expect(seq.slice(firstReset, firstReset + 7)).toEqual([
      "kernel:LINK_PROTOCOL:RESET",
      "host:LINK_PROTOCOL:ACTIVATE",
      "kernel:LINK_PROTOCOL:STATE",
      "kernel:BCAST_PROTOCOL:STATE",
      "host:LINK_PROTOCOL:STATE",
      "kernel:NAME_DISTRIBUTOR:PUBLICATION",
      "host:NAME_DISTRIBUTOR:PUBLICATION",
    ]);
    // Every hex fixture of the link-up run appears in its pcap.
    const payloads = new Set(datagrams.map((d) => Buffer.from(d.payload).toString("hex")));
    for (const name of hexFiles.filter((f) => f.startsWith("link-up/"))) {
      expect(payloads.has(Buffer.from(hexFixture(name)).toString("hex")), name).toBe(true);
    }
  });
});
