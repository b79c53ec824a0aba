import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createNode, isNodeError, type TipcConnection, type TipcNode } from "@tipcjs/node";
import { memoryFabric } from "@tipcjs/transport-memory";
import { describe, expect, it } from "vitest";
import { ask, pipeLines, waitForService } from "./client.js";
import { runOverMemory } from "./memory.js";
import { LINES, QUESTIONS, type ScenarioRun } from "./scenario.js";
import { DATAGRAM_INSTANCE, ECHO_TYPE, STREAM_INSTANCE, startEchoServer } from "./server.js";
import { runOverUdp } from "./udp.js";

const here = dirname(fileURLToPath(import.meta.url));

/** What every run of the walk-through must show, whatever the transport. */
function checkRun(run: ScenarioRun, printed: string[]) {
  expect(run.answers.map((a) => a.reply)).toEqual(["HELLO, TIPC", "WHERE ARE YOU?", "GRÖSSE"]);
  // every answer came from the server's own socket, found by name only
  for (const a of run.answers) expect(a.from).toEqual(run.serverSocket);
  expect(run.echoed).toEqual(["FIRST LINE", "SECOND LINE", "THIRD LINE"]);
  expect(run.returned).toEqual({
    unboundHere: "NO_SERVICE",
    error: "NO_NAME",
    errorCode: 1, // TIPC_ERR_NO_NAME
    data: `anyone on {${ECHO_TYPE}, 99}?`,
    // the server's node rejected it with no socket: port 0, the lookup there found nothing
    rejectedBy: { node: run.serverSocket.node, port: 0 },
  });
  expect(run.counters).toMatchObject({
    answered: QUESTIONS.length,
    replyFailures: 0,
    connections: 1,
    refused: 0,
  });
  expect(printed).toContain(
    `datagram  "hello, tipc" -> "HELLO, TIPC" from <${hex8(run.serverSocket.node)}:${run.serverSocket.port}>`,
  );
  expect(printed.filter((l) => l.startsWith("stream"))).toEqual(
    LINES.map((l) => `stream    ${l.toUpperCase()}`),
  );
}

const hex8 = (n: number) => n.toString(16).padStart(8, "0");

async function memoryPair(): Promise<[TipcNode, TipcNode]> {
  const fabric = memoryFabric();
  return Promise.all([
    createNode({ nodeId: "server", transport: fabric.join(), skipTrial: true }),
    createNode({ nodeId: "client", transport: fabric.join(), skipTrial: true }),
  ]);
}

