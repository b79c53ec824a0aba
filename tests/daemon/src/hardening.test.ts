// tipcd under control-socket abuse and bad configuration (issue 14, defects 7-12): a burst of
// 1,000 pipelined `bindings` requests leaves the links up and gets every reply; tipcctl's piped
// output is whole; node and link events are logged once; bad paths and configurations exit 2
// with the field named, and a regular file at the socket path is left alone.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import type { TipcClient } from "@tipcjs/client";
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
  waitFor,
} from "./harness.js";

const dir = tempDir("tipcd-hard");
const TYPE = 9000;
const BINDINGS = 2000;
let a: DaemonProcess;
let b: DaemonProcess;
let ca: TipcClient;
let cb: TipcClient;

const established = async (c: TipcClient) => (await c.links()).filter((l) => l.state === "ESTABLISHED");
const logLines = (d: DaemonProcess) =>
  readFileSync(d.log, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { msg: string });

beforeAll(async () => {
  await buildBins();
  const [pa, pb] = await freeUdpPorts(2);
  const flags = pairFlags;
  a = startTipcd("a", dir, ["--node-id", "hard-a", ...flags(pa as number, pb as number)]);
  b = startTipcd("b", dir, ["--node-id", "hard-b", ...flags(pb as number, pa as number)]);
  [ca, cb] = await Promise.all([connectWhenUp(a), connectWhenUp(b)]);
  await waitFor(async () => (await established(ca)).length === 1, 20_000, "a linked to b");
  await Promise.all(
    Array.from({ length: BINDINGS }, (_, i) => ca.bind({ type: TYPE, lower: i, owner: "daemon" })),
  );
  await waitFor(
    async () => (await cb.bindings({ type: TYPE })).length === BINDINGS,
    30_000,
    "b holds a's bindings",
  );
}, 90_000);

afterAll(async () => {
  await Promise.all([ca?.close().catch(() => {}), cb?.close().catch(() => {})]);
  await stopAll([a, b]);
});

describe("control socket under a burst", () => {
  it("1,000 pipelined bindings requests: every reply comes, the links stay up", async () => {
    const N = 1000;
    const requests = Array.from({ length: N }, (_, i) => JSON.stringify({ id: i, method: "bindings" }));
    // replies are ~250 KB each; count and check them without keeping them
    const got = await new Promise<{ ids: number[]; closedEarly: boolean }>((resolve, reject) => {
      const s = netConnect({ path: a.socket });
      const ids: number[] = [];
      let rest = Buffer.alloc(0);
      s.on("data", (chunk: Buffer) => {
        let buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
        for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
          const head = buf.subarray(0, Math.min(nl, 40)).toString("latin1");
          const m = /^\{"id":(\d+),"result":\{"bindings":\[/.exec(head);
          if (!m) reject(new Error(`unexpected reply ${head}`));
          ids.push(Number(m?.[1]));
          buf = buf.subarray(nl + 1);
        }
        rest = Buffer.from(buf);
        if (ids.length === N) s.end();
      });
      s.on("close", () => resolve({ ids, closedEarly: ids.length < N }));
      s.on("error", reject);
      s.write(`${requests.join("\n")}\n`);
    });
    expect(got.closedEarly).toBe(false);
    expect(got.ids).toEqual(requests.map((_, i) => i));

    // the links held through it: still established, never reset, the tables whole
    expect(await established(ca)).toHaveLength(1);
    expect(await established(cb)).toHaveLength(1);
    for (const d of [a, b]) {
      const msgs = logLines(d).map((l) => l.msg);
      expect(msgs.filter((m) => m === "link down" || m === "node down")).toEqual([]);
      // one line per event: the node logs it, the daemon no longer repeats it
      expect(msgs.filter((m) => m === "link up")).toHaveLength(1);
      expect(msgs.filter((m) => m === "node up")).toHaveLength(1);
    }
    expect(await cb.bindings({ type: TYPE })).toHaveLength(BINDINGS);
  }, 120_000);

  it("tipcctl nametable show --json: the whole table reaches a slow pipe, exit 0", async () => {
    // more than any pipe buffer holds: 5,000 bindings are ~650 KB of JSON
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) => ca.bind({ type: TYPE + 1, lower: i, owner: "daemon" })),
    );
    // a reader that starts late (as `| python3 -m json.tool` may): tipcctl must wait for it
    const child = spawnCtl(["--socket", a.socket, "nametable", "show", "--json"]);
    const chunks: Buffer[] = [];
    child.stdout?.pause();
    child.stdout?.on("data", (c: Buffer) => chunks.push(c));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const closed = new Promise<void>((r) => child.once("close", () => r()));
    // start reading when tipcctl has exited, or after 5 s if it waits for us
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    child.stdout?.resume();
    await closed;
    expect(await exited).toBe(0);
    const text = Buffer.concat(chunks).toString("utf8");
    expect(text.length).toBeGreaterThan(512 * 1024);
    const table = JSON.parse(text) as { type: number }[];
    expect(table.filter((x) => x.type === TYPE)).toHaveLength(BINDINGS);
    expect(table.filter((x) => x.type === TYPE + 1)).toHaveLength(3000);
  }, 60_000);
});

