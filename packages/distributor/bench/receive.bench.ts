/**
 * Receive cost per message while K messages are held out of order (K = 0, 1,000, 10,000), in
 * the same run, on the same NameTable:
 *   - the distributor's tipcjs flavour (held set indexed by namedSeqno);
 *   - its linux flavour (one queue walked per message, as tipc_named_dequeue does), which has
 *     the same validation, counters and events, so the difference is the held structure alone;
 *   - the bare KernelQueueReceiver (the queue walk and the table, nothing else).
 *
 * Setup per case: the gate is open at rcvNxt 0; K messages with seqnos 22000.. wait (they are
 * ahead of everything measured, so they stay held). Measured: M in-order messages (seqno 0..M-1,
 * a publication and its withdrawal in turn, so the table stays small), each applied at once.
 * Median of ROUNDS (default 9) rounds, cases interleaved, after one warm-up round.
 *
 *   npx tsx --conditions=@tipcjs/source packages/distributor/bench/receive.bench.ts
 */
import type { NameDistributorMessage } from "@tipcjs/codec";
import { TIPC_NODE_CAPABILITIES } from "@tipcjs/codec";
import { NameTable } from "@tipcjs/name-table";
import { createDistributor } from "../src/distributor.js";
import { KernelQueueReceiver } from "../src/kernel-queue-receiver.js";

const A = 0x1001;
const B = 0x1002;
const HELD_BASE = 22000; // ahead of the 20,000 measured, and within 32767 of rcvNxt 0

function message(namedSeqno: number, withdraw: boolean, lower: number): NameDistributorMessage {
  return {
    user: "NAME_DISTRIBUTOR",
    type: withdraw ? "WITHDRAWAL" : "PUBLICATION",
    nonSeq: false,
    bcastAck: 0,
    ack: 0,
    seqno: 0,
    prevNode: 0,
    origNode: A,
    destNode: 0,
    bulk: false,
    lastBulk: false,
    nonLegacy: true,
    namedSeqno,
    bcAckInvalid: false,
    items: [{ type: 1000, lower, upper: lower, port: 1, key: lower + 1 }],
  };
}

const lastBulk: NameDistributorMessage = { ...message(0, false, 0), bulk: true, lastBulk: true, items: [] };
const heldMessages = (k: number) =>
  Array.from({ length: k }, (_, i) => message(HELD_BASE + i, false, 100_000 + i));
// seqno i: publish {1000, j} for even i, withdraw it for odd i
const inOrder = (m: number) => Array.from({ length: m }, (_, i) => message(i, i % 2 === 1, (i >> 1) % 64));

interface Receiver {
  receive(m: NameDistributorMessage): void;
  check(m: number): void;
}

function distributor(flavor: "tipcjs" | "linux") {
  return (held: NameDistributorMessage[]): Receiver => {
    const table = new NameTable({ ownNode: B });
    const d = createDistributor({
      ownNode: B,
      table,
      flavor,
      publishNodeState: false,
      maxHeldPerPeer: 20000,
    });
    d.nodeUp(A, { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 });
    d.receive(A, lastBulk);
    for (const m of held) d.receive(A, m);
    if (d.peer(A)?.held !== held.length) throw new Error("setup: not held");
    return {
      receive: (m) => d.receive(A, m),
      check: (m) => {
        if (d.peer(A)?.rcvNxt !== m || d.peer(A)?.held !== held.length)
          throw new Error(`${flavor}: wrong state`);
      },
    };
  };
}

function kernel(held: NameDistributorMessage[]): Receiver {
  const table = new NameTable({ ownNode: B });
  const k = new KernelQueueReceiver(table);
  k.receive(A, lastBulk);
  for (const m of held) k.receive(A, m);
  if (k.state(A).queued !== held.length) throw new Error("setup: not queued");
  return {
    receive: (m) => k.receive(A, m),
    check: (m) => {
      if (k.state(A).rcvNxt !== m || k.state(A).queued !== held.length)
        throw new Error("kernel: wrong state");
    },
  };
}

/** ns per message for one fresh receiver fed `msgs` after `held`. */
function once(
  make: (held: NameDistributorMessage[]) => Receiver,
  held: NameDistributorMessage[],
  msgs: NameDistributorMessage[],
): number {
  const rx = make(held);
  const t0 = process.hrtime.bigint();
  for (const x of msgs) rx.receive(x);
  const t1 = process.hrtime.bigint();
  rx.check(msgs.length);
  return Number(t1 - t0) / msgs.length;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

// The queue walk costs O(K) per message: fewer messages keep its runs short.
const walkMsgs = (k: number) => inOrder(k >= 10000 ? 400 : k >= 1000 ? 4000 : 20000);
const cases = [0, 1000, 10000].flatMap((k) => [
  {
    k,
    name: "ours",
    make: distributor("tipcjs"),
    held: heldMessages(k),
    msgs: inOrder(20000),
    samples: [] as number[],
  },
  {
    k,
    name: "linux",
    make: distributor("linux"),
    held: heldMessages(k),
    msgs: walkMsgs(k),
    samples: [] as number[],
  },
  {
    k,
    name: "kernel",
    make: kernel,
    held: heldMessages(k),
    msgs: walkMsgs(k),
    samples: [] as number[],
  },
]);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
for (const c of cases) once(c.make, c.held, c.msgs); // warm up every path first
for (let r = 0; r < ROUNDS; r++) for (const c of cases) c.samples.push(once(c.make, c.held, c.msgs));

const rows = [0, 1000, 10000].map((k) => {
  const get = (name: string) => median(cases.find((c) => c.k === k && c.name === name)?.samples ?? []);
  return { held: k, ours: get("ours"), linux: get("linux"), kernel: get("kernel") };
});

const base = rows[0]?.ours ?? 1;
const f = (x: number) => Math.round(x).toLocaleString("en");
console.log(`node ${process.version}, ${process.platform} ${process.arch}, ${ROUNDS} rounds`);
console.log(
  "| held out of order | tipcjs flavour ns/msg | vs 0 held | linux flavour ns/msg | linux / tipcjs | bare kernel-like queue ns/msg | bare / tipcjs |",
);
console.log("|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.held.toLocaleString("en")} | ${f(r.ours)} | ${(r.ours / base).toFixed(2)}x | ${f(r.linux)} | ${(r.linux / r.ours).toFixed(1)}x | ${f(r.kernel)} | ${(r.kernel / r.ours).toFixed(1)}x |`,
  );
}