describe("the echo service", () => {
  it("answers by name over the memory transport: datagrams, a stream, and a NO_NAME return (the demo)", async () => {
    const printed: string[] = [];
    checkRun(await runOverMemory((l) => printed.push(l)), printed);
  });

  it("answers by name over UDP on 127.0.0.1", async () => {
    const printed: string[] = [];
    checkRun(await runOverUdp((l) => printed.push(l)), printed);
  }, 30_000);

  it("answers each client socket with its own replies, survives a reply too large to send, bounds connections", async () => {
    const [s, c] = await memoryPair();
    const echo = startEchoServer(s, { maxConnections: 1 });
    try {
      await waitForService(c, ECHO_TYPE, DATAGRAM_INSTANCE, 5_000);
      await waitForService(c, ECHO_TYPE, STREAM_INSTANCE, 5_000);
      // two clients at once: each reply goes to the socket that asked
      const [one, two] = await Promise.all([ask(c, ["a1", "a2", "a3"]), ask(c, ["b1", "b2", "b3"])]);
      expect(one.map((a) => a.reply)).toEqual(["A1", "A2", "A3"]);
      expect(two.map((a) => a.reply)).toEqual(["B1", "B2", "B3"]);

      // "ŉ" (2 bytes) is "ʼN" (3 bytes) in capitals: 66,000 bytes in, 99,000 out, more than a
      // TIPC message holds. The reply fails, is counted, and the service answers the next one.
      const socket = c.socket({ type: "rdm" });
      await socket.sendTo(
        { type: ECHO_TYPE, instance: DATAGRAM_INSTANCE },
        new TextEncoder().encode("ŉ".repeat(33_000)),
      );
      expect(await ask(c, ["still there?"])).toMatchObject([{ reply: "STILL THERE?" }]);
      expect(echo.counters.replyFailures).toBe(1);
      expect(socket.tryReceive()).toBeUndefined();
      socket.close();

      // maxConnections 1: while one connection is served, the next is closed at once
      const accepted = once(echo.listener, "connection");
      const first = c.connect({ type: ECHO_TYPE, instance: STREAM_INSTANCE });
      first.setEncoding("utf8");
      first.write("held open\n");
      const [echoed] = await once(first, "data");
      expect(echoed).toBe("HELD OPEN\n");
      const [served] = (await accepted) as [TipcConnection];
      expect(echo.open).toBe(1);
      const second = c.connect({ type: ECHO_TYPE, instance: STREAM_INSTANCE });
      second.resume();
      const [err] = await once(second, "error");
      expect(isNodeError(err) && err.code).toBe("CONNECTION_REFUSED");
      expect(echo.counters).toMatchObject({ connections: 1, refused: 1 });
      // the first is still served; once it ends, the next client gets in
      first.write("and still echoed\n");
      expect((await once(first, "data"))[0]).toBe("AND STILL ECHOED\n");
      const servedClosed = once(served, "close");
      first.end();
      await servedClosed;
      expect(echo.open).toBe(0);
      expect(await pipeLines(c, ["next"])).toEqual(["NEXT"]);
      expect(echo.counters).toMatchObject({ connections: 2, refused: 1 });
    } finally {
      await echo.close();
      await Promise.all([s.close(), c.close()]);
    }
  });

  it("runs as two programs over UDP: `main.ts server` and `main.ts client` with ECHO_SERVER", async () => {
    const tsx = join(here, "../../../node_modules/.bin/tsx");
    const run = (args: string[], env: Record<string, string> = {}) =>
      spawn(tsx, ["--conditions=@tipcjs/source", join(here, "main.ts"), ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
    /** Resolves with the first stdout line matching `re` (or everything, at exit). */
    const output = (p: ChildProcess, re?: RegExp) =>
      new Promise<string>((resolve) => {
        let text = "";
        p.stdout?.setEncoding("utf8").on("data", (d: string) => {
          text += d;
          const m = re?.exec(text);
          if (m) resolve(m[0]);
        });
        p.stderr?.setEncoding("utf8").on("data", (d: string) => {
          text += d;
        });
        p.on("close", () => resolve(text));
      });

    const server = run(["server", "--port", "0"]);
    try {
      const listening = await output(server, /listening on 127\.0\.0\.1:\d+\n/);
      const address = /127\.0\.0\.1:\d+/.exec(listening)?.[0];
      expect(address).toBeDefined();
      const client = run(["client"], { ECHO_SERVER: address as string });
      const [text, [code]] = await Promise.all([output(client), once(client, "exit")]);
      expect(code, text).toBe(0);
      expect(text).toContain('"hello, tipc" -> "HELLO, TIPC"');
      expect(text).toContain("stream    THIRD LINE");
      expect(text).toMatch(/returned NO_NAME \(TIPC error 1\)/);

      const stopped = output(server, /stopped: .*\n/);
      server.kill("SIGINT");
      const counters = JSON.parse((await stopped).slice("stopped: ".length));
      expect(counters).toMatchObject({ answered: 3, connections: 1, replyFailures: 0 });
      expect((await once(server, "exit"))[0]).toBe(0);
    } finally {
      if (server.exitCode === null) server.kill("SIGKILL");
    }
  }, 60_000);

  it("main.ts refuses what it cannot use, with a clear message", async () => {
    const tsx = join(here, "../../../node_modules/.bin/tsx");
    const fails = async (args: string[]) => {
      const p = spawn(tsx, ["--conditions=@tipcjs/source", join(here, "main.ts"), ...args], {
        stdio: "pipe",
      });
      let err = "";
      p.stderr.setEncoding("utf8").on("data", (d: string) => {
        err += d;
      });
      const [code] = await once(p, "exit");
      return { code, err };
    };
    expect(await fails(["client"])).toMatchObject({ code: 2, err: expect.stringContaining("--server") });
    expect(await fails(["server", "--port", "70000"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("not a UDP port"),
    });
    expect(await fails(["client", "--server", "10.0.0.1"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("loopback"),
    });
    expect(await fails(["dance"])).toMatchObject({
      code: 2,
      err: expect.stringContaining('unknown role "dance"'),
    });
    // a node id the node refuses: exit 1 at once, the bearer's socket closed (it hung before)
    expect(
      await fails(["client", "--server", "127.0.0.1:9", "--node-id", "this-node-id-is-too-long"]),
    ).toMatchObject({ code: 1, err: expect.stringContaining("bad nodeId") });
  }, 60_000);
});
