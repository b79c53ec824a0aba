/**
 * Three socket layers, each with its own name table, wired by an in-test delivery function
 * (in order per lane, no link): what the node and link will do, reduced to a FIFO per path.
 * Publications are applied to every table at once, as the distributor would in the end.
 */
import { NameTable } from "@tipcjs/name-table";
import { describe, expect, it } from "vitest";
import { isSocketError } from "./errors.js";
import { createSocketLayer, type SocketLayer } from "./socket-layer.js";
import type { Received, SendResult, SocketOutput } from "./types.js";

const A = 0x1001;
const B = 0x2002;
const C = 0x3003;

interface Packet {
  from: number;
  to: number;
  bytes: Uint8Array;
}

class Cluster {
  readonly layers = new Map<number, SocketLayer>();
  readonly tables = new Map<number, NameTable>();
  readonly down = new Set<number>();
  /** two lanes, as the unicast links and the broadcast link are two ordered paths */
  readonly unicast: Packet[] = [];
  readonly broadcast: Packet[] = [];

  constructor(addrs: number[]) {
    let seed = 1;
    for (const a of addrs) {
      const table = new NameTable({ ownNode: a });
      this.tables.set(a, table);
      const sl = createSocketLayer({
        ownNode: a,
        table,
        random: () => (seed++ * 0.618033) % 1,
        multicast: { clusterSize: addrs.length - 1 },
      });
      for (const b of addrs) if (b !== a) sl.nodeUp(b);
      this.layers.set(a, sl);
    }
  }

  at(a: number): SocketLayer {
    return this.layers.get(a) as SocketLayer;
  }

  apply(from: number, outs: SocketOutput[]): void {
    for (const o of outs) {
      if (o.kind === "transmit") this.unicast.push({ from, to: o.node, bytes: o.message });
      else if (o.kind === "broadcast") {
        for (const to of this.layers.keys())
          if (to !== from) this.broadcast.push({ from, to, bytes: o.message });
      } else if (o.kind === "publish") {
        for (const [n, t] of this.tables)
          if (n === from || o.binding.scope === "cluster") t.insert(o.binding);
      } else if (o.kind === "withdraw") {
        for (const t of this.tables.values()) t.remove(o.binding);
      }
    }
  }

  send(from: number, r: SendResult): void {
    if (r.status !== "sent") throw new Error(`blocked: ${JSON.stringify(r)}`);
    this.apply(from, r.outputs);
  }

  /** Delivers everything: one lane drained before the other (each in order), as two paths may. */
  run(first: "broadcast" | "unicast" = "broadcast"): void {
    for (;;) {
      const [x, y] = first === "unicast" ? [this.unicast, this.broadcast] : [this.broadcast, this.unicast];
      const p = x.length > 0 ? x.shift() : y.shift();
      if (p === undefined) return;
      if (this.down.has(p.to) || this.down.has(p.from)) continue;
      this.apply(p.to, this.at(p.to).receive(p.bytes));
    }
  }

  readAll(node: number, port: number): Received[] {
    const out: Received[] = [];
    for (let r = this.at(node).read(port); r; r = this.at(node).read(port)) out.push(r);
    return out;
  }

  socket(node: number, bind?: { type: number; lower: number; upper: number; scope?: "node" | "cluster" }[]) {
    const sl = this.at(node);
    const port = sl.open({ type: "rdm" });
    for (const b of bind ?? []) this.apply(node, sl.bind(port, b));
    return port;
  }
}

const data = (n: number, seed = 0) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
};

