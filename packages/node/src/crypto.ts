/**
 * The node's encryption layer: @tipcjs/crypto (the kernel's crypto.c) between the link engine and
 * the bearers, plus the admission allow-list. Every packet leaves through `outgoing` and every
 * datagram enters through `incoming`; nothing else in the node sees a ciphertext.
 */
import {
  decodeMessage,
  NODE_ID_LEN,
  nodeIdFromString,
  peekPrevNode,
  peekUserValue,
  USER,
} from "@tipcjs/codec";
import {
  type AdmissionPolicy,
  type CryptoEngine,
  createAdmission,
  createCrypto,
  EMSG_OVERHEAD,
  isTipcCryptoError,
  type KeyMessage,
  parseKey,
} from "@tipcjs/crypto";
import { NodeError } from "./errors.js";
import type { NodeAdmissionOptions, NodeCryptoOptions, NodeCryptoStatus, NodeKey } from "./types.js";

/**
 * What encryption adds to a packet at most: ehdr 16 + tag 16 + up to 3 bytes of padding to a
 * multiple of 4 (the kernel's tipc_link_mss takes EMSG_OVERHEAD off whenever it is built with
 * CONFIG_TIPC_CRYPTO). The link MTU of an encrypting node is the bearer's less this.
 */
export const CRYPTO_MTU_OVERHEAD = EMSG_OVERHEAD + 3;

/** Addresses learned from discovery of an allowed node id, kept at most (oldest forgotten first). */
const MAX_ADMITTED_BY_ID = 1024;
/** The smallest TIPC header: anything shorter the link drops as undecodable. */
const MIN_H_SIZE = 24;

export function parseNodeKey(k: NodeKey): {
  key: ReturnType<typeof parseKey>;
  nodeId?: Uint8Array;
  master?: boolean;
} {
  if (typeof k !== "object" || k === null) throw new NodeError("BAD_ARGUMENT", "a key is an object");
  let key: ReturnType<typeof parseKey>;
  try {
    if (typeof k.key === "string") key = parseKey(k.key, k.algorithm);
    else if (k.key instanceof Uint8Array)
      key = parseKey(`0x${Buffer.from(k.key).toString("hex")}`, k.algorithm);
    else throw new NodeError("BAD_ARGUMENT", "key must be a string or a Uint8Array");
  } catch (e) {
    if (isTipcCryptoError(e)) throw new NodeError("BAD_ARGUMENT", `bad key: ${e.message}`, { cause: e });
    throw e;
  }
  if (k.master === true && k.nodeId !== undefined)
    throw new NodeError("BAD_ARGUMENT", "a master key is a cluster key: no nodeId with it");
  const nodeId = k.nodeId === undefined ? undefined : toNodeId(k.nodeId, "nodeId");
  return { key, ...(nodeId ? { nodeId } : {}), ...(k.master === true ? { master: true } : {}) };
}

function toNodeId(id: unknown, what: string): Uint8Array {
  try {
    if (typeof id === "string" && id.length > 0) return nodeIdFromString(id);
  } catch (e) {
    throw new NodeError("BAD_ARGUMENT", `bad ${what}: ${(e as Error).message}`);
  }
  if (id instanceof Uint8Array && id.length > 0 && id.length <= NODE_ID_LEN) {
    const out = new Uint8Array(NODE_ID_LEN);
    out.set(id);
    return out;
  }
  throw new NodeError("BAD_ARGUMENT", `${what} must be a node id string or 1..16 bytes`);
}

export function validateCryptoOptions(
  c: NodeCryptoOptions | undefined,
  a: NodeAdmissionOptions | undefined,
): void {
  const bad = (m: string): never => {
    throw new NodeError("BAD_OPTIONS", m);
  };
  if (c !== undefined) {
    if (typeof c !== "object" || c === null) bad("crypto must be an object");
    if (c.keys !== undefined && !Array.isArray(c.keys)) bad("crypto.keys must be a list");
    if (c.random !== undefined && typeof c.random !== "function") bad("crypto.random must be a function");
    for (const k of c.keys ?? []) {
      try {
        parseNodeKey(k);
      } catch (e) {
        bad(`crypto.keys: ${(e as Error).message}`);
      }
    }
  }
  if (a !== undefined) {
    if (typeof a !== "object" || a === null) bad("admission must be an object");
    for (const x of a.addresses ?? [])
      if (!(typeof x === "number" && x >>> 0 === x && x !== 0)) bad("admission.addresses: non-zero u32s");
    for (const id of a.nodeIds ?? []) {
      try {
        toNodeId(id, "admission.nodeIds");
      } catch (e) {
        bad((e as Error).message);
      }
    }
  }
}

export type IncomingResult = { packet: Uint8Array; encrypted: boolean } | undefined;

export class NodeCrypto {
  /** undefined when the node was created without `crypto` (no encryption, MTU unchanged) */
  readonly engine: CryptoEngine | undefined;
  private readonly admission: AdmissionPolicy | undefined;
  private readonly admittedById = new Map<number, true>();
  private readonly ownDrops: Record<string, number> = {};
  readonly refusePlaintext: boolean;

