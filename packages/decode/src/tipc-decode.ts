/**
 * tipc-decode: prints TIPC messages from hex dumps (one datagram per line, or per file with
 * --whole) or from pcap and pcapng captures (UDP port 6118 unless --port says otherwise), or
 * with --summary only the count of each message type and whether each re-encodes byte-exact.
 * Files and standard input are read as streams, a chunk at a time: memory stays bounded
 * whatever the size of a capture.
 *
 * Exit codes: 0 every datagram decoded; 1 some datagram did not decode (or, with --summary, did
 * not re-encode to the same bytes), a hex line was not hex, or there was no datagram at all;
 * 2 usage error, unreadable file or unreadable capture.
 */
import { createReadStream } from "node:fs";
import {
  decodeMessage,
  encodeMessage,
  formatMessage,
  messageToJSON,
  TipcDecodeError,
  type TipcMessage,
} from "@tipcjs/codec";
import { Command, InvalidArgumentError, Option } from "commander";
import {
  CaptureReader,
  isCapture,
  isSupportedLinkType,
  PcapError,
  readCaptureStream,
  UdpExtractor,
} from "./pcap.js";

interface Options {
  json: boolean;
  summary: boolean;
  port: Set<number> | "any";
  whole: boolean;
  items: number;
  inner: boolean;
}

/** The longest hex line (or --whole file) read: far more than a 66 000-byte datagram needs. */
export const MAX_HEX_TEXT = 1024 * 1024;
/** Chunk size of the bin's file reads. */
const READ_CHUNK = 64 * 1024;

const EXIT_DECODE = 1;
const EXIT_INPUT = 2;

/** Where tipc-decode reads and writes (process streams in the bin, buffers in tests). */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** standard input, as a stream of chunks */
  stdin: () => AsyncIterable<Uint8Array>;
  /** whether standard input is a terminal (then no input means: print help) */
  stdinIsTTY: boolean;
  /** a file, as a stream of chunks (a failure to open or read is thrown while iterating) */
  openFile: (path: string) => AsyncIterable<Uint8Array>;
}

/** The bin's I/O: process streams, files read 64 KiB at a time. */
export function processIO(): CliIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    stdin: () => process.stdin,
    stdinIsTTY: process.stdin.isTTY === true,
    openFile: (path) => createReadStream(path, { highWaterMark: READ_CHUNK }),
  };
}

class Output {
  datagrams = 0;
  errors = 0;
  fatal = false;
  /** --summary: datagrams per "USER TYPE", bundled messages, re-encoding mismatches */
  readonly counts = new Map<string, number>();
  bundled = 0;
  notByteExact: string[] = [];
  constructor(
    readonly opts: Options,
    readonly io: CliIO,
  ) {}

  line(s: string): void {
    this.io.stdout(`${s}\n`);
  }

  decoded(source: string, bytes: Uint8Array): void {
    this.datagrams++;
    let msg: TipcMessage;
    try {
      msg = decodeMessage(bytes);
    } catch (e) {
      if (!(e instanceof TipcDecodeError)) throw e;
      this.errors++;
      if (this.opts.json) {
        this.line(
          JSON.stringify({
            source,
            error: { code: e.code, offset: e.offset, message: e.message },
            length: bytes.length,
          }),
        );
      } else {
        this.line(`${source} ERROR ${e.code} ${e.message} (${bytes.length} bytes)`);
      }
      return;
    }
    const inner = this.opts.inner && msg.user === "MSG_BUNDLER" ? msg.messages : [];
    if (this.opts.summary) {
      this.count(source, msg, bytes);
      for (const b of inner) {
        try {
          this.bundled++;
          this.count(`${source} (bundled)`, decodeMessage(b), b);
        } catch (e) {
          if (!(e instanceof TipcDecodeError)) throw e;
          this.errors++;
          this.line(`${source} bundled message: ERROR ${e.code} ${e.message}`);
        }
      }
      return;
    }
    if (this.opts.json) {
      const obj: Record<string, unknown> = { source, ...messageToJSON(msg) };
      if (inner.length) {
        obj.inner = inner.map((b) => {
          try {
            return messageToJSON(decodeMessage(b));
          } catch (e) {
            if (!(e instanceof TipcDecodeError)) throw e;
            this.errors++;
            return { error: { code: e.code, offset: e.offset, message: e.message } };
          }
        });
      }
      this.line(JSON.stringify(obj));
      return;
    }
    this.line(`${source} ${formatMessage(msg, { maxItems: this.opts.items })}`);
    inner.forEach((b, i) => {
      try {
        this.line(
          `${source}  [${i + 1}/${inner.length}] ${formatMessage(decodeMessage(b), { maxItems: this.opts.items })}`,
        );
      } catch (e) {
        if (!(e instanceof TipcDecodeError)) throw e;
        this.errors++;
        this.line(`${source}  [${i + 1}/${inner.length}] ERROR ${e.code} ${e.message}`);
      }
    });
  }

