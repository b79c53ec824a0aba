// biome-ignore-all lint/style/noNonNullAssertion: test indices are known
import { encodeMessage, type TipcMessage } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { mediaOf, Sim } from "./__helpers__/sim.js";

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
