/**
 * Issue 16, tests 1-5 and 7: TIPC's connectionless data path between the real kernel's AF_TIPC
 * sockets (SOCK_RDM, SOCK_DGRAM; `guest/tipc-dgram.c`) and tipcjs sockets. One guest boot for
 * the file. The tipcjs side is `@tipcjs/node` over `@tipcjs/transport-udp` in this process,
 * reaching the guest through QEMU's user-mode network (`startHostNode`, the slirp address
 * translation); every datagram it sends and receives is written to a pcap for tshark (test 7).
 *
 * The tests talk to the tipcjs side only through `Side` (a node address, sockets, stats). Tests 1
 * and 4 also run through tipcd and `@tipcjs/client` in kernel-datagram-tipcd.test.ts.
 *
 * Both sides check payloads byte for byte: every payload comes from `payload(seq, length)`, the
 * generator `tipc-dgram` uses too.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeMessage, type TipcMessage } from "@tipcjs/codec";
import {
  type BroadcastMode,
  isNodeError,
  type NodeStats,
  type SocketOptions,
  type TipcSocket,
} from "@tipcjs/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkStream,
  type DgramEvent,
  fnv,
  guestRecv,
  guestSend,
  payload,
  readN,
  sameBytes,
  seqOf,
} from "./harness/dgram.js";
import {
  bootGuest,
  freeUdpPort,
  type HostNode,
  type KernelGuest,
  PcapWriter,
  startHostNode,
  tsharkDecode,
} from "./harness/index.js";

/** What the tests need from the tipcjs side: the in-process node now, tipcd later. */
interface Side {
  address: number;
  socket(options: SocketOptions): TipcSocket;
  /** the node sees `type` bound on `node` (its replica of the kernel's table) */
  sees(type: number, instance: number, node: number): boolean;
  nodesUp(): number;
  stats(): NodeStats;
  /** `tipc link set broadcast` on the tipcjs node */
  setBroadcastMode(mode: BroadcastMode): void;
}

function inProcessSide(host: HostNode): Side {
  const n = host.node;
  return {
    address: n.address,
    socket: (o) => n.socket(o),
    sees: (type, instance, node) => n.lookupInstance(type, instance).some((b) => b.node === node),
    nodesUp: () => n.stats().nodes.up,
    stats: () => n.stats(),
    setBroadcastMode: (mode) => n.setBroadcastMode(mode),
  };
}

/** Polls `cond` (host state) until it holds, or fails after `ms`. */
async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const T = 20_000; // service types used by this file: T + test number * 10

