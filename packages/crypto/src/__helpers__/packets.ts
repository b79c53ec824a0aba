/** Minimal TIPC packets for the crypto tests, laid out as tipc_msg_init does (msg.c). */
import { nodeIdFromString } from "@tipcjs/codec";

export const USER_DATA = 0;
export const USER_LINK_PROTOCOL = 7;
export const USER_LINK_CONFIG = 13;
export const STATE_MSG = 0;
export const RESET_MSG = 1;

/** A header of `hsize` bytes (24, 40 or 60) + `data`, with prevnode/orignode/destnode. */
export function packet(opts: {
  user: number;
  type?: number;
  hsize?: number;
  prevnode: number;
  destnode?: number;
  data?: Uint8Array;
  keepalive?: boolean;
  nonSeq?: boolean;
}): Uint8Array {
  const hsize = opts.hsize ?? 40;
  const data = opts.data ?? new Uint8Array(0);
  const size = hsize + data.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  const w0 =
    (2 << 29) |
    (opts.user << 25) |
    ((hsize / 4) << 21) |
    (opts.nonSeq ? 1 << 20 : 0) |
    (opts.keepalive ? 1 << 19 : 0) |
    size;
  dv.setUint32(0, w0 >>> 0);
  dv.setUint32(4, ((opts.type ?? 0) << 29) >>> 0);
  dv.setUint32(12, opts.prevnode >>> 0);
  if (hsize > 24) {
    dv.setUint32(24, opts.prevnode >>> 0);
    dv.setUint32(28, (opts.destnode ?? 0) >>> 0);
  }
  out.set(data, hsize);
  return out;
}

export const discovery = (addr: number) =>
  packet({ user: USER_LINK_CONFIG, type: 0, hsize: 60, prevnode: addr, nonSeq: true });
export const state = (from: number, to: number, keepalive = false) =>
  packet({ user: USER_LINK_PROTOCOL, type: STATE_MSG, prevnode: from, destnode: to, keepalive });
export const reset = (from: number, to: number) =>
  packet({ user: USER_LINK_PROTOCOL, type: RESET_MSG, prevnode: from, destnode: to });
export const data = (from: number, to: number, n: number) =>
  packet({
    user: USER_DATA,
    hsize: 40,
    prevnode: from,
    destnode: to,
    data: new TextEncoder().encode(`update ${n}`),
  });

export const ID_A = nodeIdFromString("node-a");
export const ID_B = nodeIdFromString("node-b");
export const ID_C = nodeIdFromString("node-c");

/** Deterministic random bytes for engines under test. */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  let s = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[i] = s & 0xff;
    }
    return out;
  };
}
