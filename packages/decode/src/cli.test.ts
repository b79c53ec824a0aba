// biome-ignore-all lint/style/noNonNullAssertion: test data of known shape
/** tipc-decode, run in-process on the fixtures and on synthesized captures. */
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleMessages, decodeMessage, encodeMessage, type NameDistributorMessage } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import {
  CaptureReader,
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_RAW,
  MAX_CAPTURE_RECORD,
  MAX_PENDING_FRAGMENTED,
  PcapError,
  readPcap,
  UdpExtractor,
  udpDatagrams,
} from "./pcap.js";
import { type CliIO, MAX_HEX_TEXT, parseHex, processIO, run } from "./tipc-decode.js";

// the kernel captures are the codec's golden data
const FIXTURES = join(import.meta.dirname, "..", "..", "codec", "src", "__fixtures__");

/** Bytes as a stream of `size`-byte chunks (odd, so that records and lines straddle chunks). */
async function* chunked(bytes: Uint8Array, size = 997): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, o + size);
}

function cli(args: string[], files: Record<string, Uint8Array | string> = {}, stdin?: string) {
  let stdout = "";
  let stderr = "";
  const bytesOf = (f: Uint8Array | string) => (typeof f === "string" ? new TextEncoder().encode(f) : f);
  const io: CliIO = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    stdin: () => chunked(bytesOf(stdin ?? "")),
    stdinIsTTY: stdin === undefined,
    openFile: (path) => {
      const f = files[path];
      return f !== undefined ? chunked(bytesOf(f)) : chunked(new Uint8Array(readFileSync(path)));
    },
  };
  return run(["node", "tipc-decode", ...args], io).then((code) => ({
    code,
    stdout,
    stderr,
    lines: stdout.split("\n").filter(Boolean),
  }));
}

const named = decodeMessage(
  new Uint8Array(
    Buffer.from(readFileSync(join(FIXTURES, "link-up/015-NAME_DISTRIBUTOR-type0.hex"), "utf8").trim(), "hex"),
  ),
) as NameDistributorMessage;

/** A 14000-byte-MTU bulk: 696 items, 13960 bytes (needs IP fragmentation on a real wire). */
function bigBulk(): Uint8Array {
  const items = Array.from({ length: 696 }, (_, i) => ({
    type: 1000 + i,
    lower: i,
    upper: i + 1,
    port: 7,
    key: i,
  }));
  return encodeMessage({ ...named, items });
}

// --- pcap synthesis ---------------------------------------------------------------------------
function ipv4Udp(payload: Uint8Array, sport: number, dport: number) {
  const udp = new Uint8Array(8 + payload.length);
  const dv = new DataView(udp.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, udp.length);
  udp.set(payload, 8);
  return udp;
}
function ipv4(body: Uint8Array, opts: { offset?: number; more?: boolean; id?: number } = {}) {
  const ip = new Uint8Array(20 + body.length);
  const dv = new DataView(ip.buffer);
  ip[0] = 0x45;
  dv.setUint16(2, ip.length);
  dv.setUint16(4, opts.id ?? 1);
  dv.setUint16(6, ((opts.more ? 1 : 0) << 13) | ((opts.offset ?? 0) / 8));
  ip[8] = 64;
  ip[9] = 17;
  ip.set([10, 0, 2, 15], 12);
  ip.set([10, 0, 2, 2], 16);
  ip.set(body, 20);
  return ip;
}
function ipv6(udp: Uint8Array) {
  const ip = new Uint8Array(40 + udp.length);
  const dv = new DataView(ip.buffer);
  ip[0] = 0x60;
  dv.setUint16(4, udp.length);
  ip[6] = 17;
  ip[23] = 1; // ::1
  ip[39] = 1;
  ip.set(udp, 40);
  return ip;
}
function ethernet(ip: Uint8Array, type = 0x0800) {
  const f = new Uint8Array(14 + ip.length);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(ip, 14);
  return f;
}
function sll(ip: Uint8Array) {
  const f = new Uint8Array(16 + ip.length);
  f[14] = 0x08;
  f.set(ip, 16);
  return f;
}
function pcap(linkType: number, frames: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array(24)];
  const h = new DataView(parts[0]!.buffer);
  h.setUint32(0, 0xa1b2c3d4, true);
  h.setUint16(4, 2, true);
  h.setUint16(6, 4, true);
  h.setUint32(16, 65535, true);
  h.setUint32(20, linkType, true);
  frames.forEach((f, i) => {
    const r = new Uint8Array(16);
    const dv = new DataView(r.buffer);
    dv.setUint32(0, 1700000000 + i, true);
    dv.setUint32(8, f.length, true);
    dv.setUint32(12, f.length, true);
    parts.push(r, f);
  });
  return new Uint8Array(Buffer.concat(parts));
}

