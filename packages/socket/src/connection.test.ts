/**
 * Connections (issue 17), sans-I/O: two socket layers wired by an in-test FIFO, virtual time.
 * Each rule of socket.c's connection code has its test: setup, refusal, OVERLOAD retry, the
 * connect timeout, message boundaries, block and legacy flow control, Nagle, probes, teardown.
 */
import {
  type ConnManagerFields,
  connManagerFields,
  connManagerMessage,
  type DataMessage,
  decodeMessage,
  encodeMessage,
  type OpaqueMessage,
  TIPC_BLOCK_FLOWCTL,
  TIPC_NAGLE,
  TIPC_NODE_CAPABILITIES,
  TIPC_SYN_BIT,
} from "@tipcjs/codec";
import { NameTable } from "@tipcjs/name-table";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONN_PROBING_INTV, connectRetryDelay, NAGLE_MAX_BACKLOG_BLOCKS, nagleAppend } from "./connection.js";
import { isSocketError } from "./errors.js";
import { createSocketLayer, type SocketLayer } from "./socket-layer.js";
import type { ConnectionItem, SendResult, SocketLayerOptions, SocketOutput } from "./types.js";

const A = 0x1001;
const B = 0x2002;
const SVC = { type: 1000, instance: 7 };

interface Packet {
  from: number;
  to: number;
  bytes: Uint8Array;
}

class Pair {
  readonly layers = new Map<number, SocketLayer>();
  readonly tables = new Map<number, NameTable>();
  readonly wire: Packet[] = [];
  readonly events: { at: number; out: SocketOutput }[] = [];
  /** drop packets for which this returns true (a lossy test path) */
  drop: (p: Packet) => boolean = () => false;

  constructor(caps: { [A]?: number; [B]?: number } = {}, over: Partial<SocketLayerOptions> = {}) {
    let seed = 1;
    for (const a of [A, B]) {
      const table = new NameTable({ ownNode: a });
      this.tables.set(a, table);
      this.layers.set(
        a,
        createSocketLayer({ ownNode: a, table, random: () => (seed++ * 0.618033) % 1, ...over }),
      );
    }
    // Each layer learns the other's capabilities, as the link reports them at node up.
    this.at(A).nodeUp(B, caps[B] ?? TIPC_NODE_CAPABILITIES);
    this.at(B).nodeUp(A, caps[A] ?? TIPC_NODE_CAPABILITIES);
  }

  at(a: number): SocketLayer {
    return this.layers.get(a) as SocketLayer;
  }

  apply(from: number, outs: SocketOutput[]): void {
    for (const o of outs) {
      if (o.kind === "transmit") this.wire.push({ from, to: o.node, bytes: o.message });
      else if (o.kind === "publish") for (const t of this.tables.values()) t.insert(o.binding);
      else if (o.kind === "withdraw") for (const t of this.tables.values()) t.remove(o.binding);
      else this.events.push({ at: from, out: o });
    }
  }

  send(from: number, r: SendResult): void {
    if (r.status !== "sent") throw new Error(`blocked: ${JSON.stringify(r)}`);
    this.apply(from, r.outputs);
  }

  run(): void {
    for (let p = this.wire.shift(); p !== undefined; p = this.wire.shift()) {
      if (this.drop(p)) continue;
      this.apply(p.to, this.at(p.to).receive(p.bytes));
    }
  }

  read(node: number, port: number): ConnectionItem | undefined {
    const r = this.at(node).readConnection(port);
    this.apply(node, r.outputs);
    return r.item;
  }

  kinds(node: number, port: number): string[] {
    return this.events
      .filter((e) => e.at === node && "port" in e.out && e.out.port === port)
      .map((e) => e.out.kind);
  }

