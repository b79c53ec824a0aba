// Sockets through two tipcd processes linked on 127.0.0.1: @tipcjs/client programs exchange
// 66,000-byte messages and 10,000 messages in order, a client's disconnect withdraws its
// socket's bindings on the other node, and `tipcctl send | tipcctl listen` carries a pipe's text.
import { type ClientSocket, connect, type SocketEvent, type TipcClient } from "@tipcjs/client";
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

const dir = tempDir("tipcd-sockets");
let daemons: DaemonProcess[] = [];
let a: TipcClient;
let b: TipcClient;

beforeAll(async () => {
  await buildBins();
  const [pa, pb] = (await freeUdpPorts(2)) as [number, number];
  daemons = [
    startTipcd("a", dir, ["--node-id", "sock-a", ...pairFlags(pa, pb)]),
    startTipcd("b", dir, ["--node-id", "sock-b", ...pairFlags(pb, pa)]),
  ];
  a = await connectWhenUp(daemons[0] as DaemonProcess);
  b = await connectWhenUp(daemons[1] as DaemonProcess);
  await waitFor(
    async () => (await a.nodes()).some((n) => n.up) && (await b.nodes()).some((n) => n.up),
    30_000,
    "link up",
  );
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await stopAll(daemons);
});

const pattern = (n: number, seed: number) => {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = (i * 131 + seed * 7) & 0xff;
  return d;
};

async function next(s: ClientSocket): Promise<SocketEvent> {
  const ev = await s.receive();
  if (ev === undefined) throw new Error("socket ended");
  return ev;
}

/** Until `client`'s node sees {type, instance} bound (or, with `gone`, no longer bound). */
const seen = (client: TipcClient, type: number, instance: number, gone = false) =>
  waitFor(
    async () => ((await client.lookup(type, instance)) === undefined) === gone,
    10_000,
    `{${type}, ${instance}}`,
  );

describe("sockets through tipcd", () => {
  it("two clients on two daemons exchange messages of 1 to 66,000 bytes byte for byte", async () => {
    const sa = await a.socket({ type: "rdm" });
    const sb = await b.socket({ type: "dgram" });
    await sa.bind({ type: 6000, lower: 1 });
    await sb.bind({ type: 6001, lower: 1 });
    await seen(b, 6000, 1);
    await seen(a, 6001, 1);
    for (const size of [1, 1024, 14_000, 60_000, 66_000]) {
      const data = pattern(size, size);
      await sa.sendTo({ type: 6001, instance: 1 }, data);
      const got = await next(sb);
      expect(got).toMatchObject({ kind: "message", source: sa.address });
      expect(Buffer.compare(got.data, data)).toBe(0);
      await sb.sendToSocket(sa.address, data);
      const back = await next(sa);
      expect(back).toMatchObject({ kind: "message", source: sb.address, destination: { kind: "socket" } });
      expect(Buffer.compare(back.data, data)).toBe(0);
    }
    await sa.close();
    await sb.close();
  });

  it("10,000 messages arrive exactly once and in order", async () => {
    const sa = await a.socket({ type: "rdm" });
    const sb = await b.socket({ type: "rdm" });
    await sb.bind({ type: 6002, lower: 1 });
    await seen(a, 6002, 1);
    const N = 10_000;
    const got: number[] = [];
    const reader = (async () => {
      while (got.length < N) {
        const ev = await next(sb);
        got.push(new DataView(ev.data.buffer, ev.data.byteOffset).getUint32(0));
      }
    })();
    let last: Promise<void> = Promise.resolve();
    for (let i = 0; i < N; i++) {
      const d = new Uint8Array(200);
      new DataView(d.buffer).setUint32(0, i);
      last = sa.sendTo({ type: 6002, instance: 1 }, d);
      if (i % 32 === 31) await last;
    }
    await last;
    await reader;
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
    await sa.close();
    await sb.close();
  }, 120_000);

  it("a client's disconnect closes its sockets and withdraws their bindings on the other node", async () => {
    const daemon = daemons[0] as DaemonProcess;
    const c = await connect(daemon.socket);
    const s = await c.socket({ type: "rdm" });
    await s.bind({ type: 6003, lower: 0, upper: 10 });
    await seen(b, 6003, 5);
    await c.close();
    await seen(b, 6003, 5, true);
    expect(await a.lookup(6003, 5)).toBeUndefined();
  });

  it("tipcctl send | tipcctl listen: a pipe's lines reach a listener on the other daemon", async () => {
    const listen = spawnCtl([
      "--socket",
      (daemons[1] as DaemonProcess).socket,
      "-j",
      "listen",
      "6004",
      "1",
      "--count",
      "3",
    ]);
    let out = "";
    listen.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => listen.once("exit", (code) => r(code)));
    await seen(a, 6004, 1);
    const sent = await tipcctl(
      ["--socket", (daemons[0] as DaemonProcess).socket, "send", "6004", "1", "--lines"],
      "alpha\nbeta\ngamma\n",
    );
    expect(sent).toMatchObject({ code: 0, stderr: "" });
    expect(await exited).toBe(0);
    const lines = out
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { text: string; source: { node: number } });
    expect(lines.map((l) => l.text)).toEqual(["alpha", "beta", "gamma"]);
    expect(lines[0]?.source.node).toBe(a.info.address);
    await seen(a, 6004, 1, true);

    // nobody bound: NO_SERVICE, exit 4
    const missing = await tipcctl(
      ["--socket", (daemons[0] as DaemonProcess).socket, "send", "6004", "1"],
      "x",
    );
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/no binding for \{6004, 1\} \(NO_SERVICE\)/);
  }, 60_000);
});