describe("tipc-decode on the kernel captures", { timeout: 60_000 }, () => {
  it("prints one line per hex file and exits 0", async () => {
    const dir = join(FIXTURES, "link-up");
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".hex"))
      .map((f) => join(dir, f));
    const r = await cli(files);
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(files.length);
    expect(r.stdout).toContain("NAME_DISTRIBUTOR PUBLICATION bulk lastBulk nonLegacy");
    expect(r.stdout).toContain("LINK_PROTOCOL RESET session=13936");
    expect(r.stderr).toContain("11 datagrams, 0 errors");
  });

  it("reads pcaps on the given ports and hints at the ports seen when none match", async () => {
    const file = join(FIXTURES, "passive/capture.pcap");
    const none = await cli([file]);
    expect(none.code).toBe(1);
    expect(none.lines).toHaveLength(0);
    expect(none.stderr).toContain("no UDP datagrams on port 6118; ports seen: 6119, 16118");
    const r = await cli(["--port", "6119", file]);
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(48);
    expect(r.lines[0]).toMatch(
      /^.*capture\.pcap#1 127\.0\.0\.1:16118>127\.0\.0\.1:6119 LINK_CONFIG DSC_TRIAL node=guest1 /,
    );
    expect((await cli(["-p", "any", join(FIXTURES, "link-up/capture.pcap")])).lines).toHaveLength(169);
  });

  it("--json prints one parseable object per message", async () => {
    const r = await cli(["--json", join(FIXTURES, "link-up/015-NAME_DISTRIBUTOR-type0.hex")]);
    expect(r.code).toBe(0);
    const obj = JSON.parse(r.lines[0]!);
    expect(obj).toMatchObject({
      user: "NAME_DISTRIBUTOR",
      type: "PUBLICATION",
      namedSeqno: 2,
      lastBulk: true,
    });
    expect(obj.items[0]).toEqual({ type: 1000, lower: 1, upper: 10, port: 0x8ed268ed, key: 0x8ed268ee });
    const dsc = await cli(["--json", join(FIXTURES, "passive/009-LINK_CONFIG-DSC_REQ_MSG.hex")]);
    expect(JSON.parse(dsc.lines[0]!)).toMatchObject({
      nodeId: "67756573743100000000000000000000",
      nodeIdString: "guest1",
    });
  });
});

