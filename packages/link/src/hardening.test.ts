// biome-ignore-all lint/style/noNonNullAssertion: test indices are known
import { encodeMessage, type TipcMessage } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { mediaOf, Sim, testMessage } from "./__helpers__/sim.js";

/** A two-node cluster, all up. */
function upPair(seed: number, extra: ConstructorParameters<typeof Sim>[0] = { nodes: 2 }): Sim {
  const sim = new Sim({ ...extra, seed });
  sim.start();
  sim.run(5000, () => sim.allUp());
  expect(sim.allUp()).toBe(true);
  return sim;
}

/** Sequenced packets that node `from` never sent, with the link's next seqnos, fed to node `to`. */
function forgeOnLink(sim: Sim, from: number, to: number, msgs: TipcMessage[], bearer = 0): void {
  const e = sim.engines[to]!;
  const peer = sim.engines[from]!.address;
  let seqno = e.links().find((l) => l.peer === peer && l.bearer === bearer)!.rcvNxt;
  for (const m of msgs) {
    const b = encodeMessage({ ...m, prevNode: peer, destNode: e.address, seqno } as TipcMessage);
    e.receive(b, mediaOf(from, bearer), sim.now, bearer);
    seqno = (seqno + 1) & 0xffff;
  }
  sim.poke(to);
}

const header = { nonSeq: false, bcastAck: 0, ack: 0, seqno: 0, prevNode: 0, origNode: 0, destNode: 0 };

function fragments(count: number, size: number): TipcMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    user: "MSG_FRAGMENTER" as const,
    type: i === 0 ? ("FIRST_FRAGMENT" as const) : ("FRAGMENT" as const),
    ...header,
    fragmentNumber: i + 1,
    fragmentCount: 0,
    importance: 0,
    data: new Uint8Array(size),
  }));
}

describe("bounded reassembly (issue 14, defect 1)", () => {
  it("a message that grows past MAX_MSG_SIZE is dropped and counted, the link keeps working", () => {
    const sim = upPair(101);
    const e = sim.engines[0]!;
    // 200 x 1,300 bytes = 260 KB that never finish: the reassembly gives up at 66,060 bytes
    forgeOnLink(sim, 1, 0, fragments(200, 1300));
    expect(e.stats().drops["reassembly-oversize"]).toBe(1);
    // what follows the dropped message is out of order, not held
    expect(e.stats().drops["fragment-out-of-order"]).toBe(200 - 51);
    expect(e.upPeers()).toHaveLength(1);
  });

  it("a failover tunnel's reassembly is bounded the same way", () => {
    const sim = upPair(102, { nodes: 2, bearers: 2 });
    const e = sim.engines[0]!;
    const active = e.links().find((l) => l.active)!;
    const other = 1 - active.bearer;
    const tunnel: TipcMessage[] = Array.from({ length: 120 }, (_, i) => ({
      user: "TUNNEL_PROTOCOL" as const,
      type: "FAILOVER" as const,
      ...header,
      bearerId: other,
      msgCount: 120,
      fragmentNumber: i + 1,
      fragmentCount: 120,
      data: new Uint8Array(1300),
    }));
    forgeOnLink(sim, 1, 0, tunnel, active.bearer);
    expect(e.stats().drops["reassembly-oversize"]).toBe(1);
  });
});

describe("forged and out-of-window packets (issue 14, defects 2 and 3)", () => {
  it("sequenced and broadcast packets from another source than the peer's media address are counted drops", () => {
    const sim = upPair(103);
    const e = sim.engines[0]!;
    const peer = sim.engines[1]!.address;
    const stranger = mediaOf(77);
    const rcvNxt = e.links()[0]!.rcvNxt;
    const delivered = e.stats().delivered;
    for (let k = 0; k < 10; k++) {
      const uc = encodeMessage({
        ...testMessage(1, k),
        prevNode: peer,
        destNode: e.address,
        seqno: rcvNxt + k,
      });
      e.receive(uc, stranger, sim.now);
      const bc = encodeMessage({
        ...testMessage(2, k),
        nonSeq: true,
        prevNode: peer,
        destNode: 0,
        netId: e.netId,
        seqno: 1 + k,
      } as TipcMessage);
      e.receive(bc, stranger, sim.now);
    }
    e.poll();
    expect(e.stats().drops["source-mismatch"]).toBe(20);
    expect(e.stats().delivered).toBe(delivered);
    expect(e.links()[0]!.rcvNxt).toBe(rcvNxt);
  });

  it("unicast seqnos outside the receive window are counted drops, recent ones duplicates", () => {
    const sim = upPair(104);
    const e = sim.engines[0]!;
    const peer = sim.engines[1]!.address;
    const rcvNxt = e.links()[0]!.rcvNxt;
    const dup = e.stats().duplicates;
    for (const seqno of [rcvNxt + 20_000, rcvNxt + 40_000, rcvNxt - 1]) {
      const b = encodeMessage({
        ...testMessage(1, 1),
        prevNode: peer,
        destNode: e.address,
        seqno: seqno & 0xffff,
      });
      e.receive(b, mediaOf(1), sim.now);
    }
    e.poll();
    expect(e.stats().drops["out-of-window"]).toBe(2);
    expect(e.stats().duplicates).toBe(dup + 1);
  });
});