  /** A listener on SVC at B, a client at A connected to it, both established. */
  connected(type: "seqpacket" | "stream" = "seqpacket", data?: Uint8Array) {
    const server = this.at(B).open({ type });
    this.apply(B, this.at(B).bind(server, { type: SVC.type, lower: SVC.instance, upper: SVC.instance }));
    this.at(B).listen(server);
    const client = this.at(A).open({ type });
    this.send(A, this.at(A).connect(client, SVC, 0, data));
    this.run();
    const acc = this.at(B).acceptConnection(server, 0);
    if (acc === undefined) throw new Error("no SYN");
    this.apply(B, acc.outputs);
    this.run();
    return { server, client, accepted: acc.port };
  }
}

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function dataOf(i: ConnectionItem | undefined): Uint8Array {
  if (i?.kind !== "data") throw new Error(`expected data, got ${JSON.stringify(i)}`);
  return i.data;
}

function cm(p: Packet): ConnManagerFields | undefined {
  const m = decodeMessage(p.bytes);
  return m.user === "CONN_MANAGER" ? connManagerFields(m as OpaqueMessage) : undefined;
}

function expectCode(f: () => unknown, code: string): void {
  try {
    f();
  } catch (e) {
    expect(isSocketError(e) && e.code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe("connection setup", () => {
  it("connect by service: a NAMED SYN, accept answers with an empty 24-byte CONN_MSG", () => {
    const p = new Pair();
    const server = p.at(B).open({ type: "seqpacket" });
    p.apply(B, p.at(B).bind(server, { type: SVC.type, lower: 7, upper: 7 }));
    p.at(B).listen(server);
    const client = p.at(A).open({ type: "seqpacket" });
    p.send(A, p.at(A).connect(client, SVC, 0));
    const syn = decodeMessage((p.wire[0] as Packet).bytes) as DataMessage;
    expect(syn).toMatchObject({
      type: "NAMED_MSG",
      headerSize: 40,
      syn: true,
      destPort: server,
      nameType: 1000,
    });
    expect(syn.destDroppable).toBe(false);
    expect(p.at(A).info(client).connection?.state).toBe("connecting");
    p.run();
    expect(p.at(B).pendingConnections(server)).toBe(1);
    const acc = p.at(B).acceptConnection(server, 0);
    expect(acc).toBeDefined();
    p.apply(B, acc?.outputs ?? []);
    const ack = decodeMessage((p.wire[0] as Packet).bytes) as DataMessage;
    expect(ack).toMatchObject({
      type: "CONN_MSG",
      headerSize: 24,
      syn: false,
      origPort: acc?.port,
      destPort: client,
    });
    expect(ack.payload.length).toBe(0);
    p.run();
    expect(p.at(A).info(client).connection).toMatchObject({
      state: "established",
      peer: { node: B, port: acc?.port },
    });
    expect(p.kinds(A, client)).toContain("connected");
    expect(p.at(B).info(acc?.port as number).connection?.peer).toEqual({ node: A, port: client });
  });

  it("connect by socket address sends a 32-byte DIRECT SYN", () => {
    const p = new Pair();
    const server = p.at(B).open({ type: "stream" });
    p.at(B).listen(server);
    const client = p.at(A).open({ type: "stream" });
    p.send(A, p.at(A).connect(client, { node: B, port: server }, 0));
    expect(decodeMessage((p.wire[0] as Packet).bytes)).toMatchObject({
      type: "DIRECT_MSG",
      headerSize: 32,
      syn: true,
    });
  });

  it("a seqpacket SYN may carry data: the accepted socket reads it first; a stream SYN may not", () => {
    const p = new Pair();
    const { client, accepted } = p.connected("seqpacket", bytes(100));
    expect(dataOf(p.read(B, accepted))).toEqual(bytes(100));
    expect(p.at(A).info(client).connection?.state).toBe("established");
    const s = p.at(A).open({ type: "stream" });
    expectCode(() => p.at(A).connect(s, SVC, 0, bytes(1)), "BAD_ARGUMENT");
  });

  it("a SYN to a port with no socket comes back rejected: REFUSED (ECONNREFUSED)", () => {
    const p = new Pair();
    const client = p.at(A).open({ type: "seqpacket" });
    p.send(A, p.at(A).connect(client, { node: B, port: 4242 }, 0));
    p.run();
    expect(p.at(A).info(client).connection).toMatchObject({
      state: "disconnecting",
      end: { reason: "REFUSED", errorCode: 2 },
    });
    expect(p.kinds(A, client)).toContain("disconnected");
    const item = p.read(A, client);
    expect(item).toMatchObject({ kind: "end", end: { reason: "REFUSED" } });
    expectCode(() => p.at(A).sendConnection(client, bytes(1)), "CONNECTION_ENDED");
  });

  it("closing a listener refuses the SYNs it holds", () => {
    const p = new Pair();
    const server = p.at(B).open({ type: "seqpacket" });
    p.at(B).listen(server);
    const client = p.at(A).open({ type: "seqpacket" });
    p.send(A, p.at(A).connect(client, { node: B, port: server }, 0));
    p.run();
    p.apply(B, p.at(B).close(server));
    p.run();
    expect(p.at(A).info(client).connection?.end?.reason).toBe("REFUSED");
  });

  it("a SYN rejected with OVERLOAD is sent again after 100 ms + random % (timeout/4), until the connect timeout", () => {
    const p = new Pair();
    // rcvbuf 1: every SYN overloads the listener's queue.
    const server = p.at(B).open({ type: "seqpacket", rcvbuf: 1 });
    p.at(B).listen(server);
    const client = p.at(A).open({ type: "seqpacket" });
    p.send(A, p.at(A).connect(client, { node: B, port: server }, 0));
    p.run();
    expect(p.at(A).info(client).connection?.state).toBe("connecting");
    const retry = p.at(A).nextDeadline() as number;
    expect(retry).toBeGreaterThanOrEqual(100);
    expect(retry).toBeLessThan(100 + 2000);
    expect(p.at(A).tick(retry - 1)).toEqual([]);
    const outs = p.at(A).tick(retry);
    expect(outs).toHaveLength(1);
    expect(decodeMessage((outs[0] as { message: Uint8Array }).message)).toMatchObject({
      syn: true,
      destPort: server,
    });
    expect(
      p
        .at(A)
        .tick(7999)
        .filter((o) => o.kind === "disconnected"),
    ).toEqual([]);
    const end = p.at(A).tick(8000);
    expect(end).toContainEqual({
      kind: "disconnected",
      port: client,
      end: { reason: "TIMEOUT", errorCode: 0 },
    });
  });

  it("the retry counts from the time the rejection arrived, when receive is given it", () => {
    const p = new Pair();
    const server = p.at(B).open({ type: "seqpacket", rcvbuf: 1 });
    p.at(B).listen(server);
    const client = p.at(A).open({ type: "seqpacket" });
    p.send(A, p.at(A).connect(client, { node: B, port: server }, 0));
    const syn = p.wire.shift() as Packet;
    const back = p.at(B).receive(syn.bytes);
    const rej = back.find((o) => o.kind === "transmit") as { message: Uint8Array };
    p.apply(A, p.at(A).receive(rej.message, 5000));
    const retry = p.at(A).nextDeadline() as number;
    expect(retry).toBeGreaterThanOrEqual(5100);
    expect(retry).toBeLessThan(5100 + 2000);
  });

  it("the retry delay never divides by zero for a connect timeout under 4 ms (CVE-2026-43411)", () => {
    expect(connectRetryDelay(3, 65535)).toBe(100);
    expect(connectRetryDelay(8000, 65535)).toBe((65535 % 2000) + 100);
  });

  it("connect times out after 8 s by default (virtual time) when nothing answers", () => {
    const p = new Pair();
    const client = p.at(A).open({ type: "seqpacket" });
    p.send(A, p.at(A).connect(client, { node: B, port: 99 }, 1000));
    p.wire.length = 0; // the SYN is lost
    expect(p.at(A).nextDeadline()).toBe(9000);
    expect(p.at(A).tick(8999)).toEqual([]);
    expect(p.at(A).tick(9000)).toContainEqual({
      kind: "disconnected",
      port: client,
      end: { reason: "TIMEOUT", errorCode: 0 },
    });
  });

  it("a listener with the SYN bit required drops a non-SYN message (TIPC_SYN_BIT peer)", () => {
    const p = new Pair({ [A]: TIPC_SYN_BIT });
    const server = p.at(B).open({ type: "seqpacket" });
    p.at(B).listen(server);
    const rdm = p.at(A).open({ type: "rdm", destDroppable: false });
    p.send(A, p.at(A).sendToSocket(rdm, { node: B, port: server }, bytes(3)));
    p.run();
    expect(p.at(B).pendingConnections(server)).toBe(0);
    expect(p.at(A).read(rdm)).toMatchObject({ kind: "returned", error: "NO_PORT" });
  });

  it("an accept refused LIMIT (no free socket) keeps the SYN for a later accept", () => {
    const p = new Pair({}, { maxSockets: 2 });
    const server = p.at(B).open({ type: "seqpacket" });
    p.at(B).listen(server);
    const other = p.at(B).open({ type: "rdm" });
    const client = p.at(A).open({ type: "seqpacket" });
    p.send(A, p.at(A).connect(client, { node: B, port: server }, 0));
    p.run();
    expectCode(() => p.at(B).acceptConnection(server, 0), "LIMIT");
    expect(p.at(B).pendingConnections(server)).toBe(1);
    p.apply(B, p.at(B).close(other));
    expect(p.at(B).acceptConnection(server, 0)).toBeDefined();
  });

  it("refuses calls in the wrong state", () => {
    const p = new Pair();
    const { client, server } = p.connected();
    expectCode(() => p.at(A).connect(client, SVC, 0), "BAD_STATE");
    expectCode(() => p.at(A).listen(client), "BAD_STATE");
    expectCode(() => p.at(B).sendConnection(server, bytes(1)), "NOT_CONNECTED");
    expectCode(() => p.at(B).readConnection(server), "BAD_STATE");
    expectCode(() => p.at(A).read(client), "NOT_SUPPORTED");
    const rdm = p.at(A).open({ type: "rdm" });
    expectCode(() => p.at(A).listen(rdm), "NOT_SUPPORTED");
  });
});

describe("connection data", () => {
  it("CONN_MSG with a 24-byte header; seqpacket keeps message boundaries; 66,000 bytes at most", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    for (const n of [1, 66_000, 5]) p.send(A, p.at(A).sendConnection(client, bytes(n, n)));
    const m = decodeMessage((p.wire[0] as Packet).bytes) as DataMessage;
    expect(m).toMatchObject({ type: "CONN_MSG", headerSize: 24, destPort: accepted, origPort: client });
    p.run();
    for (const n of [1, 66_000, 5]) expect(dataOf(p.read(B, accepted))).toEqual(bytes(n, n));
    expect(p.read(B, accepted)).toBeUndefined();
    expectCode(() => p.at(A).sendConnection(client, bytes(66_001)), "MESSAGE_TOO_LARGE");
  });

  it("a connection inside one node works without a link", () => {
    const p = new Pair();
    const server = p.at(A).open({ type: "stream" });
    p.at(A).listen(server);
    const client = p.at(A).open({ type: "stream" });
    p.send(A, p.at(A).connect(client, { node: A, port: server }, 0));
    const acc = p.at(A).acceptConnection(server, 0);
    p.apply(A, acc?.outputs ?? []);
    expect(p.at(A).info(client).connection?.state).toBe("established");
    p.send(A, p.at(A).sendConnection(client, bytes(10)));
    expect(dataOf(p.read(A, acc?.port as number))).toEqual(bytes(10));
    expect(p.wire).toEqual([]);
  });
});

describe("flow control", () => {
  it("blocks (TIPC_BLOCK_FLOWCTL): 128-block window, CONN_ACK each quarter with conn_ack and adv_win", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    const info = () => p.at(A).info(client).connection;
    expect(info()).toMatchObject({ sndWin: 128, sntUnacked: 0 });
    // 1000 bytes + 24 = 1024: two blocks each; the window closes past 128 blocks.
    let sentCount = 0;
    for (;;) {
      const r = p.at(A).sendConnection(client, bytes(1000, sentCount));
      if (r.status === "blocked") break;
      p.send(A, r);
      sentCount++;
    }
    expect(sentCount).toBe(65);
    expect(info()?.sntUnacked).toBe(130);
    p.run();
    // Read 15 messages (30 blocks): no ack yet; the 16th makes 32 = 128/4.
    for (let i = 0; i < 15; i++) dataOf(p.read(B, accepted));
    expect(p.wire).toEqual([]);
    dataOf(p.read(B, accepted));
    const ack = cm(p.wire[0] as Packet);
    expect(ack).toMatchObject({ type: "CONN_ACK", connAck: 32, advWin: (2 * 1024 * 1024) / 1024 / 4 });
    p.events.length = 0;
    p.run();
    expect(info()).toMatchObject({ sntUnacked: 98, sndWin: 512 });
    expect(p.kinds(A, client)).toEqual(["wakeup"]);
    p.send(A, p.at(A).sendConnection(client, bytes(1)));
  });

  it("messages (legacy peer without TIPC_BLOCK_FLOWCTL): a 512-message window, acks each 128", () => {
    const legacy = TIPC_NODE_CAPABILITIES & ~TIPC_BLOCK_FLOWCTL;
    const p = new Pair({ [A]: legacy, [B]: legacy });
    const { client } = p.connected();
    expect(p.at(A).info(client).connection).toMatchObject({ sndWin: 512, rcvWin: 512 });
    let n = 0;
    while (p.at(A).sendConnection(client, bytes(10)).status === "sent") n++;
    expect(n).toBe(513);
    // The receiver acknowledges each 128 messages read, with no adv_win.
    const direct = new Pair({ [A]: legacy, [B]: legacy });
    const c2 = direct.connected();
    for (let i = 0; i < 200; i++) direct.send(A, direct.at(A).sendConnection(c2.client, bytes(10)));
    direct.run();
    for (let i = 0; i < 127; i++) dataOf(direct.read(B, c2.accepted));
    expect(direct.wire).toEqual([]);
    dataOf(direct.read(B, c2.accepted));
    expect(cm(direct.wire[0] as Packet)).toMatchObject({ type: "CONN_ACK", connAck: 128, advWin: 0 });
    expect(direct.at(B).info(c2.accepted).connection?.rcvUnacked).toBe(0);
  });

  it("a reader that stops reading stops the writer within one window: the queue stays bounded", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    let blocked = 0;
    for (let i = 0; i < 2000; i++) {
      const r = p.at(A).sendConnection(client, bytes(60_000));
      if (r.status === "blocked") {
        blocked++;
        continue;
      }
      p.send(A, r);
      p.run();
    }
    expect(blocked).toBeGreaterThan(0);
    // 128 blocks of window, plus the one message that crosses it.
    expect(p.at(B).info(accepted).queuedBytes).toBeLessThanOrEqual(128 * 1024 + 60_024 + 60_024);
  });
});

