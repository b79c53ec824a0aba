/**
 * @tipcjs/link benchmarks over @tipcjs/transport-memory (virtual clock, wall time measured):
 *  1. messages/s through one reliable link at 0% and 5% loss, beside the codec's own
 *     encode+decode of the same messages (the floor the link layer adds to);
 *  2. the broadcast link to 16 and 64 peers: transmissions per delivered broadcast message
 *     (1.0 is the floor) and per-peer ack overhead, on a broadcast bearer and with replicast.
 *
 *   node --conditions=@tipcjs/source --import tsx packages/link/bench/link.bench.ts [--quick]
 */
import { decodeMessage, encodeMessage } from "@tipcjs/codec";
import { MemoryCluster } from "../src/__helpers__/memory-cluster.js";
import { payloadOf, testMessage } from "../src/__helpers__/sim.js";

const quick = process.argv.includes("--quick");
const N = quick ? 20_000 : 200_000;
const M = quick ? 500 : 2000;

function codecBaseline(n: number): number {
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const b = encodeMessage(testMessage(1, i));
    const m = decodeMessage(b);
    sink += payloadOf(m)?.counter ?? 0;
  }
  if (sink < 0) console.log(sink);
  return n / ((performance.now() - t0) / 1000);
}

function unicastLink(loss: number, n: number) {
  const c = new MemoryCluster({ nodes: 2, seed: 3, faults: { loss, delay: 0.5 } });
  c.keepEvents = false;
  c.start();
  c.run(10_000, () => c.allUp());
  const [a, b] = c.engines;
  if (!a || !b) throw new Error("no engines");
  let delivered = 0;
  let next = 0;
  let errors = 0;
  c.onOutput = (_i, o) => {
    if (o.kind === "deliver") {
      if (payloadOf(o.message)?.counter !== next) errors++;
      next++;
      delivered++;
    }
  };
  const t0 = performance.now();
  const v0 = c.now;
  let sent = 0;
  while (sent < n) {
    // keep the backlog short: offer messages as the link drains
    const backlog = a.links()[0]?.backlog ?? 0;
    if (backlog < 20) {
      for (let k = 0; k < 100 && sent < n; k++) a.sendUnicast(b.address, testMessage(1, sent++), c.now);
      c.poke(0);
    }
    c.run(0.2);
  }
  while (delivered < n && c.now - v0 < 3_600_000) c.run(10, () => delivered >= n);
  const wall = (performance.now() - t0) / 1000;
  const s = a.stats();
  return {
    loss,
    messages: n,
    delivered,
    errors,
    msgsPerSecWall: Math.round(delivered / wall),
    msgsPerSecVirtual: Math.round(delivered / ((c.now - v0) / 1000)),
    packets: s.unicastSent,
    retransmitted: s.unicastRetransmitted,
    bundles: s.bundlesSent,
  };
}

function broadcastLink(peers: number, replicast: boolean, loss: number, m: number) {
  const c = new MemoryCluster({
    nodes: peers + 1,
    seed: 5,
    faults: { loss, delay: 0.5, jitter: 0.5 },
    replicast,
  });
  c.keepEvents = false;
  c.start();
  c.run(60_000, () => c.allUp());
  if (!c.allUp()) throw new Error("not up");
  c.run(2000);
  const sender = c.members[0]?.localAddress;
  if (!sender) throw new Error("no sender");
  // count link-protocol datagrams from receivers to the sender: first idle, then under load
  let acks = 0;
  c.fabric.observe((ev) => {
    if (
      ev.kind === "transmit" &&
      ev.to !== "broadcast" &&
      ev.to.address === sender.address &&
      ev.to.port === sender.port
    ) {
      if (((ev.datagram[0] as number) >>> 1) % 16 === 7) acks++;
    }
  });
  const duration = m; // one broadcast per ms
  c.run(duration);
  const idleAcks = acks;
  acks = 0;
  const e0 = c.engines[0];
  if (!e0) throw new Error("no engine");
  const before = e0.stats();
  let delivered = 0;
  c.onOutput = (_i, o) => {
    if (o.kind === "deliver" && o.via === "broadcast") delivered++;
  };
  for (let i = 0; i < m; i++) {
    e0.sendBroadcast(testMessage(2, i), c.now);
    c.poke(0);
    c.run(1);
  }
  c.run(20_000, () => delivered >= m * peers);
  const loadAcks = acks;
  const s = e0.stats();
  const firstPackets = s.broadcastSent - before.broadcastSent;
  const retrans = s.broadcastRetransmitted - before.broadcastRetransmitted;
  const datagrams = replicast ? firstPackets * peers + retrans : firstPackets + retrans;
  return {
    peers,
    bearer: replicast ? "replicast" : "broadcast",
    loss,
    messages: m,
    deliveredPerPeer: +(delivered / peers).toFixed(1),
    // floor 1.0: one datagram per message (broadcast bearer) or one per message per peer (replicast)
    transmissionsPerMessage: +(replicast ? datagrams / (m * peers) : datagrams / m).toFixed(3),
    retransmittedCopies: retrans,
    ackDatagramsPerPeerPerMessage: +((loadAcks - idleAcks) / (peers * m)).toFixed(4),
    idleStatePerPeerPerSecond: +(idleAcks / peers / (duration / 1000)).toFixed(2),
  };
}

console.log(`# @tipcjs/link bench (${quick ? "quick" : "full"}), node ${process.version}`);
console.log(
  JSON.stringify({ baseline: "codec encode+decode only", msgsPerSec: Math.round(codecBaseline(N)) }),
);
for (const loss of [0, 0.05]) console.log(JSON.stringify({ unicast: unicastLink(loss, N) }));
for (const peers of [16, 64]) {
  for (const replicast of [false, true]) {
    for (const loss of [0, 0.05])
      console.log(JSON.stringify({ broadcast: broadcastLink(peers, replicast, loss, M) }));
  }
}
