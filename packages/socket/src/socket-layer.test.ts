import {
  type DataMessage,
  decodeMessage,
  encodeMessage,
  TIPC_MCAST_RBCTL,
  TIPC_NODE_CAPABILITIES,
} from "@tipcjs/codec";
import { NameTable } from "@tipcjs/name-table";
import { describe, expect, it } from "vitest";
import { isSocketError } from "./errors.js";
import { createSocketLayer } from "./socket-layer.js";
import type { SendResult, SocketLayerOptions, SocketOutput } from "./types.js";

const A = 0x1001;
const B = 0x2002;
const C = 0x3003;

function word(bytes: Uint8Array, i: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(4 * i);
}

function layer(over: Partial<SocketLayerOptions> = {}) {
  const table = new NameTable({ ownNode: A });
  let seed = 0;
  const sl = createSocketLayer({ ownNode: A, table, random: () => (seed++ * 0.137) % 1, ...over });
  sl.nodeUp(B);
  sl.nodeUp(C);
  return { sl, table };
}

function sent(r: SendResult): SocketOutput[] {
  if (r.status !== "sent") throw new Error(`expected sent, got ${JSON.stringify(r)}`);
  return r.outputs;
}

function transmits(outs: SocketOutput[]) {
  return outs.filter((o) => o.kind === "transmit");
}

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** A data message as a peer would send it. */
function msg(over: Partial<DataMessage>): Uint8Array {
  return encodeMessage({
    user: "LOW_IMPORTANCE",
    type: "DIRECT_MSG",
    headerSize: 32,
    nonSeq: false,
    destDroppable: false,
    srcDroppable: false,
    syn: false,
    errorCode: 0,
    rerouteCount: 0,
    lookupScope: 0,
    bcastAck: 0,
    ack: 0,
    seqno: 0,
    prevNode: B,
    origPort: 777,
    destPort: 0,
    origNode: B,
    destNode: A,
    nameType: 0,
    nameInstance: 0,
    nameUpper: 0,
    payload: bytes(10),
    ...over,
  });
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(isSocketError(e)).toBe(true);
    // the code in `code` and `name`, never inside the message (one convention across the tree)
    expect(e).toMatchObject({ name: "SocketError", code, message: expect.not.stringContaining(code) });
    return;
  }
  throw new Error(`expected ${code}`);
}

describe("sockets and ports", () => {
  it("gives each socket its own port from a random start in 1..2^32-1, probing past taken ones", () => {
    const table = new NameTable({ ownNode: A });
    const sl = createSocketLayer({ ownNode: A, table, random: () => 0 });
    // tipc_sk_insert: start = random % range + 1, then the next port is tried first
    expect(sl.open({ type: "rdm" })).toBe(2);
    expect(sl.open({ type: "rdm" })).toBe(3);
    // a start of 2^32-2 gives 2^32-1 (TIPC_MAX_PORT); the next socket, same start, wraps to 1
    const r = (0xffffffff - 2 + 0.5) / 0xffffffff;
    const top = createSocketLayer({ ownNode: A, table, random: () => r });
    expect(top.open({ type: "dgram" })).toBe(0xffffffff);
    expect(top.open({ type: "dgram" })).toBe(1);
    const { sl: many } = layer();
    const ports = new Set(Array.from({ length: 500 }, () => many.open({ type: "rdm" })));
    expect(ports.size).toBe(500);
    for (const q of ports) expect(q >= 1 && q <= 0xffffffff).toBe(true);
  });

  it("opens connection socket types (issue 17) and refuses bad options", () => {
    const { sl } = layer();
    expect(sl.info(sl.open({ type: "seqpacket" })).connection?.state).toBe("open");
    expectCode(() => sl.open({ type: "stream", connectTimeout: 0 }), "BAD_ARGUMENT");
    expectCode(() => sl.open({ type: "raw" as "rdm" }), "BAD_ARGUMENT");
    expectCode(() => sl.open({ type: "rdm", importance: 4 as 0 }), "BAD_ARGUMENT");
    expectCode(() => sl.close(12345), "NO_SUCH_SOCKET");
  });

  it("bounds the number of open sockets", () => {
    const { sl } = layer({ maxSockets: 3 });
    for (let i = 0; i < 3; i++) sl.open({ type: "rdm" });
    expectCode(() => sl.open({ type: "rdm" }), "LIMIT");
  });
});

