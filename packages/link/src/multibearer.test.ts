import { decodeMessage, encodeMessage, nodeIdFromString, type TipcMessage } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { mediaOf, runTraffic, Sim, testMessage } from "./__helpers__/sim.js";
import type { LinkEngine } from "./api.js";
import { createLinkEngine } from "./engine.js";
import { LinkEngineError } from "./errors.js";
import type { LinkOutput } from "./types.js";

const kinds = (sim: Sim, node: number, kind: LinkOutput["kind"]) =>
  (sim.events[node] ?? []).filter((e) => e.out.kind === kind).map((e) => e.out);

/** Calls `see` with every message `engine` transmits on `bearer` (its poll() wrapped). */
function watchSent(engine: LinkEngine, bearer: number, see: (m: TipcMessage) => void): void {
  const poll = engine.poll.bind(engine);
  engine.poll = () => {
    const out = poll();
    for (const x of out) if (x.kind === "transmit" && x.bearer === bearer) see(decodeMessage(x.bytes));
    return out;
  };
}

function twoBearerCluster(
  nodes: number,
  seed: number,
  extra: Partial<ConstructorParameters<typeof Sim>[0]> = {},
) {
  const sim = new Sim({ nodes, seed, bearers: 2, ...extra });
  sim.start();
  // up = every peer has both links established
  const bothUp = () =>
    sim.engines.every((e) => e.links().filter((l) => l.state === "ESTABLISHED").length === 2 * (nodes - 1));
  sim.run(20_000, bothUp);
  expect(bothUp()).toBe(true);
  return sim;
}

