// tipcd's keys (issue 18): the key file's permission check, tipcctl's key verbs over the control
// socket, and the crypto metrics.
import { createSocket, type Socket } from "node:dgram";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNode, type TipcNode } from "@tipcjs/node";
import { memoryFabric } from "@tipcjs/transport-memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, type DaemonConfig, loadConfig, validateConfig } from "./config.js";
import { type ControlServer, startControlServer } from "./control.js";
import { type Daemon, startDaemon } from "./daemon.js";
import { readKeyFile } from "./keyfile.js";
import { createMetricsRegistry } from "./metrics.js";
import { runCtlIn, silent, waitFor } from "./test-helpers.js";
import { EXIT } from "./tipcctl.js";

const KEY = "0x000102030405060708090a0b0c0d0e0f10111213";
const KEY2 = "0x2122232425262728292a2b2c2d2e2f3031323334";
const dir = mkdtempSync(join(tmpdir(), "tipcd-keys-"));

function keyFile(name: string, text: string, mode: number): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}

describe("key file", () => {
  it("refuses a file open to group or others, with a ConfigError that says how to fix it", () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      const p = keyFile(`k${mode.toString(8)}`, `${KEY}\n`, mode);
      expect(() => readKeyFile(p)).toThrow(ConfigError);
      expect(() => readKeyFile(p)).toThrow(`chmod 600 ${p}`);
      // the key itself is never in the message
      expect(() => readKeyFile(p)).not.toThrow(KEY.slice(2));
    }
  });

  it("takes an owner-only file: one key a line as `tipc node set key` takes them, comments skipped", () => {
    const p = keyFile(
      "ok",
      `# cluster\n${KEY}\n\n${KEY2} nodeid peer-1   # a peer's RX key\nthis_is_a_key16_salt master\n`,
      0o600,
    );
    expect(readKeyFile(p)).toEqual([
      { key: KEY },
      { key: KEY2, nodeId: "peer-1" },
      { key: "this_is_a_key16_salt", master: true },
    ]);
    expect(readKeyFile(keyFile("ro", `${KEY}\n`, 0o400))).toEqual([{ key: KEY }]);
  });

  it("names a bad line, an empty file and a missing one", () => {
    expect(() => readKeyFile(keyFile("bad", `${KEY}\n${KEY} colour blue\n`, 0o600))).toThrow(
      /line 2: unknown word/,
    );
    expect(() => readKeyFile(keyFile("empty", "# nothing\n", 0o600))).toThrow(/holds no key/);
    expect(() => readKeyFile(join(dir, "absent"))).toThrow(/ENOENT/);
    expect(() => readKeyFile(keyFile("many", `${KEY}\n`.repeat(17), 0o600))).toThrow(/more than 16 keys/);
  });

  it("tipcd's configuration: --key-file / TIPCD_KEY_FILE is a path, checked when the configuration loads", () => {
    const base = { nodeId: "n1", localAddress: "127.0.0.1" };
    const open = keyFile("open", `${KEY}\n`, 0o644);
    expect(() => loadConfig({ ...base, keyFile: open }, {})).toThrow(ConfigError);
    const good = keyFile("good", `${KEY}\n`, 0o600);
    expect(loadConfig({ ...base, keyFile: good }, {}).crypto).toEqual({
      keyFile: good,
      refusePlaintext: true,
      keyExchange: true,
    });
    expect(loadConfig(base, { TIPCD_KEY_FILE: good }).crypto?.keyFile).toBe(good);
    expect(loadConfig(base, {}).crypto).toBeUndefined();
  });
});