describe("Nagle (stream, peer with TIPC_NAGLE)", () => {
  it("after four one-way writes, small writes are bundled; ack_required brings a CONN_ACK with nagle_ack", () => {
    const p = new Pair();
    const { client, accepted } = p.connected("stream");
    expect(p.at(A).info(client).connection?.maxNagle).toBe(1500);
    const writes = Array.from({ length: 10 }, (_, i) => bytes(10, i));
    // Writes 1-4: one message each; write 5: appended, sent with ack_required.
    for (let i = 0; i < 5; i++) p.send(A, p.at(A).sendConnection(client, writes[i] as Uint8Array));
    expect(p.wire).toHaveLength(5);
    const fifth = decodeMessage((p.wire[4] as Packet).bytes) as DataMessage;
    expect(fifth.srcDroppable).toBe(true); // ack_required
    expect((decodeMessage((p.wire[3] as Packet).bytes) as DataMessage).srcDroppable).toBe(false);
    // Writes 6-10 wait for the ack.
    for (let i = 5; i < 10; i++) p.send(A, p.at(A).sendConnection(client, writes[i] as Uint8Array));
    expect(p.wire).toHaveLength(5);
    expect(p.at(A).info(client).connection?.heldMessages).toBe(1);
    // Deliver: B answers the ack_required with CONN_ACK nagle_ack; A sends the bundle.
    for (let i = 0; i < 5; i++) {
      const pk = p.wire.shift() as Packet;
      p.apply(B, p.at(B).receive(pk.bytes));
    }
    const ack = cm(p.wire[0] as Packet);
    expect(ack).toMatchObject({ type: "CONN_ACK", nagleAck: true });
    p.run();
    expect(p.at(A).info(client).connection?.heldMessages).toBe(0);
    const got: number[] = [];
    for (let i = p.read(B, accepted); i?.kind === "data"; i = p.read(B, accepted)) got.push(...i.data);
    expect(Uint8Array.from(got)).toEqual(Uint8Array.from(writes.flatMap((w) => [...w])));
  });

  it("a nagle_ack with nothing bundled meanwhile is a bad Nagle: the one-way count restarts and the start doubles", () => {
    const p = new Pair();
    const { client } = p.connected("stream");
    const ackRequired = (pk: Packet) => (decodeMessage(pk.bytes) as DataMessage).srcDroppable;
    for (let i = 0; i < 5; i++) p.send(A, p.at(A).sendConnection(client, bytes(10, i)));
    expect(p.wire.map(ackRequired)).toEqual([false, false, false, false, true]);
    // B answers at once with the nagle_ack; A had nothing to bundle in between.
    p.run();
    // Now eight writes (nagle_start 4 -> 8) go out one by one before the next ack_required.
    for (let i = 0; i < 9; i++) p.send(A, p.at(A).sendConnection(client, bytes(10, i)));
    expect(p.wire.map(ackRequired)).toEqual([false, false, false, false, false, false, false, false, true]);
  });

  it("not with TIPC_NODELAY, not on seqpacket, not to a peer without TIPC_NAGLE", () => {
    const p = new Pair();
    const s = p.at(A).open({ type: "stream", nodelay: true });
    expect(p.at(A).info(s).connection?.maxNagle).toBe(0);
    const { client } = p.connected("seqpacket");
    expect(p.at(A).info(client).connection?.maxNagle).toBe(0);
    const q = new Pair({ [B]: TIPC_NODE_CAPABILITIES & ~TIPC_NAGLE });
    expect(q.at(A).info(q.connected("stream").client).connection?.maxNagle).toBe(0);
  });

  it("tipc_msg_append fills the tail buffer up to the size, then starts a new one", () => {
    const header = { payload: new Uint8Array(0) } as DataMessage;
    const txq: DataMessage[] = [];
    expect(nagleAppend(txq, header, bytes(100), 1500)).toBe(1);
    // 124 -> 1500 bytes crosses into a second block (+1); the rest starts a new buffer (+1).
    expect(nagleAppend(txq, header, bytes(2000), 1500)).toBe(2);
    expect(txq.map((m) => m.payload.length)).toEqual([1476, 624]);
  });
});

