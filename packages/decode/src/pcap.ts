// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * A small reader for capture files, classic libpcap and pcapng (what dumpcap, tshark and
 * Wireshark write by default), and for the UDP datagrams inside them (Ethernet, Linux cooked
 * v1/v2, raw IP, BSD loopback), with IPv4 fragment reassembly. Pure bytes in, records out: no
 * I/O. `CaptureReader` takes a file in chunks of any size and keeps at most one unfinished
 * record (bounded by MAX_CAPTURE_RECORD), so a capture of any length is read in bounded memory.
 * Self-contained on purpose (it only needs the address formatters): used by tipc-decode and by
 * tests that replay kernel captures.
 */
import { formatIpv4, formatIpv6 } from "@tipcjs/codec";

/** Why a capture file was refused. */
export type PcapErrorCode =
  /** neither a pcap nor a pcapng file (bad magic number, or too short to tell) */
  | "NOT_A_CAPTURE"
  /** the file ends inside a header, record or block */
  | "TRUNCATED"
  /** a record or block announces more than MAX_CAPTURE_RECORD bytes */
  | "RECORD_TOO_LARGE"
  /** a malformed pcapng block (byte-order magic, lengths, interface references) */
  | "MALFORMED"
  /** a link type the UDP extractor does not read */
  | "UNSUPPORTED_LINK_TYPE";

/** The one error a capture reader throws; the message says what and where (byte offset). */
export class PcapError extends Error {
  override readonly name = "PcapError";
  constructor(
    readonly code: PcapErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** True when `e` is a {@link PcapError} (also across duplicated package copies). */
export function isPcapError(e: unknown): e is PcapError {
  return (
    e instanceof PcapError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "PcapError" && "code" in e)
  );
}

export interface PcapRecord {
  /** 1-based frame number (as Wireshark numbers them) */
  frame: number;
  /** capture time in seconds since the epoch (fractional) */
  time: number;
  /** original length on the wire */
  originalLength: number;
  /** the link type of the interface it was captured on (pcapng files may mix several) */
  linkType: number;
  data: Uint8Array;
}

export interface PcapFile {
  format: "pcap" | "pcapng";
  /** the file's link type (pcapng: the first interface's; -1 when it has none) */
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

/** The largest record or pcapng block accepted (a bigger length field is a broken file). */
export const MAX_CAPTURE_RECORD = 16 * 1024 * 1024;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 1;
const PCAPNG_OPB = 2;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

function u32be(bytes: Uint8Array, o: number): number {
  return ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
}

/** Whether the bytes start with a classic pcap magic number (either byte order, µs or ns). */
export function isPcap(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const m = u32be(bytes, 0);
  return m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1;
}

/** Whether the bytes start with a pcapng section header block. */
export function isPcapng(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && u32be(bytes, 0) === PCAPNG_SHB;
}

/** Whether the bytes start like a capture file this module reads (pcap or pcapng). */
export function isCapture(bytes: Uint8Array): boolean {
  return isPcap(bytes) || isPcapng(bytes);
}

interface PcapngInterface {
  linkType: number;
  snapLength: number;
  /** timestamp units per second (if_tsresol; 10^6 by default) */
  unitsPerSecond: number;
}

/**
 * Reads a capture file pushed in chunks of any size: `push` returns the records the chunk
 * completed, `end` checks that nothing unfinished is left. Holds at most one unfinished record.
 */
export class CaptureReader {
  format: "pcap" | "pcapng" | undefined;
  /** pcap: the header's link type; pcapng: the first interface's (-1 until there is one) */
  linkType = -1;
  snapLength = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  /** file offset of buf[0] */
  private base = 0;
  private frames = 0;
  private little = false;
  private nano = false;
  private interfaces: PcapngInterface[] = [];

  push(chunk: Uint8Array): PcapRecord[] {
    if (this.pos < this.buf.length) {
      const rest = this.buf.subarray(this.pos);
      const joined = new Uint8Array(rest.length + chunk.length);
      joined.set(rest);
      joined.set(chunk, rest.length);
      this.buf = joined;
    } else {
      this.buf = chunk;
    }
    this.base += this.pos;
    this.pos = 0;
    const out: PcapRecord[] = [];
    for (;;) {
      const rec = this.next();
      if (rec === undefined) break;
      if (rec !== null) out.push(rec);
    }
    return out;
  }

