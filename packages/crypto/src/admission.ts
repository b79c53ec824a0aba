/**
 * Admission control without keys: a configured allow-list of peers, by node address or node
 * identity. Not a kernel feature; a small policy the node consults for every discovery message
 * and every packet before the link sees it. An empty list admits nobody; no policy admits all.
 */
import { NODE_ID_LEN } from "@tipcjs/codec";

export interface AdmissionOptions {
  /** node addresses (u32) allowed */
  addresses?: Iterable<number>;
  /** 16-byte node identities allowed */
  nodeIds?: Iterable<Uint8Array>;
}

export interface AdmissionPolicy {
  /** True when the peer is on the list by address or by id (either suffices). Counts denials. */
  admit(peer: { addr?: number; nodeId?: Uint8Array }): boolean;
  stats(): { admitted: number; denied: number };
}

export function createAdmission(options: AdmissionOptions): AdmissionPolicy {
  const addrs = new Set<number>();
  for (const a of options.addresses ?? []) addrs.add(a >>> 0);
  const ids = new Set<string>();
  for (const id of options.nodeIds ?? []) {
    if (id.length !== NODE_ID_LEN) throw new RangeError("node id: 16 bytes");
    ids.add(Buffer.from(id).toString("hex"));
  }
  let admitted = 0;
  let denied = 0;
  return {
    admit(peer) {
      const ok =
        (peer.addr !== undefined && addrs.has(peer.addr >>> 0)) ||
        (peer.nodeId !== undefined &&
          peer.nodeId.length === NODE_ID_LEN &&
          ids.has(Buffer.from(peer.nodeId).toString("hex")));
      if (ok) admitted++;
      else denied++;
      return ok;
    },
    stats: () => ({ admitted, denied }),
  };
}