describe("several bearers", () => {
  it("forms one link per bearer to each peer, one of them active, and reports the node up once", () => {
    const sim = twoBearerCluster(3, 1);
    for (let i = 0; i < 3; i++) {
      const e = sim.engines[i]!;
      expect(kinds(sim, i, "nodeUp")).toHaveLength(2);
      expect(kinds(sim, i, "linkUp")).toHaveLength(4);
      const links = e.links();
      for (const peer of e.upPeers().map((p) => p.peer)) {
        const mine = links.filter((l) => l.peer === peer);
        expect(mine.map((l) => l.bearerName).sort()).toEqual(["sim0", "sim1"]);
        expect(mine.filter((l) => l.active)).toHaveLength(1);
      }
      for (const n of e.nodes()) expect(n.linksUp).toBe(2);
    }
    // link names carry both ends' bearer names, as the kernel's do
    expect(sim.engines[0]!.links().map((l) => l.name.split("-")[0]!.split(":")[1])).toContain("sim1");
  });

  it("fails traffic over when one bearer is cut mid-stream: nothing lost, nothing twice, the node stays up", () => {
    const sim = twoBearerCluster(4, 2, { loss: 0.05, jitter: 3 });
    let cut = false;
    const r = runTraffic(sim, {
      total: 6000,
      stepMs: 1,
      onStep: (sent) => {
        if (!cut && sent >= 2000) {
          cut = true;
          sim.partitionBearer(0, [0, 1, 2, 3], [0, 1, 2, 3]);
        }
      },
    });
    expect(cut).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.missing).toBe(0);
    for (let i = 0; i < 4; i++) {
      const e = sim.engines[i]!;
      expect(kinds(sim, i, "nodeDown")).toEqual([]);
      expect(e.upPeers()).toHaveLength(3);
      const downs = kinds(sim, i, "linkDown") as Extract<LinkOutput, { kind: "linkDown" }>[];
      expect(downs.length).toBeGreaterThanOrEqual(3);
      for (const d of downs) expect(d).toMatchObject({ bearer: 0, failoverTo: 1 });
      for (const l of e.links()) expect(l.active).toBe(l.bearer === 1);
      expect(e.stats().failovers).toBeGreaterThanOrEqual(3);
    }
    // unacked packets really went through the tunnel
    expect(sim.engines.reduce((s, e) => s + e.stats().tunnelSent, 0)).toBeGreaterThan(0);
    expect(sim.engines.reduce((s, e) => s + e.stats().tunnelReceived, 0)).toBeGreaterThan(0);

    // the bearer comes back: its links re-form as standby, and traffic still flows exactly once
    sim.heal();
    const healed = () => sim.engines.every((e) => e.links().every((l) => l.state === "ESTABLISHED"));
    sim.run(30_000, healed);
    expect(healed()).toBe(true);
    const again = runTraffic(sim, { total: 1000 });
    expect(again.errors).toEqual([]);
    expect(again.missing).toBe(0);
  });

  it.each([11, 12, 13])("fails over and back under loss and reordering, seed %i", (seed) => {
    const sim = twoBearerCluster(3, seed, { loss: 0.1, duplicate: 0.05, jitter: 4 });
    const all = [0, 1, 2];
    const plan: [number, () => void][] = [
      [1000, () => sim.partitionBearer(0, all, all)],
      [2500, () => sim.heal()],
      [7000, () => sim.partitionBearer(1, all, all)],
    ];
    const r = runTraffic(sim, {
      total: 10_000,
      stepMs: 5,
      onStep: (sent) => {
        while (plan.length > 0 && sent >= plan[0]![0]) plan.shift()![1]();
      },
    });
    expect(plan).toEqual([]);
    expect(r.errors).toEqual([]);
    expect(r.missing).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(kinds(sim, i, "nodeDown")).toEqual([]);
      // traffic is on bearer 0 again, after two failovers per peer
      for (const l of sim.engines[i]!.links().filter((x) => x.active)) expect(l.bearer).toBe(0);
      expect(sim.engines[i]!.stats().failovers).toBeGreaterThanOrEqual(4);
    }
  });

  it("keeps broadcast NACKs to one per 20 ms per link while retransmissions cannot pass (no STATE storm)", () => {
    const sim = twoBearerCluster(2, 7);
    sim.run(3000);
    const before = sim.engines.map((e) => e.stats().statesSent);
    // bearer 0 (the broadcast bearer and the active links) dies; both sides broadcast into it
    sim.partitionBearer(0, [0], [1]);
    for (let k = 0; k < 10; k++) for (const e of sim.engines) e.sendBroadcast(testMessage(2, k), sim.now);
    sim.poke(0);
    sim.poke(1);
    sim.run(1000); // less than the tolerance: the links on bearer 0 still count as up
    for (const [i, e] of sim.engines.entries()) {
      expect(e.links().every((l) => l.state === "ESTABLISHED")).toBe(true);
      // STATE on the standby link answers the peer's; one per 20 ms per link is 100 a second
      expect(e.stats().statesSent - before[i]!).toBeLessThan(150);
    }
  });

  it("takes the node down only when its last link goes", () => {
    const sim = twoBearerCluster(2, 3);
    sim.partitionBearer(1, [0], [1]);
    sim.run(5000);
    expect(kinds(sim, 0, "nodeDown")).toEqual([]);
    expect(sim.engines[0]!.upPeers()).toHaveLength(1);
    sim.partitionBearer(0, [0], [1]);
    sim.run(5000);
    expect(kinds(sim, 0, "nodeDown")).toHaveLength(1);
    expect(kinds(sim, 1, "nodeDown")).toHaveLength(1);
    expect(sim.engines[0]!.upPeers()).toEqual([]);
    sim.heal();
    sim.run(30_000, () => sim.allUp());
    expect(sim.allUp()).toBe(true);
  });

  it("sends one broadcast datagram per packet on the first bearer that reaches everyone, and uses the next where it does not", () => {
    const sim = twoBearerCluster(4, 4);
    const before = [...sim.sentOn];
    const r = runTraffic(sim, { total: 400, broadcastEvery: 1 });
    expect(r.errors).toEqual([]);
    expect(r.missing).toBe(0);
    // every broadcast went on bearer 0 only (bearer 1 carries just its own link's keepalives)
    const on0 = sim.sentOn[0]! - before[0]!;
    const on1 = sim.sentOn[1]! - before[1]!;
    expect(on0).toBeGreaterThan(400 * 3);
    expect(on1).toBeLessThan(on0 / 10);
    // node 3 loses bearer 0: broadcasts now go on both bearers, and every peer still gets each once
    sim.partitionBearer(0, [3], [0, 1, 2]);
    sim.run(5000);
    const mid = [...sim.sentOn];
    const r2 = runTraffic(sim, { total: 400, broadcastEvery: 1 });
    expect(r2.errors).toEqual([]);
    expect(r2.missing).toBe(0);
    expect(sim.sentOn[1]! - mid[1]!).toBeGreaterThan(400);
  });

  it("fails over on disableBearer, and links again on enableBearer", () => {
    const sim = twoBearerCluster(2, 5);
    const [a, b] = sim.engines as [ReturnType<typeof createLinkEngine>, ReturnType<typeof createLinkEngine>];
    // queue traffic that is still unacked when the bearer goes away
    for (let k = 0; k < 40; k++) a.sendUnicast(b.address, testMessage(1, k), sim.now);
    a.disableBearer(0, sim.now);
    sim.poke(0);
    const delivered: number[] = [];
    sim.onOutput = (node, out) => {
      if (node === 1 && out.kind === "deliver")
        delivered.push(out.message.user === "NAME_DISTRIBUTOR" ? out.message.items[0]!.lower : -1);
    };
    sim.run(5000);
    expect(delivered).toEqual([...Array(40).keys()]);
    expect(a.links().map((l) => l.bearerName)).toEqual(["sim1"]);
    expect(kinds(sim, 0, "nodeDown")).toEqual([]);
    // the disabled bearer hears nothing more
    a.receive(new Uint8Array(64), mediaOf(1, 0), sim.now, 0);
    expect(a.stats().drops["bearer-disabled"]).toBeGreaterThan(0);
    a.enableBearer(0, sim.now);
    sim.poke(0);
    sim.run(10_000, () => a.links().filter((l) => l.state === "ESTABLISHED").length === 2);
    expect(a.links().filter((l) => l.state === "ESTABLISHED")).toHaveLength(2);
    expect(() => a.disableBearer(7, sim.now)).toThrow(LinkEngineError);
  });

  it("puts the failed link's peer bearer id and the packet count in each FAILOVER tunnel", () => {
    const sim = twoBearerCluster(2, 6);
    const [a, b] = sim.engines as [ReturnType<typeof createLinkEngine>, ReturnType<typeof createLinkEngine>];
    const tunnels: ReturnType<typeof decodeMessage>[] = [];
    sim.run(3000); // everything so far acked
    sim.partitionBearer(0, [0], [1]);
    for (let k = 0; k < 5; k++) a.sendUnicast(b.address, testMessage(1, k), sim.now);
    sim.poke(0);
    // let the partition be detected by supervision, watching what a sends on bearer 1
    watchSent(a, 1, (m) => {
      if (m.user === "TUNNEL_PROTOCOL") tunnels.push(m);
    });
    sim.run(5000);
    expect(tunnels.length).toBe(5);
    for (const t of tunnels) expect(t).toMatchObject({ type: "FAILOVER", bearerId: 0, msgCount: 5 });
    // each carries one of the five messages, with its seqno on the failed link
    const inner = tunnels.map((t) => (t.user === "TUNNEL_PROTOCOL" ? decodeMessage(t.data) : undefined));
    expect(inner.map((m) => (m?.user === "NAME_DISTRIBUTOR" ? m.items[0]?.lower : -1))).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect(kinds(sim, 1, "nodeDown")).toEqual([]);
  });

  it("announces a failover with nothing pending by the kernel's dummy tunnel packet", () => {
    const sim = twoBearerCluster(2, 8);
    sim.run(3000); // everything acked
    const [a] = sim.engines as [ReturnType<typeof createLinkEngine>];
    a.disableBearer(0, sim.now);
    const tunnels = a
      .poll()
      .filter((o) => o.kind === "transmit" && o.bearer === 1)
      .map((o) => decodeMessage((o as { bytes: Uint8Array }).bytes))
      .filter((m) => m.user === "TUNNEL_PROTOCOL");
    expect(tunnels).toHaveLength(1);
    const t = tunnels[0]!;
    expect(t).toMatchObject({ type: "FAILOVER", bearerId: 0, msgCount: 1 });
    const inner = decodeMessage(t.user === "TUNNEL_PROTOCOL" ? t.data : new Uint8Array());
    expect(inner).toMatchObject({
      user: "LOW_IMPORTANCE",
      type: "DIRECT_MSG",
      headerSize: 32,
      errorCode: 2,
      seqno: 0,
    });
  });

  it("rejects bad bearer options and datagrams from unknown bearers", () => {
    const base = { nodeId: nodeIdFromString("x"), random: Math.random, skipTrial: true };
    const bearer = { name: "b", mediaAddress: mediaOf(1), mtu: 1400, canBroadcast: true };
    expect(() => createLinkEngine({ ...base })).toThrow(LinkEngineError);
    expect(() => createLinkEngine({ ...base, bearers: [bearer, bearer, bearer, bearer] })).toThrow(/bearers/);
    expect(() => createLinkEngine({ ...base, bearer, bearers: [bearer] })).toThrow(LinkEngineError);
    const e = createLinkEngine({ ...base, bearers: [bearer] });
    e.start(0);
    e.receive(new Uint8Array(64), mediaOf(2), 1, 5);
    e.receive(new Uint8Array(64), mediaOf(2), 1, -1);
    expect(e.stats().drops["bearer-disabled"]).toBe(2);
  });
});