  /** Call after the last chunk: throws PcapError if the file ended inside a header or record. */
  end(): void {
    const left = this.buf.length - this.pos;
    const at = this.base + this.pos;
    if (this.format === undefined) {
      if (left >= 4 && !isCapture(this.buf.subarray(this.pos)))
        throw new PcapError("NOT_A_CAPTURE", "not a pcap file (bad magic number)");
      throw new PcapError("NOT_A_CAPTURE", "not a pcap file (too short)");
    }
    if (left === 0) return;
    if (this.format === "pcap") {
      if (left < 16) throw new PcapError("TRUNCATED", `truncated record header at byte ${at}`);
      const incl = this.dv().getUint32(this.pos + 8, this.little);
      throw new PcapError("TRUNCATED", `truncated record at byte ${at} (${incl} bytes announced)`);
    }
    throw new PcapError("TRUNCATED", `truncated pcapng block at byte ${at}`);
  }

  private dv(): DataView {
    return new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** The next record; null for a block that holds none; undefined when more bytes are needed. */
  private next(): PcapRecord | null | undefined {
    const avail = this.buf.length - this.pos;
    if (this.format === undefined) {
      if (avail < 4) return undefined;
      const head = this.buf.subarray(this.pos);
      if (isPcapng(head)) {
        this.format = "pcapng";
        return null;
      }
      if (!isPcap(head)) throw new PcapError("NOT_A_CAPTURE", "not a pcap file (bad magic number)");
      if (avail < 24) return undefined;
      const magic = u32be(this.buf, this.pos);
      this.little = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
      this.nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
      const dv = this.dv();
      this.snapLength = dv.getUint32(this.pos + 16, this.little);
      this.linkType = dv.getUint32(this.pos + 20, this.little) & 0x0fffffff;
      this.format = "pcap";
      this.pos += 24;
      return null;
    }
    return this.format === "pcap" ? this.nextPcap(avail) : this.nextPcapng(avail);
  }

  private nextPcap(avail: number): PcapRecord | undefined {
    if (avail < 16) return undefined;
    const dv = this.dv();
    const o = this.pos;
    const incl = dv.getUint32(o + 8, this.little);
    if (incl > MAX_CAPTURE_RECORD)
      throw new PcapError(
        "RECORD_TOO_LARGE",
        `record at byte ${this.base + o} announces ${incl} bytes (more than ${MAX_CAPTURE_RECORD})`,
      );
    if (avail < 16 + incl) return undefined;
    const sec = dv.getUint32(o, this.little);
    const frac = dv.getUint32(o + 4, this.little);
    this.pos += 16 + incl;
    return {
      frame: ++this.frames,
      time: sec + frac / (this.nano ? 1e9 : 1e6),
      originalLength: dv.getUint32(o + 12, this.little),
      linkType: this.linkType,
      data: this.buf.subarray(o + 16, o + 16 + incl),
    };
  }

  private nextPcapng(avail: number): PcapRecord | null | undefined {
    if (avail < 12) return undefined;
    const o = this.pos;
    const at = this.base + o;
    const dv = this.dv();
    const type = u32be(this.buf, o);
    if (type === PCAPNG_SHB) {
      // A new section: its byte-order magic decides how every length in it is read.
      const bom = u32be(this.buf, o + 8);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.little = false;
      else if (bom === 0x4d3c2b1a) this.little = true;
      else throw new PcapError("MALFORMED", `bad pcapng byte-order magic at byte ${at + 8}`);
      this.interfaces = [];
    }
    const length = dv.getUint32(o + 4, this.little);
    if (length < 12 || length % 4 !== 0 || length > MAX_CAPTURE_RECORD)
      throw new PcapError("MALFORMED", `bad pcapng block length ${length} at byte ${at}`);
    if (avail < length) return undefined;
    if (dv.getUint32(o + length - 4, this.little) !== length)
      throw new PcapError("MALFORMED", `pcapng block at byte ${at}: trailing length differs from ${length}`);
    this.pos += length;
    const blockType = type === PCAPNG_SHB ? type : dv.getUint32(o, this.little);
    const body = length - 12; // without type, length and trailing length
    const need = (n: number) => {
      if (body < n)
        throw new PcapError(
          "MALFORMED",
          `pcapng block at byte ${at}: ${body} bytes, type ${blockType} needs ${n}`,
        );
    };
    switch (blockType) {
      case PCAPNG_IDB: {
        need(8);
        const iface: PcapngInterface = {
          linkType: dv.getUint16(o + 8, this.little),
          snapLength: dv.getUint32(o + 12, this.little),
          unitsPerSecond: 1e6,
        };
        // Options: code, length, value padded to 4 bytes; if_tsresol (9) sets the time unit.
        let p = o + 16;
        const end = o + length - 4;
        while (p + 4 <= end) {
          const code = dv.getUint16(p, this.little);
          const len = dv.getUint16(p + 2, this.little);
          if (code === 0 || p + 4 + len > end) break;
          if (code === 9 && len >= 1) {
            const r = this.buf[p + 4]!;
            iface.unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
          }
          p += 4 + Math.ceil(len / 4) * 4;
        }
        this.interfaces.push(iface);
        if (this.linkType === -1) {
          this.linkType = iface.linkType;
          this.snapLength = iface.snapLength;
        }
        return null;
      }
      case PCAPNG_EPB:
      case PCAPNG_OPB: {
        need(20);
        const id =
          blockType === PCAPNG_EPB ? dv.getUint32(o + 8, this.little) : dv.getUint16(o + 8, this.little);
        const iface = this.interfaces[id];
        if (!iface)
          throw new PcapError("MALFORMED", `pcapng packet at byte ${at} on undeclared interface ${id}`);
        const incl = dv.getUint32(o + 20, this.little);
        if (28 + incl > length - 4)
          throw new PcapError(
            "MALFORMED",
            `pcapng packet at byte ${at}: ${incl} captured bytes do not fit its block`,
          );
        const ts = dv.getUint32(o + 12, this.little) * 2 ** 32 + dv.getUint32(o + 16, this.little);
        return {
          frame: ++this.frames,
          time: ts / iface.unitsPerSecond,
          originalLength: dv.getUint32(o + 24, this.little),
          linkType: iface.linkType,
          data: this.buf.subarray(o + 28, o + 28 + incl),
        };
      }
      case PCAPNG_SPB: {
        need(4);
        const iface = this.interfaces[0];
        if (!iface)
          throw new PcapError("MALFORMED", `pcapng simple packet at byte ${at} before any interface`);
        const orig = dv.getUint32(o + 8, this.little);
        const incl = Math.min(orig, iface.snapLength || orig, body - 4);
        return {
          frame: ++this.frames,
          time: 0,
          originalLength: orig,
          linkType: iface.linkType,
          data: this.buf.subarray(o + 12, o + 12 + incl),
        };
      }
      default:
        return null; // section header, statistics, name resolution, custom blocks...
    }
  }
}

/** Parses a whole pcap or pcapng file. Throws PcapError for anything that is not one. */
export function readPcap(bytes: Uint8Array): PcapFile {
  const reader = new CaptureReader();
  const records = reader.push(bytes);
  reader.end();
  return {
    format: reader.format ?? "pcap",
    linkType: reader.linkType,
    snapLength: reader.snapLength,
    records,
  };
}

/** The records of a capture read as a stream of chunks (e.g. a file's read stream), in order. */
export async function* readCaptureStream(
  chunks: AsyncIterable<Uint8Array>,
  reader: CaptureReader = new CaptureReader(),
): AsyncGenerator<PcapRecord> {
  for await (const chunk of chunks) yield* reader.push(chunk);
  reader.end();
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

/** Finds the IP packet inside a link-layer frame: its offset, or undefined. */
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
}

/** IPv4 datagrams being reassembled at once; past it the oldest is dropped (and counted). */
export const MAX_PENDING_FRAGMENTED = 256;
/** Fragments kept for one datagram (64 KiB in 8-byte steps needs far fewer in practice). */
const MAX_FRAGMENTS_PER_DATAGRAM = 128;

/**
 * The UDP datagram in each record, one record at a time: IPv4 (fragments reassembled, at most
 * MAX_PENDING_FRAGMENTED datagrams in progress) and IPv6. Records that are not UDP over IP, or
 * not on one of `ports` (source or destination) when given, give undefined.
 */
export class UdpExtractor {
  /** fragmented datagrams given up: too many in progress, or too many fragments */
  fragmentsDropped = 0;
  private readonly pending = new Map<string, Fragments>();

