// tipcctl as an operator uses `tipc` (issue 19), against two running tipcd, every verb with its
// `-j` output parsed; and tipcd as a service: its systemd unit, a socket path without root,
// metrics present from the start, /healthz, and SIGHUP reloading peers and the log level.
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBins,
  connectWhenUp,
  ctlCommand,
  type DaemonProcess,
  freeTcpPort,
  freeUdpPorts,
  ROOT,
  startTipcd,
  stopAll,
  tempDir,
  tipcctl,
  waitFor,
} from "./harness.js";

const dir = tempDir("tipcd-operator");
const started: DaemonProcess[] = [];
let a: DaemonProcess;
let b: DaemonProcess;
let ca: TipcClient;
let pa = 0;
let pb = 0;
let metrics = 0;
const config = join(dir, "a.yaml");

/** tipcctl -j against daemon `d`, its output parsed */
async function j<T = unknown>(d: DaemonProcess, ...args: string[]): Promise<T> {
  const r = await tipcctl(["--socket", d.socket, "-j", ...args]);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}
const ctl = (d: DaemonProcess, ...args: string[]) => tipcctl(["--socket", d.socket, ...args]);
const logLines = (d: DaemonProcess) =>
  readFileSync(d.log, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { msg: string; level: number; [k: string]: unknown });

beforeAll(async () => {
  await buildBins();
  [pa, pb] = (await freeUdpPorts(2)) as [number, number];
  metrics = await freeTcpPort();
  // a has no peer at first: `bearer add ... remoteip` gives it b
  writeFileSync(
    config,
    `nodeId: op-a\nbearer:\n  localAddress: 127.0.0.1\n  localPort: ${pa}\n  mode: replicast\n  configuredPeersOnly: true\nlog:\n  level: info\n`,
  );
  a = startTipcd("a", dir, ["--config", config, "--metrics", `127.0.0.1:${metrics}`]);
  b = startTipcd("b", dir, [
    "--node-id",
    "op-b",
    "--local-address",
    "127.0.0.1",
    "--local-port",
    String(pb),
    "--mode",
    "replicast",
    "--configured-peers-only",
  ]);
  started.push(a, b);
  ca = await connectWhenUp(a);
  await (await connectWhenUp(b)).close();
}, 60_000);

afterAll(async () => {
  await ca?.close().catch(() => {});
  await stopAll(started);
});

