/**
 * Driving `guest/tipc-conn` (the kernel's AF_TIPC connections) from a test: its byte stream (both
 * sides check SHA-256 with it), its report lines, a writer and a reader for a tipcjs connection
 * (`node.connect()`'s or `client.connect()`'s Duplex), and background runs in the guest.
 */
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import type { KernelGuest } from "./qemu.js";

/** tipc-conn's byte stream for `seed`. */
export class Stream {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 1;
  }
  byte(): number {
    this.x = (this.x ^ (this.x << 13)) >>> 0;
    this.x = (this.x ^ (this.x >>> 17)) >>> 0;
    this.x = (this.x ^ (this.x << 5)) >>> 0;
    return this.x & 0xff;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.byte();
    return b;
  }
}

/** The write sizes tipc-conn uses: 1 + (24 bits of the sizes stream) % chunk. */
export function nextSize(sizes: Stream, chunk: number): number {
  return 1 + (((sizes.byte() << 16) | (sizes.byte() << 8) | sizes.byte()) % chunk);
}

export function lenBytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export interface Report {
  bytes: number;
  msgs: number;
  lens: string;
  sha: string;
  end?: string;
}

export function parseLine(line: string): Report & { n: number } {
  const w = line.trim().split(/\s+/);
  const at = (k: string) => w[w.indexOf(k) + 1] as string;
  return {
    n: Number(w[1]),
    bytes: Number(at("bytes")),
    msgs: Number(at("msgs")),
    lens: at("lens"),
    sha: at("sha256"),
    ...(w.includes("end") ? { end: at("end") } : {}),
  };
}

/** Sends BYTES as tipc-conn's client does (writes of 1..chunk bytes), with backpressure, then end(). */
export async function feed(conn: Duplex, total: number, chunk: number, seed: number): Promise<Report> {
  const data = new Stream(seed);
  const sizes = new Stream(seed + 1000);
  const sha = createHash("sha256");
  const lens = createHash("sha256");
  let sent = 0;
  let msgs = 0;
  while (sent < total) {
    const len = Math.min(nextSize(sizes, chunk), total - sent);
    const buf = data.bytes(len);
    sha.update(buf);
    lens.update(lenBytes(len));
    sent += len;
    msgs++;
    if (!conn.write(buf)) await new Promise((r) => conn.once("drain", r));
  }
  conn.end();
  return { bytes: sent, msgs, lens: lens.digest("hex"), sha: sha.digest("hex") };
}

/**
 * Reads a connection to its end: bytes, messages ('data' events), SHA-256 of data and lengths.
 * With `expected`, ends this side once that many bytes arrived (end "complete"): the
 * application-level close of `tipc-conn client ... wait`.
 */
export function drain(conn: Duplex, expected?: number): Promise<Report> {
  const sha = createHash("sha256");
  const lens = createHash("sha256");
  let bytes = 0;
  let msgs = 0;
  return new Promise((resolve) => {
    conn.on("data", (d: Uint8Array) => {
      sha.update(d);
      lens.update(lenBytes(d.length));
      bytes += d.length;
      msgs++;
      if (bytes === expected) {
        conn.end();
        done("complete");
      }
    });
    let finished = false;
    const done = (end: string) => {
      if (finished) return;
      finished = true;
      resolve({ bytes, msgs, lens: lens.digest("hex"), sha: sha.digest("hex"), end });
    };
    conn.on("end", () => done("eof"));
    conn.on("error", (e: Error & { code?: string }) => done(e.code ?? String(e)));
  });
}

let outs = 0;

/** Runs a tipc-conn command in the guest's background; `lines()` reads its "@@" lines so far. */
export async function background(guest: KernelGuest, args: string) {
  const out = `/tmp/conn-${++outs}.out`;
  await guest.exec(`tipc-conn ${args} >${out} 2>&1 &`);
  const lines = async () =>
    (await guest.run(`cat ${out}`, { timeoutMs: 60_000 })).lines.filter((l) => l.startsWith("@@"));
  return {
    lines,
    waitFor: (what: string, cond: (ls: string[]) => boolean, timeoutMs = 300_000) =>
      guest.waitFor(
        `tipc-conn ${args}: ${what}`,
        async () => {
          const ls = await lines();
          return cond(ls) ? ls : undefined;
        },
        { timeoutMs, intervalMs: 500 },
      ),
  };
}
