import { createSocket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateConfig } from "./config.js";
import { startDaemon } from "./daemon.js";
import { LOG_RATE_LIMIT, rateLimitLogger } from "./log.js";
import { waitFor } from "./test-helpers.js";

type Line = { level: string; obj: Record<string, unknown>; msg: string | undefined };

function capture() {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

describe("rate-limited log", () => {
  it("passes 10 lines of a kind per 10 s, then one count of the rest", () => {
    let t = 0;
    const { lines, logger } = capture();
    const log = rateLimitLogger(logger, { now: () => t, timer: false });
    for (let i = 0; i < 1000; i++) {
      log.warn({ code: "SOCKET", error: "send failed: EPERM", n: i }, "transport error");
      t += 10; // 1000 failures over 10 s
    }
    log.warn({ code: "OTHER" }, "transport error"); // another code is another kind
    log.info({ link: "a" }, "link up");
    expect(lines.filter((l) => l.msg === "transport error")).toHaveLength(LOG_RATE_LIMIT.perWindow + 1);
    log.flush(); // the first window ended at t = 10,000: its count is reported
    const counted = lines.filter((l) => l.msg?.startsWith("transport error (repeated"));
    expect(counted).toEqual([
      {
        level: "warn",
        obj: { code: "SOCKET", error: "send failed: EPERM", n: 10, repeated: 990, windowMs: 10_000 },
        msg: "transport error (repeated 990 times)",
      },
    ]);
    // a new window passes lines again; close() reports what is held back at once
    for (let i = 0; i < 15; i++) log.warn({ code: "SOCKET" }, "transport error");
    log.close();
    expect(lines.filter((l) => l.msg === "transport error")).toHaveLength(2 * LOG_RATE_LIMIT.perWindow + 1);
    expect(lines.at(-1)?.msg).toBe("transport error (repeated 5 times)");
  });

  it("tracks a bounded number of kinds", () => {
    const { lines, logger } = capture();
    const log = rateLimitLogger(logger, { now: () => 0, timer: false, maxKinds: 4, perWindow: 1 });
    for (let i = 0; i < 100; i++) {
      log.warn({}, `kind ${i}`);
      log.warn({}, `kind ${i}`);
    }
    // each forgotten kind reports its count as it goes
    expect(lines.filter((l) => l.msg?.endsWith("(repeated 1 times)"))).toHaveLength(96);
    log.close();
    expect(lines.filter((l) => l.msg?.endsWith("(repeated 1 times)"))).toHaveLength(100);
  });
});

describe("tipcd logs", () => {
  it("logs a failed send once, without a stack, and rate-limited", async () => {
    // a replicast peer at the broadcast address: every discovery datagram to it fails (EACCES)
    const probe = createSocket("udp4");
    await new Promise<void>((r) => probe.bind(0, "127.0.0.1", () => r()));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { lines, logger } = capture();
    const config = validateConfig({
      nodeId: "log-test",
      bearer: { localAddress: "127.0.0.1", localPort: port, peers: ["255.255.255.255:6118"] },
      control: { path: join(mkdtempSync(join(tmpdir(), "tipcd-log-")), "t.sock") },
    });
    const d = await startDaemon(config, { logger });
    const failures = () => d.node.stats().drops.transport.socket ?? 0;
    await waitFor(
      () => failures() > LOG_RATE_LIMIT.perWindow,
      20_000,
      "more failed sends than the rate limit passes",
    );
    const logged = lines.filter((l) => l.msg === "transport error");
    // one line per failure (the node's; the daemon no longer repeats it), up to the rate limit
    expect(logged).toHaveLength(Math.min(failures(), LOG_RATE_LIMIT.perWindow));
    for (const l of logged) {
      expect(l.obj).toMatchObject({ code: "SOCKET", bearer: "udp0", error: expect.stringMatching(/EACCES/) });
      expect(JSON.stringify(l.obj)).not.toMatch(/stack/);
    }
    await d.close();
  }, 40_000);
});