describe("bindings through a socket", () => {
  it("publishes with the socket's port and the kernel's key (port + count + 1); close withdraws all", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    const [o1] = sl.bind(p, { type: 1000, lower: 5, upper: 5 });
    const [o2] = sl.bind(p, { type: 1000, lower: 10, upper: 20, scope: "node" });
    expect(o1).toEqual({
      kind: "publish",
      binding: { type: 1000, lower: 5, upper: 5, node: A, port: p, key: (p + 1) >>> 0, scope: "cluster" },
    });
    expect(o2?.kind === "publish" && o2.binding.key).toBe((p + 2) >>> 0);
    expect(sl.stats().bindings).toBe(2);
    const closed = sl.close(p);
    expect(
      closed
        .filter((o) => o.kind === "withdraw")
        .map((o) => (o as { binding: { lower: number } }).binding.lower),
    ).toEqual([5, 10]);
    expect(sl.stats().bindings).toBe(0);
  });

  it("refuses reserved types (EACCES), bad ranges, and unbinding what is not bound", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    expectCode(() => sl.bind(p, { type: 63, lower: 0, upper: 0 }), "RESERVED_TYPE");
    expectCode(() => sl.bind(p, { type: 100, lower: 5, upper: 4 }), "BAD_ARGUMENT");
    expectCode(() => sl.unbind(p, { type: 100, lower: 1, upper: 1 }), "NOT_BOUND");
    sl.bind(p, { type: 100, lower: 1, upper: 1 });
    expectCode(() => sl.unbind(p, { type: 100, lower: 1, upper: 1, scope: "node" }), "NOT_BOUND");
    const [w] = sl.unbind(p, { type: 100, lower: 1, upper: 1 });
    expect(w?.kind).toBe("withdraw");
  });
});

describe("headers on the wire (msg.h word and bit positions)", () => {
  it("NAMED_MSG: 40 bytes, lookup_scope cluster, destnode/destport from the round-robin lookup", () => {
    const { sl, table } = layer();
    const p = sl.open({ type: "rdm", importance: 2 });
    table.insert({ type: 1000, lower: 0, upper: 9, node: B, port: 4242, key: 1, scope: "cluster" });
    const [t] = transmits(sent(sl.sendToService(p, { type: 1000, instance: 5 }, bytes(100))));
    if (t?.kind !== "transmit") throw new Error("no transmit");
    expect(t.node).toBe(B);
    expect(t.importance).toBe(2);
    const b = t.message;
    expect(b.length).toBe(140);
    // w0: version 2, user 2 (HIGH), hsize 10 words, dest_droppable (rdm default), size 140
    expect(word(b, 0)).toBe(((2 << 29) | (2 << 25) | (10 << 21) | (1 << 19) | 140) >>> 0);
    // w1: type NAMED (2), errcode 0, reroute 0, lookup_scope CLUSTER (2)
    expect(word(b, 1)).toBe(((2 << 29) | (2 << 19)) >>> 0);
    expect(word(b, 2)).toBe(0);
    expect(word(b, 3)).toBe(A); // prevnode
    expect(word(b, 4)).toBe(p); // origport
    expect(word(b, 5)).toBe(4242); // destport
    expect(word(b, 6)).toBe(A); // orignode
    expect(word(b, 7)).toBe(B); // destnode
    expect(word(b, 8)).toBe(1000); // name type
    expect(word(b, 9)).toBe(5); // name instance
    expect([...b.subarray(40)]).toEqual([...bytes(100)]);
  });

  it("a lookup domain of another node defers the lookup: destport 0, destnode that node, NODE scope", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    const [t] = transmits(sent(sl.sendToService(p, { type: 1000, instance: 5, node: C }, bytes(1))));
    if (t?.kind !== "transmit") throw new Error("no transmit");
    expect(t.node).toBe(C);
    expect(word(t.message, 5)).toBe(0);
    expect(word(t.message, 7)).toBe(C);
    expect((word(t.message, 1) >>> 19) & 3).toBe(3);
  });

  it("DIRECT_MSG: 32 bytes, lookup_scope 0; DGRAM sets src_droppable", () => {
    const { sl } = layer();
    const p = sl.open({ type: "dgram", destDroppable: false });
    const [t] = transmits(sent(sl.sendToSocket(p, { node: C, port: 99 }, bytes(3))));
    if (t?.kind !== "transmit") throw new Error("no transmit");
    const b = t.message;
    expect(b.length).toBe(35);
    expect(word(b, 0)).toBe(((2 << 29) | (0 << 25) | (8 << 21) | (1 << 18) | 35) >>> 0);
    expect(word(b, 1)).toBe((3 << 29) >>> 0);
    expect([word(b, 3), word(b, 4), word(b, 5), word(b, 6), word(b, 7)]).toEqual([A, p, 99, A, C]);
  });

  it("MCAST_MSG: 44 bytes, CLUSTER scope, destnode and destport 0 on broadcast, type/lower/upper", () => {
    const { sl, table } = layer({ multicast: { clusterSize: 2 } });
    table.insert({ type: 2000, lower: 0, upper: 99, node: B, port: 1, key: 1, scope: "cluster" });
    table.insert({ type: 2000, lower: 50, upper: 60, node: C, port: 2, key: 2, scope: "cluster" });
    const p = sl.open({ type: "rdm", multicastMethod: "broadcast" });
    const outs = sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 99 }, bytes(8), 0));
    expect(outs.map((o) => o.kind)).toEqual(["broadcast"]);
    const b = (outs[0] as { message: Uint8Array }).message;
    expect(b.length).toBe(52);
    expect((word(b, 0) >>> 21) & 0xf).toBe(11);
    expect((word(b, 0) >>> 18) & 1).toBe(0); // is_rcast clear on the broadcast path
    expect(word(b, 1)).toBe(((1 << 29) | (2 << 19)) >>> 0);
    expect([word(b, 5), word(b, 7), word(b, 8), word(b, 9), word(b, 10)]).toEqual([0, 0, 2000, 0, 99]);
  });
});