  private count(source: string, msg: TipcMessage, bytes: Uint8Array): void {
    const key = `${msg.user} ${String(msg.type)}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const again = encodeMessage(msg);
    if (again.length !== bytes.length || !again.every((b, i) => b === bytes[i])) {
      this.errors++;
      if (this.notByteExact.length < 10) this.notByteExact.push(source);
    }
  }

  /** The --summary table: one line per message type, then the verdict. */
  summary(): void {
    const rows = [...this.counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const width = Math.max(0, ...rows.map(([k]) => k.length));
    for (const [k, n] of rows) this.line(`  ${k.padEnd(width)}  ${String(n).padStart(6)}`);
    const messages = [...this.counts.values()].reduce((a, b) => a + b, 0);
    const what = `${this.datagrams} datagram${this.datagrams === 1 ? "" : "s"}${this.bundled ? ` (+${this.bundled} bundled messages)` : ""}`;
    const decodedAll = messages === this.datagrams + this.bundled;
    if (decodedAll && this.notByteExact.length === 0 && messages > 0)
      this.line(`${what}: all ${messages} decoded and re-encoded byte-exact`);
    else
      this.line(
        `${what}: ${messages} decoded, ${this.notByteExact.length ? `not byte-exact: ${this.notByteExact.join(", ")}` : "every decoded one byte-exact"}`,
      );
  }

  problem(message: string, fatal: boolean): void {
    this.io.stderr(`tipc-decode: ${message}\n`);
    if (fatal) this.fatal = true;
    else this.errors++;
  }
}

/** Hex text to bytes: whitespace, ':' / '-' separators and a leading 0x are allowed. */
export function parseHex(text: string): Uint8Array | undefined {
  const clean = text.replace(/^\s*0x/i, "").replace(/[\s:-]/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return undefined;
  return new Uint8Array(Buffer.from(clean, "hex"));
}

function hexLine(out: Output, label: string, raw: string): void {
  const line = raw.replace(/#.*$/, "").trim();
  if (!line) return;
  const bytes = parseHex(line);
  if (bytes) out.decoded(label, bytes);
  else out.problem(`${label}: not hex: ${line.slice(0, 40)}`, false);
}

/** Hex text, a chunk at a time: one datagram per line, or (--whole) the whole text as one. */
async function hexInput(out: Output, name: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  let text = "";
  let lineNo = 1;
  let tooLong = false;
  for await (const chunk of chunks) {
    text += Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1");
    if (out.opts.whole) {
      if (text.length > MAX_HEX_TEXT) {
        out.problem(`${name}: more than ${MAX_HEX_TEXT} characters, too long for one datagram`, false);
        return;
      }
      continue;
    }
    let nl = text.indexOf("\n");
    while (nl >= 0) {
      if (tooLong) tooLong = false;
      else hexLine(out, `${name}:${lineNo}`, text.slice(0, nl));
      lineNo++;
      text = text.slice(nl + 1);
      nl = text.indexOf("\n");
    }
    if (text.length > MAX_HEX_TEXT && !tooLong) {
      out.problem(`${name}:${lineNo}: line longer than ${MAX_HEX_TEXT} characters`, false);
      tooLong = true;
    }
    if (tooLong) text = "";
  }
  if (out.opts.whole) {
    const bytes = parseHex(text.replace(/#.*$/gm, ""));
    if (!bytes) out.problem(`${name}: not a hex dump`, false);
    else if (bytes.length === 0) out.problem(`${name}: empty`, false);
    else out.decoded(name, bytes);
  } else if (!tooLong) {
    hexLine(out, `${name}:${lineNo}`, text);
  }
}

/** A pcap or pcapng capture, a chunk at a time: each UDP datagram on the chosen ports. */
async function captureInput(out: Output, name: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  const ports = out.opts.port;
  const reader = new CaptureReader();
  const extractor = new UdpExtractor();
  const seen = new Set<number>();
  let matched = 0;
  try {
    for await (const rec of readCaptureStream(chunks, reader)) {
      const d = extractor.push(rec);
      if (!d) continue;
      if (ports !== "any" && !ports.has(d.sourcePort) && !ports.has(d.destinationPort)) {
        if (seen.size < 64) seen.add(d.sourcePort).add(d.destinationPort);
        continue;
      }
      matched++;
      const host = (a: string) => (d.family === "ipv6" ? `[${a}]` : a);
      out.decoded(
        `${name}#${d.frame} ${host(d.source)}:${d.sourcePort}>${host(d.destination)}:${d.destinationPort}`,
        d.payload,
      );
    }
    if (reader.format === "pcap" && !isSupportedLinkType(reader.linkType))
      throw new PcapError("UNSUPPORTED_LINK_TYPE", `unsupported pcap link type ${reader.linkType}`);
  } catch (e) {
    if (!(e instanceof PcapError)) throw e;
    out.problem(`${name}: ${e.message}`, true);
    return;
  }
  if (extractor.fragmentsDropped)
    out.io.stderr(
      `tipc-decode: ${name}: ${extractor.fragmentsDropped} fragmented IPv4 datagrams not reassembled (too many at once)\n`,
    );
  if (matched === 0 && seen.size > 0 && ports !== "any") {
    const list = [...seen].sort((a, b) => a - b);
    out.io.stderr(
      `tipc-decode: ${name}: no UDP datagrams on port ${[...ports].join(",")}; ports seen: ${list.slice(0, 10).join(", ")} (use --port)\n`,
    );
  }
}