describe("CONN_MANAGER probes", () => {
  it("probes each interval; the peer replies; an unanswered probe aborts at the next", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    expect(p.at(A).nextDeadline()).toBe(CONN_PROBING_INTV);
    p.apply(A, p.at(A).tick(CONN_PROBING_INTV));
    const probe = cm(p.wire[0] as Packet);
    expect(probe).toMatchObject({ type: "CONN_PROBE", origPort: client, destPort: accepted });
    expect((p.wire[0] as Packet).bytes.length).toBe(40);
    p.run();
    // B replied, A took it: the next tick probes again rather than aborting.
    p.apply(A, p.at(A).tick(2 * CONN_PROBING_INTV));
    expect(cm(p.wire[0] as Packet)?.type).toBe("CONN_PROBE");
    p.drop = (pk) => pk.from === B;
    p.run();
    const outs = p.at(A).tick(3 * CONN_PROBING_INTV);
    expect(outs).toContainEqual({
      kind: "disconnected",
      port: client,
      end: { reason: "ABORTED", errorCode: 0 },
    });
    expect(p.read(A, client)).toMatchObject({ kind: "end", end: { reason: "ABORTED" } });
  });

  it("a probe to a closed port comes back NO_PORT: the prober sees a reset", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    p.drop = () => true;
    p.apply(B, p.at(B).close(accepted)); // the FIN is lost
    p.run();
    p.drop = () => false;
    p.apply(A, p.at(A).tick(CONN_PROBING_INTV));
    p.run();
    expect(p.at(A).info(client).connection?.end).toEqual({ reason: "RESET", errorCode: 2 });
  });

  it("CONN_MANAGER from a socket other than the peer is a counted drop", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    p.apply(B, p.at(B).tick(CONN_PROBING_INTV));
    const pk = p.wire.shift() as Packet;
    new DataView(pk.bytes.buffer, pk.bytes.byteOffset).setUint32(16, accepted + 1); // origport
    p.apply(A, p.at(A).receive(pk.bytes));
    expect(p.at(A).stats().drops["conn-not-peer"]).toBe(1);
    expect(p.at(A).info(client).connection?.state).toBe("established");
  });
});