describe("sending", () => {
  it("anycast round-robins over every binding of the first matching range", () => {
    const { sl, table } = layer();
    table.insert({ type: 1000, lower: 0, upper: 9, node: B, port: 1, key: 1, scope: "cluster" });
    table.insert({ type: 1000, lower: 0, upper: 9, node: C, port: 2, key: 2, scope: "cluster" });
    const p = sl.open({ type: "rdm" });
    const dests = Array.from({ length: 4 }, () => {
      const [t] = transmits(sent(sl.sendToService(p, { type: 1000, instance: 3 }, bytes(1))));
      return (t as { node: number }).node;
    });
    // the kernel adds a publication at the head of the range's list (list_add): newest first
    expect(dests).toEqual([C, B, C, B]);
  });

  it("a lookup domain of this node picks only local bindings", () => {
    const { sl, table } = layer();
    const p = sl.open({ type: "rdm" });
    const q = sl.open({ type: "rdm" });
    table.insert({ type: 1000, lower: 0, upper: 9, node: B, port: 1, key: 1, scope: "cluster" });
    table.insert({ type: 1000, lower: 0, upper: 9, node: A, port: q, key: 2, scope: "cluster" });
    for (let i = 0; i < 3; i++)
      expect(transmits(sent(sl.sendToService(p, { type: 1000, instance: 1, node: A }, bytes(1))))).toEqual(
        [],
      );
    expect(sl.info(q).queuedMessages).toBe(3);
  });

  it("throws NO_SERVICE without a binding and NO_NODE to a node that is not up", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    expectCode(
      () => sl.sendToService(p, { type: 1000, instance: 1 }, "no bytes" as unknown as Uint8Array),
      "BAD_ARGUMENT",
    );
    expectCode(() => sl.sendToService(p, { type: 1000, instance: 1 }, bytes(1)), "NO_SERVICE");
    expectCode(() => sl.sendToRange(p, { type: 1000, lower: 0, upper: 5 }, bytes(1), 0), "NO_SERVICE");
    expectCode(() => sl.sendToSocket(p, { node: 0x4004, port: 1 }, bytes(1)), "NO_NODE");
  });

  it("carries up to 66,000 bytes and refuses one more (EMSGSIZE)", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    const [t] = transmits(sent(sl.sendToSocket(p, { node: B, port: 5 }, bytes(66_000))));
    const d = decodeMessage((t as { message: Uint8Array }).message) as DataMessage;
    expect(d.payload.length).toBe(66_000);
    expectCode(() => sl.sendToSocket(p, { node: B, port: 5 }, bytes(66_001)), "MESSAGE_TOO_LARGE");
  });

  it("per-message importance overrides the socket's", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm", importance: 1 });
    const [t] = transmits(sent(sl.sendToSocket(p, { node: B, port: 5 }, bytes(1), { importance: 3 })));
    expect((t as { importance: number }).importance).toBe(3);
    expect((word((t as { message: Uint8Array }).message, 0) >>> 25) & 0xf).toBe(3);
  });
});

