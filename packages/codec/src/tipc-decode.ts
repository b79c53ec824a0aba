/**
 * tipc-decode: prints TIPC messages from hex dumps (one datagram per line, or per file with
 * --whole) or from classic pcap captures (UDP port 6118 unless --port says otherwise).
 *
 * Exit codes: 0 every datagram decoded; 1 some datagram did not decode, a hex line was not hex,
 * or there was no datagram at all; 2 usage error, unreadable file or unreadable pcap.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { decodeMessage } from "./decode.js";
import { TipcDecodeError } from "./errors.js";
import { formatMessage, messageToJSON } from "./format.js";
import { isPcap, PcapError, readPcap, udpDatagrams } from "./pcap.js";
import type { TipcMessage } from "./types.js";

interface Options {
  json: boolean;
  port: Set<number> | "any";
  whole: boolean;
  items: number;
  inner: boolean;
}

const EXIT_DECODE = 1;
const EXIT_INPUT = 2;

/** Where tipc-decode reads and writes (process streams in the bin, buffers in tests). */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** standard input, read whole */
  readStdin: () => Uint8Array;
  /** whether standard input is a terminal (then no input means: print help) */
  stdinIsTTY: boolean;
  readFile: (path: string) => Uint8Array;
}

class Output {
  datagrams = 0;
  errors = 0;
  fatal = false;
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
        this.line(`${source} ERROR ${e.message} (${bytes.length} bytes)`);
      }
      return;
    }
    const inner = this.opts.inner && msg.user === "MSG_BUNDLER" ? msg.messages : [];
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
        this.line(`${source}  [${i + 1}/${inner.length}] ERROR ${e.message}`);
      }
    });
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

function hexInput(out: Output, name: string, text: string): void {
  if (out.opts.whole) {
    const stripped = text.replace(/#.*$/gm, "");
    const bytes = parseHex(stripped);
    if (!bytes) out.problem(`${name}: not a hex dump`, false);
    else if (bytes.length === 0) out.problem(`${name}: empty`, false);
    else out.decoded(name, bytes);
    return;
  }
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const label = `${name}:${i + 1}`;
    const bytes = parseHex(line);
    if (bytes) out.decoded(label, bytes);
    else out.problem(`${label}: not hex: ${line.slice(0, 40)}`, false);
  });
}

function pcapInput(out: Output, name: string, bytes: Uint8Array): void {
  let datagrams: ReturnType<typeof udpDatagrams>;
  let all: ReturnType<typeof udpDatagrams>;
  try {
    const file = readPcap(bytes);
    all = udpDatagrams(file);
    const ports = out.opts.port;
    datagrams =
      ports === "any" ? all : all.filter((d) => ports.has(d.sourcePort) || ports.has(d.destinationPort));
  } catch (e) {
    if (!(e instanceof PcapError)) throw e;
    out.problem(`${name}: ${e.message}`, true);
    return;
  }
  if (datagrams.length === 0 && all.length > 0 && out.opts.port !== "any") {
    const seen = [...new Set(all.flatMap((d) => [d.sourcePort, d.destinationPort]))].sort((a, b) => a - b);
    out.io.stderr(
      `tipc-decode: ${name}: no UDP datagrams on port ${[...out.opts.port].join(",")}; ports seen: ${seen.slice(0, 10).join(", ")} (use --port)\n`,
    );
  }
  for (const d of datagrams) {
    const host = (a: string) => (d.family === "ipv6" ? `[${a}]` : a);
    out.decoded(
      `${name}#${d.frame} ${host(d.source)}:${d.sourcePort}>${host(d.destination)}:${d.destinationPort}`,
      d.payload,
    );
  }
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
      "Decode TIPC v2 messages (as Linux 5.10..6.x sends them) from hex dumps or pcap captures.\n" +
        "Hex input: one datagram per line ('#' starts a comment); --whole reads each file as one datagram.\n" +
        "Pcap input (classic libpcap; Ethernet, Linux cooked, raw IP): the UDP payloads on --port.",
    )
    .argument("[files...]", "hex or pcap files; '-' or nothing reads standard input")
    .option("--json", "print one JSON object per message")
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
    let bytes: Uint8Array;
    try {
      bytes = file === "-" ? io.readStdin() : io.readFile(file);
    } catch (e) {
      out.problem(`${file}: ${(e as Error).message}`, true);
      continue;
    }
    const name = file === "-" ? "stdin" : file;
    if (isPcap(bytes) || (bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d)) {
      pcapInput(out, name, bytes);
    } else {
      hexInput(out, name, Buffer.from(bytes).toString("latin1"));
    }
  }
  io.stderr(
    `tipc-decode: ${out.datagrams} datagram${out.datagrams === 1 ? "" : "s"}, ${out.errors} error${out.errors === 1 ? "" : "s"}\n`,
  );
  if (out.fatal) return EXIT_INPUT;
  if (out.errors) return EXIT_DECODE;
  return out.datagrams === 0 ? EXIT_DECODE : 0;
}