describe("tipcctl against two tipcd, -j parsed", () => {
  it("before any peer: node list is this node, the broadcast link is down, /healthz ok with no link", async () => {
    const nodes = await j<{ identity: string; state: string }[]>(a, "node", "list");
    expect(nodes).toEqual([expect.objectContaining({ identity: "op-a", state: "up" })]);
    expect(await j(a, "link", "list")).toEqual({ "broadcast-link": "down" });
    expect((await ctl(a, "link", "list")).stdout).toBe("broadcast-link: down\n");
    const h = await fetch(`http://127.0.0.1:${metrics}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({
      status: "ok",
      bearers: [{ name: "udp0", up: true }],
      links: { up: 0, total: 0 },
    });
  });

  it("metrics: no tipcd_process_process_ name, and every counter present at 0 from the start", async () => {
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    expect(text).not.toContain("tipcd_process_process_");
    expect(text).toMatch(/^tipcd_process_cpu_seconds_total /m);
    expect(text).toMatch(/^tipcd_process_resident_memory_bytes /m);
    for (const line of [
      'tipcd_control_disconnects_total{cause="slow-client"} 0',
      'tipcd_control_disconnects_total{cause="queued-events"} 0',
      'tipcd_retransmissions_total{link="broadcast"} 0',
      'tipcd_drops_total{layer="link",cause="stale-session"} 0',
      'tipcd_drops_total{layer="transport",cause="socket"} 0',
      'tipcd_drops_total{layer="distributor",cause="stale"} 0',
      "tipcd_link_failovers_total 0",
      "tipcd_subscription_overflows_total 0",
      "tipcd_update_method_switches_total 0",
    ])
      expect(text).toContain(line);
  });

  it("bearer add ... remoteip on both sides: the link comes up; bearer list, link list, node list", async () => {
    const added = await j<{ discoveryPeers: { port: number }[] }>(
      a,
      "bearer",
      "add",
      "media",
      "udp",
      "name",
      "udp0",
      "remoteip",
      "127.0.0.1",
      "remoteport",
      String(pb),
    );
    expect(added.discoveryPeers.map((p) => p.port)).toEqual([pb]);
    await j(
      b,
      "bearer",
      "add",
      "media",
      "udp",
      "name",
      "udp0",
      "remoteip",
      "127.0.0.1",
      "remoteport",
      String(pa),
    );
    await waitFor(
      async () =>
        Object.values(await j<Record<string, string>>(a, "link", "list")).filter((s) => s === "up").length ===
        2,
      20_000,
      "a's link to b, and the broadcast link, up",
    );
    const links = await j<Record<string, string>>(a, "link", "list");
    const name = Object.keys(links).find((k) => k !== "broadcast-link") as string;
    expect(name).toMatch(/udp0.*udp0/);
    expect((await ctl(a, "link", "list")).stdout).toBe(`broadcast-link: up\n${name}: up\n`);
    expect(await j(a, "bearer", "list")).toEqual([expect.objectContaining({ name: "udp0", enabled: true })]);
    expect((await ctl(a, "bearer", "list")).stdout).toBe("udp:udp0\n");
    const nodes = await j<{ identity: string; state: string }[]>(a, "node", "list");
    expect(nodes.map((n) => `${n.identity} ${n.state}`)).toEqual(["op-a up", "op-b up"]);
    expect((await ctl(a, "node", "list")).stdout.split("\n")[0]).toBe(
      "Node Identity                    Hash     State",
    );
  });

  it("link stat show | reset, link get, link set (tolerance and window at run time, priority NOT_SUPPORTED)", async () => {
    // traffic on the link: a few publications reach b
    for (let i = 0; i < 5; i++) await j(a, "publish", "5000", String(i));
    await waitFor(
      async () => (await j<unknown[]>(b, "nametable", "show", "--type", "5000")).length === 5,
      10_000,
      "b sees 5",
    );
    type Stat = { name: string; state: string; txPackets: number; tolerance?: number; window: number };
    const stats = await j<Stat[]>(a, "link", "stat", "show");
    const uni = stats.find((s) => s.name !== "broadcast-link") as Stat;
    expect(uni.state).toBe("ACTIVE");
    expect(uni.txPackets).toBeGreaterThan(0);
    expect(uni.window).toBe(50);
    expect((await ctl(a, "link", "stat", "show", "link", uni.name)).stdout).toMatch(
      new RegExp(
        `^Link <${uni.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}>\n {2}ACTIVE {2}MTU:\\d+ {2}Priority:10 {2}Tolerance:1500 ms {2}Window:50 packets\n`,
      ),
    );
    expect(await j(a, "link", "stat", "reset", "link", uni.name)).toEqual({ reset: [uni.name] });
    const after = (await j<Stat[]>(a, "link", "stat", "show", "link", uni.name))[0] as Stat;
    expect(after.txPackets).toBeLessThan(uni.txPackets);
    expect(await j(a, "link", "get", "tolerance", "link", uni.name)).toEqual({ tolerance: 1500 });
    expect(await j(a, "link", "get", "window")).toEqual({ window: 50 });
    expect((await ctl(a, "link", "get", "priority")).stdout).toBe("10\n");
    const set = await ctl(a, "link", "set", "tolerance", "1000", "link", uni.name);
    expect(set.code, set.stderr).toBe(0);
    expect((await ctl(a, "link", "set", "window", "64", "link", uni.name)).code).toBe(0);
    const changed = (await j<Stat[]>(a, "link", "stat", "show", "link", uni.name))[0] as Stat;
    expect(changed).toMatchObject({ tolerance: 1000, window: 64 });
    // the peer took the tolerance from a STATE message
    await waitFor(
      async () => (await j<Stat[]>(b, "link", "stat", "show")).some((s) => s.tolerance === 1000),
      10_000,
      "b's link takes tolerance 1000",
    );
    const prio = await ctl(a, "link", "set", "priority", "5", "link", uni.name);
    expect(prio.code).toBe(1);
    expect(prio.stderr).toMatch(/NOT_SUPPORTED/);
    const bad = await ctl(a, "link", "set", "tolerance", "10", "link", uni.name);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/tolerance 10 is outside 50\.\.30000/);
    const none = await ctl(a, "link", "stat", "show", "link", "nope");
    expect(none.code).toBe(4);
  });

  it("publish, lookup, nametable show, subscribe, withdraw, stats, decode keep working with -j", async () => {
    const bound = await j<{ type: number; key: number; owner: string }>(a, "publish", "5001", "1", "9");
    expect(bound).toMatchObject({ type: 5001, owner: "daemon" });
    await waitFor(
      async () => (await j<{ sockets: unknown[] }>(b, "lookup", "5001", "5")).sockets.length === 1,
      10_000,
      "b looks 5001 up",
    );
    const table = await j<{ type: number; node: string }[]>(b, "nametable", "show", "--type", "5001");
    expect(table).toEqual([expect.objectContaining({ type: 5001, node: "op-a" })]);
    const sub = await ctl(b, "-j", "subscribe", "5001", "0", "100", "--sub-timeout", "200");
    expect(sub.code).toBe(0);
    const events = sub.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string });
    expect(events.map((e) => e.kind)).toEqual(["published", "timeout"]);
    expect(await j(a, "withdraw", "5001", "1", "9")).toEqual([expect.objectContaining({ type: 5001 })]);
    const stats = await j<{ nodes: { up: number }; subscriptionEvents: { limit: number } }>(a, "stats");
    expect(stats.nodes.up).toBe(1);
    expect(stats.subscriptionEvents.limit).toBe(262_144);
    const hex = readFileSync(
      join(ROOT, "packages/codec/src/__fixtures__/link-up/015-NAME_DISTRIBUTOR-type0.hex"),
      "utf8",
    ).trim();
    expect(await j(a, "decode", hex)).toMatchObject({ user: "NAME_DISTRIBUTOR" });
  });

  it("peer remove: BUSY while the peer is up; remoteip forgets the address", async () => {
    const busy = await ctl(a, "peer", "remove", "identity", "op-b");
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/BUSY/);
    const r = await j<{ removed: { bearer: string; ip: string; port: number }[] }>(
      a,
      "peer",
      "remove",
      "remoteip",
      "127.0.0.1",
      "remoteport",
      String(pb),
    );
    expect(r.removed).toEqual([{ bearer: "udp0", ip: "127.0.0.1", port: pb }]);
    const bearers = await j<{ discoveryPeers: unknown[] }[]>(a, "bearer", "list");
    expect(bearers[0]?.discoveryPeers).toEqual([]);
    expect((await ctl(a, "peer", "remove", "remoteip", "127.0.0.1", "remoteport", String(pb))).code).toBe(4);
  });

  it("SIGHUP: peers from the file are added and removed, the log level changes; a bad file keeps the running one", async () => {
    writeFileSync(
      config,
      `nodeId: op-a\nbearer:\n  localAddress: 127.0.0.1\n  localPort: ${pa}\n  mode: replicast\n  configuredPeersOnly: true\n  peers: ["127.0.0.1:${pb}", "127.0.0.1:9"]\nlog:\n  level: debug\n`,
    );
    a.child.kill("SIGHUP");
    await waitFor(() => logLines(a).some((l) => l.msg === "configuration reloaded"), 10_000, "the reload");
    const reload = logLines(a).find((l) => l.msg === "configuration reloaded") as Record<string, unknown>;
    expect(reload.added).toEqual([`udp0 127.0.0.1:${pb}`, "udp0 127.0.0.1:9"]);
    expect(reload.logLevel).toBe("debug");
    const peers = (await j<{ discoveryPeers: { port: number }[] }[]>(a, "bearer", "list"))[0]?.discoveryPeers;
    expect(peers?.map((p) => p.port)).toEqual([pb, 9]);
    // debug lines now: control connections are logged at debug (at most 10 a kind per 10 s, then
    // a count when the window ends)
    await j(a, "stats");
    await waitFor(
      () => logLines(a).some((l) => l.level === 20 && l.msg.startsWith("control connection")),
      15_000,
      "a debug line",
    );

    writeFileSync(
      config,
      `nodeId: op-a\nbearer:\n  localAddress: 127.0.0.1\n  localPort: ${pa}\n  mode: replicast\n  peers: ["127.0.0.1:${pb}"]\n`,
    );
    a.child.kill("SIGHUP");
    await waitFor(
      () => logLines(a).filter((l) => l.msg === "configuration reloaded").length === 2,
      10_000,
      "the second reload",
    );
    const second = logLines(a).filter((l) => l.msg === "configuration reloaded")[1] as Record<
      string,
      unknown
    >;
    expect(second.removed).toEqual(["udp0 127.0.0.1:9"]);
    expect(second.ignored).toEqual(["bearers.udp0"]); // configuredPeersOnly needs a restart

    writeFileSync(config, "nodeId: [not, valid]\n");
    a.child.kill("SIGHUP");
    await waitFor(
      () => logLines(a).some((l) => l.msg === "configuration not reloaded: the running one is kept"),
      10_000,
      "the refusal",
    );
    expect(a.child.exitCode).toBe(null);
    expect((await j<unknown[]>(a, "node", "list")).length).toBe(2);
  });
});

describe("tipcd as a service", () => {
  it("the systemd unit passes systemd-analyze verify without a warning", () => {
    const unit = join(ROOT, "apps/daemon/systemd/tipcd.service");
    const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const text = readFileSync(unit, "utf8");
    expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(text).toMatch(/^Environment=TIPCD_SOCKET=\/run\/tipcd\/tipcd\.sock$/m);
    expect(text).toMatch(/^RestartPreventExitStatus=2$/m);
  });

  it("not root: tipcd and tipcctl find the socket in $XDG_RUNTIME_DIR with no --socket", async () => {
    const runtime = tempDir("tipcd-xdg");
    chownSync(runtime, 65534, 65534);
    chmodSync(runtime, 0o700);
    const [port] = await freeUdpPorts(1);
    const env = `XDG_RUNTIME_DIR=${runtime}`;
    const asNobody = [
      "setpriv",
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "env",
      env,
      "HOME=/nonexistent",
    ];
    const d = startTipcd(
      "nobody",
      dir,
      [
        "--node-id",
        "op-nobody",
        "--local-address",
        "127.0.0.1",
        "--local-port",
        String(port),
        "--mode",
        "replicast",
      ],
      asNobody,
      { defaultSocket: true },
    );
    started.push(d);
    const sock = join(runtime, "tipcd.sock");
    await waitFor(() => existsSync(sock), 20_000, "the socket in XDG_RUNTIME_DIR");
    const r = spawnSync(
      asNobody[0] as string,
      [...asNobody.slice(1), ...ctlCommand(["-j", "node", "list"])],
      {
        encoding: "utf8",
        cwd: ROOT,
        timeout: 30_000,
      },
    );
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ identity: "op-nobody" })]);
  });
});
