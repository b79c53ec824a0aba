/**
 * Replays the bytes a real Linux 6.1 kernel sent (shared/kernel-tipc captures/link-up) into an
 * engine that plays the host peer "hostpeer", and checks that what the engine answers matches
 * what the kernel accepted (host-sent-*.hex) in every field that matters to the kernel.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  bundleMessages,
  decodeMessage,
  encodeMessage,
  nodeAddressFromId as hash128to32,
  type LinkProtocolMessage,
  type NameDistributorMessage,
  nodeIdFromString,
  TIPC_NODE_CAPABILITIES,
} from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { createLinkEngine } from "./engine.js";
import type { LinkOutput, MediaAddress } from "./types.js";

const dir = join(import.meta.dirname, "__fixtures__", "kernel-6.1-link-up");
function hex(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(join(dir, name), "utf8").trim(), "hex"));
}
const word = (b: Uint8Array, n: number) =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(n * 4);

const KERNEL: MediaAddress = { family: "ipv4", address: "10.0.2.15", port: 6118 };
const GUEST1 = 0x13446573;
const HOSTPEER = 0x180a1606;

function transmits(out: LinkOutput[]) {
  return out.filter((o) => o.kind === "transmit") as Extract<LinkOutput, { kind: "transmit" }>[];
}

function hostpeer() {
  return createLinkEngine({
    nodeId: nodeIdFromString("hostpeer"),
    capabilities: TIPC_NODE_CAPABILITIES,
    signature: 0x9234,
    random: () => 0.5,
    skipTrial: true,
    bearer: {
      name: "hb0",
      mediaAddress: { family: "ipv4", address: "10.0.2.2", port: 6119 },
      mtu: 14000,
      canBroadcast: false,
      discoveryPeers: [KERNEL],
    },
  });
}

describe("kernel 6.1 golden handshake", () => {
  it("derives the kernel's addresses from the node ids", () => {
    expect(hash128to32(nodeIdFromString("guest1"))).toBe(GUEST1);
    expect(hash128to32(nodeIdFromString("hostpeer"))).toBe(HOSTPEER);
  });

  it("sends the DSC_REQ the kernel accepted, byte for byte", () => {
    const e = hostpeer();
    e.start(0);
    const out = e.poll();
    expect(out[0]).toEqual({ kind: "addressAssigned", address: HOSTPEER });
    const tx = transmits(out);
    expect(tx).toHaveLength(1);
    expect(tx[0]?.to).toEqual(KERNEL);
    expect(Buffer.from(tx[0]!.bytes).toString("hex")).toBe(
      Buffer.from(hex("host-sent-1-DSC_REQ.hex")).toString("hex"),
    );
  });

  it("answers the kernel's RESET with the ACTIVATE it accepted, comes up on its STATE, acks its bulk", () => {
    const e = hostpeer();
    let now = 0;
    e.start(now);
    e.poll();
    // the kernel's DSC_REQ: we answer DSC_RESP to the media address inside it, and send our RESET at once
    now += 10;
    e.receive(hex("010-LINK_CONFIG-DSC_REQ_MSG.hex"), KERNEL, now);
    let tx = transmits(e.poll()).map((t) => ({ to: t.to, m: decodeMessage(t.bytes) }));
    const resp = tx.find((t) => t.m.user === "LINK_CONFIG");
    expect(resp?.m).toMatchObject({ type: "DSC_RESP", destDomain: GUEST1 });
    expect(resp?.to).toEqual(KERNEL);
    const reset = tx.find((t) => t.m.user === "LINK_PROTOCOL")?.m as LinkProtocolMessage;
    expect(reset).toMatchObject({
      type: "RESET",
      destNode: GUEST1,
      prevNode: HOSTPEER,
      priority: 0,
      maxPacket: 14000,
    });
    expect(reset.bearerName).toBe("hb0");
    expect(reset.redundantLink).toBe(false);
    expect(reset.peerStopping).toBe(false);

    // kernel RESET (session 0x3670) -> ACTIVATE carrying that session as dest_session
    now += 10;
    e.receive(hex("012-LINK_PROTOCOL-RESET_MSG.hex"), KERNEL, now);
    tx = transmits(e.poll()).map((t) => ({ to: t.to, m: decodeMessage(t.bytes) }));
    expect(tx).toHaveLength(1);
    const act = tx[0]!.m as LinkProtocolMessage;
    const golden = decodeMessage(hex("host-sent-2-ACTIVATE.hex")) as LinkProtocolMessage;
    expect(act.type).toBe("ACTIVATE");
    expect(act.destSessionValid).toBe(true);
    expect(act.destSession).toBe(0x3670);
    // every field the kernel checks matches the accepted message
    for (const f of [
      "prevNode",
      "origNode",
      "destNode",
      "maxPacket",
      "bearerName",
      "nextSent",
      "lastBcast",
      "bcAckInvalid",
      "redundantLink",
      "peerStopping",
      "priority",
      "netPlane",
      "bearerId",
    ] as const) {
      expect(act[f], f).toEqual(golden[f]);
    }

    // kernel's first STATE after its link came up (013): our link comes up; STATE then BCAST init (seqno 1)
    now += 10;
    e.receive(hex("013-LINK_PROTOCOL-STATE_MSG.hex"), KERNEL, now);
    const out = e.poll();
    expect(out.filter((o) => o.kind !== "transmit").map((o) => o.kind)).toEqual(["linkUp", "nodeUp"]);
    const up = out.find((o) => o.kind === "nodeUp");
    expect(up).toMatchObject({ peer: GUEST1, capabilities: 0xfff, mtu: 14000 });
    expect(out.find((o) => o.kind === "linkUp")).toMatchObject({ name: "hostpeer:hb0-guest1:b1" });
    const sent = transmits(out);
    expect(sent).toHaveLength(2);
    const state = decodeMessage(sent[0]!.bytes) as LinkProtocolMessage;
    const goldenState = decodeMessage(hex("host-sent-3-STATE.hex")) as LinkProtocolMessage;
    expect(state.type).toBe("STATE");
    expect(sent[0]!.bytes.length).toBe(hex("host-sent-3-STATE.hex").length); // 44: with the empty gap-ack record
    expect(word(sent[0]!.bytes, 0)).toBe(word(hex("host-sent-3-STATE.hex"), 0));
    for (const f of [
      "prevNode",
      "origNode",
      "destNode",
      "nextSent",
      "lastBcast",
      "bcAckInvalid",
      "redundantLink",
      "priority",
      "tolerance",
      "seqno",
      "bcastAck",
      "gapAcks",
    ] as const) {
      expect(state[f], f).toEqual(goldenState[f]);
    }
    const init = decodeMessage(sent[1]!.bytes);
    expect(init).toMatchObject({
      user: "BCAST_PROTOCOL",
      seqno: 1,
      nonSeq: false,
      bcAckInvalid: true,
      lastBcast: 0,
      destNode: GUEST1,
    });
    // the kernel's init message is byte-identical in layout to ours apart from addresses
    expect(word(sent[1]!.bytes, 0)).toBe(word(hex("014-BCAST_PROTOCOL-type0.hex"), 0));

    // kernel's broadcast synch (unicast seqno 1) then its bulk (seqno 2)
    now += 10;
    e.receive(hex("014-BCAST_PROTOCOL-type0.hex"), KERNEL, now);
    now += 10;
    e.receive(hex("015-NAME_DISTRIBUTOR-type0.hex"), KERNEL, now);
    const delivered = e.poll().filter((o) => o.kind === "deliver");
    expect(delivered).toHaveLength(1);
    const bulk = (delivered[0] as Extract<LinkOutput, { kind: "deliver" }>).message as NameDistributorMessage;
    expect(bulk).toMatchObject({
      user: "NAME_DISTRIBUTOR",
      bulk: true,
      lastBulk: true,
      namedSeqno: 2,
      origNode: GUEST1,
    });
    expect(bulk.items.map((i) => [i.type, i.lower, i.upper])).toEqual([
      [1000, 1, 10],
      [0, GUEST1, GUEST1],
    ]);
    expect(e.nodes()[0]?.broadcastSynched).toBe(true);

    // our publication, as the kernel accepted it (bulk|last_bulk|non_legacy, one item {2000,5,5})
    const pub = decodeMessage(hex("host-sent-4-PUBLICATION.hex")) as NameDistributorMessage;
    e.sendUnicast(GUEST1, { ...pub, seqno: 0, ack: 0 }, now);
    const pubTx = transmits(e.poll());
    expect(pubTx).toHaveLength(1);
    const ours = decodeMessage(pubTx[0]!.bytes) as NameDistributorMessage;
    expect(ours).toMatchObject({
      seqno: 2,
      ack: 2,
      bcastAck: 0,
      prevNode: HOSTPEER,
      origNode: HOSTPEER,
      destNode: GUEST1,
    });
    expect(ours.items).toEqual(pub.items);
    for (const w of [0, 1, 4, 5, 6, 7, 8, 9])
      expect(word(pubTx[0]!.bytes, w), `word ${w}`).toBe(word(hex("host-sent-4-PUBLICATION.hex"), w));

    // the kernel's next STATE (016, probe-less, ack 1): releases our init; our ack STATE on the timer is valid
    now += 10;
    e.receive(hex("016-LINK_PROTOCOL-STATE_MSG.hex"), KERNEL, now);
    e.poll();
    expect(e.links()[0]).toMatchObject({ state: "ESTABLISHED", transmitQueue: 1, rcvNxt: 3 });
    now += 400;
    e.tick(now);
    const st = transmits(e.poll())
      .map((t) => decodeMessage(t.bytes))
      .filter((m): m is LinkProtocolMessage => m.user === "LINK_PROTOCOL");
    expect(st).toHaveLength(1);
    expect(st[0]).toMatchObject({
      type: "STATE",
      ack: 2,
      bcastAck: 0,
      bcAckInvalid: false,
      redundantLink: true,
      priority: 0,
      tolerance: 0,
    });
  });

  it("answers every kernel probe with a STATE, and never lets the link fail while the kernel talks", () => {
    const e = hostpeer();
    let now = 0;
    e.start(now);
    now += 1;
    e.receive(hex("010-LINK_CONFIG-DSC_REQ_MSG.hex"), KERNEL, now);
    now += 1;
    e.receive(hex("012-LINK_PROTOCOL-RESET_MSG.hex"), KERNEL, now);
    now += 1;
    e.receive(hex("013-LINK_PROTOCOL-STATE_MSG.hex"), KERNEL, now);
    e.poll();
    // a probe: 016 with the probe and keepalive bits set and an increasing STATE counter
    const probe = hex("016-LINK_PROTOCOL-STATE_MSG.hex").slice();
    const dv = new DataView(probe.buffer);
    for (let i = 0; i < 20; i++) {
      dv.setUint32(0, dv.getUint32(0) | (1 << 19)); // is_keepalive
      dv.setUint32(20, dv.getUint32(20) | 1); // probe
      dv.setUint16(10, 2 + i); // STATE counter (LINK_PROTO_SEQNO)
      dv.setUint16(8, 0); // ack 0 (we never got the init acked in this variant)
      now += 384;
      e.tick(now);
      e.poll();
      e.receive(probe, KERNEL, now);
      const replies = transmits(e.poll()).map((t) => decodeMessage(t.bytes) as LinkProtocolMessage);
      expect(replies.some((r) => r.type === "STATE" && r.isKeepalive && !r.probe)).toBe(true);
    }
    expect(e.links()[0]?.state).toBe("ESTABLISHED");
    expect(e.stats().linkDowns).toBe(0);
  });
});

/** hostpeer with the link to guest1 up, the kernel's synch and bulk received. */
function upWithKernel() {
  const e = hostpeer();
  let now = 0;
  e.start(now);
  for (const f of [
    "010-LINK_CONFIG-DSC_REQ_MSG.hex",
    "012-LINK_PROTOCOL-RESET_MSG.hex",
    "013-LINK_PROTOCOL-STATE_MSG.hex",
    "014-BCAST_PROTOCOL-type0.hex",
    "015-NAME_DISTRIBUTOR-type0.hex",
    "016-LINK_PROTOCOL-STATE_MSG.hex",
  ]) {
    now += 1;
    e.receive(hex(f), KERNEL, now);
  }
  e.poll();
  return { e, now };
}