describe("three socket layers", () => {
  it("anycast is shared round-robin between the sockets bound on every node", () => {
    const c = new Cluster([A, B, C]);
    const r = [
      c.socket(A, [{ type: 1000, lower: 1, upper: 1 }]),
      c.socket(B, [{ type: 1000, lower: 0, upper: 9 }]),
    ];
    const s3 = c.socket(C, [{ type: 1000, lower: 1, upper: 1 }]);
    const tx = c.socket(A);
    for (let i = 0; i < 9; i++)
      c.send(A, c.at(A).sendToService(tx, { type: 1000, instance: 1 }, data(10, i)));
    c.run();
    // the first matching range is {1000, 0, 9} (lowest lower), so only B's socket is picked, every time
    expect(c.readAll(B, r[1] as number).length).toBe(9);
    // a range that only A and C share: rotation between them
    for (let i = 0; i < 6; i++)
      c.send(B, c.at(B).sendToService(r[1] as number, { type: 1000, instance: 1, node: 0 }, data(1)));
    c.run();
    c.apply(B, c.at(B).unbind(r[1] as number, { type: 1000, lower: 0, upper: 9 }));
    for (let i = 0; i < 6; i++)
      c.send(B, c.at(B).sendToService(r[1] as number, { type: 1000, instance: 1 }, data(1)));
    c.run();
    expect([c.readAll(A, r[0] as number).length, c.readAll(C, s3).length]).toEqual([3, 3]);
  });

  it("a lookup domain of another node: destport 0 there, the second lookup picks its local socket", () => {
    const c = new Cluster([A, B, C]);
    const onB = c.socket(B, [{ type: 1000, lower: 1, upper: 1 }]);
    const onC = c.socket(C, [{ type: 1000, lower: 1, upper: 1 }]);
    const tx = c.socket(A);
    for (let i = 0; i < 4; i++)
      c.send(A, c.at(A).sendToService(tx, { type: 1000, instance: 1, node: C }, data(5)));
    c.run();
    expect(c.readAll(B, onB)).toEqual([]);
    const got = c.readAll(C, onC);
    expect(got.length).toBe(4);
    expect(got[0]).toMatchObject({
      kind: "message",
      source: { node: A, port: tx },
      destination: { kind: "service" },
    });
  });

  it("direct messages reach <node:port> with their source, byte for byte up to 66,000 bytes", () => {
    const c = new Cluster([A, B, C]);
    const rx = c.socket(C);
    const tx = c.socket(A);
    for (const n of [1, 1024, 14_000, 60_000, 66_000])
      c.send(A, c.at(A).sendToSocket(tx, { node: C, port: rx }, data(n, n)));
    c.run();
    const got = c.readAll(C, rx);
    expect(got.map((r) => (r.kind === "message" ? r.data.length : -1))).toEqual([
      1, 1024, 14_000, 60_000, 66_000,
    ]);
    for (const r of got) {
      if (r.kind !== "message") throw new Error("returned");
      expect(r.data).toEqual(data(r.data.length, r.data.length));
      expect(r.source).toEqual({ node: A, port: tx });
    }
  });

  it("multicast reaches every matching socket once, on broadcast and on replicast, local ones included", () => {
    for (const method of ["broadcast", "replicast"] as const) {
      const c = new Cluster([A, B, C]);
      const a1 = c.socket(A, [{ type: 2000, lower: 5, upper: 5 }]);
      const b1 = c.socket(B, [
        { type: 2000, lower: 0, upper: 10 },
        { type: 2000, lower: 8, upper: 20 },
      ]);
      const b2 = c.socket(B, [{ type: 2000, lower: 99, upper: 99 }]);
      const cNode = c.socket(C, [{ type: 2000, lower: 7, upper: 7, scope: "node" }]);
      const cOut = c.socket(C, [{ type: 2000, lower: 500, upper: 600 }]);
      const tx = c.at(A).open({ type: "rdm", multicastMethod: method });
      const r = c.at(A).sendToRange(tx, { type: 2000, lower: 0, upper: 99 }, data(100), 0);
      if (r.status !== "sent") throw new Error("blocked");
      expect(r.outputs.some((o) => o.kind === "broadcast")).toBe(method === "broadcast");
      c.apply(A, r.outputs);
      c.run();
      const counts = [
        c.readAll(A, a1).length,
        c.readAll(B, b1).length,
        c.readAll(B, b2).length,
        c.readAll(C, cNode).length,
        c.readAll(C, cOut).length,
      ];
      expect(counts, method).toEqual([1, 1, 1, 0, 0]);
    }
  });

  it("keeps per-sender order across a method switch when the new path overtakes the old (SYN twin)", () => {
    for (const first of ["unicast", "broadcast"] as const) {
      const c = new Cluster([A, B, C, 0x4004, 0x5005]);
      // bc_threshold = 1 + 4 * 10 / 100 = 1: one destination node replicasts, two broadcast
      const rx = c.socket(B, [{ type: 2000, lower: 0, upper: 0 }]);
      const tx = c.socket(A);
      const sendOne = (i: number) =>
        c.send(A, c.at(A).sendToRange(tx, { type: 2000, lower: 0, upper: 9 }, new Uint8Array([i]), i));
      sendOne(0); // replicast (switch from the initial broadcast: SYN + twin)
      sendOne(1);
      const other = c.socket(C, [{ type: 2000, lower: 1, upper: 1 }]);
      sendOne(2); // two nodes: switch to broadcast, twin by replicast
      sendOne(3);
      c.apply(C, c.at(C).unbind(other, { type: 2000, lower: 1, upper: 1 }));
      sendOne(4); // back to replicast
      sendOne(5);
      c.run(first); // one path drained entirely before the other
      const got = c.readAll(B, rx).map((r) => (r.kind === "message" ? (r.data[0] as number) : -1));
      expect(got, first).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  it("rejections come back to a sender that cleared dest_droppable, with the code and at most 1,024 bytes", () => {
    const c = new Cluster([A, B, C]);
    const tx = c.at(A).open({ type: "rdm", destDroppable: false });
    const quiet = c.socket(A); // rdm default: dest-droppable, nothing comes back
    // NO_PORT: a socket address with no socket
    c.send(A, c.at(A).sendToSocket(tx, { node: B, port: 12345 }, data(3000)));
    c.send(A, c.at(A).sendToSocket(quiet, { node: B, port: 12345 }, data(3000)));
    // NO_NAME: a binding whose socket is gone before its withdrawal reached A
    const gone = c.socket(C, [{ type: 3000, lower: 1, upper: 1 }]);
    c.at(C).close(gone); // the withdrawal is not applied anywhere: A still sees the stale binding
    c.send(A, c.at(A).sendToService(tx, { type: 3000, instance: 1 }, data(10)));
    c.run();
    const got = c.readAll(A, tx);
    expect(got.map((r) => (r.kind === "returned" ? [r.error, r.errorCode, r.data.length] : r.kind))).toEqual([
      ["NO_PORT", 2, 1024],
      ["NO_NAME", 1, 10],
    ]);
    expect(got[0]).toMatchObject({ rejectedBy: { node: B, port: 12345 } });
    expect((got[0] as { data: Uint8Array }).data).toEqual(data(3000).subarray(0, 1024));
    expect(c.readAll(A, quiet)).toEqual([]);
    expect(c.at(B).stats().drops.unreturnable).toBe(1);
  });

  it("a full receive queue rejects with OVERLOAD; the sender sees it", () => {
    const c = new Cluster([A, B]);
    const rx = c.at(B).open({ type: "rdm", rcvbuf: 10_000 });
    const tx = c.at(A).open({ type: "rdm", destDroppable: false });
    for (let i = 0; i < 5; i++) c.send(A, c.at(A).sendToSocket(tx, { node: B, port: rx }, data(3000, i)));
    c.run();
    expect(c.at(B).info(rx).queuedMessages).toBe(3); // 3 x 3032 = 9096; a fourth would reach 12128
    const back = c.readAll(A, tx);
    expect(back.map((r) => r.kind === "returned" && r.error)).toEqual(["OVERLOAD", "OVERLOAD"]);
    expect(back.map((r) => (r.data as Uint8Array)[0])).toEqual([data(3000, 3)[0], data(3000, 4)[0]]);
  });

  it("node loss: a waiting sender wakes and fails NO_NODE; bindings of the node are gone", () => {
    const c = new Cluster([A, B]);
    const rx = c.socket(B, [{ type: 1000, lower: 1, upper: 1 }]);
    const tx = c.socket(A);
    const sl = c.at(A);
    sl.linkCongestion(B, 0, true);
    expect(sl.sendToService(tx, { type: 1000, instance: 1 }, data(1)).status).toBe("blocked");
    c.down.add(B);
    (c.tables.get(A) as NameTable).purgeNode(B);
    expect(sl.nodeDown(B)).toEqual([{ kind: "wakeup", port: tx }]);
    let code = "";
    try {
      sl.sendToSocket(tx, { node: B, port: rx }, data(1));
    } catch (e) {
      if (isSocketError(e)) code = e.code;
    }
    expect(code).toBe("NO_NODE");
    try {
      sl.sendToService(tx, { type: 1000, instance: 1 }, data(1));
    } catch (e) {
      if (isSocketError(e)) code = e.code;
    }
    expect(code).toBe("NO_SERVICE");
  });

  it("returned messages of a multicast go to the sending socket only", () => {
    const c = new Cluster([A, B]);
    const rx = c.at(B).open({ type: "rdm", rcvbuf: 100 });
    c.apply(B, c.at(B).bind(rx, { type: 2000, lower: 0, upper: 0 }));
    const other = c.socket(A, [{ type: 2000, lower: 1, upper: 1 }]);
    const tx = c.at(A).open({ type: "rdm", destDroppable: false, multicastMethod: "broadcast" });
    c.send(A, c.at(A).sendToRange(tx, { type: 2000, lower: 0, upper: 0 }, data(500), 0));
    c.run();
    const back = c.readAll(A, tx);
    expect(back.map((r) => r.kind === "returned" && r.error)).toEqual(["OVERLOAD"]);
    expect(c.readAll(A, other)).toEqual([]);
    expect(c.at(B).info(rx).queuedMessages).toBe(0);
  });
});