describe("multicast method (tipc_bcast_select_xmit_method) and the SYN twin", () => {
  function setup(caps: number) {
    const { sl, table } = layer({ multicast: { clusterSize: 10, clusterCapabilities: caps } });
    // bc_threshold = 1 + 10 * 10 / 100 = 2
    table.insert({ type: 2000, lower: 1, upper: 1, node: B, port: 1, key: 1, scope: "cluster" });
    const p = sl.open({ type: "rdm" });
    return { sl, table, p };
  }

  it("replicasts up to bc_threshold destinations, broadcasts above; a switch sends a SYN twin on the old path first", () => {
    const { sl, table, p } = setup(TIPC_NODE_CAPABILITIES);
    const r1 = sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 9 }, bytes(4), 0));
    // first send: method was broadcast (zeroed), one destination <= 2 -> replicast; switch -> twin on broadcast
    expect(r1.map((o) => o.kind)).toEqual(["broadcast", "transmit"]);
    const twin = decodeMessage((r1[0] as { message: Uint8Array }).message) as DataMessage;
    const real = decodeMessage((r1[1] as { message: Uint8Array }).message) as DataMessage;
    expect(twin).toMatchObject({ syn: true, srcDroppable: false, errorCode: 2, headerSize: 44 });
    expect(twin.payload.length).toBe(0);
    expect(real).toMatchObject({ syn: true, srcDroppable: true, errorCode: 0, destNode: B });
    // same method again: no SYN
    const r2 = sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 9 }, bytes(4), 1));
    expect(r2.map((o) => o.kind)).toEqual(["transmit"]);
    expect((decodeMessage((r2[0] as { message: Uint8Array }).message) as DataMessage).syn).toBe(false);
    // three destinations > 2 -> broadcast, twin by replicast to each node
    table.insert({ type: 2000, lower: 2, upper: 2, node: C, port: 1, key: 2, scope: "cluster" });
    table.insert({ type: 2000, lower: 3, upper: 3, node: 0x4004, port: 1, key: 3, scope: "cluster" });
    sl.nodeUp(0x4004);
    const r3 = sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 9 }, bytes(4), 2));
    expect(r3.map((o) => o.kind)).toEqual(["transmit", "transmit", "transmit", "broadcast"]);
    expect(sl.stats().sent.synTwins).toBe(2);
  });

  it("without TIPC_MCAST_RBCTL in the cluster: no twin, and the method holds for 5 s", () => {
    const { sl, table, p } = setup(TIPC_NODE_CAPABILITIES & ~TIPC_MCAST_RBCTL);
    const r1 = sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 9 }, bytes(4), 0));
    expect(r1.map((o) => o.kind)).toEqual(["transmit"]);
    table.insert({ type: 2000, lower: 2, upper: 2, node: C, port: 1, key: 2, scope: "cluster" });
    table.insert({ type: 2000, lower: 3, upper: 3, node: 0x4004, port: 1, key: 3, scope: "cluster" });
    sl.nodeUp(0x4004);
    // within 5 s of the last send the method may not change
    expect(
      sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 9 }, bytes(4), 4999)).map((o) => o.kind),
    ).toEqual(["transmit", "transmit", "transmit"]);
    expect(
      sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 9 }, bytes(4), 9999)).map((o) => o.kind),
    ).toEqual(["broadcast"]);
  });

  it("a peer without replicast forces broadcast; a bearer without broadcast forces replicast", () => {
    const { sl, p } = setup(TIPC_NODE_CAPABILITIES);
    sl.setMulticastEnvironment({ replicastSupport: false });
    expect(
      sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 9 }, bytes(1), 0)).map((o) => o.kind),
    ).toEqual(["broadcast"]);
    sl.setMulticastEnvironment({ replicastSupport: true, broadcastSupport: false });
    const r = sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 9 }, bytes(1), 1));
    expect(r.map((o) => o.kind)).toEqual(["broadcast", "transmit"]); // twin on the old (broadcast) path
  });
});