describe("tipcctl node set key / flush key / key", () => {
  let nodes: TipcNode[];
  let control: ControlServer;
  let plain: TipcNode;
  let plainControl: ControlServer;
  const sock = join(dir, "tipcd.sock");
  const plainSock = join(dir, "plain.sock");

  beforeAll(async () => {
    const fabric = memoryFabric();
    nodes = await Promise.all(
      [1, 2].map((i) =>
        createNode({
          nodeId: `key-${i}`,
          transport: fabric.join(),
          skipTrial: true,
          closeTimeout: 200,
          crypto: {},
        }),
      ),
    );
    control = await startControlServer(nodes[0] as TipcNode, { path: sock, logger: silent });
    plain = await createNode({
      nodeId: "plain",
      transport: memoryFabric().join(),
      skipTrial: true,
      closeTimeout: 0,
    });
    plainControl = await startControlServer(plain, { path: plainSock, logger: silent });
  });
  afterAll(async () => {
    await control.close();
    await plainControl.close();
    await Promise.all([...nodes, plain].map((n) => n.close()));
  });

  const ctl = (socket: string, stdin: string, ...args: string[]) => runCtlIn(socket, args, stdin);

  it("sets a key from a file; the peer with the same key links; status shows slots by hint only", async () => {
    const file = keyFile("ctl", `${KEY}\n`, 0o600);
    const r = await ctl(sock, "", "node", "set", "key", file, "--json");
    expect(r).toMatchObject({ code: EXIT.OK, err: "" });
    expect(JSON.parse(r.out)).toEqual({ slot: 1 });
    (nodes[1] as TipcNode).setKey({ key: KEY });
    await waitFor(() => (nodes[0] as TipcNode).nodes().some((n) => n.up), 5000, "the encrypted link");
    const s = await ctl(sock, "", "node", "key");
    expect(s.code).toBe(EXIT.OK);
    expect(s.out).toContain("encryption: on, plaintext refused");
    expect(s.out).toMatch(/tx keys: 1:(pending|active)\(0b0c0d0e0f\)/);
    expect(s.out).not.toContain(KEY.slice(2, 12));
    const j = JSON.parse((await ctl(sock, "", "node", "key", "--json")).out);
    expect(j.enabled).toBe(true);
    expect(j.counters.rx.ok).toBeGreaterThan(0);
  });

  it("takes the key from stdin with -, and warns when it is given on the command line", async () => {
    const viaStdin = await ctl(sock, `${KEY2}\n`, "node", "set", "key", "-");
    expect(viaStdin).toMatchObject({ code: EXIT.OK, err: "" });
    const literal = await ctl(sock, "", "node", "set", "key", KEY2);
    expect(literal.err).toContain("visible to other users");
  });

  it("rekeying, flush, and the daemon's refusals", async () => {
    expect((await ctl(sock, "", "node", "set", "key", "rekeying", "now")).code).toBe(EXIT.OK);
    expect((await ctl(sock, "", "node", "set", "key", "rekeying", "soon")).code).toBe(EXIT.USAGE);
    const short = await ctl(sock, "", "node", "set", "key", "0x0102");
    expect(short.code).toBe(EXIT.USAGE); // the daemon said BAD_ARGUMENT
    expect(short.err).toContain("BAD_ARGUMENT");
    const off = await ctl(plainSock, "", "node", "set", "key", `@${keyFile("p", `${KEY}\n`, 0o600)}`);
    expect(off.code).toBe(EXIT.DAEMON);
    expect(off.err).toContain("NOT_SUPPORTED");
    expect((await ctl(plainSock, "", "node", "key")).out).toContain("encryption: off");
    const openFile = keyFile("ctl-open", `${KEY}\n`, 0o644);
    expect((await ctl(sock, "", "node", "set", "key", openFile)).code).toBe(EXIT.USAGE);
    expect((await ctl(sock, "", "node", "flush", "key")).code).toBe(EXIT.OK);
    const after = JSON.parse((await ctl(sock, "", "node", "key", "-j")).out);
    expect(after.tx.every((k: { state: string }) => k.state === "none")).toBe(true);
  });

  it("metrics: decrypt failures and replays, and the crypto drop layer", async () => {
    const text = await createMetricsRegistry(nodes[0] as TipcNode, { controlConnections: () => 0 }).metrics();
    expect(text).toMatch(/^tipcd_crypto_decrypt_failures_total \d+$/m);
    expect(text).toMatch(/^tipcd_crypto_replays_total \d+$/m);
    const none = await createMetricsRegistry(plain, { controlConnections: () => 0 }).metrics();
    expect(none).not.toContain("tipcd_crypto_");
  });
});