describe("tipc-decode input handling", () => {
  it("one datagram per line on stdin, '#' comments, bad lines and bad datagrams counted (exit 1)", async () => {
    const good = readFileSync(join(FIXTURES, "link-up/014-BCAST_PROTOCOL-type0.hex"), "utf8").trim();
    const r = await cli([], {}, `# a comment\n${good}\n\nzz-not-hex\n4b40\n0x${good}  # trailing\n`);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(3);
    expect(r.lines[0]).toMatch(/^stdin:2 BCAST_PROTOCOL STATE/);
    expect(r.lines[1]).toMatch(/^stdin:5 ERROR TRUNCATED_HEADER at byte 2/);
    expect(r.lines[2]).toMatch(/^stdin:6 BCAST_PROTOCOL STATE/);
    expect(r.stderr).toContain("stdin:4: not hex");
    expect(r.stderr).toContain("3 datagrams, 2 errors");
  });

  it("--whole reads a file wrapped over several lines as one datagram", async () => {
    const text = `5740003c 1c000000 00020001 180a1606\n00000001 00004000 180a1606 13446573\n00000000 00000000\n000007d0 00000005 00000005 00003039 0000303a\n`;
    const r = await cli(["--whole", "wrapped.hex"], { "wrapped.hex": text });
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      expect.stringMatching(
        /^wrapped\.hex NAME_DISTRIBUTOR PUBLICATION .* items=1 \{2000,5,5 port=12345 key=12346\}$/,
      ),
    ]);
  });

  it("usage errors, unreadable files and broken pcaps exit 2", async () => {
    expect((await cli(["--nope"])).code).toBe(2);
    expect((await cli(["--port", "0", "x"])).code).toBe(2);
    expect((await cli(["/nonexistent/file.hex"])).code).toBe(2);
    const broken = pcap(LINKTYPE_RAW, [new Uint8Array(10)]).subarray(0, 30);
    const r = await cli(["b.pcap"], { "b.pcap": broken });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("truncated record header");
    expect((await cli(["x.pcap"], { "x.pcap": pcap(147, []) })).stderr).toContain(
      "unsupported pcap link type 147",
    );
    expect((await cli([])).code).toBe(2); // no input on a terminal: help
    expect((await cli(["--help"])).code).toBe(0);
  });

  it("prints the messages inside bundles", async () => {
    const a = encodeMessage({ ...named, items: named.items.slice(0, 1) });
    const bundle = encodeMessage(bundleMessages([a, a]));
    const r = await cli([], {}, Buffer.from(bundle).toString("hex"));
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(3);
    expect(r.lines[0]).toContain("MSG_BUNDLER BUNDLE");
    expect(r.lines[1]).toMatch(/^stdin:1 {2}\[1\/2\] NAME_DISTRIBUTOR PUBLICATION/);
    expect((await cli(["--no-inner"], {}, Buffer.from(bundle).toString("hex"))).lines).toHaveLength(1);
  });

  it("parseHex accepts separators and rejects odd or non-hex text", () => {
    expect(parseHex("0xDE:ad-be ef")).toEqual(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    expect(parseHex("abc")).toBeUndefined();
    expect(parseHex("xy")).toBeUndefined();
  });
});

