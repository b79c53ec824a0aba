/**
 * A test cluster of distributors wired by explicit channels: per ordered pair one unicast FIFO
 * and one broadcast FIFO (each link is reliable and ordered; the two paths are independent,
 * which is where the races come from). Tests choose exactly what arrives when. A bulk's last
 * message delivered on a unicast path queues its acknowledgement on the receiver's "ack" path
 * back to the sender, delivered like any other (then the sender's `bulkAcked`).
 */
import type { NameDistributorMessage } from "@tipcjs/codec";
import { type Binding, type BindingKey, NameTable } from "@tipcjs/name-table";
import { createDistributor } from "../distributor.js";
import { KernelQueueReceiver } from "../kernel-queue-receiver.js";
import type { BindingStore, Distributor, DistributorOutput, Flavor } from "../types.js";
import { MapStore } from "./store.js";

/** A table the tests can read back: the real NameTable or the small MapStore. */
export type TestTable = BindingStore & { nodeBindings(node: number): Binding[] };
export type TableKind = "name-table" | "map";
export const makeTable = (kind: TableKind, addr: number): TestTable =>
  kind === "map" ? new MapStore(addr) : new NameTable({ ownNode: addr });

/**
 * "ack": the link-level acknowledgement of a bulk's last message, from the bulk's receiver back
 * to its sender (which then calls `bulkAcked`); it carries the acknowledged message.
 */
export type Path = "unicast" | "broadcast" | "ack";

export interface NodeSpec {
  addr: number;
  legacy?: boolean;
  /** "linux": the kernel's receiver (one queue per peer, the gate kept across node down) and sender */
  flavor?: Flavor;
  mtu?: number;
  initialSndNxt?: number;
  publishNodeState?: boolean;
  maxHeldPerPeer?: number;
  /** false: broadcast updates at once after node up, as a kernel sender does (default true) */
  awaitBulkAck?: boolean;
}

export type TraceEvent =
  | { kind: "up"; peer: number; capabilities: number; mtu: number }
  | { kind: "down"; peer: number }
  | { kind: "rx"; peer: number; message: NameDistributorMessage };

export interface SimNode {
  spec: NodeSpec;
  d: Distributor;
  table: TestTable;
  /** what this node's receiver saw, in order (for replays) */
  trace: TraceEvent[];
  /** every output of every call, in order */
  outputs: DistributorOutput[];
}

const pairKey = (a: number, b: number) => (a < b ? `${a}-${b}` : `${b}-${a}`);
const chanKey = (from: number, to: number, path: Path) => `${from}>${to}:${path}`;

export function bindingString(b: Binding): string {
  return `${b.type}/${b.lower}-${b.upper}@${b.node}:${b.port}#${b.key}`;
}

export class Cluster {
  readonly nodes = new Map<number, SimNode>();
  readonly links = new Set<string>();
  readonly chans = new Map<string, NameDistributorMessage[]>();
  private readonly chanInfo = new Map<string, { from: number; to: number; path: Path }>();

  constructor(
    specs: NodeSpec[] = [],
    readonly tableKind: TableKind = "name-table",
  ) {
    for (const s of specs) this.add(s);
  }

  add(spec: NodeSpec): SimNode {
    const table = makeTable(this.tableKind, spec.addr);
    const d = createDistributor({
      ownNode: spec.addr,
      table,
      legacy: spec.legacy ?? false,
      flavor: spec.flavor ?? "tipcjs",
      initialSndNxt: spec.initialSndNxt ?? 0,
      publishNodeState: spec.publishNodeState ?? true,
      maxHeldPerPeer: spec.maxHeldPerPeer ?? 16384,
      awaitBulkAck: spec.awaitBulkAck ?? true,
    });
    const n: SimNode = { spec, d, table, trace: [], outputs: [] };
    this.nodes.set(spec.addr, n);
    return n;
  }