/** A broadcast-link packet as the kernel sends it: non_seq, destnode 0, bcast seqno in word 2, net id in word 5. */
function kernelBroadcast(seqno: number, lower: number): Uint8Array {
  const m = decodeMessage(hex("015-NAME_DISTRIBUTOR-type0.hex")) as NameDistributorMessage;
  return encodeMessage({
    ...m,
    nonSeq: true,
    bulk: false,
    lastBulk: false,
    namedSeqno: 2 + lower,
    seqno,
    ack: 0,
    destNode: 0,
    netId: 4711,
    items: [{ type: 1000, lower, upper: lower, port: 1, key: lower }],
  });
}

describe("kernel broadcast link (NAMED_BCAST)", () => {
  it("delivers the kernel's broadcast name updates, plain and bundled, in order, and acks them in STATE", () => {
    const up = upWithKernel();
    const e = up.e;
    let now = up.now;
    const got: number[] = [];
    const take = () => {
      for (const o of e.poll()) {
        if (o.kind === "deliver") {
          expect(o.via).toBe("broadcast");
          got.push((o.message as NameDistributorMessage).items[0]!.lower);
        }
      }
    };
    // seqnos 1..60: more than the kernel's window of 50, the second half bundled, out of order
    for (let s = 1; s <= 30; s++) {
      now += 1;
      e.receive(kernelBroadcast(s, s), KERNEL, now);
    }
    const inner = [];
    for (let s = 31; s <= 60; s++) inner.push(kernelBroadcast(0, s));
    const bundles = [];
    for (let k = 0; k < 3; k++) {
      const b = bundleMessages(inner.slice(k * 10, k * 10 + 10), {
        prevNode: 0x13446573,
        origNode: 0x13446573,
        destNode: 0,
        nonSeq: true,
        netId: 4711,
        seqno: 31 + k,
      });
      bundles.push(encodeMessage(b));
    }
    now += 1;
    e.receive(bundles[2]!, KERNEL, now);
    now += 1;
    e.receive(bundles[0]!, KERNEL, now);
    now += 1;
    e.receive(bundles[1]!, KERNEL, now);
    now += 1;
    e.receive(bundles[1]!, KERNEL, now); // duplicate
    take();
    expect(got).toEqual(Array.from({ length: 60 }, (_, k) => k + 1));
    // our next STATE acks broadcast packet 33 (30 plain + 3 bundles)
    now += 400;
    e.tick(now);
    const st = e
      .poll()
      .filter((o) => o.kind === "transmit")
      .map((o) => decodeMessage((o as { bytes: Uint8Array }).bytes))
      .filter((m): m is LinkProtocolMessage => m.user === "LINK_PROTOCOL");
    expect(st.at(-1)).toMatchObject({ type: "STATE", bcastAck: 33, bcAckInvalid: false, bcGap: 0 });
  });

  it("NACKs a broadcast gap with bc_gap, and learns a tail loss from the kernel's last_bcast", () => {
    const { e } = upWithKernel();
    let now = 100;
    now += 1;
    e.receive(kernelBroadcast(1, 1), KERNEL, now);
    now += 1;
    e.receive(kernelBroadcast(4, 4), KERNEL, now);
    e.poll();
    now += 400;
    e.tick(now);
    const st = e
      .poll()
      .map((o) => (o.kind === "transmit" ? decodeMessage(o.bytes) : undefined))
      .filter((m): m is LinkProtocolMessage => m?.user === "LINK_PROTOCOL");
    expect(st.at(-1)).toMatchObject({ bcastAck: 1, bcGap: 2 });

    // packets 2 and 3 arrive; 5 and 6 are lost at the tail: only the kernel's STATE
    // (last_bcast = 6) reveals them, and we answer at once with bc_gap = 2
    e.receive(kernelBroadcast(2, 2), KERNEL, now);
    e.receive(kernelBroadcast(3, 3), KERNEL, now);
    e.poll();
    const state = hex("016-LINK_PROTOCOL-STATE_MSG.hex");
    const dv = new DataView(state.buffer);
    dv.setUint16(10, 3); // next STATE counter
    dv.setUint16(16, 6); // last_bcast
    now += 1;
    e.receive(state, KERNEL, now);
    const reply = e
      .poll()
      .map((o) => (o.kind === "transmit" ? decodeMessage(o.bytes) : undefined))
      .filter((m): m is LinkProtocolMessage => m?.user === "LINK_PROTOCOL");
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatchObject({ type: "STATE", bcastAck: 4, bcGap: 2 });
  });

  it("drops broadcast packets before the synch message and from another cluster", () => {
    const e = hostpeer();
    let now = 0;
    e.start(now);
    for (const f of [
      "010-LINK_CONFIG-DSC_REQ_MSG.hex",
      "012-LINK_PROTOCOL-RESET_MSG.hex",
      "013-LINK_PROTOCOL-STATE_MSG.hex",
    ]) {
      now += 1;
      e.receive(hex(f), KERNEL, now);
    }
    now += 1;
    e.receive(kernelBroadcast(1, 1), KERNEL, now);
    expect(e.stats().drops["broadcast-unsynched"]).toBe(1);
    now += 1;
    e.receive(hex("014-BCAST_PROTOCOL-type0.hex"), KERNEL, now);
    const wrongNet = kernelBroadcast(1, 1);
    new DataView(wrongNet.buffer).setUint32(20, 4712);
    now += 1;
    e.receive(wrongNet, KERNEL, now);
    expect(e.stats().drops["other-cluster"]).toBe(1);
    now += 1;
    e.receive(kernelBroadcast(1, 1), KERNEL, now);
    expect(e.poll().filter((o) => o.kind === "deliver")).toHaveLength(1);
  });

  it("after the kernel's link failure RESET (peer_stopping + redundant_link) goes down, then re-links on its next RESET", () => {
    const { e } = upWithKernel();
    let now = 100;
    const reset = hex("012-LINK_PROTOCOL-RESET_MSG.hex");
    const dv = new DataView(reset.buffer);
    dv.setUint16(20, 0x3671); // new session
    dv.setUint16(22, dv.getUint16(22) | (1 << 13) | (1 << 12)); // peer_stopping, redundant_link
    now += 1;
    e.receive(reset, KERNEL, now);
    const out = e.poll();
    expect(out.find((o) => o.kind === "linkDown")).toMatchObject({ reason: "peer-stopping" });
    expect(e.links()[0]?.state).toBe("RESET");
    const reset2 = hex("012-LINK_PROTOCOL-RESET_MSG.hex");
    new DataView(reset2.buffer).setUint16(20, 0x3672);
    now += 1;
    e.receive(reset2, KERNEL, now);
    const act = e
      .poll()
      .map((o) => (o.kind === "transmit" ? decodeMessage(o.bytes) : undefined))
      .find((m) => m?.user === "LINK_PROTOCOL") as LinkProtocolMessage;
    expect(act).toMatchObject({ type: "ACTIVATE", destSessionValid: true, destSession: 0x3672 });
  });
});
