// Forged datagrams, built with @tipcjs/codec's encoder (the same bytes a real node would send,
// with the fields an attacker chooses), and a deterministic mutator for captured datagrams.
import {
  encodeMessage,
  type FragmenterMessage,
  type LinkConfigMessage,
  type LinkProtocolMessage,
  type NameDistributorMessage,
  type NameItem,
  nodeAddressFromId,
  nodeIdFromString,
  TIPC_DEFAULT_NET_ID,
} from "@tipcjs/codec";

export const NET_ID = TIPC_DEFAULT_NET_ID;

/** A deterministic random source (the link package's mulberry32): every run sends the same bytes. */
export { prng as rng } from "../../../packages/link/src/__helpers__/sim.js";

export function addressOf(nodeId: string): number {
  return nodeAddressFromId(nodeIdFromString(nodeId));
}

export function discovery(o: {
  type?: LinkConfigMessage["type"];
  nodeId: string;
  /** default: derived from the node id, as a node does */
  prevNode?: number;
  netId?: number;
  /** the media address inside the message: where replies are sent */
  port: number;
  capabilities: number;
  signature?: number;
}): Uint8Array {
  return encodeMessage({
    user: "LINK_CONFIG",
    type: o.type ?? "DSC_REQ",
    capabilities: o.capabilities,
    signature: o.signature ?? 0x1234,
    destDomain: 0,
    prevNode: o.prevNode ?? addressOf(o.nodeId),
    netId: o.netId ?? NET_ID,
    mediaAddress: { family: "ipv4", address: "127.0.0.1", port: o.port },
    peerNetHash: 0,
    suggestedAddress: 0,
    nodeId: nodeIdFromString(o.nodeId),
  });
}

/** A NAME_DISTRIBUTOR update: unicast (`nonSeq` false, to `destNode`) or on the broadcast link. */
export function nameUpdate(o: {
  prevNode: number;
  destNode: number;
  seqno: number;
  namedSeqno: number;
  broadcast?: boolean;
  withdrawal?: boolean;
  /** a pre-2020 sender's message (no non_legacy bit): applied without a sequence check */
  legacy?: boolean;
  items: NameItem[];
}): Uint8Array {
  const m: NameDistributorMessage = {
    user: "NAME_DISTRIBUTOR",
    type: o.withdrawal ? "WITHDRAWAL" : "PUBLICATION",
    nonSeq: o.broadcast === true,
    bcastAck: 0,
    ack: 0,
    seqno: o.seqno & 0xffff,
    prevNode: o.prevNode,
    origNode: o.prevNode,
    destNode: o.broadcast ? 0 : o.destNode,
    bulk: false,
    lastBulk: false,
    nonLegacy: o.legacy !== true,
    namedSeqno: o.namedSeqno & 0xffff,
    bcAckInvalid: false,
    ...(o.broadcast ? { netId: NET_ID } : {}),
    items: o.items,
  };
  return encodeMessage(m);
}

export function linkProtocol(o: {
  type: LinkProtocolMessage["type"];
  prevNode: number;
  destNode: number;
  session: number;
  ack?: number;
  seqno?: number;
  bcastAck?: number;
  nextSent?: number;
  lastBcast?: number;
  probe?: boolean;
  destSession?: number;
  bearerName?: string;
}): Uint8Array {
  const m: LinkProtocolMessage = {
    user: "LINK_PROTOCOL",
    type: o.type,
    nonSeq: false,
    isKeepalive: false,
    seqGap: 0,
    bcastAck: o.type === "ACTIVATE" ? 0 : (o.bcastAck ?? 0),
    destSessionValid: o.type === "ACTIVATE" && o.destSession !== undefined,
    destSession: o.type === "ACTIVATE" ? (o.destSession ?? 0) : 0,
    ack: o.ack ?? 0,
    seqno: o.seqno ?? 0,
    prevNode: o.prevNode,
    lastBcast: o.lastBcast ?? 0,
    nextSent: o.nextSent ?? 1,
    session: o.session & 0xffff,
    bcAckInvalid: false,
    peerStopping: false,
    redundantLink: false,
    bearerId: 0,
    priority: 0,
    netPlane: 0,
    probe: o.probe ?? false,
    origNode: o.prevNode,
    destNode: o.destNode,
    bcGap: 0,
    maxPacket: 1472,
    tolerance: 0,
    ...(o.type === "STATE" ? {} : { bearerName: o.bearerName ?? "udp0" }),
  };
  return encodeMessage(m);
}

export function fragment(o: {
  prevNode: number;
  destNode: number;
  seqno: number;
  ack?: number;
  type: FragmenterMessage["type"];
  fragmentNumber: number;
  data: Uint8Array;
}): Uint8Array {
  return encodeMessage({
    user: "MSG_FRAGMENTER",
    type: o.type,
    nonSeq: false,
    bcastAck: 0,
    ack: o.ack ?? 0,
    seqno: o.seqno & 0xffff,
    prevNode: o.prevNode,
    origNode: o.prevNode,
    destNode: o.destNode,
    fragmentNumber: o.fragmentNumber & 0xffff,
    fragmentCount: 0,
    importance: 0,
    data: o.data,
  });
}

/**
 * One mutation of `src` (never `src` itself): flip bits, set bytes, truncate, extend, or splice
 * a word of one header field. Deterministic for a given random source.
 */
export function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  const out = new Uint8Array(src);
  switch (pick(5)) {
    case 0: {
      for (let k = 1 + pick(4); k > 0; k--) {
        const i = pick(out.length);
        out[i] = (out[i] ?? 0) ^ (1 << pick(8));
      }
      return out;
    }
    case 1: {
      for (let k = 1 + pick(3); k > 0; k--) out[pick(out.length)] = [0, 0xff, 0x7f, 0x80][pick(4)] ?? 0;
      return out;
    }
    case 2:
      return out.subarray(0, pick(out.length));
    case 3: {
      const ext = new Uint8Array(out.length + 1 + pick(64));
      ext.set(out);
      for (let i = out.length; i < ext.length; i++) ext[i] = pick(256);
      return ext;
    }
    default: {
      // one whole header word (0..9) replaced: sizes, users, seqnos, addresses
      const w = pick(Math.min(10, out.length >> 2));
      new DataView(out.buffer, out.byteOffset).setUint32(w * 4, Math.floor(r() * 2 ** 32));
      return out;
    }
  }
}
