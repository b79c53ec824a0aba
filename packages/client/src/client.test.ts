// The client against a scripted fake daemon: framing, events before the subscribe answer,
// typed errors for every failure (no daemon, closed connection, timeout, garbage).
import { mkdtempSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ClientError, connect, isClientError } from "./index.js";

type Handler = (req: { id: number; method: string; params: Record<string, unknown> }, socket: Socket) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function fakeDaemon(handler: Handler): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), "tipc-client-")), "fake.sock");
  const server = createServer((socket) => {
    let buf = "";
    socket.setEncoding("utf8");
    socket.on("error", () => {});
    socket.on("data", (d: string) => {
      buf += d;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const req = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (req.method === "hello") {
          socket.write(
            `${JSON.stringify({ id: req.id, result: { protocol: 1, nodeId: "fake", address: 1 } })}\n`,
          );
        } else handler(req, socket);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, () => r()));
  return path;
}

const reply = (s: Socket, v: object) => s.write(`${JSON.stringify(v)}\n`);

describe("@tipcjs/client", () => {
  it("says hello, matches answers to requests, and splits lines across chunks", async () => {
    let chain = Promise.resolve();
    const path = await fakeDaemon((req, s) => {
      // answer in two chunks, the line split in the middle (answers one after the other)
      const text = `${JSON.stringify({ id: req.id, result: { type: 1000, lower: 1, upper: 1, node: 1, port: 5, scope: "cluster", key: 9, owner: "connection" } })}\n`;
      chain = chain.then(async () => {
        s.write(text.slice(0, 10));
        await new Promise((r) => setTimeout(r, 5));
        s.write(text.slice(10));
      });
    });
    const c = await connect(path);
    expect(c.info.nodeId).toBe("fake");
    const [a, b] = await Promise.all([c.bind({ type: 1000, lower: 1 }), c.bind({ type: 1000, lower: 1 })]);
    expect(a.key).toBe(9);
    expect(b.port).toBe(5);
    await c.close();
    expect(c.closed).toBe(true);
  });

  it("delivers events that arrive before the subscribe answer, and ends on the end message", async () => {
    const path = await fakeDaemon((req, s) => {
      if (req.method === "subscribe") {
        const ev = { kind: "published", found: { lower: 1, upper: 1 }, socket: { node: 1, port: 2 } };
        reply(s, { event: "subscription", subscription: 7, data: ev });
        reply(s, { id: req.id, result: { subscription: 7 } });
        reply(s, { event: "subscription", subscription: 7, data: { ...ev, kind: "withdrawn" } });
        reply(s, { event: "subscription", subscription: 7, end: true });
      }
    });
    const c = await connect(path);
    const kinds: string[] = [];
    for await (const ev of await c.subscribe(1000, 0, 10)) kinds.push(ev.kind);
    expect(kinds).toEqual(["published", "withdrawn"]);
    await c.close();
  });

  it("rejects with typed errors", async () => {
    await expect(connect("/nonexistent/tipcd.sock")).rejects.toMatchObject({ code: "CONNECT_FAILED" });
    const path = await fakeDaemon((req, s) => {
      if (req.method === "bind") reply(s, { id: req.id, error: { code: "DUPLICATE", message: "exists" } });
      if (req.method === "stats") return; // never answers
      if (req.method === "nodes") s.write("garbage\n");
    });
    const c = await connect(path, { timeout: 200 });
    const e = await c.bind({ type: 1000, lower: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClientError);
    expect(isClientError(e) && e.code).toBe("DUPLICATE");
    await expect(c.stats()).rejects.toMatchObject({ code: "TIMEOUT" });
    await expect(c.nodes()).rejects.toMatchObject({ code: "PROTOCOL" });
    await expect(c.links()).rejects.toMatchObject({ code: "CONNECTION_CLOSED" });
  });
});