describe("receiving", () => {
  it("delivers to the destination port with its source and destination", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    const outs = sl.receive(msg({ destPort: p, payload: bytes(5, 9) }));
    expect(outs).toEqual([{ kind: "readable", port: p }]);
    expect(sl.read(p)).toEqual({
      kind: "message",
      data: bytes(5, 9),
      source: { node: B, port: 777 },
      destination: { kind: "socket" },
      importance: 0,
    });
    expect(sl.read(p)).toBeUndefined();
  });

  it("a named message with destport 0 gets the secondary lookup here (tipc_msg_lookup_dest)", () => {
    const { sl, table } = layer();
    const p = sl.open({ type: "rdm" });
    table.insert({ type: 1000, lower: 0, upper: 9, node: A, port: p, key: 1, scope: "cluster" });
    sl.receive(msg({ type: "NAMED_MSG", headerSize: 40, nameType: 1000, nameInstance: 4, lookupScope: 3 }));
    expect(sl.read(p)).toMatchObject({
      kind: "message",
      destination: { kind: "service", type: 1000, instance: 4 },
    });
    expect(sl.stats().received.rerouted).toBe(1);
  });

  it("forwards a rerouted message to the node the second lookup finds, with reroute_cnt 1", () => {
    const { sl, table } = layer();
    table.insert({ type: 1000, lower: 0, upper: 9, node: C, port: 55, key: 1, scope: "cluster" });
    const outs = sl.receive(
      msg({
        type: "NAMED_MSG",
        headerSize: 40,
        destPort: 999,
        nameType: 1000,
        nameInstance: 4,
        lookupScope: 2,
      }),
    );
    const [t] = transmits(outs);
    if (t?.kind !== "transmit") throw new Error("no forward");
    expect(t.node).toBe(C);
    expect(decodeMessage(t.message)).toMatchObject({
      rerouteCount: 1,
      destNode: C,
      destPort: 55,
      prevNode: A,
      origNode: B,
    });
  });

  it("rejects as tipc_msg_reverse: NO_NAME for a rerouted named message, data cut to 1,024 bytes", () => {
    const { sl } = layer();
    const outs = sl.receive(
      msg({
        type: "NAMED_MSG",
        headerSize: 40,
        destPort: 999,
        rerouteCount: 1,
        nameType: 1000,
        nameInstance: 4,
        payload: bytes(5000),
      }),
    );
    const [t] = transmits(outs);
    if (t?.kind !== "transmit") throw new Error("no reject");
    expect(t.node).toBe(B); // back to the previous hop
    const r = decodeMessage(t.message) as DataMessage;
    expect(r).toMatchObject({
      errorCode: 1,
      origPort: 999,
      destPort: 777,
      destNode: B,
      origNode: A,
      prevNode: A,
      headerSize: 40,
    });
    expect([...r.payload]).toEqual([...bytes(5000).subarray(0, 1024)]);
    expect((word(t.message, 1) >>> 25) & 0xf).toBe(1);
  });

  it("NO_PORT for a direct message; a 24-byte header comes back as 32; CONN_MSG to an rdm socket is NO_PORT", () => {
    const { sl } = layer();
    const [t] = transmits(sl.receive(msg({ destPort: 31337 })));
    expect((decodeMessage((t as { message: Uint8Array }).message) as DataMessage).errorCode).toBe(2);
    const p = sl.open({ type: "rdm" });
    const [c] = transmits(
      sl.receive(msg({ type: "CONN_MSG", headerSize: 24, destPort: p, origNode: B, destNode: 0 })),
    );
    const r = decodeMessage((c as { message: Uint8Array }).message) as DataMessage;
    expect(r).toMatchObject({ headerSize: 32, errorCode: 2, destNode: B, destPort: 777, origPort: p });
    expect(sl.info(p).queuedMessages).toBe(0);
  });

  it("returns nothing for a dest-droppable or already errored message, and counts it", () => {
    const { sl } = layer();
    expect(sl.receive(msg({ destPort: 31337, destDroppable: true }))).toEqual([]);
    expect(sl.receive(msg({ destPort: 31337, errorCode: 4 }))).toEqual([]);
    const s = sl.stats();
    expect(s.drops.unreturnable).toBe(1);
    expect(s.drops["returned-orphan"]).toBe(1);
  });

  it("queues past nothing: rcvbuf << importance bytes, then OVERLOAD (SYN rejected without data)", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm", rcvbuf: 1000 });
    // LOW: limit 1000; each message is 32 + 200 = 232 bytes; 4 fit (928), the fifth reaches 1160 >= 1000
    for (let i = 0; i < 4; i++)
      expect(transmits(sl.receive(msg({ destPort: p, payload: bytes(200) })))).toEqual([]);
    const [t] = transmits(sl.receive(msg({ destPort: p, payload: bytes(200) })));
    expect((decodeMessage((t as { message: Uint8Array }).message) as DataMessage).errorCode).toBe(4);
    // HIGH: limit 4000
    expect(transmits(sl.receive(msg({ user: "HIGH_IMPORTANCE", destPort: p, payload: bytes(200) })))).toEqual(
      [],
    );
    const [syn] = transmits(
      sl.receive(msg({ user: "CRITICAL_IMPORTANCE", destPort: p, syn: true, payload: bytes(8000) })),
    );
    const r = decodeMessage((syn as { message: Uint8Array }).message) as DataMessage;
    expect(r.errorCode).toBe(4);
    expect(r.payload.length).toBe(0);
    expect(sl.info(p).queuedMessages).toBe(5);
    // reading frees room
    sl.read(p);
    sl.read(p);
    expect(transmits(sl.receive(msg({ destPort: p, payload: bytes(200) })))).toEqual([]);
  });

  it("shows a returned message to its sender as a typed event with the error and the data", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    sl.receive(msg({ destPort: p, origPort: 31337, errorCode: 2, payload: bytes(20) }));
    expect(sl.read(p)).toEqual({
      kind: "returned",
      error: "NO_PORT",
      errorCode: 2,
      data: bytes(20),
      rejectedBy: { node: B, port: 31337 },
      destination: { kind: "socket" },
      importance: 0,
    });
    expect(sl.stats().received.returned).toBe(1);
  });

  it("skips empty non-errored messages on read, as recvmsg does", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    sl.receive(msg({ destPort: p, payload: new Uint8Array(0) }));
    sl.receive(msg({ destPort: p, payload: bytes(1) }));
    expect(sl.read(p)?.kind).toBe("message");
    expect(sl.read(p)).toBeUndefined();
  });

  it("closing rejects unread messages with NO_PORT to senders that asked for them", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    sl.receive(msg({ destPort: p, payload: bytes(2) }));
    sl.receive(msg({ destPort: p, destDroppable: true }));
    const [t, ...rest] = transmits(sl.close(p));
    expect(rest).toEqual([]);
    expect((decodeMessage((t as { message: Uint8Array }).message) as DataMessage).errorCode).toBe(2);
  });

  it("counts malformed and non-data input instead of throwing", () => {
    const { sl } = layer();
    expect(sl.receive(new Uint8Array([1, 2, 3]))).toEqual([]);
    expect(sl.receive(new Uint8Array(64))).toEqual([]);
    expect(sl.stats().drops.malformed).toBe(2);
  });
});