describe("paths and configurations tipcd refuses", () => {
  /** Runs tipcd with these flags to its exit (bounded: a hang fails the test). */
  async function refused(name: string, flags: string[]): Promise<{ code: number | null; log: string }> {
    const d = startTipcd(name, dir, flags);
    const t = setTimeout(() => d.child.kill("SIGKILL"), 20_000);
    const { code } = await d.exited;
    clearTimeout(t);
    return { code, log: readFileSync(d.log, "utf8") };
  }
  const base = (port: number) => [
    "--node-id",
    "refused",
    "--local-address",
    "127.0.0.1",
    "--local-port",
    String(port),
  ];

  it("leaves a regular file at --socket alone", async () => {
    const [port] = await freeUdpPorts(1);
    const file = join(dir, "precious.txt");
    writeFileSync(file, "keep me");
    // startTipcd passes --socket <dir>/<name>.sock first; the later flag wins
    const r = await refused("file", [...base(port as number), "--socket", file]);
    expect(r.code).toBe(2);
    expect(r.log).toMatch(
      /control\.path \(--socket\): .*precious\.txt exists and is not a socket.*\[NOT_A_SOCKET\]/,
    );
    expect(readFileSync(file, "utf8")).toBe("keep me");
  }, 30_000);

  it("exits 2 naming the field, instead of hanging", async () => {
    const ports = await freeUdpPorts(8);
    const long = join(dir, "x".repeat(120), "t.sock");
    const cases: [string, string[], RegExp][] = [
      [
        "zero-id",
        [...base(ports[0] as number), "--node-id", "0".repeat(32)],
        /nodeId: nodeId must not be all zero/,
      ],
      [
        "long",
        [...base(ports[1] as number), "--socket", long],
        /control\.path: control socket path is \d+ bytes/,
      ],
      [
        "proc",
        [...base(ports[2] as number), "--socket", "/proc/tipcd-none/t.sock"],
        /control\.path \(--socket\).*\[SOCKET_DIR\]/,
      ],
      [
        "mcast",
        [...base(ports[3] as number), "--local-address", "228.0.18.103"],
        /bearer\.localAddress: localAddress must be a unicast/,
      ],
      [
        "any",
        [...base(ports[4] as number), "--local-address", "0.0.0.0"],
        /bearer\.localAddress: localAddress must be an address of this host/,
      ],
      [
        "port-hex",
        [...base(ports[5] as number), "--local-port", "0x10"],
        /bearer\.localPort: localPort must be a number/,
      ],
      [
        "port-exp",
        [...base(ports[6] as number), "--local-port", "1e3"],
        /bearer\.localPort: localPort must be a number/,
      ],
      [
        "metrics",
        [...base(ports[7] as number), "--metrics", "localhost:99999"],
        /metrics\.address: metrics address must be "ip:port"/,
      ],
    ];
    const results = await Promise.all(cases.map(([name, flags]) => refused(name, flags)));
    results.forEach((r, i) => {
      const [name, , message] = cases[i] as (typeof cases)[number];
      expect({ name, code: r.code }).toEqual({ name, code: 2 });
      expect(r.log).toMatch(message);
    });
    // nothing was left at the path the kernel would have truncated the long one to
    expect(existsSync(Buffer.from(long).subarray(0, 107).toString())).toBe(false);
  }, 60_000);
});
