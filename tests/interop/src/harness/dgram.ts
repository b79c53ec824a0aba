/**
 * Driving `guest/tipc-dgram` (the kernel's AF_TIPC datagram sockets) from a test: its payload
 * generator (both sides check bytes with it), its report parsers, and background receivers.
 */
import type { KernelGuest } from "./qemu.js";

/** tipc-dgram's payload generator (see tipc-dgram.c): xorshift32 bytes, seq in the first 4. */
export function payload(seq: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  let x = (Math.imul(seq, 2654435761 | 0) ^ length ^ 0x9e3779b9) >>> 0;
  if (x === 0) x = 1;
  for (let i = 0; i < length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b[i] = x & 0xff;
  }
  if (length >= 4) new DataView(b.buffer).setUint32(0, seq);
  return b;
}

export const seqOf = (d: Uint8Array) =>
  d.length >= 4 ? new DataView(d.buffer, d.byteOffset).getUint32(0) : 0;
export const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a).equals(b);

/** FNV-1a 64, as tipc-dgram prints it */
export function fnv(d: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const c of d) h = ((h ^ BigInt(c)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, "0");
}

export interface FromLine {
  sock: number;
  node: number;
  port: number;
  count: number;
  dup: number;
  ooo: number;
  bad: number;
  first: number;
  last: number;
}

export interface RecvReport {
  ports: { port: number; node: number }[];
  msgs: { sock: number; node: number; port: number; len: number; seq: number; ok: boolean; fnv: string }[];
  from: FromLine[];
  total: number;
  bad: number;
}

export function parseRecv(lines: string[]): RecvReport {
  const r: RecvReport = { ports: [], msgs: [], from: [], total: -1, bad: -1 };
  for (const line of lines) {
    const w = line.trim().split(/\s+/);
    if (w[0] === "bound") r.ports.push({ port: Number(w[1]), node: Number(w[2]) });
    else if (w[0] === "msg") {
      const [node, port] = (w[2] ?? "").split(":").map(Number);
      r.msgs.push({
        sock: Number(w[1]),
        node: node as number,
        port: port as number,
        len: Number(w[3]),
        seq: Number(w[4]),
        ok: w[5] === "1",
        fnv: w[6] ?? "",
      });
    } else if (w[0] === "from") {
      const [node, port] = (w[2] ?? "").split(":").map(Number);
      r.from.push({
        sock: Number(w[1]),
        node: node as number,
        port: port as number,
        count: Number(w[4]),
        dup: Number(w[6]),
        ooo: Number(w[8]),
        bad: Number(w[10]),
        first: Number(w[12]),
        last: Number(w[14]),
      });
    } else if (w[0] === "done") {
      r.total = Number(w[2]);
      r.bad = Number(w[4]);
    }
  }
  return r;
}

export interface SendReport {
  sent: number;
  failed: number;
  returned: { err: number; len: number; seq: number }[];
  senderr: { seq: number; errno: number }[];
  port: number;
}

export function parseSend(lines: string[]): SendReport {
  const r: SendReport = { sent: -1, failed: -1, returned: [], senderr: [], port: 0 };
  for (const line of lines) {
    const w = line.trim().split(/\s+/);
    if (w[0] === "returned" && w.length === 4)
      r.returned.push({ err: Number(w[1]), len: Number(w[2]), seq: Number(w[3]) });
    else if (w[0] === "senderr") r.senderr.push({ seq: Number(w[1]), errno: Number(w[2]) });
    else if (w[0] === "sent") {
      r.sent = Number(w[1]);
      r.failed = Number(w[3]);
      r.port = Number(w[7]);
    }
  }
  return r;
}

let recvIds = 0;

/**
 * Starts `tipc-dgram recv` in the guest's background; resolves once its sockets are bound.
 * `result()` waits (bounded) for its final report.
 */
export async function guestRecv(
  guest: KernelGuest,
  args: string,
  sockets: number,
): Promise<{ ports: RecvReport["ports"]; result(timeoutMs?: number): Promise<RecvReport> }> {
  const out = `/tmp/recv-${++recvIds}.out`;
  await guest.exec(`tipc-dgram recv --rcvbuf 67108864 ${args} >${out} 2>&1 &`);
  const ports = await guest.waitFor(
    `tipc-dgram recv ${args} bound`,
    async () => {
      const r = parseRecv((await guest.run(`cat ${out}`)).lines);
      return r.ports.length === sockets ? r.ports : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return {
    ports,
    result: (timeoutMs = 120_000) =>
      guest.waitFor(
        `tipc-dgram recv ${args} done`,
        async () => {
          const r = parseRecv((await guest.run(`cat ${out}`, { timeoutMs: 60_000 })).lines);
          return r.total >= 0 ? r : undefined;
        },
        { timeoutMs, intervalMs: 500 },
      ),
  };
}

export async function guestSend(guest: KernelGuest, args: string, timeoutMs = 180_000): Promise<SendReport> {
  const r = parseSend(await guest.exec(`tipc-dgram send ${args}`, { timeoutMs }).then((o) => o.split("\n")));
  if (r.sent < 0) throw new Error(`tipc-dgram send ${args}: no summary`);
  return r;
}

/** A received or returned message, as `node.socket()` and `client.socket()` both give them. */
export type DgramEvent =
  | { kind: "message"; data: Uint8Array; source: { node: number; port: number } }
  | { kind: "returned"; data: Uint8Array };

/** What `readN` needs of a socket: `node.socket()`'s and `client.socket()`'s both have it. */
export interface ReadableSocket<E> {
  readonly port: number;
  tryReceive(): E | undefined;
  receive(): Promise<E | undefined>;
}

/** Reads `n` events from a tipcjs socket, failing after `ms` with what arrived. */
export async function readN<E>(sock: ReadableSocket<E>, n: number, ms = 120_000): Promise<E[]> {
  const got: E[] = [];
  const end = Date.now() + ms;
  while (got.length < n) {
    const ev = sock.tryReceive();
    if (ev !== undefined) {
      got.push(ev);
      continue;
    }
    const left = end - Date.now();
    if (left <= 0) throw new Error(`socket ${sock.port}: ${got.length} of ${n} events after ${ms} ms`);
    const next = await Promise.race([
      sock.receive(),
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), Math.min(left, 1000))),
    ]);
    if (next !== "timeout" && next !== undefined) got.push(next);
  }
  return got;
}

/**
 * Per-sender check: of the messages from `source`, how many there are and how many are not the
 * sequence `first..` in order with the generated bytes (the caller expects count and 0 bad).
 */
export function checkStream(
  events: DgramEvent[],
  source: { node: number; port: number },
  first: number,
): { count: number; bad: number } {
  const msgs = events.filter(
    (e) => e.kind === "message" && e.source.node === source.node && e.source.port === source.port,
  );
  let bad = 0;
  msgs.forEach((e, i) => {
    const seq = first + i;
    if (seqOf(e.data) !== seq || !sameBytes(e.data, payload(seq, e.data.length))) bad++;
  });
  return { count: msgs.length, bad };
}