describe("multicast receive", () => {
  function mc(over: Partial<DataMessage>): Uint8Array {
    return msg({
      type: "MCAST_MSG",
      headerSize: 44,
      nameType: 2000,
      nameInstance: 0,
      nameUpper: 99,
      lookupScope: 2,
      destNode: 0,
      ...over,
    });
  }

  it("one copy per matching socket, even one bound twice; only cluster bindings for a remote origin", () => {
    const { sl, table } = layer();
    const p = sl.open({ type: "rdm" });
    const q = sl.open({ type: "rdm" });
    const n = sl.open({ type: "rdm" });
    table.insert({ type: 2000, lower: 1, upper: 5, node: A, port: p, key: 1, scope: "cluster" });
    table.insert({ type: 2000, lower: 3, upper: 8, node: A, port: p, key: 2, scope: "cluster" });
    table.insert({ type: 2000, lower: 50, upper: 50, node: A, port: q, key: 3, scope: "cluster" });
    table.insert({ type: 2000, lower: 60, upper: 60, node: A, port: n, key: 4, scope: "node" });
    sl.receive(mc({}));
    expect([sl.info(p).queuedMessages, sl.info(q).queuedMessages, sl.info(n).queuedMessages]).toEqual([
      1, 1, 0,
    ]);
    expect(sl.read(p)).toMatchObject({ destination: { kind: "range", type: 2000, lower: 0, upper: 99 } });
    sl.receive(mc({ nameType: 7777 }));
    expect(sl.stats().drops["multicast-no-socket"]).toBe(1);
  });

  it("a multicast range with lower above upper from the network is a counted drop, not a throw", () => {
    const { sl, table } = layer();
    const p = sl.open({ type: "rdm" });
    table.insert({ type: 2000, lower: 0, upper: 99, node: A, port: p, key: 1, scope: "cluster" });
    expect(sl.receive(mc({ nameInstance: 5, nameUpper: 4 }))).toEqual([]);
    expect(sl.stats().drops["multicast-no-socket"]).toBe(1);
  });

  it("holds an origin's messages from the first SYN until its twin, then delivers in order", () => {
    const { sl, table } = layer();
    const p = sl.open({ type: "rdm" });
    table.insert({ type: 2000, lower: 0, upper: 99, node: A, port: p, key: 1, scope: "cluster" });
    const data = (i: number) => bytes(4, i);
    // old path: broadcast (is_rcast 0); new path: replicast (is_rcast 1)
    sl.receive(mc({ srcDroppable: false, payload: data(1) })); // before the switch
    sl.receive(mc({ srcDroppable: true, syn: true, payload: data(2) })); // real SYN on the new path arrives first
    sl.receive(mc({ srcDroppable: true, payload: data(3) })); // and more on the new path
    sl.receive(mc({ srcDroppable: false, payload: data(9), origPort: 4 })); // another origin: not held
    expect(sl.info(p).queuedMessages).toBe(2);
    sl.receive(mc({ srcDroppable: false, syn: true, errorCode: 2, payload: new Uint8Array(0) })); // the twin
    const got = [];
    for (let r = sl.read(p); r; r = sl.read(p)) got.push(r.kind === "message" ? r.data[0] : -1);
    expect(got).toEqual([data(1)[0], data(9)[0], data(2)[0], data(3)[0]]);
  });

  it("takes the kernel's SYN twin from the broadcast link, whose word 5 carries the net id, not a port", () => {
    // tipc_bearer_bc_xmit sets non_seq and msg_set_mc_netid (word 5, the destport of a data
    // header): the kernel's header-only twin of its first replicast arrives so, errored NO_PORT.
    const { sl, table } = layer();
    const p = sl.open({ type: "rdm" });
    table.insert({ type: 2000, lower: 0, upper: 99, node: A, port: p, key: 1, scope: "cluster" });
    sl.receive(mc({ srcDroppable: true, syn: true, payload: bytes(4, 1) })); // the real SYN, replicast
    sl.receive(mc({ srcDroppable: true, payload: bytes(4, 2) }));
    const twin = { srcDroppable: false, syn: true, errorCode: 2, payload: new Uint8Array(0) };
    sl.receive(mc({ ...twin, nonSeq: true, destPort: 4711 }));
    const got = [];
    for (let r = sl.read(p); r; r = sl.read(p)) got.push(r.kind === "message" ? r.data[0] : -1);
    expect(got).toEqual([bytes(4, 1)[0], bytes(4, 2)[0]]);
    expect(sl.stats().drops["returned-orphan"]).toBe(0);
  });

  it("node down releases what was held for a twin from that node, data only, in order", () => {
    const { sl, table } = layer();
    const p = sl.open({ type: "rdm" });
    table.insert({ type: 2000, lower: 0, upper: 99, node: A, port: p, key: 1, scope: "cluster" });
    sl.receive(mc({ srcDroppable: true, syn: true, payload: bytes(4, 1) }));
    sl.receive(mc({ srcDroppable: true, payload: bytes(4, 2) }));
    sl.receive(mc({ origNode: C, prevNode: C, srcDroppable: true, syn: true, payload: bytes(4, 3) }));
    expect(sl.info(p).queuedMessages).toBe(0);
    expect(sl.nodeDown(B)).toEqual([{ kind: "readable", port: p }]);
    const got = [];
    for (let r = sl.read(p); r; r = sl.read(p)) got.push(r.kind === "message" ? r.data[0] : -1);
    expect(got).toEqual([bytes(4, 1)[0], bytes(4, 2)[0]]);
  });

  it("bounds the hold queue", () => {
    const { sl, table } = layer({ maxHeldMulticast: 2 });
    const p = sl.open({ type: "rdm" });
    table.insert({ type: 2000, lower: 0, upper: 99, node: A, port: p, key: 1, scope: "cluster" });
    sl.receive(mc({ srcDroppable: true, syn: true }));
    for (let i = 0; i < 5; i++) sl.receive(mc({ srcDroppable: true }));
    expect(sl.stats().drops["multicast-held-overflow"]).toBe(4);
  });
});

