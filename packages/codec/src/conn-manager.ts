/**
 * CONN_MANAGER (user 8) fields: the connection protocol's probes and acknowledgements
 * (msg.h: msg_conn_ack / msg_adv_win in word 9, msg_nagle_ack in word 0 bit 18). The codec keeps
 * these messages opaque (header words + data); these two functions read and build them.
 */
import { CONN_MANAGER_TYPES } from "./names.js";
import type { ConnManagerType, OpaqueMessage } from "./types.js";

/** INT_H_SIZE: the kernel builds CONN_MANAGER messages with a 40-byte header. */
export const CONN_MANAGER_HEADER_SIZE = 40;

export interface ConnManagerFields {
  type: ConnManagerType;
  errorCode: number;
  prevNode: number;
  origPort: number;
  destPort: number;
  origNode: number;
  destNode: number;
  /** word 9 bits 16..31: blocks (or messages) read since the last ack */
  connAck: number;
  /** word 9 bits 0..15: the receiver's window in blocks (TIPC_BLOCK_FLOWCTL peers) */
  advWin: number;
  /** word 0 bit 18 on CONN_ACK: this ack answers a Nagle ack_required */
  nagleAck: boolean;
}

/** Reads a decoded CONN_MANAGER message's fields; words missing from a short header read 0. */
export function connManagerFields(m: OpaqueMessage): ConnManagerFields {
  const w = (i: number) => (m.headerWords[i] ?? 0) >>> 0;
  const w1 = w(1);
  const w9 = w(9);
  return {
    type: m.type as ConnManagerType,
    errorCode: (w1 >>> 25) & 0xf,
    prevNode: w(3),
    origPort: w(4),
    destPort: w(5),
    origNode: m.headerWords.length > 6 ? w(6) : w(3),
    destNode: w(7),
    connAck: w9 >>> 16,
    advWin: w9 & 0xffff,
    nagleAck: ((w(0) >>> 18) & 1) === 1,
  };
}

/** Builds a CONN_MANAGER message (40-byte header, no data) ready for encodeMessage. */
export function connManagerMessage(f: ConnManagerFields): OpaqueMessage {
  const t = CONN_MANAGER_TYPES.indexOf(f.type);
  const words = new Array<number>(CONN_MANAGER_HEADER_SIZE / 4).fill(0);
  words[0] = f.nagleAck ? 1 << 18 : 0;
  words[1] = ((t << 29) | ((f.errorCode & 0xf) << 25)) >>> 0;
  words[3] = f.prevNode >>> 0;
  words[4] = f.origPort >>> 0;
  words[5] = f.destPort >>> 0;
  words[6] = f.origNode >>> 0;
  words[7] = f.destNode >>> 0;
  words[9] = (((f.connAck & 0xffff) << 16) | (f.advWin & 0xffff)) >>> 0;
  return { user: "CONN_MANAGER", type: f.type, nonSeq: false, headerWords: words, data: new Uint8Array(0) };
}
