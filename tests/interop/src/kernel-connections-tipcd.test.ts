/**
 * Issue 17 tests 1 and 4 as the issue words them: TIPC connections between the real kernel's
 * AF_TIPC sockets (`guest/tipc-conn`) and a program on **tipcd** (`@tipcjs/client`: each
 * connection on a Unix socket of its own to the daemon), tipcd in TAP mode as in
 * kernel-tipcd.test.ts. The in-process node's connections with the kernel (100 concurrent each
 * way, refusal, shutdown and close codes) are kernel-connections.test.ts.
 *
 * Every byte is tipc-conn's xorshift32 stream, so each side checks the other's SHA-256 (and, for
 * SEQPACKET, the SHA-256 of the message lengths).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClientConnection, TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { background, drain, feed, parseLine, type Report } from "./harness/conn.js";
import {
  bootGuest,
  connectTipcd,
  createTapNetns,
  findLinkTo,
  type KernelGuest,
  startTipcd,
  type TapNetns,
  type Tipcd,
} from "./harness/index.js";

const HOST_PORT = 6119;
const T = 31_000;
const MB100 = 104_857_600;
const TOLERANCE = 1500; // tipcd's default and the kernel's
/** the kernel's supervision: tolerance plus at most two node-timer intervals */
const DETECTION_BOUND = TOLERANCE + 2 * Math.min(TOLERANCE / 4, 500);

describe("TIPC connections between the kernel and a program on tipcd (issue 17)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tipcjs-interop-conn-tipcd-"));
  const socketPath = join(dir, "tipcd.sock");
  let ns: TapNetns;
  let guest: KernelGuest;
  let tipcd: Tipcd | undefined;
  let client: TipcClient | undefined;
  let kernel = 0;
  const c = () => client as TipcClient;

  async function kernelSees(type: number): Promise<void> {
    await guest.waitFor(`{${type}, 1} in the kernel's table`, async () =>
      (await guest.nameTable()).some((e) => e.type === type && e.lower === 1) ? true : undefined,
    );
  }

  beforeAll(async () => {
    ns = await createTapNetns(`tipcjs-conntipcd-${process.pid}`);
    guest = await bootGuest({
      hostPort: HOST_PORT,
      tapNetns: ns.name,
      tapNetnsExternal: true,
      consoleLogPath: join(dir, "console.txt"),
    });
    kernel = Number.parseInt(await guest.exec("tipc node get address"), 16);
    tipcd = await startTipcd({ netns: ns.name, nodeId: "tipcd-conn", hostPort: HOST_PORT, socketPath });
    client = await connectTipcd(socketPath);
    await guest.waitFor(
      "link up in the kernel",
      async () => findLinkTo(await guest.links(), "tipcd-conn")?.state === "up",
    );
    await guest.waitFor("link up in tipcd", async () =>
      (await c().nodes()).some((n) => n.address === kernel && n.up) ? true : undefined,
    );
  }, 300_000);

  afterAll(async () => {
    await client?.close().catch(() => {});
    await tipcd?.close();
    await guest?.close();
    await ns?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ["stream", "seqpacket"] as const) {
    it(`${kind}: a kernel client sends 100 MB to a program on tipcd by name; SHA-256 (and boundaries) equal`, async () => {
      const type = T + (kind === "stream" ? 1 : 2);
      const server = await c().listen({ type: kind, service: { type, lower: 1 } });
      await kernelSees(type);
      const got = new Promise<Report>((resolve) =>
        server.once("connection", (conn: ClientConnection) => resolve(drain(conn))),
      );
      const chunk = kind === "seqpacket" ? 66_000 : 65_536;
      const out = await guest.exec(`tipc-conn client ${kind} ${type} 1 ${MB100} ${chunk} 31`, {
        timeoutMs: 600_000,
      });
      const sent = parseLine(out.split("\n").find((l) => l.startsWith("@@sent")) ?? "");
      const r = await got;
      expect(r.end).toBe("eof");
      expect(r.bytes).toBe(MB100);
      expect(r.sha).toBe(sent.sha);
      if (kind === "seqpacket") {
        expect(r.msgs).toBe(sent.msgs);
        expect(r.lens).toBe(sent.lens);
      }
      server.close();
    }, 900_000);
  }

  it("stream: a program on tipcd sends 100 MB to a kernel server by name; SHA-256 equal", async () => {
    const type = T + 3;
    const srv = await background(guest, `server stream ${type} 1 1`);
    await srv.waitFor("listening", (ls) => ls.includes("@@listening"), 30_000);
    await guest.waitFor("the kernel's binding in tipcd", async () =>
      (await c().lookupInstance(type, 1)).length > 0 ? true : undefined,
    );
    const conn = c().connect({ type, instance: 1 });
    await new Promise((r) => conn.once("connect", r));
    const sent = await feed(conn, MB100, 65_536, 41);
    const ls = await srv.waitFor("done", (l) => l.includes("@@done"), 600_000);
    const r = parseLine(ls.find((l) => l.startsWith("@@conn")) ?? "");
    expect(r.end).toBe("eof");
    expect(r.bytes).toBe(sent.bytes);
    expect(r.sha).toBe(sent.sha);
  }, 900_000);

  it("tipcd SIGKILLed: the kernel's connected socket sees the connection broken within its supervision rule", async () => {
    const type = T + 9;
    const server = await c().listen({ service: { type, lower: 1 } });
    await kernelSees(type);
    let connectedAt = 0;
    server.once("connection", (conn: ClientConnection) => {
      connectedAt = Date.now();
      conn.on("error", () => {});
    });
    const hold = await background(guest, `hold stream ${type} 1`);
    await hold.waitFor("connected", (ls) => ls.includes("@@ok"), 30_000);
    await guest.waitFor("the connection in tipcd", async () => (connectedAt > 0 ? true : undefined));
    const killedAt = Date.now();
    (tipcd as Tipcd).kill("SIGKILL");
    await (tipcd as Tipcd).exited;
    const ls = await hold.waitFor("the end", (l) => l.some((x) => x.startsWith("@@end")), 30_000);
    const [, how, , ms] = (ls.find((x) => x.startsWith("@@end")) as string).split(/\s+/);
    // broken, not an orderly end: the kernel's node-down reports the connection reset
    expect(how).not.toBe("eof");
    // the hold's clock starts at connect: the time from the kill is its reading less the time
    // the connection had lived when tipcd was killed (both measured to a few ms)
    const detection = Number(ms) - (killedAt - connectedAt);
    expect(detection).toBeLessThanOrEqual(DETECTION_BOUND + 250);
    expect(detection).toBeGreaterThan(0);
  }, 120_000);
});
