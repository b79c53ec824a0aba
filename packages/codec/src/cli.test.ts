// biome-ignore-all lint/style/noNonNullAssertion: test data of known shape
/** tipc-decode, run in-process on the fixtures and on synthesized captures. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bundleMessages } from "./bundle.js";
import { decodeMessage } from "./decode.js";
import { encodeMessage } from "./encode.js";
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW, readPcap, udpDatagrams } from "./pcap.js";
import { type CliIO, parseHex, run } from "./tipc-decode.js";
import type { NameDistributorMessage } from "./types.js";

const FIXTURES = join(import.meta.dirname, "__fixtures__");

function cli(args: string[], files: Record<string, Uint8Array | string> = {}, stdin?: string) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readStdin: () => new TextEncoder().encode(stdin ?? ""),
    stdinIsTTY: stdin === undefined,
    readFile: (path) => {
      const f = files[path];
      if (f !== undefined) return typeof f === "string" ? new TextEncoder().encode(f) : f;
      return new Uint8Array(readFileSync(path));
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
