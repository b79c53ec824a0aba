// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * Bytes -> typed messages. Validation follows the kernel's tipc_msg_validate (§1.5 of the
 * protocol brief) plus the per-user layout checks; everything wrong with the bytes is reported
 * as a TipcDecodeError with a code and a byte offset, and nothing else escapes.
 *
 * Byte arrays in the result (payload, data, inner messages) are views into the input, not
 * copies; `nodeId` is a copy.
 */

import { decodeMediaAddress, MEDIA_INFO_SIZE } from "./address.js";
import { MIN_H_SIZE, NODE_ID_LEN, TIPC_MAX_USER_MSG_SIZE, TIPC_VERSION } from "./constants.js";
import { TipcDecodeError } from "./errors.js";
import {
  CONN_MANAGER_TYPES,
  DATA_TYPES,
  FRAGMENTER_TYPES,
  GROUP_PROTOCOL_TYPES,
  LINK_CONFIG_TYPES,
  LINK_PROTOCOL_TYPES,
  MSG_CRYPTO_TYPES,
  NAME_DISTRIBUTOR_TYPES,
  TUNNEL_TYPES,
} from "./names.js";
import type {
  BcastProtocolMessage,
  BundlerMessage,
  DataMessage,
  DataUserName,
  FragmenterMessage,
  GapAckBlock,
  GapAckRecord,
  LinkConfigMessage,
  LinkProtocolMessage,
  MonitorRecord,
  NameDistributorMessage,
  NameItem,
  OpaqueMessage,
  TipcMessage,
  TunnelMessage,
} from "./types.js";

const INT_H = 40;
const DSC_H = 60;
const ITEM = 20;
const MAX_MON_DOMAIN = 64;
const DATA_USERS: readonly DataUserName[] = [
  "LOW_IMPORTANCE",
  "MEDIUM_IMPORTANCE",
  "HIGH_IMPORTANCE",
  "CRITICAL_IMPORTANCE",
];

/** Word-0 facts every decoder needs, after the checks of tipc_msg_validate. */
interface Frame {
  bytes: Uint8Array;
  dv: DataView;
  w0: number;
  w1: number;
  hsz: number;
  size: number;
  nonSeq: boolean;
}

function view(f: Frame, start: number, end: number): Uint8Array {
  return new Uint8Array(f.bytes.buffer, f.bytes.byteOffset + start, end - start);
}

/**
 * Validates word 0 the way the kernel does (tipc_msg_validate) and returns the message size.
 * Also rejects users that are never put on the wire. Throws TipcDecodeError.
 */
export function validateHeader(bytes: Uint8Array): number {
  const len = bytes.length;
  if (len < MIN_H_SIZE) {
    throw new TipcDecodeError("TRUNCATED_HEADER", len, `${len} bytes; a header has at least ${MIN_H_SIZE}`);
  }
  const w0 = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return checkWord0(w0, len);
}

function checkWord0(w0: number, len: number): number {
  const version = w0 >>> 29;
  if (version !== TIPC_VERSION) throw new TipcDecodeError("BAD_VERSION", 0, `version ${version}`);
  const user = (w0 >>> 25) & 0xf;
  if (user === 4 || user === 15) throw new TipcDecodeError("UNKNOWN_USER", 0, `user ${user}`);
  const hsz = ((w0 >>> 21) & 0xf) << 2;
  if (hsz < MIN_H_SIZE) throw new TipcDecodeError("BAD_HEADER_SIZE", 0, `header size ${hsz}`);
  if (len < hsz) throw new TipcDecodeError("TRUNCATED_HEADER", len, `${len} bytes; header size is ${hsz}`);
  const size = w0 & 0x1ffff;
  if (size < hsz) throw new TipcDecodeError("SIZE_TOO_SMALL", 0, `size ${size} < header size ${hsz}`);
  if (size - hsz > TIPC_MAX_USER_MSG_SIZE) {
    throw new TipcDecodeError("SIZE_TOO_LARGE", 0, `data size ${size - hsz} > ${TIPC_MAX_USER_MSG_SIZE}`);
  }
  if (size > len) throw new TipcDecodeError("TRUNCATED_MESSAGE", len, `size ${size} > datagram ${len}`);
  return size;
}

/**
 * Decodes one TIPC message. `bytes` may be longer than the message (trailing bytes are
 * ignored, as the kernel does); it must not be shorter.
 */