describe("the connectionless data path between the kernel and tipcjs (issue 16)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tipcjs-interop-dgram-"));
  const pcapPath = join(dir, "datagram.pcap");
  let pcap: PcapWriter;
  let guest: KernelGuest;
  let host: HostNode;
  let side: Side;
  let kernel = 0; // the kernel node's address
  let hostPort = 0;
  const started = Date.now();

  beforeAll(async () => {
    hostPort = await freeUdpPort();
    const forward = await freeUdpPort();
    pcap = new PcapWriter(pcapPath);
    guest = await bootGuest({
      hostPort,
      hostForwardPort: forward,
      identity: "kdgram",
      consoleLogPath: join(dir, "console.txt"),
    });
    kernel = Number.parseInt(await guest.exec("tipc node get address"), 16);
    host = await startHostNode({
      nodeId: "tipcjs-dgram",
      hostPort,
      hostForwardPort: forward,
      pcap,
      // the tipcjs bearer as a broadcast medium of two, so its multicast can take the broadcast
      // link (test 3); the kernel's UDP bearer to a unicast address is replicast-only
      broadcastMedium: true,
    });
    side = inProcessSide(host);
    await until("the link to the kernel", () => side.nodesUp() === 1, 60_000);
  }, 300_000);

  afterAll(async () => {
    await host?.node.close().catch(() => {});
    await guest?.close();
    pcap?.close();
    console.log(
      `kernel-datagram: ${((Date.now() - started) / 1000).toFixed(1)} s, guest boot ${guest?.bootMs} ms`,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  const SIZES = [1, 1024, 14_000, 60_000, 66_000];

  for (const type of ["rdm", "dgram"] as const) {
    it(`1a. ${type}: payloads of ${SIZES.join(", ")} bytes arrive byte for byte, both ways`, async () => {
      const ty = T + 10 + (type === "rdm" ? 0 : 1);
      // tipcjs -> kernel, by service address
      const r = await guestRecv(guest, `--type ${type} --bind ${ty} 1 1 --count ${SIZES.length} --show 9`, 1);
      await until("the kernel's binding", () => side.sees(ty, 1, kernel));
      const s = side.socket({ type });
      s.bind({ type: ty, lower: 2 });
      for (const [i, len] of SIZES.entries()) await s.sendTo({ type: ty, instance: 1 }, payload(i, len));
      const rep = await r.result();
      expect(rep.bad).toBe(0);
      expect(rep.msgs.map((m) => m.len)).toEqual(SIZES);
      expect(rep.msgs.map((m) => m.fnv)).toEqual(SIZES.map((len, i) => fnv(payload(i, len))));
      expect(rep.msgs.every((m) => m.ok && m.node === side.address && m.port === s.port)).toBe(true);

      // kernel -> tipcjs, by service address
      await guest.waitFor("tipcjs's binding in the kernel", async () =>
        (await guest.nameTable()).some((e) => e.type === ty && e.lower === 2),
      );
      const received = readN(s, SIZES.length);
      const sent = await guestSend(
        guest,
        `--type ${type} --name ${ty} 2 --size ${SIZES.join(",")} --count 5`,
      );
      expect(sent.sent).toBe(SIZES.length);
      const evs = await received;
      evs.forEach((e, i) => {
        expect(e.kind).toBe("message");
        if (e.kind !== "message") return;
        expect(e.source).toEqual({ node: kernel, port: sent.port });
        expect(e.destination).toEqual({ kind: "service", type: ty, instance: 2 });
        expect(e.data.length).toBe(SIZES[i]);
        expect(sameBytes(e.data, payload(i, SIZES[i] as number))).toBe(true);
      });
      s.close();
    }, 240_000);
  }

  it("1b. 10,000 messages each way arrive exactly once and in order per sender", async () => {
    const ty = T + 15;
    const N = 10_000;
    const r = await guestRecv(guest, `--bind ${ty} 1 1 --count ${N} --idle 30000 --timeout 240000`, 1);
    await until("the kernel's binding", () => side.sees(ty, 1, kernel));
    const s = side.socket({ type: "rdm" });
    s.bind({ type: ty, lower: 2 });
    const kernelDone = guest.waitFor("tipcjs's binding in the kernel", async () =>
      (await guest.nameTable()).some((e) => e.type === ty && e.lower === 2),
    );
    for (let i = 0; i < N; i++) await s.sendTo({ type: ty, instance: 1 }, payload(i, 100));
    const rep = await r.result(240_000);
    expect(rep.from).toEqual([
      { sock: 0, node: side.address, port: s.port, count: N, dup: 0, ooo: 0, bad: 0, first: 0, last: N - 1 },
    ]);

    await kernelDone;
    const received = readN(s, N, 240_000);
    const sent = await guestSend(guest, `--name ${ty} 2 --size 100 --count ${N}`, 240_000);
    expect(sent.sent).toBe(N);
    const evs = await received;
    expect(checkStream(evs, { node: kernel, port: sent.port }, 0)).toEqual({ count: N, bad: 0 });
    // and nothing more came (a duplicate would queue behind the N)
    expect(s.tryReceive()).toBeUndefined();
    s.close();
  }, 600_000);

  it("2. anycast {T, i} bound on both: 2,000 from each side shared by the kernel's round-robin, none lost", async () => {
    const ty = T + 20;
    const N = 2_000;
    // the kernel's socket takes one half of the kernel's sends and one half of tipcjs's
    const r = await guestRecv(guest, `--bind ${ty} 7 7 --count ${N} --idle 30000 --timeout 240000`, 1);
    const kPort = r.ports[0]?.port as number;
    const s = side.socket({ type: "rdm" });
    s.bind({ type: ty, lower: 7 });
    await until("the kernel's binding", () => side.sees(ty, 7, kernel));
    await guest.waitFor("tipcjs's binding in the kernel", async () =>
      (await guest.nameTable()).some((e) => e.type === ty && e.lower === 7 && e.port === s.port),
    );
    // Kernel rule (name_table.c tipc_nametbl_lookup_anycast, lookup domain 0, identity-based
    // addressing): round-robin over all bindings of the instance, the node's own socket and the
    // remote one alike; so strictly alternating, 1,000 each. tipcjs's lookup is the same rule.
    const received = readN(s, N, 240_000);
    const kSent = await guestSend(guest, `--name ${ty} 7 --size 100 --count ${N}`, 240_000);
    expect(kSent.sent).toBe(N);
    const sender = side.socket({ type: "rdm" });
    for (let i = 0; i < N; i++) await sender.sendTo({ type: ty, instance: 7 }, payload(i, 100));
    const evs = await received;
    const fromKernel = evs.filter((e) => e.kind === "message" && e.source.port === kSent.port);
    const fromTipcjs = evs.filter((e) => e.kind === "message" && e.source.port === sender.port);
    expect(fromKernel.length).toBe(N / 2);
    expect(fromTipcjs.length).toBe(N / 2);
    const parity = (es: DgramEvent[]) =>
      new Set(es.map((e) => (e.kind === "message" ? seqOf(e.data) % 2 : -1)));
    expect(parity(fromKernel).size).toBe(1);
    expect(parity(fromTipcjs).size).toBe(1);
    const rep = await r.result(240_000);
    const kf = rep.from.find((f) => f.node === kernel && f.port === kSent.port);
    const tf = rep.from.find((f) => f.node === side.address && f.port === sender.port);
    expect(kf?.count).toBe(N / 2);
    expect(tf?.count).toBe(N / 2);
    expect(rep.bad).toBe(0);
    // every other message, the other parity than the ones tipcjs's socket got: none lost
    const p = [...parity(fromKernel)][0] as number;
    expect([kf?.first, kf?.last].map((q) => (q as number) % 2)).toEqual([1 - p, 1 - p]);
    expect(kf?.dup).toBe(0);
    expect(tf?.dup).toBe(0);
    expect(kPort).toBeGreaterThan(0);
    s.close();
    sender.close();
  }, 600_000);

  it("3a. a kernel multicast to {T, 0, 99} reaches every tipcjs socket bound in that range once, and its own", async () => {
    const ty = T + 30;
    const N = 500;
    const ranges = [
      [0, 9],
      [50, 50],
      [90, 99],
    ] as const;
    const socks = ranges.map(([lower, upper]) => {
      const s = side.socket({ type: "rdm" });
      s.bind({ type: ty, lower, upper });
      return s;
    });
    const outside = side.socket({ type: "rdm" });
    outside.bind({ type: ty, lower: 100, upper: 110 });
    // and a kernel socket in the range: the sender's own node gets its copy too
    const local = await guestRecv(guest, `--bind ${ty} 20 20 --count ${N} --idle 30000 --timeout 240000`, 1);
    await guest.waitFor(
      "tipcjs's bindings in the kernel",
      async () => (await guest.nameTable()).filter((e) => e.type === ty).length === 5,
    );
    const received = socks.map((s) => readN(s, N, 240_000));
    const sent = await guestSend(guest, `--mcast ${ty} 0 99 --size 200 --count ${N}`, 240_000);
    expect(sent.sent).toBe(N);
    const all = await Promise.all(received);
    expect((await local.result(240_000)).from).toEqual([
      { sock: 0, node: kernel, port: sent.port, count: N, dup: 0, ooo: 0, bad: 0, first: 0, last: N - 1 },
    ]);
    for (const evs of all) {
      expect(checkStream(evs, { node: kernel, port: sent.port }, 0)).toEqual({ count: N, bad: 0 });
      for (const e of evs)
        expect(e.kind === "message" && e.destination).toEqual({
          kind: "range",
          type: ty,
          lower: 0,
          upper: 99,
        });
    }
    expect(outside.tryReceive()).toBeUndefined();
    for (const s of [...socks, outside]) s.close();
  }, 600_000);

  async function multicastToKernel(ty: number, N: number, send: (s: TipcSocket, i: number) => Promise<void>) {
    const r = await guestRecv(
      guest,
      `--bind ${ty} 0 9 --bind ${ty} 50 50 --bind ${ty} 90 99 --count ${3 * N} --idle 30000 --timeout 300000 --show-ooo 20`,
      3,
    );
    await until("the kernel's bindings", () => [0, 50, 90].every((i) => side.sees(ty, i, kernel)));
    const s = side.socket({ type: "rdm" });
    for (let i = 0; i < N; i++) await send(s, i);
    const rep = await r.result(300_000);
    expect(rep.from.map((f) => ({ ...f, sock: 0 }))).toEqual(
      [0, 1, 2].map(() => ({
        sock: 0,
        node: side.address,
        port: s.port,
        count: N,
        dup: 0,
        ooo: 0,
        bad: 0,
        first: 0,
        last: N - 1,
      })),
    );
    expect(new Set(rep.from.map((f) => f.sock))).toEqual(new Set([0, 1, 2]));
    s.close();
  }

  it("3b. tipcjs multicast reaches every kernel socket in range once, on the broadcast link and on replicast", async () => {
    const N = 1_000;
    const range = (ty: number) => ({ type: ty, lower: 0, upper: 99 });
    let before = side.stats().sockets.sent;
    await multicastToKernel(T + 31, N, (s, i) => {
      if (i === 0) s.setMulticastMethod("broadcast");
      return s.sendToRange(range(T + 31), payload(i, 300));
    });
    let after = side.stats().sockets.sent;
    expect(after.broadcast - before.broadcast).toBe(N);
    expect(after.replicast - before.replicast).toBe(0);

    // replicast: the kernel's rule with one destination node (dests 1 <= bc_threshold 1) picks it;
    // a new socket's method starts as broadcast, so its first send switches, with a header-only
    // SYN twin on the broadcast link (the kernel does the same, see 3a)
    before = after;
    await multicastToKernel(T + 32, N, (s, i) => s.sendToRange(range(T + 32), payload(i, 300)));
    after = side.stats().sockets.sent;
    expect(after.replicast - before.replicast).toBe(N);
    expect(after.broadcast - before.broadcast).toBe(1);
    expect(after.synTwins - before.synTwins).toBe(1);
  }, 900_000);

  it("3c. order is kept across multicast method switches during a stream of 5,000 messages", async () => {
    // The method switches by the node's rule (`tipc link set broadcast`, bcast.c force_bcast),
    // which sends the SYN twin on the old path; a socket option switch (TIPC_MCAST_BROADCAST /
    // REPLICAST) sends none, in the kernel as here, and may reorder.
    const N = 5_000;
    const SWITCH = 250;
    const ty = T + 33;
    const before = side.stats().sockets.sent;
    try {
      await multicastToKernel(ty, N, (s, i) => {
        if (i % SWITCH === 0) side.setBroadcastMode((i / SWITCH) % 2 === 0 ? "broadcast" : "replicast");
        return s.sendToRange({ type: ty, lower: 0, upper: 99 }, payload(i, 300));
      });
    } finally {
      side.setBroadcastMode("autoselect");
    }
    const after = side.stats().sockets.sent;
    const switches = N / SWITCH - 1; // the first send stays on broadcast, where a socket starts
    const toReplicast = Math.ceil(switches / 2);
    // each switch sent its twin on the old path
    expect(after.synTwins - before.synTwins).toBe(switches);
    expect(after.broadcast - before.broadcast).toBe(N / 2 + toReplicast);
    expect(after.replicast - before.replicast).toBe(N / 2 + (switches - toReplicast));
  }, 900_000);

  it("4. rejection both ways: NO_PORT through TIPC_ERRINFO in the kernel, a returned event in tipcjs", async () => {
    const ty = T + 40;
    // kernel -> a tipcjs port that closed, TIPC_DEST_DROPPABLE cleared
    const gone = side.socket({ type: "rdm" });
    const port = gone.port;
    gone.close();
    const k = await guestSend(
      guest,
      `--id ${side.address} ${port} --droppable 0 --size 2000 --count 3 --returns 3000`,
    );
    expect(k.sent).toBe(3);
    expect(k.returned).toEqual([0, 1, 2].map((seq) => ({ err: 2, len: 1024, seq }))); // TIPC_ERR_NO_PORT
    // the default (dest-droppable) gets nothing back
    const kd = await guestSend(guest, `--id ${side.address} ${port} --size 2000 --count 1 --returns 1500`);
    expect(kd.returned).toEqual([]);

    // tipcjs -> a kernel port that closed (a tipc-dgram recv that ended)
    const r = await guestRecv(guest, `--bind ${ty} 1 1 --timeout 1`, 1);
    const kPort = r.ports[0]?.port as number;
    await r.result(30_000);
    const s = side.socket({ type: "rdm", destDroppable: false });
    const returnedBefore = side.stats().sockets.received.returned;
    await s.sendToSocket({ node: kernel, port: kPort }, payload(7, 3000));
    const [ev] = await readN(s, 1, 30_000);
    expect(ev?.kind).toBe("returned");
    if (ev?.kind === "returned") {
      expect(ev.error).toBe("NO_PORT");
      expect(ev.errorCode).toBe(2);
      expect(ev.rejectedBy).toEqual({ node: kernel, port: kPort });
      expect(ev.destination).toEqual({ kind: "socket" });
      expect(sameBytes(ev.data, payload(7, 3000).subarray(0, 1024))).toBe(true);
    }
    expect(side.stats().sockets.received.returned - returnedBefore).toBe(1);
    s.close();
  }, 300_000);

  it("4b. a lookup at the destination node (destport 0): delivered by its second lookup, or NO_NAME back", async () => {
    const ty = T + 45;
    // tipcjs -> the kernel's {ty, 1} with lookup domain = the kernel: tipcjs sends NAMED_MSG with
    // destport 0 and the kernel looks the name up (tipc_msg_lookup_dest)
    const r = await guestRecv(guest, `--bind ${ty} 1 1 --count 3 --show 3`, 1);
    const s = side.socket({ type: "rdm", destDroppable: false });
    s.bind({ type: ty, lower: 2 });
    for (let i = 0; i < 3; i++) await s.sendTo({ type: ty, instance: 1, node: kernel }, payload(i, 700));
    const rep = await r.result(60_000);
    expect(rep.from).toEqual([
      { sock: 0, node: side.address, port: s.port, count: 3, dup: 0, ooo: 0, bad: 0, first: 0, last: 2 },
    ]);
    // no such name on the kernel: it comes back NO_NAME
    await s.sendTo({ type: ty, instance: 9, node: kernel }, payload(5, 700));
    const [ev] = await readN(s, 1, 30_000);
    expect(ev?.kind === "returned" && [ev.error, ev.errorCode, ev.destination]).toEqual([
      "NO_NAME",
      1,
      { kind: "service", type: ty, instance: 9 },
    ]);

    // the kernel -> tipcjs's {ty, 2} with lookup domain = the tipcjs node: tipcjs's second lookup
    await guest.waitFor("tipcjs's binding in the kernel", async () =>
      (await guest.nameTable()).some((e) => e.type === ty && e.lower === 2),
    );
    const received = readN(s, 3, 60_000);
    const k = await guestSend(guest, `--name ${ty} 2 ${side.address} --count 3 --size 700`);
    expect(k.sent).toBe(3);
    expect(checkStream(await received, { node: kernel, port: k.port }, 0)).toEqual({ count: 3, bad: 0 });
    // and a name tipcjs does not have comes back to the kernel NO_NAME (TIPC_ERR_NO_NAME 1)
    const kn = await guestSend(
      guest,
      `--name ${ty} 9 ${side.address} --droppable 0 --count 1 --size 700 --returns 3000`,
    );
    expect(kn.returned).toEqual([{ err: 1, len: 700, seq: 0 }]);
    s.close();
  }, 300_000);

  it("5. node loss: sends to the lost node fail (NO_NODE in tipcjs, EHOSTUNREACH in the kernel), none delivered twice after it returns", async () => {
    const ty = T + 50;
    const N = 300;
    const r = await guestRecv(guest, `--bind ${ty} 2 2 --count ${2 * N} --idle 120000 --timeout 240000`, 1);
    const kPort = r.ports[0]?.port as number;
    const s = side.socket({ type: "rdm" });
    s.bind({ type: ty, lower: 1 });
    await until("the kernel's binding", () => side.sees(ty, 2, kernel));
    for (let i = 0; i < N; i++) await s.sendToSocket({ node: kernel, port: kPort }, payload(i, 500));
    await until("the link's queue acknowledged", () => host.node.links().every((l) => l.transmitQueue === 0));

    await guest.disableBearer();
    await until("the kernel node down in tipcjs", () => side.nodesUp() === 0, 30_000);
    const err = await s.sendToSocket({ node: kernel, port: kPort }, payload(N, 500)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNodeError(err) && err.code).toBe("NO_NODE");
    // the kernel: its sendto() to tipcjs's socket fails while tipcjs is unreachable
    const k = await guestSend(guest, `--id ${side.address} ${s.port} --count 3 --gap-errors`);
    expect(k.sent).toBe(0);
    expect(k.senderr.map((e) => e.errno)).toEqual([113, 113, 113]); // EHOSTUNREACH

    await guest.enableBearer();
    await until("the kernel node back in tipcjs", () => side.nodesUp() === 1, 60_000);
    await until("the kernel's binding again", () => side.sees(ty, 2, kernel));
    for (let i = N; i < 2 * N; i++) await s.sendToSocket({ node: kernel, port: kPort }, payload(i, 500));
    const rep = await r.result(240_000);
    // every message once, in order: nothing from before the loss came again
    expect(rep.from).toEqual([
      {
        sock: 0,
        node: side.address,
        port: s.port,
        count: 2 * N,
        dup: 0,
        ooo: 0,
        bad: 0,
        first: 0,
        last: 2 * N - 1,
      },
    ]);
    // and the kernel's messages after the return reach tipcjs once
    await guest.waitFor("tipcjs's binding in the kernel", async () =>
      (await guest.nameTable()).some((e) => e.type === ty && e.lower === 1),
    );
    const received = readN(s, N, 120_000);
    const k2 = await guestSend(guest, `--id ${side.address} ${s.port} --count ${N} --size 500`);
    expect(k2.sent).toBe(N);
    expect(checkStream(await received, { node: kernel, port: k2.port }, 0)).toEqual({ count: N, bad: 0 });
    expect(s.tryReceive()).toBeUndefined();
    s.close();
  }, 600_000);

  it("7. tshark decodes every datagram of the run with no malformed mark", async () => {
    pcap.close();
    const report = await tsharkDecode(pcapPath, [hostPort]);
    expect(report.frames.length).toBeGreaterThan(1000);
    // data messages (users 0-3), alone, in bundles or as fragments
    const isData = (m: TipcMessage): boolean =>
      m.user === "MSG_BUNDLER"
        ? m.messages.some((x) => isData(decodeMessage(x)))
        : m.user === "MSG_FRAGMENTER" || "payload" in m;
    const data = report.frames.filter((f) => isData(decodeMessage(Buffer.from(f.payload, "hex"))));
    expect(data.length).toBeGreaterThan(1_000);
    expect(report.notTipc).toEqual([]);
    expect(report.malformed).toEqual([]);

    // test 3 on the wire: multicast data on the broadcast link (non_seq) and on the unicast
    // links, from tipcjs; from the kernel by replicast only, with its SYN twin on the broadcast link
    const mcast = (fromTipcjs: boolean) => {
      const seen = { broadcast: 0, unicast: 0, broadcastTwins: 0 };
      const visit = (m: TipcMessage, nonSeq: boolean) => {
        if (m.user === "MSG_BUNDLER") for (const x of m.messages) visit(decodeMessage(x), nonSeq);
        else if ("payload" in m && m.type === "MCAST_MSG") {
          if (!nonSeq) seen.unicast++;
          else if (m.syn && m.errorCode === 2 && m.payload.length === 0) seen.broadcastTwins++;
          else seen.broadcast++;
        }
      };
      for (const f of report.frames) {
        if ((f.srcPort === hostPort) !== fromTipcjs) continue;
        const m = decodeMessage(Buffer.from(f.payload, "hex"));
        visit(m, "nonSeq" in m && m.nonSeq === true);
      }
      return seen;
    };
    const t = mcast(true);
    expect(t.broadcast).toBeGreaterThanOrEqual(1_000 + 2_500);
    expect(t.unicast).toBeGreaterThanOrEqual(1_000 + 2_500);
    const k = mcast(false);
    expect(k.broadcast).toBe(0);
    expect(k.unicast).toBeGreaterThanOrEqual(500);
    expect(k.broadcastTwins).toBe(1);
  }, 300_000);
});
