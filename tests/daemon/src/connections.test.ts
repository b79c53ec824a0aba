// TIPC connections through two tipcd processes linked on 127.0.0.1: a @tipcjs/client program on
// daemon A listens by name, one on daemon B connects by name; 10 MB each way byte-exact (STREAM),
// message boundaries (SEQPACKET), a reader that stops stops the sender, refusal, bad requests on
// the control socket, `tipcctl connect`, and daemon B SIGKILLed (A's connection ends PEER_LOST).
import { createHash } from "node:crypto";
import { connect as netConnect } from "node:net";
import { type ClientConnection, type ClientServer, isClientError, type TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBins,
  connectWhenUp,
  type DaemonProcess,
  freeUdpPorts,
  pairFlags,
  spawnCtl,
  startTipcd,
  stopAll,
  tempDir,
  tipcctl,
  waitFor,
} from "./harness.js";

const dir = tempDir("tipcd-conns");
let daemons: DaemonProcess[] = [];
let a: TipcClient;
let b: TipcClient;
const A = () => daemons[0] as DaemonProcess;
const B = () => daemons[1] as DaemonProcess;

beforeAll(async () => {
  await buildBins();
  const [pa, pb] = (await freeUdpPorts(2)) as [number, number];
  daemons = [
    startTipcd("a", dir, ["--node-id", "conn-a", ...pairFlags(pa, pb)]),
    startTipcd("b", dir, ["--node-id", "conn-b", ...pairFlags(pb, pa)]),
  ];
  a = await connectWhenUp(A());
  b = await connectWhenUp(B());
  await waitFor(
    async () => (await a.nodes()).some((n) => n.up) && (await b.nodes()).some((n) => n.up),
    30_000,
    "link up",
  );
});

afterAll(async () => {
  await a?.close().catch(() => {});
  await b?.close().catch(() => {});
  await stopAll(daemons);
});

/** Until `client`'s node sees {type, instance} bound. */
const seen = (client: TipcClient, type: number, instance: number) =>
  waitFor(async () => (await client.lookup(type, instance)) !== undefined, 10_000, `{${type}, ${instance}}`);

const nextConnection = (server: ClientServer) =>
  new Promise<ClientConnection>((resolve, reject) => {
    server.once("connection", resolve);
    server.once("error", reject);
  });

const connected = (c: ClientConnection) =>
  new Promise<void>((resolve, reject) => {
    c.once("connect", resolve);
    c.once("error", reject);
  });

/** Deterministic bytes (a counter through SHA-256), `n` of them. */
function pseudo(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  let at = 0;
  for (let i = 0; at < n; i++) {
    const h = createHash("sha256").update(`${seed}:${i}`).digest();
    at += h.copy(out, at);
  }
  return out;
}

/** Writes `data` in pieces with backpressure, then ends (unless `end` is false). */
async function writeAll(c: ClientConnection, data: Buffer, end = true, piece = 100_000): Promise<void> {
  for (let o = 0; o < data.length; o += piece) {
    if (!c.write(data.subarray(o, o + piece)))
      await new Promise<void>((r, j) => {
        c.once("drain", r);
        c.once("error", j);
      });
  }
  if (end) c.end();
}

/** Reads `n` bytes (a TIPC shutdown ends both ways: each side reads all before either ends). */
function readN(c: ClientConnection, n: number): Promise<{ sha: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      h.update(chunk);
      bytes += chunk.length;
      if (bytes >= n) {
        c.off("data", onData);
        resolve({ sha: h.digest("hex"), bytes });
      }
    };
    c.on("data", onData);
    c.once("error", reject);
  });
}

/** Reads to the end: SHA-256 and byte count. */
async function readAll(c: ClientConnection): Promise<{ sha: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of c) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha: h.digest("hex"), bytes };
}

/** A control connection by hand: JSON lines out, JSON lines in. */
function raw(path: string) {
  const s = netConnect({ path });
  let buf = "";
  const lines: unknown[] = [];
  let wake: (() => void) | undefined;
  s.on("data", (d) => {
    buf += d.toString();
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
    wake?.();
  });
  s.on("error", () => {});
  return {
    send: (m: object) => s.write(`${JSON.stringify(m)}\n`),
    next: async (): Promise<unknown> => {
      while (lines.length === 0) await new Promise<void>((r) => (wake = r));
      return lines.shift();
    },
    close: () => s.destroy(),
  };
}