  constructor(private readonly ports?: ReadonlySet<number>) {}

  /** Throws PcapError for a record of an unsupported link type. */
  push(rec: PcapRecord): UdpDatagram | undefined {
    if (!isSupportedLinkType(rec.linkType))
      throw new PcapError("UNSUPPORTED_LINK_TYPE", `unsupported pcap link type ${rec.linkType}`);
    const d = rec.data;
    const start = ipStart(rec.linkType, d);
    if (start === undefined || d.length < start + 1) return undefined;
    const version = d[start]! >>> 4;
    if (version === 4) {
      const ihl = (d[start]! & 0xf) * 4;
      if (ihl < 20 || d.length < start + ihl) return undefined;
      const totalLength = (d[start + 2]! << 8) | d[start + 3]!;
      const end = Math.min(d.length, start + Math.max(totalLength, ihl));
      if (d[start + 9] !== 17) return undefined;
      const src = formatIpv4(d, start + 12);
      const dst = formatIpv4(d, start + 16);
      const flagsFrag = (d[start + 6]! << 8) | d[start + 7]!;
      const more = (flagsFrag & 0x2000) !== 0;
      const fragOffset = (flagsFrag & 0x1fff) * 8;
      const body = d.subarray(start + ihl, end);
      if (!more && fragOffset === 0) return this.udp(rec, "ipv4", src, dst, body);
      const key = `${src}>${dst}#${(d[start + 4]! << 8) | d[start + 5]!}`;
      let f = this.pending.get(key);
      if (!f) {
        if (this.pending.size >= MAX_PENDING_FRAGMENTED) {
          this.pending.delete(this.pending.keys().next().value as string);
          this.fragmentsDropped++;
        }
        f = { parts: [], total: -1 };
        this.pending.set(key, f);
      }
      if (f.parts.length >= MAX_FRAGMENTS_PER_DATAGRAM) {
        this.pending.delete(key);
        this.fragmentsDropped++;
        return undefined;
      }
      // Copied: the record's bytes may belong to a chunk the reader is done with.
      f.parts.push({ offset: fragOffset, data: body.slice() });
      if (!more) f.total = fragOffset + body.length;
      if (f.total < 0) return undefined;
      const have = f.parts.reduce((n, p) => n + p.data.length, 0);
      if (have < f.total) return undefined;
      const whole = new Uint8Array(f.total);
      for (const p of f.parts) if (p.offset + p.data.length <= f.total) whole.set(p.data, p.offset);
      this.pending.delete(key);
      return this.udp(rec, "ipv4", src, dst, whole);
    }
    if (version === 6) {
      if (d.length < start + 40) return undefined;
      let next = d[start + 6]!;
      let o = start + 40;
      // Skip hop-by-hop, routing and destination options headers.
      while ((next === 0 || next === 43 || next === 60) && d.length >= o + 8) {
        next = d[o]!;
        o += (d[o + 1]! + 1) * 8;
      }
      if (next !== 17) return undefined;
      const payloadLength = (d[start + 4]! << 8) | d[start + 5]!;
      const end = Math.min(d.length, start + 40 + payloadLength);
      return this.udp(rec, "ipv6", formatIpv6(d, start + 8), formatIpv6(d, start + 24), d.subarray(o, end));
    }
    return undefined;
  }

