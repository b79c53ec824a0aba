// Bad input to a running tipcd process, through its control socket and through tipcctl: clear
// errors, the daemon keeps running, its table stays as it was. And bad configuration: exit 2.
import { writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import type { TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBins,
  connectWhenUp,
  type DaemonProcess,
  freeUdpPorts,
  spawnCtl,
  startTipcd,
  stopAll,
  tempDir,
  tipcctl,
  waitFor,
} from "./harness.js";

const dir = tempDir("tipcd-bad");
let d: DaemonProcess;
let client: TipcClient;

beforeAll(async () => {
  await buildBins();
  const [port] = await freeUdpPorts(1);
  d = startTipcd("bad", dir, [
    "--node-id",
    "bad-input",
    "--local-address",
    "127.0.0.1",
    "--local-port",
    String(port),
    "--peer",
    "127.0.0.1:9",
  ]);
  client = await connectWhenUp(d);
  await client.bind({ type: 7000, lower: 1, upper: 5, owner: "daemon" });
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await stopAll([d]);
});

function rawExchange(text: string | Buffer, want: number): Promise<{ code?: string; message?: string }[]> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ path: d.socket });
    const out: { code?: string; message?: string }[] = [];
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const m = JSON.parse(buf.slice(0, nl)) as { error?: { code: string; message: string } };
        out.push(m.error ?? {});
        buf = buf.slice(nl + 1);
      }
      if (out.length >= want) s.end();
    });
    s.on("close", () => resolve(out));
    s.on("error", reject);
    s.write(text);
  });
}

describe("bad input to a running tipcd", () => {
  it("control socket: malformed JSON, unknown methods, bad numbers, lower > upper, an endless line", async () => {
    const before = await client.bindings();
    const replies = await rawExchange(
      [
        "}{",
        '{"id":1,"method":"teleport"}',
        '{"id":2,"method":"bind","params":{"type":7001,"lower":"one"}}',
        '{"id":3,"method":"bind","params":{"type":7001,"lower":1e12}}',
        '{"id":4,"method":"bind","params":{"type":7001,"lower":8,"upper":2}}',
        '{"id":5,"method":"lookup","params":{"type":7000,"lower":3,"upper":1,"mode":"multicast"}}',
        '{"id":6,"method":"subscribe","params":{"type":7000,"lower":0}}',
        "",
      ].join("\n"),
      7,
    );
    expect(replies.map((r) => r.code)).toEqual([
      "PARSE_ERROR",
      "UNKNOWN_METHOD",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
      "BAD_ARGUMENT",
    ]);
    for (const r of replies) expect(r.message).toMatch(/\w/);
    const long = await rawExchange(Buffer.alloc(200_000, 0x7b), 1);
    expect(long.map((r) => r.code)).toEqual(["LINE_TOO_LONG"]);
    expect(d.child.exitCode).toBeNull();
    expect(await client.bindings()).toEqual(before);
  });

  it("tipcctl: clear errors and exit codes, nothing changed", async () => {
    const before = await client.bindings();
    const s = ["--socket", d.socket];
    const cases: [string[], number, RegExp][] = [
      [[...s, "publish", "7001", "9", "3"], 2, /lower \(9\) is greater than upper \(3\)/],
      [[...s, "publish", "7001", "x"], 2, /lower must be an integer/],
      [[...s, "publish", "7001", "99999999999"], 2, /must be an integer 0\.\.4294967295/],
      [[...s, "publish", "3", "1"], 2, /reserved|type/i],
      [[...s, "launch"], 2, /unknown command 'launch'/],
      [[...s, "withdraw", "7001", "1"], 4, /no binding/],
      [[...s, "lookup", "7001", "1"], 4, /no binding/],
      [["--socket", join(dir, "nobody.sock"), "stats"], 3, /cannot connect/],
    ];
    for (const [args, code, message] of cases) {
      const r = await tipcctl(args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(message);
    }
    expect(d.child.exitCode).toBeNull();
    expect(await client.bindings()).toEqual(before);
    const ok = await tipcctl([...s, "lookup", "7000", "3"]);
    expect(ok.code).toBe(0);
  });

  it("tipcctl subscribe streams events until interrupted, then exits 0", async () => {
    const child = spawnCtl(["--socket", d.socket, "subscribe", "7000", "0", "100"]);
    let out = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    await waitFor(() => /^published +\{7000, 1, 5\}/m.test(out) || undefined, 30_000, "the initial event");
    const b = await client.bind({ type: 7000, lower: 50 });
    await waitFor(() => /^published +\{7000, 50, 50\}/m.test(out) || undefined, 10_000, "a live event");
    await client.unbind({ type: 7000, lower: 50, key: b.key });
    await waitFor(() => /^withdrawn +\{7000, 50, 50\}/m.test(out) || undefined, 10_000, "the withdrawal");
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });

  it("tipcd refuses an invalid configuration with exit code 2 and says what is wrong", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      "nodeId: this-identity-is-too-long\nclusterId: 0\nbearer:\n  localAddress: 127.0.0.1\nmetrics:\n  address: 0.0.0.0:9464\n",
    );
    const p = startTipcd("badconfig", dir, ["--config", file]);
    expect(await p.exited).toEqual({ code: 2, signal: null });
    const { readFileSync } = await import("node:fs");
    const log = readFileSync(p.log, "utf8");
    expect(log).toMatch(/nodeId: nodeId must be up to 16 characters/);
    expect(log).toMatch(/clusterId: clusterId must be 1\.\.9999/);
    expect(log).toMatch(/metrics.address: metrics address must be a loopback address/);
  });
});