const sha = (d: Buffer) => createHash("sha256").update(d).digest("hex");

/** The error a connection ends with. */
const failure = (c: ClientConnection) =>
  new Promise<Error>((resolve) => {
    c.once("error", resolve);
    c.resume();
  });

describe("TIPC connections through tipcd", () => {
  it("STREAM: 10 MB each way between clients of two daemons, SHA-256 equal", async () => {
    const server = await a.listen({ service: { type: 7000, lower: 1 } });
    await seen(b, 7000, 1);
    const accepted = nextConnection(server);
    const client = b.connect({ type: 7000, instance: 1 });
    await connected(client);
    const srv = await accepted;
    expect(client.remoteAddress?.node).toBe(a.info.address);
    expect(srv.remoteAddress).toEqual(client.address);
    const up = pseudo(10 * 1024 * 1024, "up");
    const down = pseudo(10 * 1024 * 1024, "down");
    const [gotUp, gotDown] = await Promise.all([
      readN(srv, up.length),
      readN(client, down.length),
      writeAll(client, up, false),
      writeAll(srv, down, false),
    ]);
    expect(gotUp).toEqual({ sha: sha(up), bytes: up.length });
    expect(gotDown).toEqual({ sha: sha(down), bytes: down.length });
    // then the client shuts down: the server reads end of stream, nothing more
    const ended = new Promise<void>((r) => srv.once("end", r));
    srv.resume();
    client.end();
    await ended;
    await server.close();
  }, 120_000);

  it("SEQPACKET: messages of 1 to 66,000 bytes keep their boundaries both ways", async () => {
    const server = await a.listen({ service: { type: 7001, lower: 1 }, type: "seqpacket" });
    await seen(b, 7001, 1);
    const accepted = nextConnection(server);
    const client = b.connect({ type: 7001, instance: 1 }, { type: "seqpacket" });
    await connected(client);
    const srv = await accepted;
    const sizes = [1, 2, 100, 1024, 14_000, 65_999, 66_000, 3, 40_000, 1];
    const messages = sizes.map((n, i) => pseudo(n, `m${i}`));
    // the server echoes every message back as it came
    srv.on("data", (m: Uint8Array) => srv.write(m));
    srv.on("end", () => srv.end());
    for (const m of messages) client.write(m);
    const got: Uint8Array[] = [];
    for await (const m of client) {
      got.push(m as Uint8Array);
      if (got.length === messages.length) client.end();
    }
    expect(got.map((m) => m.length)).toEqual(sizes);
    for (let i = 0; i < sizes.length; i++)
      expect(Buffer.compare(got[i] as Uint8Array, messages[i] as Buffer)).toBe(0);
    // a message over 66,000 bytes is refused by the client, not cut
    const big = b.connect({ type: 7001, instance: 1 }, { type: "seqpacket" });
    const srv2 = nextConnection(server);
    await connected(big);
    const err = new Promise<Error>((r) => big.once("error", r));
    big.write(Buffer.alloc(66_001));
    expect(await err).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    (await srv2).destroy();
    await server.close();
  }, 60_000);

  it("a listener that stops reading stops the sender within bounded bytes; all arrives once it reads", async () => {
    const server = await a.listen({ service: { type: 7002, lower: 1 } });
    await seen(b, 7002, 1);
    const accepted = nextConnection(server);
    const client = b.connect({ type: 7002, instance: 1 });
    await connected(client);
    const srv = await accepted; // not read: paused
    const total = 48 * 1024 * 1024;
    const data = pseudo(total, "slow");
    let taken = 0; // bytes whose write completed (the daemon took them)
    const piece = 64 * 1024;
    let blocked = false;
    const writer = (async () => {
      for (let o = 0; o < total; o += piece) {
        const part = data.subarray(o, o + piece);
        const ok = client.write(part, () => {
          taken += part.length;
        });
        if (!ok) {
          blocked = true;
          await new Promise<void>((r) => client.once("drain", r));
          blocked = false;
        }
      }
      client.end();
    })();
    // the sender stalls: blocked, and what it got taken stays the same over 20 polls
    let last = -1;
    let stable = 0;
    await waitFor(
      () => {
        if (blocked && taken === last) stable++;
        else stable = 0;
        last = taken;
        return stable >= 20 || taken >= total;
      },
      60_000,
      "the sender to stall",
      50,
    );
    // what waits between the two programs: TIPC window, the daemons' stream buffers, the Unix
    // sockets of both sides: a few MB, far from the 48 MB the sender had to give
    expect(taken).toBeLessThan(16 * 1024 * 1024);
    expect(taken).toBeGreaterThan(0);
    const got = await readAll(srv);
    await writer;
    expect(got).toEqual({ sha: sha(data), bytes: total });
    await server.close();
  }, 180_000);

  it("a connect to a port nobody has is refused (CONNECTION_REFUSED), to an unbound name NO_SERVICE", async () => {
    // as node.connect(): the SYN comes back rejected from the peer node
    const c = b.connect({ node: a.info.address, port: 12345 });
    const e = await failure(c);
    expect(isClientError(e)).toBe(true);
    expect(e).toMatchObject({ code: "CONNECTION_REFUSED" });
    // no binding at all: nothing to send the SYN to
    expect(await failure(b.connect({ type: 7099, instance: 1 }))).toMatchObject({ code: "NO_SERVICE" });
  }, 30_000);

  it("shutdown and close show their own ends on the other side", async () => {
    const server = await a.listen({ service: { type: 7003, lower: 1 } });
    await seen(b, 7003, 1);
    let accepted = nextConnection(server);
    let client = b.connect({ type: 7003, instance: 1 });
    await connected(client);
    let srv = await accepted;
    // end(): the peer reads end of stream
    const ended = new Promise<void>((r) => srv.once("end", r));
    srv.resume();
    client.end();
    await ended;
    // destroy(): the peer sees a reset
    accepted = nextConnection(server);
    client = b.connect({ type: 7003, instance: 1 });
    await connected(client);
    srv = await accepted;
    const reset = failure(srv);
    client.destroy();
    expect(await reset).toMatchObject({ code: "CONNECTION_RESET" });
    await server.close();
  }, 30_000);

  it("tipcctl connect pipes stdin to a listener and its answer to stdout", async () => {
    const server = await a.listen({ service: { type: 7004, lower: 1 } });
    await seen(b, 7004, 1);
    const heard: string[] = [];
    server.on("connection", (c: ClientConnection) => {
      // answers a line with the line upper-cased and ends; or, shut down first, keeps what it read
      let text = "";
      c.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.endsWith("\n") && text.startsWith("ask ")) c.end(text.slice(4).toUpperCase());
      });
      c.on("end", () => heard.push(text));
    });
    const r = await tipcctl(["--socket", B().socket, "connect", "7004", "1"], "ask hello\n");
    expect(r).toMatchObject({ code: 0, stdout: "HELLO\n", stderr: "" });
    // -N: stdin's end shuts the connection down; the listener read everything, then its end
    const n = await tipcctl(["--socket", B().socket, "connect", "-N", "7004", "1"], "one way\n");
    expect(n).toMatchObject({ code: 0, stdout: "", stderr: "" });
    await waitFor(() => heard.includes("one way\n"), 10_000, "the listener's end");
    await server.close();
    // tipcctl accept (nc -l) on A, tipcctl connect -N on B: a pipe's text across
    const acceptor = spawnCtl(["--socket", A().socket, "accept", "7008", "1"]);
    let out = "";
    acceptor.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const acceptorExit = new Promise<number | null>((r) => acceptor.once("exit", (code) => r(code)));
    await seen(b, 7008, 1);
    const sent = await tipcctl(["--socket", B().socket, "connect", "-N", "7008", "1"], "to the acceptor\n");
    expect(sent).toMatchObject({ code: 0, stderr: "" });
    expect(await acceptorExit).toBe(0);
    expect(out).toBe("to the acceptor\n");

    const refused = await tipcctl(["--socket", B().socket, "connect", "7098", "1"], "x");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\{7098, 1\}.*NO_SERVICE/);
  }, 60_000);

  it("bad requests get typed errors and the daemon goes on", async () => {
    /** Sends lines on a fresh control connection and reads the first answer line. */
    const ask = (text: string) =>
      new Promise<{ id: unknown; error?: { code: string }; result?: unknown }>((resolve, reject) => {
        const s = netConnect({ path: B().socket });
        let got = "";
        s.on("data", (d) => {
          got += d.toString();
          const nl = got.indexOf("\n");
          if (nl >= 0) {
            resolve(JSON.parse(got.slice(0, nl)));
            s.destroy();
          }
        });
        s.on("error", reject);
        s.write(text);
      });
    expect(
      await ask(`${JSON.stringify({ id: 1, method: "accept", params: { connection: 123456 } })}\n`),
    ).toMatchObject({
      id: 1,
      error: { code: "NOT_FOUND" },
    });
    expect(
      await ask(`${JSON.stringify({ id: 2, method: "accept", params: { connection: -1 } })}\n`),
    ).toMatchObject({
      id: 2,
      error: { code: "BAD_ARGUMENT" },
    });
    expect(
      await ask(`${JSON.stringify({ id: 3, method: "connect", params: { type: 7000, port: 5 } })}\n`),
    ).toMatchObject({ id: 3, error: { code: "BAD_ARGUMENT" } });
    expect(
      await ask(
        `${JSON.stringify({ id: 4, method: "connect", params: { type: 7000, instance: 1, connType: "rdm" } })}\n`,
      ),
    ).toMatchObject({ id: 4, error: { code: "BAD_ARGUMENT" } });
    // connect as a second request of a control connection
    expect(
      await ask(
        `${JSON.stringify({ id: 5, method: "hello" })}\n${JSON.stringify({ id: 6, method: "connect", params: { type: 7000, instance: 1 } })}\n`,
      ),
    ).toMatchObject({ id: 5 });
    const second = await b.request("connect", { type: 7000, instance: 1 }).catch((e: unknown) => e);
    expect(second).toMatchObject({ code: "INVALID_REQUEST" });

    // accept twice: the second is NOT_FOUND; a frame that is neither data nor end aborts
    const ctl = raw(B().socket);
    ctl.send({ id: 1, method: "listen", params: { type: 7005, lower: 1 } });
    expect(await ctl.next()).toMatchObject({ id: 1, result: { listener: expect.any(Number) } });
    await seen(a, 7005, 1);
    const c = a.connect({ type: 7005, instance: 1 });
    const cEnd = failure(c);
    const ev = (await ctl.next()) as { event: string; connection: number };
    expect(ev).toMatchObject({ event: "connection", connection: expect.any(Number) });
    const taker = raw(B().socket);
    taker.send({ id: 7, method: "accept", params: { connection: ev.connection } });
    expect(await taker.next()).toMatchObject({ id: 7, result: { connType: "stream" } });
    expect(
      await ask(`${JSON.stringify({ id: 8, method: "accept", params: { connection: ev.connection } })}\n`),
    ).toMatchObject({
      id: 8,
      error: { code: "NOT_FOUND" },
    });
    taker.send({ what: "else" });
    expect(await taker.next()).toMatchObject({ error: { code: "INVALID_REQUEST" } });
    expect(((await cEnd) as { code?: string }).code).toMatch(/^CONNECTION_(RESET|ABORTED)$/);
    taker.close();
    ctl.close();
    expect((await b.nodes()).length).toBeGreaterThan(0);
  }, 60_000);

  // last: it kills daemon B
  it("daemon B SIGKILLed: A's side of the connection ends with PEER_LOST", async () => {
    const server = await a.listen({ service: { type: 7006, lower: 1 } });
    await seen(b, 7006, 1);
    const accepted = nextConnection(server);
    const client = b.connect({ type: 7006, instance: 1 });
    client.on("error", () => {});
    await connected(client);
    const srv = await accepted;
    const lost = failure(srv);
    B().child.kill("SIGKILL");
    expect(await lost).toMatchObject({ code: "PEER_LOST" });
    await server.close();
  }, 60_000);
});