describe("pcap reader", { timeout: 60_000 }, () => {
  const small = encodeMessage({ ...named });
  it("reads Ethernet (with a VLAN tag), Linux cooked and IPv6 frames", async () => {
    const vlan = ethernet(ipv4(ipv4Udp(small, 6118, 6118)), 0x8100);
    // insert the VLAN tag: TPID already at 12..13, then TCI, then the real ethertype
    const tagged = new Uint8Array(vlan.length + 4);
    tagged.set(vlan.subarray(0, 14));
    tagged.set([0, 5, 0x08, 0x00], 14);
    tagged.set(vlan.subarray(14), 18);
    const eth = pcap(LINKTYPE_ETHERNET, [
      ethernet(ipv4(ipv4Udp(small, 6118, 40000))),
      tagged,
      ethernet(ipv6(ipv4Udp(small, 40000, 6118)), 0x86dd),
      ethernet(ipv4(ipv4Udp(small, 1, 2))), // other port
      ethernet(new Uint8Array(20), 0x0806), // ARP
    ]);
    const ds = udpDatagrams(readPcap(eth), new Set([6118]));
    expect(ds.map((d) => d.family)).toEqual(["ipv4", "ipv4", "ipv6"]);
    expect(ds[2]!.source).toBe("::1");
    for (const d of ds) expect(d.payload).toEqual(small);
    const cooked = udpDatagrams(readPcap(pcap(LINKTYPE_LINUX_SLL, [sll(ipv4(ipv4Udp(small, 6118, 6118)))])));
    expect(cooked).toHaveLength(1);
    const r = await cli(["e.pcap"], { "e.pcap": eth });
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(3);
    expect(r.lines[2]).toMatch(/#3 \[::1\]:40000>\[::1\]:6118 NAME_DISTRIBUTOR/);
  });

  it("reassembles IPv4 fragments of a full 14000-byte-MTU bulk", async () => {
    const bulk = bigBulk();
    const udp = ipv4Udp(bulk, 6118, 6118);
    const frames: Uint8Array[] = [];
    for (let off = 0; off < udp.length; off += 1480) {
      const part = udp.subarray(off, Math.min(off + 1480, udp.length));
      frames.push(ethernet(ipv4(part, { offset: off, more: off + 1480 < udp.length, id: 99 })));
    }
    expect(frames.length).toBe(10);
    const ds = udpDatagrams(readPcap(pcap(LINKTYPE_ETHERNET, frames)));
    expect(ds).toHaveLength(1);
    expect(ds[0]!.payload).toEqual(bulk);
    const r = await cli(["f.pcap", "--items", "2"], { "f.pcap": pcap(LINKTYPE_ETHERNET, frames) });
    expect(r.lines[0]).toMatch(
      /items=696 \{1000,0,1 port=7 key=0\} \{1001,1,2 port=7 key=1\} \.\.\.\(\+694\)$/,
    );
  });
});

// --- pcapng synthesis -------------------------------------------------------------------------
type PcapngItem =
  | { iface: number; data: Uint8Array; ts?: bigint; obsolete?: boolean }
  | { simple: Uint8Array }
  | { blockType: number };
function pcapngSection(
  little: boolean,
  interfaces: { linkType: number; tsresol?: number }[],
  items: PcapngItem[],
): Uint8Array {
  const block = (type: number, body: Uint8Array) => {
    const padded = Math.ceil(body.length / 4) * 4;
    const b = new Uint8Array(12 + padded);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, little);
    dv.setUint32(4, b.length, little);
    b.set(body, 8);
    dv.setUint32(b.length - 4, b.length, little);
    return b;
  };
  const body = (n: number, fill: (dv: DataView) => void) => {
    const b = new Uint8Array(n);
    fill(new DataView(b.buffer));
    return b;
  };
  const parts = [
    block(
      0x0a0d0d0a,
      body(16, (dv) => {
        dv.setUint32(0, 0x1a2b3c4d, little);
        dv.setUint16(4, 1, little);
        dv.setBigInt64(8, -1n, little);
      }),
    ),
  ];
  for (const i of interfaces) {
    parts.push(
      block(
        1,
        body(i.tsresol === undefined ? 8 : 20, (dv) => {
          dv.setUint16(0, i.linkType, little);
          dv.setUint32(4, 0, little);
          if (i.tsresol !== undefined) {
            dv.setUint16(8, 9, little); // if_tsresol
            dv.setUint16(10, 1, little);
            dv.setUint8(12, i.tsresol);
            dv.setUint16(16, 0, little); // opt_endofopt
          }
        }),
      ),
    );
  }
  for (const it of items) {
    if ("blockType" in it) parts.push(block(it.blockType, new Uint8Array(8)));
    else if ("simple" in it) {
      const b = new Uint8Array(4 + it.simple.length);
      new DataView(b.buffer).setUint32(0, it.simple.length, little);
      b.set(it.simple, 4);
      parts.push(block(3, b));
    } else {
      const b = new Uint8Array(20 + it.data.length);
      const dv = new DataView(b.buffer);
      if (it.obsolete) dv.setUint16(0, it.iface, little);
      else dv.setUint32(0, it.iface, little);
      const ts = it.ts ?? 0n;
      dv.setUint32(4, Number(ts >> 32n), little);
      dv.setUint32(8, Number(ts & 0xffffffffn), little);
      dv.setUint32(12, it.data.length, little);
      dv.setUint32(16, it.data.length + 2, little);
      b.set(it.data, 20);
      parts.push(block(it.obsolete ? 2 : 6, b));
    }
  }
  return new Uint8Array(Buffer.concat(parts));
}

