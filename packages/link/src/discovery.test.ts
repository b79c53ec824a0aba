import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  decodeMessage,
  encodeMessage,
  nodeAddressFromId as hash128to32,
  type LinkConfigMessage,
  TIPC_NAMED_BCAST,
} from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { mediaOf, prng, Sim } from "./__helpers__/sim.js";
import { createLinkEngine, DEFAULT_CAPABILITIES } from "./engine.js";
import type { LinkEngineOptions, LinkOutput } from "./types.js";

const passive = join(import.meta.dirname, "__fixtures__", "kernel-6.1-passive");
const hex = (f: string) => new Uint8Array(Buffer.from(readFileSync(join(passive, f), "utf8").trim(), "hex"));
const KERNEL = { family: "ipv4" as const, address: "10.0.2.15", port: 6118 };

function engine(o: Partial<LinkEngineOptions> & { i: number }) {
  return createLinkEngine({
    nodeId: new TextEncoder().encode(`node${o.i}`),
    random: prng(o.i + 100),
    bearer: { name: "b0", mediaAddress: mediaOf(o.i), mtu: 1400, canBroadcast: true },
    ...o,
  });
}
type Tx = Extract<LinkOutput, { kind: "transmit" }>;
const txs = (out: LinkOutput[]) => out.filter((o): o is Tx => o.kind === "transmit");

