import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, statSync, writeSync } from "node:fs";
import { lifeline } from "./lifeline.js";

interface Endpoint {
  address: string;
  port: number;
}

/**
 * Writes datagrams into a classic pcap file (LINKTYPE_RAW: IPv4 + UDP headers synthesized), so
 * tshark can decode what a socket in this process sent and received. No capture rights needed.
 */
export class PcapWriter {
  private fd: number | undefined;

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(262144, 16);
    h.writeUInt32LE(101, 20); // LINKTYPE_RAW
    writeSync(this.fd, h);
  }

  add(atMs: number, src: Endpoint, dst: Endpoint, payload: Uint8Array): void {
    if (this.fd === undefined) return;
    const ip = Buffer.alloc(28);
    ip.writeUInt8(0x45, 0);
    ip.writeUInt16BE(28 + payload.length, 2);
    ip.writeUInt16BE(0x4000, 6);
    ip.writeUInt8(64, 8);
    ip.writeUInt8(17, 9);
    ipv4(src.address).copy(ip, 12);
    ipv4(dst.address).copy(ip, 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    ip.writeUInt16BE(~sum & 0xffff, 10);
    ip.writeUInt16BE(src.port, 20);
    ip.writeUInt16BE(dst.port, 22);
    ip.writeUInt16BE(8 + payload.length, 24); // UDP checksum 0 = none, as the kernel's bearer sends
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(atMs / 1000), 0);
    rec.writeUInt32LE((atMs % 1000) * 1000, 4);
    rec.writeUInt32LE(28 + payload.length, 8);
    rec.writeUInt32LE(28 + payload.length, 12);
    writeSync(this.fd, Buffer.concat([rec, ip, payload]));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function ipv4(address: string): Buffer {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`not IPv4: ${address}`);
  return Buffer.from(parts);
}

/**
 * Captures UDP on the loopback interface with dumpcap (needs root or capture capabilities),
 * e.g. everything a tipcd process sends to and receives from the guest. Stop it with `stop()`.
 * `where` captures elsewhere: `{ netns, iface: "tap0" }` inside a guest's TAP namespace.
 */
export async function captureLoopback(
  path: string,
  udpPorts: number[],
  where: { netns?: string; iface?: string } = {},
): Promise<{ stop(): Promise<void> }> {
  let filter = udpPorts.map((p) => `udp port ${p}`).join(" or ");
  // on a real Ethernet (TAP) the kernel's larger datagrams come as IP fragments: the later ones
  // carry no UDP header, so take every non-first fragment too (tshark reassembles them)
  if (where.netns !== undefined) filter = `(${filter}) or (ip[6:2] & 0x1fff != 0)`;
  const argv = ["dumpcap", "-q", "-i", where.iface ?? "lo", "-f", filter, "-w", path];
  const [cmd, ...args] = where.netns === undefined ? argv : ["ip", "netns", "exec", where.netns, ...argv];
  const child: ChildProcess = spawn(cmd as string, args, {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumpcap did not start: ${stderr}`)), 15_000);
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
      if (stderr.includes("Capturing on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dumpcap exited (${code}): ${stderr}`));
    });
  });
  // "Capturing on" comes a little before packets are really captured: wait for the file header
  for (let i = 0; i < 100 && !(existsSync(path) && statSync(path).size > 0); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  // and a moment more: on a loaded machine the first packets were missed without it
  await new Promise((r) => setTimeout(r, 1000));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  // and when this process is SIGKILLed (`ip netns exec` execs: child.pid is dumpcap's)
  child.once("exit", lifeline(child.pid, "dumpcap-lifeline"));
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        process.removeListener("exit", killOnExit);
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        // let the last packets reach dumpcap's buffer before it flushes and exits
        setTimeout(() => child.kill("SIGINT"), 300);
      }),
  };
}

export interface TsharkFrame {
  number: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  protocols: string;
  info: string;
  malformed: boolean;
  /** expert messages of severity "error" (malformed data, bad lengths, ...) */
  errors: string[];
  /** the UDP payload, hex */
  payload: string;
  /** an IP fragment: the frame number where tshark reassembled its datagram */
  reassembledIn?: number;
}

export interface TsharkReport {
  frames: TsharkFrame[];
  /** frames tshark marked "[Malformed Packet]" or with an expert error */
  malformed: TsharkFrame[];
  /** frames not decoded as TIPC at all (IP fragments of a reassembled datagram aside) */
  notTipc: TsharkFrame[];
}

/**
 * Decodes a pcap with Debian's tshark, its TIPC dissector bound to `tipcPorts`, and reports
 * every frame with a malformed-packet mark or an expert error.
 */
export async function tsharkDecode(path: string, tipcPorts: number[]): Promise<TsharkReport> {
  const decodeAs = tipcPorts.flatMap((p) => ["-d", `udp.port==${p},tipc`]);
  const fields = [
    "frame.number",
    "ip.src",
    "udp.srcport",
    "ip.dst",
    "udp.dstport",
    "frame.protocols",
    "_ws.col.Info",
    "_ws.malformed",
    "_ws.expert.severity",
    "_ws.expert.message",
    "udp.payload",
    "ip.reassembled_in",
  ];
  const args = [
    "-n",
    "-2",
    "-r",
    path,
    ...decodeAs,
    "-T",
    "fields",
    "-E",
    "separator=\t",
    "-E",
    "occurrence=a",
  ];
  for (const f of fields) args.push("-e", f);
  const out = await new Promise<string>((resolve, reject) =>
    execFile("tshark", args, { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`tshark failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const frames: TsharkFrame[] = [];
  for (const line of out.split("\n")) {
    if (!line.trim()) continue;
    const c = line.split("\t");
    const severities = (c[8] ?? "").split(",").filter(Boolean).map(Number);
    const messages = (c[9] ?? "").split(",");
    // PI_ERROR is 0x00800000 in epan/proto.h
    const errors = messages.filter((_, i) => (severities[i] ?? 0) >= 0x00800000);
    const protocols = c[5] ?? "";
    frames.push({
      number: Number(c[0]),
      src: c[1] ?? "",
      srcPort: Number(c[2]),
      dst: c[3] ?? "",
      dstPort: Number(c[4]),
      protocols,
      info: c[6] ?? "",
      malformed: (c[7] ?? "") !== "" || protocols.split(":").includes("_ws.malformed"),
      errors,
      payload: (c[10] ?? "").replace(/:/g, ""),
      ...(c[11] ? { reassembledIn: Number(c[11]) } : {}),
    });
  }
  const isTipc = (f: TsharkFrame) => f.protocols.split(":").includes("tipc");
  const tipcFrames = new Set(frames.filter(isTipc).map((f) => f.number));
  return {
    frames,
    malformed: frames.filter((f) => f.malformed || f.errors.length > 0),
    notTipc: frames.filter(
      (f) => !isTipc(f) && !(f.reassembledIn !== undefined && tipcFrames.has(f.reassembledIn)),
    ),
  };
}