  constructor(
    c: NodeCryptoOptions | undefined,
    a: NodeAdmissionOptions | undefined,
    ownAddr: number,
    ownNodeId: Uint8Array,
    now: number,
  ) {
    this.refusePlaintext = c?.refusePlaintext ?? true;
    if (c !== undefined) {
      this.engine = createCrypto({
        ownAddr,
        ownNodeId,
        now,
        refusePlaintext: this.refusePlaintext,
        ...(c.keyExchange !== undefined ? { keyExchange: c.keyExchange } : {}),
        ...(c.random !== undefined ? { random: c.random } : {}),
      });
      for (const k of c.keys ?? []) this.setKey(k, now);
    }
    if (a !== undefined)
      this.admission = createAdmission({
        addresses: a.addresses ?? [],
        nodeIds: (a.nodeIds ?? []).map((id) => toNodeId(id, "admission.nodeIds")),
      });
  }

  /** The link MTU for a bearer of `mtu` bytes. */
  linkMtu(mtu: number): number {
    return this.engine === undefined ? mtu : mtu - CRYPTO_MTU_OVERHEAD;
  }

  /** `tipc node set key`: returns the key slot. Throws NodeError BAD_ARGUMENT / NOT_SUPPORTED. */
  setKey(k: NodeKey, now: number): number {
    const engine = this.need();
    const { key, nodeId, master } = parseNodeKey(k);
    try {
      return engine.setKey(key, { ...(nodeId ? { nodeId } : {}), ...(master ? { master } : {}) }, now);
    } catch (e) {
      if (isTipcCryptoError(e))
        throw new NodeError(e.code === "BUSY" ? "BUSY" : "BAD_ARGUMENT", e.message, { cause: e });
      throw e;
    }
  }

  setRekeying(interval: number | "now", now: number): void {
    const engine = this.need();
    if (interval !== "now" && !(Number.isInteger(interval) && interval >= 0 && interval <= 2 ** 31))
      throw new NodeError("BAD_ARGUMENT", "rekeying: minutes (0 = off) or now");
    engine.setRekeying(interval, now);
  }

  flushKeys(now: number): void {
    this.need().flushKeys(now);
  }

  status(): NodeCryptoStatus | undefined {
    if (this.engine === undefined) return undefined;
    return {
      keys: this.engine.keyStatus(),
      stats: this.engine.stats(),
      refusePlaintext: this.refusePlaintext,
    };
  }

  private need(): CryptoEngine {
    if (this.engine === undefined)
      throw new NodeError("NOT_SUPPORTED", "the node was created without the crypto option");
    return this.engine;
  }

  /** Frames to put on the bearer for one packet (none: dropped and counted by the engine). */
  outgoing(packet: Uint8Array, peer: number | undefined, now: number): Uint8Array[] {
    if (this.engine === undefined) return [packet];
    const r = this.engine.encrypt(packet, peer, now);
    return r.ok ? r.frames : [];
  }

  /** The packet inside a datagram, or undefined when it was dropped (and counted). */
  incoming(datagram: Uint8Array, now: number): IncomingResult {
    let packet = datagram;
    let encrypted = false;
    if (this.engine !== undefined) {
      const r = this.engine.decrypt(datagram, now);
      if (!r.ok) return undefined;
      packet = r.packet;
      encrypted = r.encrypted;
    }
    if (this.admission !== undefined && !this.admit(packet)) {
      this.count("not-admitted");
      return undefined;
    }
    return { packet, encrypted };
  }

  /**
   * The allow-list by the sender's address (the header's prevnode), or by node id: a discovery
   * message names its sender's id, and an address that came with an allowed id is allowed after.
   */
  private admit(packet: Uint8Array): boolean {
    const admission = this.admission as AdmissionPolicy;
    if (packet.length < MIN_H_SIZE) return true; // the link drops it as undecodable
    const addr = peekPrevNode(packet);
    if (peekUserValue(packet) === USER.LINK_CONFIG) {
      let nodeId: Uint8Array | undefined;
      try {
        const m = decodeMessage(packet);
        if (m.user === "LINK_CONFIG") nodeId = m.nodeId;
      } catch {
        return true; // the link counts it as a decode error
      }
      if (!admission.admit({ addr, ...(nodeId ? { nodeId: padTo16(nodeId) } : {}) })) return false;
      if (this.admittedById.size >= MAX_ADMITTED_BY_ID) {
        const first = this.admittedById.keys().next().value as number;
        this.admittedById.delete(first);
      }
      this.admittedById.set(addr, true);
      return true;
    }
    return this.admittedById.has(addr) || admission.admit({ addr });
  }

  private count(cause: string): void {
    this.ownDrops[cause] = (this.ownDrops[cause] ?? 0) + 1;
  }

  /** Drop counts by cause: the engine's (`crypto-…`) and the allow-list's (`not-admitted`). */
  drops(): Record<string, number> {
    const out: Record<string, number> = { ...this.ownDrops };
    if (this.engine !== undefined)
      for (const [cause, n] of Object.entries(this.engine.stats().drops)) if (n > 0) out[cause] = n;
    return out;
  }

  takeKeyMessages(): KeyMessage[] {
    return this.engine?.takeKeyMessages() ?? [];
  }
}

function padTo16(id: Uint8Array): Uint8Array {
  if (id.length === NODE_ID_LEN) return id;
  const out = new Uint8Array(NODE_ID_LEN);
  out.set(id.subarray(0, NODE_ID_LEN));
  return out;
}