describe("failover tunnels that need care", () => {
  it("splits packets too large for the tunnel link into the kernel's tunnel fragments", () => {
    // bearer 1 carries 700-byte packets only: bearer 0's 1,300-byte packets must be fragmented
    const sim = new Sim({ nodes: 2, seed: 21, bearers: 2, mtus: [1400, 700], loss: 0.05, jitter: 2 });
    sim.start();
    sim.run(20_000, () =>
      sim.engines.every((e) => e.links().filter((l) => l.state === "ESTABLISHED").length === 2),
    );
    const [a, b] = sim.engines as [ReturnType<typeof createLinkEngine>, ReturnType<typeof createLinkEngine>];
    const fragments: number[] = [];
    watchSent(a, 1, (m) => {
      if (m.user === "TUNNEL_PROTOCOL" && m.fragmentCount > 0) fragments.push(m.fragmentCount);
    });
    const got: number[] = [];
    sim.onOutput = (node, out) => {
      if (node === 1 && out.kind === "deliver" && out.message.user === "NAME_DISTRIBUTOR")
        got.push(out.message.items[0]!.lower);
    };
    // 60 items: one 1,240-byte packet each, in flight when bearer 0 is cut
    sim.partitionBearer(0, [0], [1]);
    for (let k = 0; k < 30; k++) a.sendUnicast(b.address, testMessage(1, k, 60), sim.now);
    sim.poke(0);
    sim.run(10_000);
    expect(got).toEqual([...Array(30).keys()]);
    expect(fragments.length).toBeGreaterThan(0);
    expect(fragments.every((n) => n === 2)).toBe(true);
    expect(kinds(sim, 1, "nodeDown")).toEqual([]);
  });

  it("still takes in the peer's FAILOVER for a link on a bearer it disabled itself", () => {
    const sim = twoBearerCluster(2, 24);
    sim.run(3000);
    const [a, b] = sim.engines as [ReturnType<typeof createLinkEngine>, ReturnType<typeof createLinkEngine>];
    const got: number[] = [];
    sim.onOutput = (node, out) => {
      if (node === 0 && out.kind === "deliver" && out.message.user === "NAME_DISTRIBUTOR")
        got.push(out.message.items[0]!.lower);
    };
    a.disableBearer(0, sim.now);
    sim.poke(0);
    // b does not know yet: these go on its link on bearer 0, which a no longer hears
    for (let k = 0; k < 20; k++) b.sendUnicast(a.address, testMessage(1, k), sim.now);
    sim.poke(1);
    sim.run(5000); // b's supervision fails that link and tunnels the 20 over bearer 1
    expect(b.stats().tunnelSent).toBeGreaterThanOrEqual(20);
    expect(got).toEqual([...Array(20).keys()]);
    expect(kinds(sim, 0, "nodeDown")).toEqual([]);
  });

  it("never puts a tunnel packet in a bundle (a kernel would not open it), even with the window full", () => {
    const sim = twoBearerCluster(2, 23);
    sim.run(3000);
    const [a, b] = sim.engines as [ReturnType<typeof createLinkEngine>, ReturnType<typeof createLinkEngine>];
    let tunnelsInBundles = 0;
    let bundles = 0;
    let tunnels = 0;
    watchSent(a, 1, (m) => {
      if (m.user === "TUNNEL_PROTOCOL") tunnels++;
      if (m.user !== "MSG_BUNDLER") return;
      bundles++;
      for (const inner of m.messages) if (decodeMessage(inner).user === "TUNNEL_PROTOCOL") tunnelsInBundles++;
    });
    const got: number[] = [];
    sim.onOutput = (node, out) => {
      if (node === 1 && out.kind === "deliver" && out.message.user === "NAME_DISTRIBUTOR")
        got.push(out.message.items[0]!.lower);
    };
    // 120 small messages: 50 in the window, the rest bundled in the backlog; then bearer 0 goes,
    // the tunnel (more than a window) queues behind the new link's window, and more traffic follows
    sim.partitionBearer(0, [0], [1]);
    for (let k = 0; k < 120; k++) a.sendUnicast(b.address, testMessage(1, k), sim.now);
    sim.poke(0);
    a.disableBearer(0, sim.now);
    for (let k = 120; k < 200; k++) a.sendUnicast(b.address, testMessage(1, k), sim.now);
    sim.poke(0);
    sim.run(5000);
    expect(got).toEqual([...Array(200).keys()]);
    expect(tunnels).toBeGreaterThan(50);
    expect(bundles).toBeGreaterThan(0);
    expect(tunnelsInBundles).toBe(0);
  });

  it("gives up on a tunnel that stops short after the tolerance, so the failed link re-forms", () => {
    // a's codec claims three more tunnel packets than it sends (a kernel aborts a tunnel this way)
    const lying = {
      encode: (m: Parameters<typeof encodeMessage>[0]) =>
        encodeMessage(m.user === "TUNNEL_PROTOCOL" ? { ...m, msgCount: m.msgCount + 3 } : m),
      decode: decodeMessage,
    };
    const sim = new Sim({
      nodes: 2,
      seed: 22,
      bearers: 2,
      engineFor: (i) => (i === 0 ? { codec: lying } : {}),
    });
    sim.start();
    const both = () =>
      sim.engines.every((e) => e.links().filter((l) => l.state === "ESTABLISHED").length === 2);
    sim.run(20_000, both);
    const [a, b] = sim.engines as [ReturnType<typeof createLinkEngine>, ReturnType<typeof createLinkEngine>];
    a.disableBearer(0, sim.now);
    sim.poke(0);
    sim.run(100);
    expect(b.links().find((l) => l.bearer === 0)?.state).toBe("RESET");
    a.enableBearer(0, sim.now);
    sim.poke(0);
    sim.run(20_000, both);
    expect(both()).toBe(true);
    expect(b.stats().drops["failover-incomplete"]).toBe(1);
  });
});