/** Reads until `n` bytes (or the end) are there: the head to sniff, and a stream of everything. */
async function peek(
  chunks: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; all: AsyncIterable<Uint8Array> }> {
  const it = chunks[Symbol.asyncIterator]();
  const first: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    first.push(r.value);
    have += r.value.length;
  }
  const head = new Uint8Array(Buffer.concat(first)).subarray(0, n);
  async function* all(): AsyncGenerator<Uint8Array> {
    yield* first;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, all: all() };
}

function parsePorts(value: string): Set<number> | "any" {
  if (value === "any") return "any";
  const ports = new Set<number>();
  for (const p of value.split(",")) {
    const n = Number(p.trim());
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`not a UDP port: ${p}`);
    ports.add(n);
  }
  return ports;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("a whole number, 0 for all");
  return n === 0 ? Number.POSITIVE_INFINITY : n;
}

/** Runs tipc-decode with node-style argv ([node, script, ...args]); resolves to the exit code. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const program = new Command()
    .name("tipc-decode")
    .description(
      "Decode TIPC v2 messages (as Linux 5.10..6.x sends them) from hex dumps or pcap/pcapng captures.\n" +
        "Hex input: one datagram per line ('#' starts a comment); --whole reads each file as one datagram.\n" +
        "Capture input (pcap or pcapng; Ethernet, Linux cooked, raw IP): the UDP payloads on --port.\n" +
        "Files are read as streams: a capture of any size decodes in bounded memory.",
    )
    .argument("[files...]", "hex, pcap or pcapng files; '-' or nothing reads standard input")
    .option("--json", "print one JSON object per message")
    .option(
      "-s, --summary",
      "print only the count of each message type and check that each re-encodes to the same bytes",
    )
    .addOption(
      new Option("-p, --port <ports>", "UDP ports to take from pcaps, comma-separated, or 'any'")
        .argParser(parsePorts)
        .default(new Set([6118]), "6118"),
    )
    .option("-w, --whole", "each hex file (or stdin) is one datagram, whatever its line breaks")
    .option("--items <n>", "name items to show per message in readable output (0: all)", parseCount, 8)
    .option("--no-inner", "do not decode the messages inside bundles")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  let files: string[];
  let opts: Options;
  try {
    program.parse(argv);
    files = program.args;
    const o = program.opts<Partial<Options>>();
    opts = {
      json: o.json ?? false,
      summary: o.summary ?? false,
      port: o.port ?? new Set([6118]),
      whole: o.whole ?? false,
      items: o.items ?? 8,
      inner: o.inner ?? true,
    };
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : EXIT_INPUT;
  }
  const out = new Output(opts, io);
  if (files.length === 0) {
    if (io.stdinIsTTY) {
      program.outputHelp({ error: true });
      return EXIT_INPUT;
    }
    files = ["-"];
  }
  for (const file of files) {
    const name = file === "-" ? "stdin" : file;
    try {
      const { head, all } = await peek(file === "-" ? io.stdin() : io.openFile(file), 4);
      if (isCapture(head)) await captureInput(out, name, all);
      else await hexInput(out, name, all);
    } catch (e) {
      if (e instanceof TipcDecodeError || e instanceof PcapError || !(e instanceof Error) || !("code" in e))
        throw e;
      // An I/O error (ENOENT, EACCES, EISDIR...) while opening or reading.
      out.problem(`${file}: ${e.message}`, true);
    }
  }
  if (opts.summary) out.summary();
  else
    io.stderr(
      `tipc-decode: ${out.datagrams} datagram${out.datagrams === 1 ? "" : "s"}, ${out.errors} error${out.errors === 1 ? "" : "s"}\n`,
    );
  if (out.fatal) return EXIT_INPUT;
  if (out.errors) return EXIT_DECODE;
  return out.datagrams === 0 ? EXIT_DECODE : 0;
}
