// ClientConnection against a scripted fake daemon: the connect line and its answer, data frames
// both ways, end and typed error frames, a socket lost without either, seqpacket boundaries, and
// a reader that stops reading stops taking from the daemon (bounded buffering in the client).
import { mkdtempSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ClientConnection,
  connect,
  encodeFrame,
  FrameDecoder,
  isClientError,
  type TipcClient,
} from "./index.js";

const servers: Server[] = [];
const clients: TipcClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) s.close();
});

interface Script {
  /** a connection's first line was `connect`: what the fake daemon does with its socket */
  onConnect(req: { id: number; params: Record<string, unknown> }, socket: Socket, frames: FrameDecoder): void;
}

const ADDR = { local: { node: 1, port: 100 }, peer: { node: 2, port: 200 }, connType: "stream" };

async function fake(script: Script): Promise<TipcClient> {
  const path = join(mkdtempSync(join(tmpdir(), "tipc-conn-")), "fake.sock");
  const server = createServer((socket) => {
    socket.on("error", () => {});
    const decoder = new FrameDecoder({ maxLineBytes: 65536 });
    let taken = false;
    socket.on("data", (chunk: Buffer) => {
      if (taken) return;
      for (const f of decoder.push(chunk)) {
        if (f.kind !== "message") continue;
        const req = f.message as { id: number; method: string; params: Record<string, unknown> };
        if (req.method === "hello")
          socket.write(
            `${JSON.stringify({ id: req.id, result: { protocol: 1, nodeId: "fake", address: 1 } })}\n`,
          );
        else if (req.method === "connect") {
          taken = true;
          socket.removeAllListeners("data");
          script.onConnect(req, socket, decoder);
          return;
        }
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, () => r()));
  const c = await connect(path);
  clients.push(c);
  return c;
}

const answer = (socket: Socket, id: number, result: object = ADDR) =>
  socket.write(`${JSON.stringify({ id, result })}\n`);

/** Collects what the client sends on the connection's socket: data frames and ends. */
function collect(socket: Socket, decoder: FrameDecoder) {
  const got: { data: Buffer[]; ends: number } = { data: [], ends: 0 };
  socket.on("data", (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (f.kind !== "message") continue;
      if (f.payload !== undefined) got.data.push(Buffer.from(f.payload));
      else if ((f.message as { end?: boolean }).end) got.ends++;
    }
  });
  return got;
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setImmediate(r));
};

const errorOf = (c: ClientConnection) => new Promise<Error>((r) => c.once("error", r));

describe("ClientConnection", () => {
  it("connects with its params, carries data both ways and ends on the daemon's end", async () => {
    let params: Record<string, unknown> | undefined;
    let got: ReturnType<typeof collect> | undefined;
    const c = await fake({
      onConnect: (req, socket, decoder) => {
        params = req.params;
        got = collect(socket, decoder);
        answer(socket, req.id);
        for (const p of encodeFrame({}, Buffer.from("from the peer"))) socket.write(p);
        socket.write('{"end":true}\n');
      },
    });
    const conn = c.connect({ type: 1000, instance: 5 }, { connectTimeout: 500 });
    conn.write("written before connect"); // waits for the answer
    let text = "";
    conn.on("data", (d: Buffer) => {
      text += d.toString();
    });
    await new Promise<void>((r) => conn.once("connect", r));
    expect(params).toEqual({ type: 1000, instance: 5, connType: "stream", connectTimeout: 500 });
    expect(conn.remoteAddress).toEqual(ADDR.peer);
    expect(conn.address).toEqual(ADDR.local);
    await new Promise<void>((r) => conn.once("end", r));
    expect(text).toBe("from the peer");
    await until(() => (got?.data.length ?? 0) > 0);
    expect(Buffer.concat(got?.data ?? []).toString()).toBe("written before connect");
  });

  it("end() sends the end frame after the data", async () => {
    let got: ReturnType<typeof collect> | undefined;
    const c = await fake({
      onConnect: (req, socket, decoder) => {
        got = collect(socket, decoder);
        answer(socket, req.id);
      },
    });
    const conn = c.connect({ node: 2, port: 200 });
    conn.end(Buffer.alloc(150_000, 7)); // more than one 66,000-byte frame
    await until(() => got?.ends === 1);
    expect(got?.data.map((d) => d.length)).toEqual([66_000, 66_000, 18_000]);
  });

  it("a refused connect is a typed error and no connect event", async () => {
    const c = await fake({
      onConnect: (req, socket) => {
        socket.end(
          `${JSON.stringify({ id: req.id, error: { code: "CONNECTION_REFUSED", message: "refused" } })}\n`,
        );
      },
    });
    const conn = c.connect({ type: 1000, instance: 5 });
    let connected = false;
    conn.on("connect", () => {
      connected = true;
    });
    const e = await errorOf(conn);
    expect(isClientError(e) && e.code).toBe("CONNECTION_REFUSED");
    expect(connected).toBe(false);
  });

  it("an error frame ends the stream with its typed code; a socket lost without one is CONNECTION_CLOSED", async () => {
    let n = 0;
    const c = await fake({
      onConnect: (req, socket) => {
        answer(socket, req.id);
        if (n++ === 0)
          socket.end(`${JSON.stringify({ error: { code: "PEER_LOST", message: "node down" } })}\n`);
        else socket.destroy();
      },
    });
    const first = c.connect({ type: 1000, instance: 5 });
    first.resume();
    expect(await errorOf(first)).toMatchObject({ code: "PEER_LOST" });
    const second = c.connect({ type: 1000, instance: 5 });
    second.resume();
    expect(await errorOf(second)).toMatchObject({ code: "CONNECTION_CLOSED" });
  });

  it("seqpacket: one message per frame both ways, none over 66,000 bytes", async () => {
    let got: ReturnType<typeof collect> | undefined;
    const c = await fake({
      onConnect: (req, socket, decoder) => {
        got = collect(socket, decoder);
        answer(socket, req.id, { ...ADDR, connType: "seqpacket" });
        for (const n of [1, 66_000, 5])
          for (const p of encodeFrame({}, Buffer.alloc(n, n & 0xff))) socket.write(p);
      },
    });
    const conn = c.connect({ type: 1000, instance: 5 }, { type: "seqpacket" });
    const sizes: number[] = [];
    conn.on("data", (m: Uint8Array) => sizes.push(m.length));
    conn.write(Buffer.alloc(3));
    conn.write(Buffer.alloc(66_000));
    await until(() => sizes.length === 3 && (got?.data.length ?? 0) === 2);
    expect(sizes).toEqual([1, 66_000, 5]);
    expect(got?.data.map((d) => d.length)).toEqual([3, 66_000]);
    const e = errorOf(conn);
    conn.write(Buffer.alloc(66_001));
    expect(await e).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
  });

  it("a connection that is not read stops taking from the daemon", async () => {
    let daemonSide: Socket | undefined;
    let pushed = 0;
    const c = await fake({
      onConnect: (req, socket) => {
        daemonSide = socket;
        answer(socket, req.id);
        // the daemon writes while the client takes: 64 MiB at most
        const piece = Buffer.alloc(60_000, 1);
        const more = () => {
          while (pushed < 64 * 1024 * 1024) {
            pushed += piece.length;
            let ok = true;
            for (const p of encodeFrame({}, piece)) ok = socket.write(p);
            if (!ok) return;
          }
        };
        socket.on("drain", more);
        more();
      },
    });
    const conn = c.connect({ type: 1000, instance: 5 }, { highWaterMark: 128 * 1024 });
    await new Promise<void>((r) => conn.once("connect", r));
    // not read: the daemon's writes back up in its own socket, and stay there (500 event-loop
    // turns without the daemon writing more)
    let last = -1;
    let still = 0;
    await until(() => {
      still = daemonSide?.writableNeedDrain === true && pushed === last ? still + 1 : 0;
      last = pushed;
      return still >= 500 || pushed >= 64 * 1024 * 1024;
    });
    expect(pushed).toBeLessThan(16 * 1024 * 1024);
    // the client holds its high-water mark and at most one read of the socket more
    expect(conn.readableLength).toBeLessThanOrEqual(128 * 1024 + 256 * 1024);
    // reading takes everything
    let read = 0;
    conn.on("data", (d: Buffer) => {
      read += d.length;
    });
    await until(() => pushed >= 64 * 1024 * 1024 && read === pushed);
    conn.destroy();
  });

  it("client.close() destroys the connections made through it; connect after close throws", async () => {
    let daemonClosed = false;
    const c = await fake({
      onConnect: (req, socket) => {
        socket.on("close", () => {
          daemonClosed = true;
        });
        socket.resume();
        answer(socket, req.id);
      },
    });
    const conn = c.connect({ type: 1000, instance: 5 });
    await new Promise<void>((r) => conn.once("connect", r));
    await c.close();
    await until(() => daemonClosed && conn.destroyed);
    expect(() => c.connect({ type: 1000, instance: 5 })).toThrow(
      expect.objectContaining({ code: "CONNECTION_CLOSED" }),
    );
  });
});