/** Ports free on 127.0.0.1 now (bound to 0, read, closed). */
async function freeUdpPorts(n: number): Promise<number[]> {
  const socks = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((res) => {
          const s = createSocket("udp4");
          s.bind(0, "127.0.0.1", () => res(s));
        }),
    ),
  );
  const ports = socks.map((s) => s.address().port);
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

describe("tipcd with a key file (startDaemon, UDP on 127.0.0.1)", () => {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };

  it("refuses a key file open to others before it opens a socket", async () => {
    const config = validateConfig({
      nodeId: "kf-open",
      bearer: { localAddress: "127.0.0.1", localPort: 0 },
      control: { path: join(dir, "kf-open.sock") },
      crypto: { keyFile: keyFile("daemon-open", `${KEY}\n`, 0o644) },
    });
    await expect(startDaemon(config, { logger: quiet })).rejects.toThrow(ConfigError);
  });

  it("links two daemons with the same key; SIGHUP's reload sets a new key line without a link reset", async () => {
    const ports = await freeUdpPorts(2);
    const files = [0, 1].map((i) => keyFile(`daemon-${i}`, `${KEY}\n`, 0o600));
    const configs = [0, 1].map((i) =>
      validateConfig({
        nodeId: `kf-${i}`,
        bearer: { localAddress: "127.0.0.1", localPort: ports[i], peers: [`127.0.0.1:${ports[1 - i]}`] },
        control: { path: join(dir, `kf-${i}.sock`) },
        crypto: { keyFile: files[i] },
      }),
    );
    const ds = await Promise.all(configs.map((c) => startDaemon(c, { logger: quiet })));
    try {
      const [a, b] = ds as [Daemon, Daemon];
      await waitFor(
        () => a.node.nodes().some((n) => n.up) && b.node.nodes().some((n) => n.up),
        10_000,
        "link",
      );
      const downs: string[] = [];
      for (const d of ds) d.node.on("linkDown", (e) => downs.push(e.reason));
      // the operator appends the next key to both files and reloads
      for (const f of files) writeFileSync(f, `${KEY}\n${KEY2}\n`);
      // while the first key is still pending (the kernel's 10 s before pending → active), a
      // second one is refused as the kernel refuses it (EBUSY): named, and tried again next time
      expect(a.reload(configs[0] as DaemonConfig).keyError).toMatch(/no free key slot/);
      const active = (d: Daemon) => d.node.cryptoStatus()?.keys.tx.some((k) => k.state === "active") === true;
      await waitFor(() => active(a) && active(b), 25_000, "the first key active on both");
      const results = ds.map((d, i) => d.reload(configs[i] as DaemonConfig));
      expect(results).toMatchObject([{ keysSet: 1 }, { keysSet: 1 }]);
      expect(results.every((r) => !r.ignored.includes("crypto"))).toBe(true);
      a.node.publish({ type: 4242, lower: 1 });
      await waitFor(() => b.node.lookupAnycast(4242, 1) !== undefined, 5000, "an update after the new key");
      expect(downs).toEqual([]);
      // a file gone bad is named, the running keys stay
      chmodSync(files[0] as string, 0o644);
      expect(a.reload(configs[0] as DaemonConfig).keyError).toMatch(/chmod 600/);
      expect(a.node.cryptoStatus()?.keys.tx.some((k) => k.state !== "none")).toBe(true);
    } finally {
      await Promise.all(ds.map((d) => d.close()));
    }
  }, 60_000);
});