describe("teardown: each end shows its own code", () => {
  it("shutdown: TIPC_CONN_SHUTDOWN at CRITICAL; the reader gets its data, then end of stream", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    p.send(A, p.at(A).sendConnection(client, bytes(50)));
    p.apply(A, p.at(A).shutdown(client));
    const fin = decodeMessage((p.wire[1] as Packet).bytes) as DataMessage;
    expect(fin).toMatchObject({ type: "CONN_MSG", user: "CRITICAL_IMPORTANCE", errorCode: 5 });
    p.run();
    expect(dataOf(p.read(B, accepted))).toEqual(bytes(50));
    expect(p.read(B, accepted)).toMatchObject({ kind: "end", end: { reason: "SHUTDOWN", errorCode: 5 } });
    expect(p.read(B, accepted)).toMatchObject({ kind: "end" });
    expect(p.kinds(B, accepted)).toContain("disconnected");
    expectCode(() => p.at(B).sendConnection(accepted, bytes(1)), "CONNECTION_ENDED");
  });

  it("close: TIPC_ERR_NO_PORT; the peer sees a reset", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    p.apply(A, p.at(A).close(client));
    p.run();
    expect(p.read(B, accepted)).toMatchObject({ kind: "end", end: { reason: "RESET", errorCode: 2 } });
  });

  it("close with unread data returns the first message to the peer with the error", () => {
    const p = new Pair();
    const { client, accepted } = p.connected();
    p.send(B, p.at(B).sendConnection(accepted, bytes(20)));
    p.run();
    p.apply(A, p.at(A).close(client));
    p.run();
    const item = p.read(B, accepted);
    expect(item).toMatchObject({ kind: "end", end: { reason: "RESET", errorCode: 2 } });
    expect(item?.kind === "end" && item.returnedData).toEqual(bytes(20));
  });

  it("node loss: every connection to the node ends with NO_NODE", () => {
    const p = new Pair();
    const one = p.connected();
    const server2 = p.at(B).open({ type: "stream" });
    p.at(B).listen(server2);
    const c2 = p.at(A).open({ type: "stream" });
    p.send(A, p.at(A).connect(c2, { node: B, port: server2 }, 0));
    p.run();
    p.apply(B, p.at(B).acceptConnection(server2, 0)?.outputs ?? []);
    p.run();
    const outs = p.at(A).nodeDown(B);
    p.apply(A, outs);
    for (const port of [one.client, c2]) {
      expect(outs).toContainEqual({ kind: "disconnected", port, end: { reason: "NO_NODE", errorCode: 3 } });
      expect(p.read(A, port)).toMatchObject({ kind: "end", end: { reason: "NO_NODE", errorCode: 3 } });
    }
  });
});