  /** The node reboots: every link goes down, then it starts over with a fresh distributor and table. */
  restart(addr: number, spec: Partial<NodeSpec> = {}): SimNode {
    for (const p of this.nodes.keys()) if (p !== addr) this.down(addr, p);
    return this.add({ ...this.node(addr).spec, ...spec });
  }

  node(addr: number): SimNode {
    const n = this.nodes.get(addr);
    if (!n) throw new Error(`no node ${addr}`);
    return n;
  }

  linked(a: number, b: number): boolean {
    return this.links.has(pairKey(a, b));
  }

  /** The pair's link comes up: each side sees node up and sends its bulk. */
  up(a: number, b: number): void {
    if (this.linked(a, b)) return;
    this.links.add(pairKey(a, b));
    const na = this.node(a);
    const nb = this.node(b);
    const mtu = Math.min(na.spec.mtu ?? 1500, nb.spec.mtu ?? 1500);
    for (const [x, y] of [
      [na, nb],
      [nb, na],
    ] as const) {
      x.trace.push({ kind: "up", peer: y.spec.addr, capabilities: y.d.capabilities, mtu });
      this.route(x, x.d.nodeUp(y.spec.addr, { capabilities: y.d.capabilities, mtu }));
    }
  }

  /** The pair's link goes down: whatever is in flight either way is lost; each side sees node down. */
  down(a: number, b: number): void {
    if (!this.linked(a, b)) return;
    this.links.delete(pairKey(a, b));
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      this.chans.delete(chanKey(x, y, "unicast"));
      this.chans.delete(chanKey(x, y, "broadcast"));
      this.chans.delete(chanKey(x, y, "ack"));
      const n = this.node(x);
      n.trace.push({ kind: "down", peer: y });
      this.route(n, n.d.nodeDown(y));
    }
  }

  publish(
    addr: number,
    b: Omit<Binding, "node" | "scope"> & { scope?: Binding["scope"] },
  ): DistributorOutput[] {
    const n = this.node(addr);
    const out = n.d.publish({ scope: "cluster", ...b, node: addr });
    this.route(n, out);
    return out;
  }

  withdraw(addr: number, k: Omit<BindingKey, "node">): DistributorOutput[] {
    const n = this.node(addr);
    const out = n.d.withdraw({ ...k, node: addr });
    this.route(n, out);
    return out;
  }

  private route(from: SimNode, outs: DistributorOutput[]): void {
    from.outputs.push(...outs);
    const f = from.spec.addr;
    for (const o of outs) {
      if (o.kind !== "send") continue;
      if (o.to === "broadcast") {
        // The broadcast link reaches every peer whose link is up now.
        for (const p of this.nodes.keys())
          if (p !== f && this.linked(f, p)) this.push(chanKey(f, p, "broadcast"), o.message);
      } else {
        if (!this.linked(f, o.to)) throw new Error(`send to ${o.to} without a link`);
        this.push(chanKey(f, o.to, "unicast"), o.message);
      }
    }
  }

  private push(k: string, m: NameDistributorMessage): void {
    let q = this.chans.get(k);
    if (!q) {
      q = [];
      this.chans.set(k, q);
    }
    q.push(m);
    if (!this.chanInfo.has(k)) {
      const [from, rest] = k.split(">") as [string, string];
      const [to, path] = rest.split(":") as [string, Path];
      this.chanInfo.set(k, { from: Number(from), to: Number(to), path });
    }
  }

  queued(from: number, to: number, path: Path): number {
    return this.chans.get(chanKey(from, to, path))?.length ?? 0;
  }

  /** Deliver up to `count` messages (all if omitted) waiting on one path, in that path's order. */
  deliver(from: number, to: number, path: Path, count = Number.POSITIVE_INFINITY): DistributorOutput[] {
    const q = this.chans.get(chanKey(from, to, path));
    const n = this.node(to);
    const all: DistributorOutput[] = [];
    if (path === "ack") {
      // `from` acknowledges the bulk `to` sent it: a sender-side event, nothing to route
      while (q && q.length > 0 && count-- > 0) {
        q.shift();
        n.d.bulkAcked(from);
      }
      return all;
    }
    while (q && q.length > 0 && count-- > 0) {
      const m = q.shift() as NameDistributorMessage;
      n.trace.push({ kind: "rx", peer: from, message: m });
      const out = n.d.receive(from, m);
      this.route(n, out);
      all.push(...out);
      // The unicast link is reliable and ordered: the bulk's last message delivered means the
      // whole bulk is; the link's acknowledgement of it travels back on the "ack" path.
      if (path === "unicast" && m.bulk && m.lastBulk) this.push(chanKey(to, from, "ack"), m);
    }
    return all;
  }

  pendingChannels(): Array<{ from: number; to: number; path: Path }> {
    const out: Array<{ from: number; to: number; path: Path }> = [];
    for (const [k, q] of this.chans)
      if (q.length > 0) out.push(this.chanInfo.get(k) as { from: number; to: number; path: Path });
    return out;
  }

  /** Deliver everything, one message at a time, the channel chosen by `pick` (default: the first). */
  drain(pick: (n: number) => number = () => 0): void {
    for (let p = this.pendingChannels(); p.length > 0; p = this.pendingChannels()) {
      const c = p[pick(p.length) % p.length] as { from: number; to: number; path: Path };
      this.deliver(c.from, c.to, c.path, 1);
    }
  }

  /** What `x`'s table holds for bindings owned by `owner`. */
  view(x: number, owner: number): string[] {
    return viewOf(this.node(x).table, owner);
  }

  /** `owner`'s own cluster-scope bindings: what every peer linked to it should hold. */
  truth(owner: number): string[] {
    return [...this.node(owner).table.ownClusterBindings()].map(bindingString).sort();
  }

  /** Every (viewer, owner) pair whose view differs from what it should be. */
  mismatches(): Array<{ viewer: number; owner: number; view: string[]; expected: string[] }> {
    const bad: Array<{ viewer: number; owner: number; view: string[]; expected: string[] }> = [];
    for (const x of this.nodes.keys()) {
      for (const y of this.nodes.keys()) {
        if (x === y) continue;
        const expected = this.linked(x, y) ? this.truth(y) : [];
        const view = this.view(x, y);
        if (view.join() !== expected.join()) bad.push({ viewer: x, owner: y, view, expected });
      }
    }
    return bad;
  }

  /** Whether `table`, a replay of `x`'s receive trace, holds what `x` should for every peer. */
  replayConverges(x: number, table: TestTable): boolean {
    for (const y of this.nodes.keys()) {
      if (x === y) continue;
      const expected = this.linked(x, y) ? this.truth(y) : [];
      if (viewOf(table, y).join() !== expected.join()) return false;
    }
    return true;
  }

  /** Feed `x`'s receive trace, in the same order, to a legacy-mode (pre-2020) receiver. */
  replayLegacy(x: number): TestTable {
    const table = makeTable(this.tableKind, x);
    const d = createDistributor({ ownNode: x, table, legacy: true, publishNodeState: false });
    for (const e of this.node(x).trace) {
      if (e.kind === "up") d.nodeUp(e.peer, { capabilities: e.capabilities, mtu: e.mtu });
      else if (e.kind === "down") d.nodeDown(e.peer);
      else d.receive(e.peer, e.message);
    }
    return table;
  }

  /** Feed `x`'s receive trace, in the same order, to a receiver that behaves as Linux's does. */
  replayKernel(x: number): TestTable {
    const table = makeTable(this.tableKind, x);
    const k = new KernelQueueReceiver(table);
    for (const e of this.node(x).trace) {
      if (e.kind === "down") k.nodeDown(e.peer);
      else if (e.kind === "rx") k.receive(e.peer, e.message);
    }
    return table;
  }
}

export function viewOf(table: TestTable, owner: number): string[] {
  return table.nodeBindings(owner).map(bindingString).sort();
}

/** A binding of the tests' usual shape: one instance, port 100 + key. */
export const svc = (type: number, lower: number, key: number) => ({
  type,
  lower,
  upper: lower,
  port: 100 + key,
  key,
});