describe("link congestion and node loss", () => {
  it("a congested link blocks sends to that node at that importance; clearing it wakes the socket", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    expect(sl.linkCongestion(B, 0, true)).toEqual([]);
    expect(sl.sendToSocket(p, { node: B, port: 1 }, bytes(1))).toEqual({
      status: "blocked",
      node: B,
      importance: 0,
    });
    // other importance levels and other nodes are free, but this socket now waits on B at any level
    expect(sent(sl.sendToSocket(p, { node: C, port: 1 }, bytes(1))).length).toBe(1);
    expect(sl.sendToSocket(p, { node: B, port: 1 }, bytes(1), { importance: 3 }).status).toBe("blocked");
    expect(sl.info(p).blockedOn).toEqual([{ node: B, importance: 0 }]);
    // multicast waits while any link of the socket is congested
    expect(sl.sendToRange(p, { type: 2000, lower: 0, upper: 1 }, bytes(1), 0).status).toBe("blocked");
    expect(sl.linkCongestion(B, 0, false)).toEqual([{ kind: "wakeup", port: p }]);
    expect(sent(sl.sendToSocket(p, { node: B, port: 1 }, bytes(1))).length).toBe(1);
  });

  it("node down wakes waiting senders; their next send fails NO_NODE", () => {
    const { sl } = layer();
    const p = sl.open({ type: "rdm" });
    sl.linkCongestion(B, 1, true);
    expect(sl.sendToSocket(p, { node: B, port: 1 }, bytes(1), { importance: 1 }).status).toBe("blocked");
    expect(sl.nodeDown(B)).toEqual([{ kind: "wakeup", port: p }]);
    expectCode(() => sl.sendToSocket(p, { node: B, port: 1 }, bytes(1), { importance: 1 }), "NO_NODE");
    sl.nodeUp(B);
    expect(sent(sl.sendToSocket(p, { node: B, port: 1 }, bytes(1), { importance: 1 })).length).toBe(1);
  });

  it("a broadcast-link congestion (node 0) blocks broadcast multicast only", () => {
    const { sl, table } = layer({ multicast: { mode: "broadcast", clusterSize: 2 } });
    table.insert({ type: 2000, lower: 0, upper: 0, node: B, port: 1, key: 1, scope: "cluster" });
    const p = sl.open({ type: "rdm" });
    sl.linkCongestion(0, 0, true);
    expect(sl.sendToRange(p, { type: 2000, lower: 0, upper: 0 }, bytes(1), 0)).toEqual({
      status: "blocked",
      node: 0,
      importance: 0,
    });
    expect(sent(sl.sendToSocket(p, { node: B, port: 1 }, bytes(1))).length).toBe(1);
    expect(sl.linkCongestion(0, 0, false)).toEqual([{ kind: "wakeup", port: p }]);
    expect(
      sent(sl.sendToRange(p, { type: 2000, lower: 0, upper: 0 }, bytes(1), 0)).map((o) => o.kind),
    ).toEqual(["broadcast"]);
  });
});