describe("hostile input to connection sockets", () => {
  it("any CONN_MSG or CONN_MANAGER fields: no throw, bounded queues, counters never negative", () => {
    const field = fc.record({
      manager: fc.boolean(),
      type: fc.integer({ min: 0, max: 3 }),
      errorCode: fc.integer({ min: 0, max: 15 }),
      fromPeer: fc.boolean(),
      toPort: fc.constantFrom("client", "server", "other"),
      syn: fc.boolean(),
      ackRequired: fc.boolean(),
      connAck: fc.integer({ min: 0, max: 0xffff }),
      advWin: fc.integer({ min: 0, max: 0xffff }),
      size: fc.integer({ min: 0, max: 3000 }),
      read: fc.boolean(),
      send: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(field, { maxLength: 60 }), (fs) => {
        const p = new Pair({}, { rcvbuf: 8192 });
        const { client, accepted, server } = p.connected("stream");
        p.wire.length = 0;
        const sl = p.at(A);
        for (const f of fs) {
          const destPort = f.toPort === "client" ? client : f.toPort === "server" ? accepted : 77;
          const origPort = f.fromPeer ? accepted : accepted + 1;
          let bytes: Uint8Array;
          if (f.manager) {
            bytes = encodeMessage(
              connManagerMessage({
                type: (["CONN_PROBE", "CONN_PROBE_REPLY", "CONN_ACK"] as const)[f.type % 3] as "CONN_ACK",
                errorCode: f.errorCode,
                prevNode: B,
                origPort,
                destPort,
                origNode: B,
                destNode: A,
                connAck: f.connAck,
                advWin: f.advWin,
                nagleAck: f.ackRequired,
              }),
            );
          } else {
            bytes = encodeMessage({
              user: "LOW_IMPORTANCE",
              type: (["CONN_MSG", "DIRECT_MSG", "NAMED_MSG", "CONN_MSG"] as const)[f.type] as "CONN_MSG",
              headerSize: f.type === 1 ? 32 : f.type === 2 ? 40 : 24,
              nonSeq: false,
              destDroppable: false,
              srcDroppable: f.ackRequired,
              syn: f.syn,
              errorCode: f.errorCode,
              rerouteCount: 0,
              lookupScope: 0,
              bcastAck: 0,
              ack: 0,
              seqno: 0,
              prevNode: B,
              origPort,
              destPort,
              origNode: B,
              destNode: A,
              nameType: f.type === 2 ? SVC.type : 0,
              nameInstance: f.type === 2 ? SVC.instance : 0,
              nameUpper: 0,
              payload: new Uint8Array(f.size),
            });
          }
          for (const o of sl.receive(bytes)) if (o.kind === "transmit") decodeMessage(o.message);
          if (f.read) sl.readConnection(client);
          if (f.send) {
            try {
              sl.sendConnection(client, new Uint8Array(f.size));
            } catch (e) {
              expect(isSocketError(e)).toBe(true);
            }
          }
          const c = sl.info(client);
          expect(c.queuedBytes).toBeLessThan(8192 + 3100);
          expect(c.connection?.sntUnacked).toBeGreaterThanOrEqual(0);
          expect(c.connection?.heldMessages).toBeLessThanOrEqual(NAGLE_MAX_BACKLOG_BLOCKS + 1);
        }
        void server;
      }),
      { numRuns: 150 },
    );
  });
});