  private udp(
    rec: PcapRecord,
    family: "ipv4" | "ipv6",
    src: string,
    dst: string,
    udp: Uint8Array,
  ): UdpDatagram | undefined {
    if (udp.length < 8) return undefined;
    const sp = (udp[0]! << 8) | udp[1]!;
    const dp = (udp[2]! << 8) | udp[3]!;
    const ulen = (udp[4]! << 8) | udp[5]!;
    if (this.ports && !this.ports.has(sp) && !this.ports.has(dp)) return undefined;
    const end = ulen >= 8 && ulen <= udp.length ? ulen : udp.length;
    return {
      frame: rec.frame,
      time: rec.time,
      family,
      source: src,
      sourcePort: sp,
      destination: dst,
      destinationPort: dp,
      payload: udp.subarray(8, end),
    };
  }
}

/**
 * Every UDP datagram of a capture (IPv4, with fragments reassembled, and IPv6), optionally
 * only those whose source or destination port is in `ports`. Frames that are not UDP over IP
 * are skipped. Throws PcapError for an unsupported link type.
 */
export function udpDatagrams(file: PcapFile, ports?: ReadonlySet<number>): UdpDatagram[] {
  if (file.format === "pcap" && !isSupportedLinkType(file.linkType))
    throw new PcapError("UNSUPPORTED_LINK_TYPE", `unsupported pcap link type ${file.linkType}`);
  const extractor = new UdpExtractor(ports);
  const out: UdpDatagram[] = [];
  for (const rec of file.records) {
    const d = extractor.push(rec);
    if (d) out.push(d);
  }
  return out;
}