describe("pcapng", { timeout: 60_000 }, () => {
  const small = encodeMessage({ ...named });
  const frame = (sport: number) => ipv4(ipv4Udp(small, sport, 6118));

  for (const dir of ["link-up", "passive"]) {
    it(`${dir}/capture.pcapng (editcap -F pcapng of capture.pcap) holds the same records`, () => {
      const ng = readPcap(readFileSync(join(FIXTURES, dir, "capture.pcapng")));
      const classic = readPcap(readFileSync(join(FIXTURES, dir, "capture.pcap")));
      expect(ng.format).toBe("pcapng");
      expect(classic.format).toBe("pcap");
      expect(ng.linkType).toBe(LINKTYPE_RAW);
      expect(ng.records.length).toBe(classic.records.length);
      ng.records.forEach((r, i) => {
        const c = classic.records[i]!;
        expect([r.frame, r.originalLength, r.linkType]).toEqual([c.frame, c.originalLength, c.linkType]);
        expect(r.data).toEqual(c.data);
        expect(Math.abs(r.time - c.time)).toBeLessThan(1e-6);
      });
      expect(udpDatagrams(ng).map((d) => d.payload)).toEqual(udpDatagrams(classic).map((d) => d.payload));
    });
  }

  it("tipc-decode reads the pcapng fixture as it reads the pcap", async () => {
    const a = await cli(["--port", "6119", join(FIXTURES, "link-up/capture.pcapng")]);
    const b = await cli(["--port", "6119", join(FIXTURES, "link-up/capture.pcap")]);
    expect(a.code).toBe(0);
    expect(a.lines.length).toBeGreaterThan(100);
    expect(a.lines.map((l) => l.replace(/^\S+#/, "#"))).toEqual(b.lines.map((l) => l.replace(/^\S+#/, "#")));
  });

  it("reads both byte orders, several interfaces and link types, if_tsresol, simple and obsolete packet blocks, a second section", () => {
    const bytes = new Uint8Array(
      Buffer.concat([
        pcapngSection(
          false,
          [{ linkType: LINKTYPE_RAW, tsresol: 9 }, { linkType: LINKTYPE_ETHERNET }],
          [
            { iface: 0, data: frame(1), ts: 1_700_000_000_500_000_000n },
            { blockType: 5 }, // interface statistics: skipped
            { iface: 1, data: ethernet(frame(2)), ts: 1_700_000_001_250_000n },
            { iface: 1, data: ethernet(frame(3)), obsolete: true },
            { simple: frame(4) },
          ],
        ),
        pcapngSection(
          true,
          [{ linkType: LINKTYPE_LINUX_SLL, tsresol: 0x80 | 10 }],
          [{ iface: 0, data: sll(frame(5)), ts: 3n * 1024n }],
        ),
      ]),
    );
    const file = readPcap(bytes);
    expect(file.linkType).toBe(LINKTYPE_RAW);
    expect(file.records.map((r) => [r.frame, r.linkType])).toEqual([
      [1, LINKTYPE_RAW],
      [2, LINKTYPE_ETHERNET],
      [3, LINKTYPE_ETHERNET],
      [4, LINKTYPE_RAW],
      [5, LINKTYPE_LINUX_SLL],
    ]);
    expect(file.records[0]!.time).toBeCloseTo(1_700_000_000.5, 6);
    expect(file.records[1]!.time).toBeCloseTo(1_700_000_001.25, 6);
    expect(file.records[4]!.time).toBe(3);
    expect(file.records[0]!.originalLength).toBe(file.records[0]!.data.length + 2);
    const ds = udpDatagrams(file);
    expect(ds.map((d) => d.sourcePort)).toEqual([1, 2, 3, 4, 5]);
    for (const d of ds) expect(d.payload).toEqual(small);
  });

  it("rejects broken pcapng files with a PcapError naming the byte", () => {
    const good = pcapngSection(false, [{ linkType: LINKTYPE_RAW }], [{ iface: 0, data: frame(1) }]);
    expect(() => readPcap(good.subarray(0, good.length - 3))).toThrow(/truncated pcapng block at byte 48/);
    const badLength = good.slice();
    new DataView(badLength.buffer).setUint32(4, 13);
    expect(() => readPcap(badLength)).toThrow(/bad pcapng block length 13 at byte 0/);
    const badTrailer = good.slice();
    badTrailer[good.length - 1]! ^= 4;
    expect(() => readPcap(badTrailer)).toThrow(/trailing length differs/);
    const badBom = good.slice();
    badBom[8] = 0;
    expect(() => readPcap(badBom)).toThrow(/bad pcapng byte-order magic at byte 8/);
    const undeclared = pcapngSection(false, [], [{ iface: 0, data: frame(1) }]);
    expect(() => readPcap(undeclared)).toThrow(/undeclared interface 0/);
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(28 + 4, MAX_CAPTURE_RECORD + 4);
    expect(() => readPcap(huge)).toThrow(PcapError);
  });
});

describe("capture streaming", { timeout: 120_000 }, () => {
  const small = encodeMessage({ ...named });

  it("CaptureReader gives the same records whatever the chunk size, down to one byte", () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, "link-up", "capture.pcapng")));
    const whole = readPcap(bytes).records;
    for (const size of [1, 7, 4096]) {
      const reader = new CaptureReader();
      const recs = [];
      for (let o = 0; o < bytes.length; o += size) recs.push(...reader.push(bytes.subarray(o, o + size)));
      reader.end();
      expect(recs).toEqual(whole);
    }
  });

  it("tipc-decode streams a 12 MB capture: datagrams come out while the file is still being read", async () => {
    // 100 000 records of a 96-byte PUBLICATION in a real file, read by the bin's own I/O.
    const dir = mkdtempSync(join(tmpdir(), "tipc-decode-big-"));
    try {
      const file = join(dir, "big.pcap");
      const frames = Array.from({ length: 1000 }, () => ipv4(ipv4Udp(small, 6118, 6118)));
      const block = pcap(LINKTYPE_RAW, frames).subarray(24);
      const fd = openSync(file, "w");
      writeSync(fd, pcap(LINKTYPE_RAW, []));
      for (let i = 0; i < 100; i++) writeSync(fd, block);
      closeSync(fd);
      const size = statSync(file).size;
      expect(size).toBeGreaterThan(12e6);
      const io = processIO();
      let datagramsOut = 0;
      let bytesRead = 0;
      let largestChunk = 0;
      /** datagrams already printed when each eighth of the file had been read */
      const printedAt: number[] = [];
      io.stdout = (t) => {
        datagramsOut += t.split("\n").length - 1;
      };
      io.stderr = () => {};
      const real = io.openFile;
      io.openFile = (path) =>
        (async function* () {
          for await (const chunk of real(path)) {
            bytesRead += chunk.length;
            largestChunk = Math.max(largestChunk, chunk.length);
            while (printedAt.length < Math.floor((8 * bytesRead) / size)) printedAt.push(datagramsOut);
            yield chunk;
          }
        })();
      expect(await run(["node", "tipc-decode", "--items", "1", file], io)).toBe(0);
      expect(bytesRead).toBe(size);
      expect(datagramsOut).toBe(100_000);
      expect(largestChunk).toBeLessThanOrEqual(64 * 1024);
      // Half the file read: nearly half its datagrams already printed (none waits for the end;
      // a reader of the whole file would have printed none).
      expect(printedAt[3]).toBeGreaterThan(45_000);
      expect(printedAt[3]).toBeLessThanOrEqual(50_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tipc-decode --summary", () => {
  it("counts each message type over hex files and captures and checks every re-encoding", async () => {
    const dir = join(FIXTURES, "link-up");
    const hex = readdirSync(dir)
      .filter((f) => f.endsWith(".hex"))
      .map((f) => join(dir, f));
    const r = await cli(["--summary", "--port", "any", ...hex, join(dir, "capture.pcapng")]);
    expect(r.code).toBe(0);
    const n = hex.length + readPcap(readFileSync(join(dir, "capture.pcapng"))).records.length;
    expect(r.lines.at(-1)).toMatch(
      new RegExp(`^${n} datagrams.*: all \\d+ decoded and re-encoded byte-exact$`),
    );
    expect(r.lines).toContainEqual(expect.stringMatching(/^ {2}LINK_PROTOCOL STATE +\d+$/));
    const counted = r.lines.slice(0, -1).map((l) => Number(l.trim().split(/\s+/).at(-1)));
    const bundled = Number(/\(\+(\d+) bundled/.exec(r.lines.at(-1)!)?.[1] ?? 0);
    expect(counted.reduce((a, b) => a + b, 0)).toBe(n + bundled);
  });

  it("names a datagram that decodes but does not re-encode to the same bytes (exit 1)", async () => {
    const good = readFileSync(join(FIXTURES, "link-up/015-NAME_DISTRIBUTOR-type0.hex"), "utf8").trim();
    const bytes = Buffer.from(good, "hex");
    bytes[0]! ^= 0x02; // another user in the same header: decodes, re-encodes differently
    const r = await cli(["--summary"], {}, `${good}\n${bytes.toString("hex")}\n`);
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toBe("2 datagrams: 2 decoded, not byte-exact: stdin:2");
  });
});

describe("tipc-decode bounds", () => {
  it("a hex line longer than MAX_HEX_TEXT is reported and skipped, the next line still decodes", async () => {
    const good = readFileSync(join(FIXTURES, "link-up/014-BCAST_PROTOCOL-type0.hex"), "utf8").trim();
    const r = await cli(["h.hex"], { "h.hex": `${"ab".repeat(MAX_HEX_TEXT)}\n${good}\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`h.hex:1: line longer than ${MAX_HEX_TEXT} characters`);
    expect(r.lines).toEqual([expect.stringMatching(/^h\.hex:2 BCAST_PROTOCOL STATE/)]);
    const w = await cli(["--whole", "w.hex"], { "w.hex": "ab".repeat(MAX_HEX_TEXT) });
    expect(w.stderr).toContain("too long for one datagram");
  });

  it("at most MAX_PENDING_FRAGMENTED IPv4 datagrams are reassembled at once; the oldest is dropped and counted", () => {
    const bulk = ipv4Udp(bigBulk(), 6118, 6118);
    // The first fragment of 300 different datagrams, then the rest of the first and of the last.
    const first = (id: number) => ethernet(ipv4(bulk.subarray(0, 1480), { offset: 0, more: true, id }));
    const rest = (id: number) => {
      const out: Uint8Array[] = [];
      for (let off = 1480; off < bulk.length; off += 1480)
        out.push(
          ethernet(ipv4(bulk.subarray(off, off + 1480), { offset: off, more: off + 1480 < bulk.length, id })),
        );
      return out;
    };
    const frames = [...Array.from({ length: 300 }, (_, i) => first(i + 1)), ...rest(1), ...rest(300)];
    const extractor = new UdpExtractor();
    const out = readPcap(pcap(LINKTYPE_ETHERNET, frames))
      .records.map((r) => extractor.push(r))
      .filter((d) => d !== undefined);
    // 44 pushed out by the first fragments, one more when datagram 1's rest starts a new entry.
    expect(extractor.fragmentsDropped).toBe(300 - MAX_PENDING_FRAGMENTED + 1);
    expect(out).toHaveLength(1); // datagram 300 completes; datagram 1 was given up
    expect(out[0]!.payload).toEqual(bigBulk());
  });
});