describe("discovery", () => {
  it("runs the 1 s trial at 125 ms, then DSC_REQ at 125 ms doubling to 1 s (the kernel's intervals)", () => {
    const e = engine({ i: 1 });
    const log: { at: number; type: string }[] = [];
    e.start(0);
    let now = 0;
    const collect = () => {
      for (const t of txs(e.poll()))
        log.push({ at: now, type: (decodeMessage(t.bytes) as LinkConfigMessage).type });
    };
    collect();
    while (now < 8000) {
      now = e.nextDeadline() as number;
      e.tick(now);
      collect();
    }
    const trial = log.filter((l) => l.type === "DSC_TRIAL");
    expect(trial.map((l) => l.at)).toEqual([0, 125, 250, 375, 500, 625, 750, 875]);
    const req = log.filter((l) => l.type === "DSC_REQ").map((l) => l.at);
    const gaps = req.map((t, k) => t - (k === 0 ? 875 : (req[k - 1] as number)));
    // kernel 6.1 capture: +263, +268, +545, +1023, +1024 ... (jiffies rounding)
    expect(gaps.slice(0, 6)).toEqual([250, 250, 500, 1000, 1000, 1000]);
    expect(e.addressed).toBe(true);
  });

  it("backs off towards 60 s once a link is up", () => {
    const sim = new Sim({ nodes: 2, seed: 1 });
    const reqAt: number[] = [];
    sim.start();
    const e0 = sim.engines[0]!;
    const poll = e0.poll.bind(e0);
    e0.poll = () => {
      const out = poll();
      for (const t of txs(out)) if (decodeMessage(t.bytes).user === "LINK_CONFIG") reqAt.push(sim.now);
      return out;
    };
    sim.run(300_000);
    const gaps = reqAt.slice(1).map((t, k) => t - (reqAt[k] as number));
    expect(Math.max(...gaps)).toBe(60_000);
    expect(gaps.slice(-2)).toEqual([60_000, 60_000]);
  });

  it("answers a kernel DSC_TRIAL for an address it holds with DSC_TRIAL_FAIL and a suggestion", () => {
    const e = engine({ i: 2, address: 0x13446573 });
    e.start(0);
    e.poll();
    e.receive(hex("001-LINK_CONFIG-DSC_TRIAL_MSG.hex"), KERNEL, 10);
    const out = txs(e.poll());
    expect(out).toHaveLength(1);
    expect(out[0]?.to).toEqual(KERNEL);
    const m = decodeMessage(out[0]!.bytes) as LinkConfigMessage;
    expect(m).toMatchObject({ type: "DSC_TRIAL_FAIL", destDomain: 0x13446573 });
    expect(m.suggestedAddress).not.toBe(0);
    expect(m.suggestedAddress).not.toBe(0x13446573);
    // a node with another address does not object, and trial messages create no node
    const other = engine({ i: 3, skipTrial: true });
    other.start(0);
    other.poll();
    other.receive(hex("001-LINK_CONFIG-DSC_TRIAL_MSG.hex"), KERNEL, 10);
    expect(txs(other.poll())).toHaveLength(0);
    expect(other.nodes()).toHaveLength(0);
    // after the trial, the kernel's DSC_REQ creates the node and gets a DSC_RESP
    other.receive(hex("009-LINK_CONFIG-DSC_REQ_MSG.hex"), KERNEL, 20);
    const resp = txs(other.poll()).map((t) => decodeMessage(t.bytes));
    expect(resp[0]).toMatchObject({ user: "LINK_CONFIG", type: "DSC_RESP", destDomain: 0x13446573 });
    expect(other.nodes()[0]).toMatchObject({
      address: 0x13446573,
      nodeIdString: "guest1",
      capabilities: 0xfff,
    });
  });

  it("resolves an address conflict during the trial: both nodes end with distinct addresses and link up", () => {
    const idA = new Uint8Array(16);
    const idB = new Uint8Array(16);
    new DataView(idA.buffer).setUint32(0, 0x11223344);
    new DataView(idB.buffer).setUint32(0, 0x11220000);
    new DataView(idB.buffer).setUint32(4, 0x00003344);
    expect(hash128to32(idA)).toBe(hash128to32(idB));
    const sim = new Sim({
      nodes: 2,
      seed: 5,
      engineFor: (i) => ({ nodeId: i === 0 ? idA : idB, skipTrial: false }),
    });
    sim.start();
    sim.run(20_000, () => sim.allUp());
    expect(sim.allUp()).toBe(true);
    const [a, b] = sim.engines;
    expect(a!.address).not.toBe(b!.address);
    expect(a!.addressed && b!.addressed).toBe(true);
  });

  it("reports a duplicate address seen after the trial", () => {
    const sim = new Sim({
      nodes: 2,
      seed: 6,
      engineFor: (i) => ({ address: 0x01020304, nodeId: new Uint8Array([i + 1]) }),
    });
    sim.start();
    sim.run(5000);
    for (let i = 0; i < 2; i++) {
      expect(sim.events[i]?.some((e) => e.out.kind === "duplicateAddress")).toBe(true);
      expect(sim.engines[i]?.upPeers()).toHaveLength(0);
    }
  });

  it("ignores other clusters", () => {
    const sim = new Sim({ nodes: 3, seed: 7, engineFor: (i) => ({ netId: i === 2 ? 4712 : 4711 }) });
    sim.start();
    sim.run(10_000);
    expect(sim.engines[0]?.upPeers()).toHaveLength(1);
    expect(sim.engines[2]?.upPeers()).toHaveLength(0);
    expect(sim.engines[2]?.stats().drops["other-cluster"]).toBeGreaterThan(0);
    expect(sim.engines[0]?.stats().drops["other-cluster"]).toBeGreaterThan(0);
  });

  it("advertises a fixed capability set; legacy leaves TIPC_NAMED_BCAST out; nodeUp carries the peer's", () => {
    expect(DEFAULT_CAPABILITIES & TIPC_NAMED_BCAST).toBe(TIPC_NAMED_BCAST);
    const sim = new Sim({ nodes: 2, seed: 8, engineFor: (i) => ({ legacy: i === 1 }) });
    sim.start();
    sim.run(5000, () => sim.allUp());
    expect(sim.engines[1]!.capabilities).toBe(DEFAULT_CAPABILITIES & ~TIPC_NAMED_BCAST);
    const up0 = sim.events[0]!.find((e) => e.out.kind === "nodeUp")?.out;
    const up1 = sim.events[1]!.find((e) => e.out.kind === "nodeUp")?.out;
    expect(up0).toMatchObject({ capabilities: DEFAULT_CAPABILITIES & ~TIPC_NAMED_BCAST });
    expect(up1).toMatchObject({ capabilities: DEFAULT_CAPABILITIES });
  });

  it("sends its own RESET as soon as discovery finds a peer whose link is down", () => {
    const sim = new Sim({ nodes: 2, seed: 9 });
    sim.start();
    sim.run(5000, () => sim.allUp());
    sim.partition([0], [1]);
    sim.run(20_000); // both links in RESET, past their first five RESETs (now one per 16 ticks)
    expect(sim.engines[1]!.links()[0]?.state).toBe("RESET");
    const e1 = sim.engines[1]!;
    e1.poll();
    // node 0's next discovery message (its timer runs at 1 s now that it has no links) reaches node 1
    const e0 = sim.engines[0]!;
    let bytes: Uint8Array | undefined;
    for (let t = sim.now; !bytes && t < sim.now + 5000; t += 50) {
      e0.tick(t);
      bytes = txs(e0.poll()).find((x) => decodeMessage(x.bytes).user === "LINK_CONFIG")?.bytes;
    }
    if (!bytes) throw new Error("no discovery message");
    e1.receive(bytes, mediaOf(0), sim.now);
    const out = txs(e1.poll()).map((t) => decodeMessage(t.bytes));
    expect(out.some((m) => m.user === "LINK_PROTOCOL" && m.type === "RESET")).toBe(true);
  });

  it("refuses a discovery message naming a multicast group (224.0.0.0/4, ff00::/8) as its address", () => {
    const e = engine({ i: 1, skipTrial: true });
    e.start(0);
    e.poll();
    const claim = (address: string, i: number) =>
      encodeMessage({
        user: "LINK_CONFIG",
        type: "DSC_REQ",
        capabilities: DEFAULT_CAPABILITIES,
        signature: 7,
        destDomain: 0,
        prevNode: 0x5000 + i,
        netId: 4711,
        mediaAddress: { family: "ipv6", address, port: 6118 },
        peerNetHash: 0,
        suggestedAddress: 0,
        nodeId: new TextEncoder().encode(`peer${i}`.padEnd(16, "\0")),
      });
    e.receive(claim("ff02::1", 1), { family: "ipv6", address: "ff02::1", port: 6118 }, 1);
    expect(e.stats().drops["corrupt-discovery"]).toBe(1);
    // 00ff::1 is a unicast address, whatever its text starts with
    e.receive(claim("ff::1", 2), { family: "ipv6", address: "ff::1", port: 6118 }, 2);
    expect(e.stats().drops["corrupt-discovery"]).toBe(1);
    expect(e.nodes().map((n) => n.address)).toEqual([0x5002]);
  });
});