export function decodeMessage(bytes: Uint8Array): TipcMessage {
  const len = bytes.length;
  if (len < MIN_H_SIZE) {
    throw new TipcDecodeError("TRUNCATED_HEADER", len, `${len} bytes; a header has at least ${MIN_H_SIZE}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
  const w0 = dv.getUint32(0);
  const size = checkWord0(w0, len);
  const f: Frame = {
    bytes,
    dv,
    w0,
    w1: dv.getUint32(4),
    hsz: ((w0 >>> 21) & 0xf) << 2,
    size,
    nonSeq: ((w0 >>> 20) & 1) === 1,
  };
  const user = (w0 >>> 25) & 0xf;
  switch (user) {
    case 0:
    case 1:
    case 2:
    case 3:
      return decodeData(f, user);
    case 5:
      return decodeBcast(f);
    case 6:
      return decodeBundle(f);
    case 7:
      return decodeLinkProtocol(f);
    case 8:
      return decodeOpaque(f, "CONN_MANAGER", CONN_MANAGER_TYPES);
    case 9:
      return decodeOpaque(f, "GROUP_PROTOCOL", GROUP_PROTOCOL_TYPES);
    case 10:
      return decodeTunnel(f);
    case 11:
      return decodeNameDistributor(f);
    case 12:
      return decodeFragment(f);
    case 13:
      return decodeLinkConfig(f);
    default:
      return decodeOpaque(f, "MSG_CRYPTO", MSG_CRYPTO_TYPES);
  }
}

function requireHeader(f: Frame, min: number): void {
  if (f.hsz < min)
    throw new TipcDecodeError("HEADER_TOO_SMALL", 0, `header size ${f.hsz} < ${min} for this user`);
  if (f.hsz !== min) throw new TipcDecodeError("BAD_HEADER_SIZE", 0, `header size ${f.hsz}, expected ${min}`);
}

function typeName<T extends string>(f: Frame, names: readonly T[]): T {
  const t = f.w1 >>> 29;
  const name = names[t];
  if (name === undefined) throw new TipcDecodeError("UNKNOWN_TYPE", 4, `type ${t}`);
  return name;
}

function decodeNameDistributor(f: Frame): NameDistributorMessage {
  requireHeader(f, INT_H);
  const type = typeName(f, NAME_DISTRIBUTOR_TYPES);
  const { dv, w1, size } = f;
  const dlen = size - INT_H;
  const rest = dlen % ITEM;
  if (rest !== 0) {
    throw new TipcDecodeError(
      "ITEM_DATA_MISALIGNED",
      size - rest,
      `${dlen} bytes of items is not a multiple of 20`,
    );
  }
  const n = dlen / ITEM;
  const items: NameItem[] = [];
  for (let o = INT_H, i = 0; i < n; i++, o += ITEM) {
    items.push({
      type: dv.getUint32(o),
      lower: dv.getUint32(o + 4),
      upper: dv.getUint32(o + 8),
      port: dv.getUint32(o + 12),
      key: dv.getUint32(o + 16),
    });
  }
  const w2 = dv.getUint32(8);
  const w5 = dv.getUint32(20);
  const msg: NameDistributorMessage = {
    user: "NAME_DISTRIBUTOR",
    type,
    nonSeq: f.nonSeq,
    bulk: ((w1 >>> 28) & 1) === 1,
    lastBulk: ((w1 >>> 27) & 1) === 1,
    nonLegacy: ((w1 >>> 26) & 1) === 1,
    bcastAck: w1 & 0xffff,
    ack: w2 >>> 16,
    seqno: w2 & 0xffff,
    prevNode: dv.getUint32(12),
    namedSeqno: dv.getUint32(16) & 0xffff,
    bcAckInvalid: !f.nonSeq && ((w5 >>> 14) & 1) === 1,
    origNode: dv.getUint32(24),
    destNode: dv.getUint32(28),
    items,
  };
  if (f.nonSeq) msg.netId = w5;
  return msg;
}

function readGapAcks(bytes: Uint8Array, o: number, avail: number): GapAckRecord | undefined {
  if (avail < 4) return undefined;
  const len = (bytes[o]! << 8) | bytes[o + 1]!;
  const uc = bytes[o + 2]!;
  const bc = bytes[o + 3]!;
  if (len !== 4 + 4 * (uc + bc) || len > avail) return undefined;
  const block = (p: number): GapAckBlock => ({
    ack: (bytes[p]! << 8) | bytes[p + 1]!,
    gap: (bytes[p + 2]! << 8) | bytes[p + 3]!,
  });
  const broadcast: GapAckBlock[] = [];
  const unicast: GapAckBlock[] = [];
  let p = o + 4;
  for (let i = 0; i < bc; i++, p += 4) broadcast.push(block(p));
  for (let i = 0; i < uc; i++, p += 4) unicast.push(block(p));
  return { broadcast, unicast };
}

function gapAcksLength(r: GapAckRecord): number {
  return 4 + 4 * (r.broadcast.length + r.unicast.length);
}

/** A monitor domain record that fills exactly `avail` bytes at `o`, or undefined. */
function readMonitor(dv: DataView, o: number, avail: number): MonitorRecord | undefined {
  if (avail < 16) return undefined;
  const len = dv.getUint16(o);
  const cnt = dv.getUint16(o + 6);
  if (len !== avail || cnt > MAX_MON_DOMAIN || 16 + 4 * cnt !== len) return undefined;
  const members: number[] = [];
  for (let i = 0; i < cnt; i++) members.push(dv.getUint32(o + 16 + 4 * i));
  return { gen: dv.getUint16(o + 2), ackGen: dv.getUint16(o + 4), upMap: dv.getBigUint64(o + 8), members };
}

function decodeLinkProtocol(f: Frame): LinkProtocolMessage {
  requireHeader(f, INT_H);
  const type = typeName(f, LINK_PROTOCOL_TYPES);
  const { dv, w0, w1, bytes, size } = f;
  const activate = type === "ACTIVATE";
  const w2 = dv.getUint32(8);
  const w4 = dv.getUint32(16);
  const w5 = dv.getUint32(20);
  const w9 = dv.getUint32(36);
  const msg: LinkProtocolMessage = {
    user: "LINK_PROTOCOL",
    type,
    nonSeq: f.nonSeq,
    isKeepalive: ((w0 >>> 19) & 1) === 1,
    seqGap: activate ? 0 : (w1 >>> 16) & 0x1fff,
    bcastAck: activate ? 0 : w1 & 0xffff,
    destSessionValid: activate && ((w1 >>> 16) & 1) === 1,
    destSession: activate ? w1 & 0xffff : 0,
    ack: w2 >>> 16,
    seqno: w2 & 0xffff,
    prevNode: dv.getUint32(12),
    lastBcast: w4 >>> 16,
    nextSent: w4 & 0xffff,
    session: w5 >>> 16,
    bcAckInvalid: ((w5 >>> 14) & 1) === 1,
    peerStopping: ((w5 >>> 13) & 1) === 1,
    redundantLink: ((w5 >>> 12) & 1) === 1,
    bearerId: (w5 >>> 9) & 7,
    priority: (w5 >>> 4) & 0x1f,
    netPlane: (w5 >>> 1) & 7,
    probe: (w5 & 1) === 1,
    origNode: dv.getUint32(24),
    destNode: dv.getUint32(28),
    bcGap: dv.getUint32(32) & 0x3ff,
    maxPacket: (w9 >>> 16) * 4,
    tolerance: w9 & 0xffff,
  };
  const dlen = size - INT_H;
  if (dlen === 0) return msg;
  let exact = false;
  if (type === "STATE") {
    const gap = readGapAcks(bytes, INT_H, dlen);
    if (gap) {
      const glen = gapAcksLength(gap);
      msg.gapAcks = gap;
      if (glen === dlen) exact = true;
      else {
        const mon = readMonitor(dv, INT_H + glen, dlen - glen);
        if (mon) {
          msg.monitor = mon;
          exact = true;
        }
      }
    }
    if (!exact) {
      // A monitor record without a gap-ACK record (the peer lacks TIPC_GAP_ACK_BLOCK).
      const mon = readMonitor(dv, INT_H, dlen);
      if (mon) {
        delete msg.gapAcks;
        msg.monitor = mon;
        exact = true;
      }
    }
  } else if (dlen >= 16) {
    let nul = -1;
    for (let i = 0; i < 16; i++) {
      if (bytes[INT_H + i] === 0) {
        nul = i;
        break;
      }
    }
    msg.bearerName = String.fromCharCode(...bytes.subarray(INT_H, INT_H + (nul < 0 ? 16 : nul)));
    exact = nul >= 0 && dlen === 16;
    for (let i = nul + 1; exact && i < 16; i++) if (bytes[INT_H + i] !== 0) exact = false;
  }
  if (!exact) msg.data = view(f, INT_H, size);
  return msg;
}

function decodeLinkConfig(f: Frame): LinkConfigMessage {
  requireHeader(f, DSC_H);
  const type = typeName(f, LINK_CONFIG_TYPES);
  const { dv, w1, bytes, size } = f;
  if (size - DSC_H < NODE_ID_LEN) {
    throw new TipcDecodeError(
      "DATA_TOO_SHORT",
      size,
      `discovery data is ${size - DSC_H} bytes; the node id needs 16`,
    );
  }
  return {
    user: "LINK_CONFIG",
    type,
    capabilities: (w1 >>> 15) & 0x1fff,
    signature: w1 & 0xffff,
    destDomain: dv.getUint32(8),
    prevNode: dv.getUint32(12),
    netId: dv.getUint32(16),
    mediaAddress: decodeMediaAddress(bytes, 20),
    peerNetHash: dv.getUint32(20 + MEDIA_INFO_SIZE),
    suggestedAddress: dv.getUint32(24 + MEDIA_INFO_SIZE),
    nodeId: bytes.slice(DSC_H, DSC_H + NODE_ID_LEN),
  };
}

function decodeBcast(f: Frame): BcastProtocolMessage {
  requireHeader(f, INT_H);
  const type = typeName(f, ["STATE"] as const);
  const { dv, w1 } = f;
  const w2 = dv.getUint32(8);
  const w4 = dv.getUint32(16);
  const w5 = dv.getUint32(20);
  const msg: BcastProtocolMessage = {
    user: "BCAST_PROTOCOL",
    type,
    nonSeq: f.nonSeq,
    bcastAck: w1 & 0xffff,
    ack: w2 >>> 16,
    seqno: w2 & 0xffff,
    prevNode: dv.getUint32(12),
    lastBcast: w4 >>> 16,
    nextSent: w4 & 0xffff,
    bcAckInvalid: !f.nonSeq && ((w5 >>> 14) & 1) === 1,
    origNode: dv.getUint32(24),
    destNode: dv.getUint32(28),
  };
  if (f.nonSeq) msg.netId = w5;
  return msg;
}

function decodeBundle(f: Frame): BundlerMessage {
  requireHeader(f, INT_H);
  const type = typeName(f, ["BUNDLE"] as const);
  const { dv, w1, size } = f;
  const w2 = dv.getUint32(8);
  const w9 = dv.getUint32(36);
  const messages: Uint8Array[] = [];
  let pos = INT_H;
  while (pos < size) {
    if (size - pos < MIN_H_SIZE)
      throw new TipcDecodeError("BAD_BUNDLE", pos, "inner message header truncated");
    const iw0 = dv.getUint32(pos);
    const ihsz = ((iw0 >>> 21) & 0xf) << 2;
    const isz = iw0 & 0x1ffff;
    if (
      iw0 >>> 29 !== TIPC_VERSION ||
      ihsz < MIN_H_SIZE ||
      isz < ihsz ||
      isz - ihsz > TIPC_MAX_USER_MSG_SIZE
    ) {
      throw new TipcDecodeError("BAD_BUNDLE", pos, "inner message header invalid");
    }
    if (pos + isz > size) throw new TipcDecodeError("BAD_BUNDLE", pos, "inner message overruns the bundle");
    messages.push(view(f, pos, pos + isz));
    const next = (pos + isz + 3) & ~3;
    if (next >= size && pos + isz !== size) {
      throw new TipcDecodeError("BAD_BUNDLE", pos + isz, "bytes after the last inner message");
    }
    pos = next;
  }
  const msgCount = w9 >>> 16;
  if (msgCount !== messages.length) {
    throw new TipcDecodeError("BUNDLE_COUNT_MISMATCH", 36, `msgcnt ${msgCount}, ${messages.length} messages`);
  }
  const msg: BundlerMessage = {
    user: "MSG_BUNDLER",
    type,
    nonSeq: f.nonSeq,
    bcastAck: w1 & 0xffff,
    ack: w2 >>> 16,
    seqno: w2 & 0xffff,
    prevNode: dv.getUint32(12),
    origNode: dv.getUint32(24),
    destNode: dv.getUint32(28),
    importance: w9 & 7,
    messages,
  };
  if (f.nonSeq) msg.netId = dv.getUint32(20);
  return msg;
}

function decodeFragment(f: Frame): FragmenterMessage {
  requireHeader(f, INT_H);
  const type = typeName(f, FRAGMENTER_TYPES);
  const { dv, w1, size } = f;
  const w2 = dv.getUint32(8);
  const w4 = dv.getUint32(16);
  const msg: FragmenterMessage = {
    user: "MSG_FRAGMENTER",
    type,
    nonSeq: f.nonSeq,
    bcastAck: w1 & 0xffff,
    ack: w2 >>> 16,
    seqno: w2 & 0xffff,
    prevNode: dv.getUint32(12),
    fragmentNumber: w4 >>> 16,
    fragmentCount: w4 & 0xffff,
    origNode: dv.getUint32(24),
    destNode: dv.getUint32(28),
    importance: dv.getUint32(36) & 7,
    data: view(f, INT_H, size),
  };
  if (f.nonSeq) msg.netId = dv.getUint32(20);
  return msg;
}

function decodeTunnel(f: Frame): TunnelMessage {
  requireHeader(f, INT_H);
  const type = typeName(f, TUNNEL_TYPES);
  const { dv, w1, size } = f;
  const w2 = dv.getUint32(8);
  return {
    user: "TUNNEL_PROTOCOL",
    type,
    nonSeq: f.nonSeq,
    bcastAck: w1 & 0xffff,
    ack: w2 >>> 16,
    seqno: w2 & 0xffff,
    prevNode: dv.getUint32(12),
    bearerId: (dv.getUint32(20) >>> 9) & 7,
    origNode: dv.getUint32(24),
    destNode: dv.getUint32(28),
    msgCount: dv.getUint32(36) >>> 16,
    fragmentNumber: dv.getUint32(16) >>> 16,
    fragmentCount: dv.getUint32(16) & 0xffff,
    data: view(f, INT_H, size),
  };
}

function decodeData(f: Frame, user: number): DataMessage {
  const { dv, w0, w1, hsz, size } = f;
  if (hsz !== 24 && hsz !== 32 && hsz !== 40 && hsz !== 44) {
    throw new TipcDecodeError("BAD_HEADER_SIZE", 0, `header size ${hsz}; data messages use 24, 32, 40 or 44`);
  }
  const w2 = dv.getUint32(8);
  const prevNode = dv.getUint32(12);
  return {
    user: DATA_USERS[user]!,
    type: DATA_TYPES[w1 >>> 29]!,
    headerSize: hsz,
    nonSeq: f.nonSeq,
    destDroppable: ((w0 >>> 19) & 1) === 1,
    srcDroppable: ((w0 >>> 18) & 1) === 1,
    syn: ((w0 >>> 17) & 1) === 1,
    errorCode: (w1 >>> 25) & 0xf,
    rerouteCount: (w1 >>> 21) & 0xf,
    lookupScope: (w1 >>> 19) & 3,
    bcastAck: w1 & 0xffff,
    ack: w2 >>> 16,
    seqno: w2 & 0xffff,
    prevNode,
    origPort: dv.getUint32(16),
    destPort: dv.getUint32(20),
    origNode: hsz >= 32 ? dv.getUint32(24) : prevNode,
    destNode: hsz >= 32 ? dv.getUint32(28) : 0,
    nameType: hsz >= 40 ? dv.getUint32(32) : 0,
    nameInstance: hsz >= 40 ? dv.getUint32(36) : 0,
    nameUpper: hsz >= 44 ? dv.getUint32(40) : 0,
    payload: view(f, hsz, size),
  };
}

function decodeOpaque(f: Frame, user: OpaqueMessage["user"], types: readonly string[]): OpaqueMessage {
  const type = typeName(f, types);
  const headerWords: number[] = [];
  for (let o = 0; o < f.hsz; o += 4) headerWords.push(f.dv.getUint32(o));
  return { user, type, nonSeq: f.nonSeq, headerWords, data: view(f, f.hsz, f.size) };
}
