// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * A small reader for classic libpcap files and the UDP datagrams inside them (Ethernet,
 * Linux cooked v1/v2, raw IP, BSD loopback), with IPv4 fragment reassembly. Pure bytes in,
 * records out: no I/O. Used by tipc-decode and by tests that replay kernel captures.
 */
import { formatIpv4, formatIpv6 } from "./address.js";

export class PcapError extends Error {
  override readonly name = "PcapError";
}

export interface PcapRecord {
  /** 1-based frame number */
  frame: number;
  /** capture time in seconds since the epoch (fractional) */
  time: number;
  /** original length on the wire */
  originalLength: number;
  data: Uint8Array;
}

export interface PcapFile {
  linkType: number;
  snapLength: number;
  records: PcapRecord[];
}

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Whether the bytes start with a classic pcap magic number (either byte order, µs or ns). */
export function isPcap(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const m = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1;
}

/** Parses a classic pcap file. Throws PcapError for anything that is not one. */
export function readPcap(bytes: Uint8Array): PcapFile {
  if (bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d && bytes[3] === 0x0a) {
    throw new PcapError("pcapng files are not supported; convert with: editcap -F pcap in.pcapng out.pcap");
  }
  if (bytes.length < 24 || !isPcap(bytes)) throw new PcapError("not a pcap file (bad magic number)");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, false);
  const little = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const snapLength = dv.getUint32(16, little);
  const linkType = dv.getUint32(20, little) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let o = 24;
  while (o < bytes.length) {
    if (bytes.length - o < 16) throw new PcapError(`truncated record header at byte ${o}`);
    const sec = dv.getUint32(o, little);
    const frac = dv.getUint32(o + 4, little);
    const incl = dv.getUint32(o + 8, little);
    const orig = dv.getUint32(o + 12, little);
    if (o + 16 + incl > bytes.length)
      throw new PcapError(`truncated record at byte ${o} (${incl} bytes announced)`);
    records.push({
      frame: records.length + 1,
      time: sec + frac / (nano ? 1e9 : 1e6),
      originalLength: orig,
      data: bytes.subarray(o + 16, o + 16 + incl),
    });
    o += 16 + incl;
  }
  return { linkType, snapLength, records };
}

export interface UdpDatagram {
  frame: number;
  time: number;
  family: "ipv4" | "ipv6";
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
  payload: Uint8Array;
}

/** Finds the IP packet inside a link-layer frame: [offset, ethertype-ish family] or undefined. */
function ipStart(linkType: number, d: Uint8Array): number | undefined {
  const u16 = (o: number) => (d[o]! << 8) | d[o + 1]!;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      let o = 12;
      let type = d.length >= 14 ? u16(12) : 0;
      while ((type === 0x8100 || type === 0x88a8) && d.length >= o + 6) {
        o += 4;
        type = u16(o);
      }
      return type === 0x0800 || type === 0x86dd ? o + 2 : undefined;
    }
    case LINKTYPE_LINUX_SLL:
      return d.length >= 16 && (u16(14) === 0x0800 || u16(14) === 0x86dd) ? 16 : undefined;
    case LINKTYPE_LINUX_SLL2:
      return d.length >= 20 && (u16(0) === 0x0800 || u16(0) === 0x86dd) ? 20 : undefined;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return d.length >= 4 ? 4 : undefined;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
    case 12: // LINKTYPE_RAW on some BSDs
      return 0;
    default:
      return undefined;
  }
}

/** Whether udpDatagrams can read this link type. */
export function isSupportedLinkType(linkType: number): boolean {
  return [
    LINKTYPE_NULL,
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    LINKTYPE_LOOP,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL2,
    12,
  ].includes(linkType);
}

interface Fragments {
  parts: { offset: number; data: Uint8Array }[];
  total: number;
  header: Uint8Array;
}

/**
 * Every UDP datagram of a capture (IPv4, with fragments reassembled, and IPv6), optionally
 * only those whose source or destination port is in `ports`. Frames that are not UDP over IP
 * are skipped. Throws PcapError for an unsupported link type.
 */
export function udpDatagrams(file: PcapFile, ports?: ReadonlySet<number>): UdpDatagram[] {
  if (!isSupportedLinkType(file.linkType)) throw new PcapError(`unsupported pcap link type ${file.linkType}`);
  const out: UdpDatagram[] = [];
  const pending = new Map<string, Fragments>();
  const pushUdp = (rec: PcapRecord, family: "ipv4" | "ipv6", src: string, dst: string, udp: Uint8Array) => {
    if (udp.length < 8) return;
    const sp = (udp[0]! << 8) | udp[1]!;
    const dp = (udp[2]! << 8) | udp[3]!;
    const ulen = (udp[4]! << 8) | udp[5]!;
    if (ports && !ports.has(sp) && !ports.has(dp)) return;
    const end = ulen >= 8 && ulen <= udp.length ? ulen : udp.length;
    out.push({
      frame: rec.frame,
      time: rec.time,
      family,
      source: src,
      sourcePort: sp,
      destination: dst,
      destinationPort: dp,
      payload: udp.subarray(8, end),
    });
  };
  for (const rec of file.records) {
    const d = rec.data;
    const start = ipStart(file.linkType, d);
    if (start === undefined || d.length < start + 1) continue;
    const version = d[start]! >>> 4;
    if (version === 4) {
      const ihl = (d[start]! & 0xf) * 4;
      if (ihl < 20 || d.length < start + ihl) continue;
      const totalLength = (d[start + 2]! << 8) | d[start + 3]!;
      const end = Math.min(d.length, start + Math.max(totalLength, ihl));
      if (d[start + 9] !== 17) continue;
      const src = formatIpv4(d, start + 12);
      const dst = formatIpv4(d, start + 16);
      const flagsFrag = (d[start + 6]! << 8) | d[start + 7]!;
      const more = (flagsFrag & 0x2000) !== 0;
      const fragOffset = (flagsFrag & 0x1fff) * 8;
      const body = d.subarray(start + ihl, end);
      if (!more && fragOffset === 0) {
        pushUdp(rec, "ipv4", src, dst, body);
        continue;
      }
      const key = `${src}>${dst}#${(d[start + 4]! << 8) | d[start + 5]!}`;
      let f = pending.get(key);
      if (!f) {
        f = { parts: [], total: -1, header: d.subarray(start, start + ihl) };
        pending.set(key, f);
      }
      f.parts.push({ offset: fragOffset, data: body });
      if (!more) f.total = fragOffset + body.length;
      if (f.total < 0) continue;
      const have = f.parts.reduce((n, p) => n + p.data.length, 0);
      if (have < f.total) continue;
      const whole = new Uint8Array(f.total);
      for (const p of f.parts) if (p.offset + p.data.length <= f.total) whole.set(p.data, p.offset);
      pending.delete(key);
      pushUdp(rec, "ipv4", src, dst, whole);
    } else if (version === 6) {
      if (d.length < start + 40) continue;
      let next = d[start + 6]!;
      let o = start + 40;
      // Skip hop-by-hop, routing and destination options headers.
      while ((next === 0 || next === 43 || next === 60) && d.length >= o + 8) {
        next = d[o]!;
        o += (d[o + 1]! + 1) * 8;
      }
      if (next !== 17) continue;
      const payloadLength = (d[start + 4]! << 8) | d[start + 5]!;
      const end = Math.min(d.length, start + 40 + payloadLength);
      pushUdp(rec, "ipv6", formatIpv6(d, start + 8), formatIpv6(d, start + 24), d.subarray(o, end));
    }
  }
  return out;
}
