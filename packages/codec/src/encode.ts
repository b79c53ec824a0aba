// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * Typed messages -> bytes, laid out exactly as the Linux kernel lays them out. Numeric fields
 * are masked to their wire width (as the kernel's msg_set_bits does); structural problems
 * (unknown names, a bearer name too long, a message too large) throw TipcEncodeError.
 */
import { MEDIA_INFO_SIZE, writeMediaAddress } from "./address.js";
import { NODE_ID_LEN, TIPC_MAX_IF_NAME, TIPC_MAX_USER_MSG_SIZE } from "./constants.js";
import { TipcEncodeError } from "./errors.js";
import { TYPE_NAMES, USER } from "./names.js";
import type {
  BcastProtocolMessage,
  BundlerMessage,
  DataMessage,
  FragmenterMessage,
  GapAckRecord,
  LinkConfigMessage,
  LinkProtocolMessage,
  MonitorRecord,
  NameDistributorMessage,
  OpaqueMessage,
  TipcMessage,
  TunnelMessage,
} from "./types.js";

const INT_H = 40;
const DSC_H = 60;
const MAX_SIZE = 0x1ffff;

function typeValueOf(msg: { user: TipcMessage["user"]; type: string }): number {
  const names = TYPE_NAMES[msg.user];
  if (!names) throw new TipcEncodeError("user", `unknown user ${JSON.stringify(msg.user)}`);
  const t = names.indexOf(msg.type);
  if (t < 0) throw new TipcEncodeError("type", `${JSON.stringify(msg.type)} is not a ${msg.user} type`);
  return t;
}

function word0(user: number, hsz: number, nonSeq: boolean, flags: number, size: number): number {
  return (0x40000000 | (user << 25) | ((hsz >> 2) << 21) | (nonSeq ? 0x100000 : 0) | flags | size) >>> 0;
}

function stateDataLength(msg: LinkProtocolMessage): number {
  let n = 0;
  if (msg.gapAcks) n += 4 + 4 * (msg.gapAcks.broadcast.length + msg.gapAcks.unicast.length);
  if (msg.monitor) n += 16 + 4 * msg.monitor.members.length;
  return n;
}

function linkProtocolDataLength(msg: LinkProtocolMessage): number {
  if (msg.data) return msg.data.length;
  if (msg.type === "STATE") return stateDataLength(msg);
  return msg.bearerName === undefined ? 0 : TIPC_MAX_IF_NAME;
}

function bundleDataLength(messages: readonly Uint8Array[]): number {
  let n = 0;
  for (let i = 0; i < messages.length; i++) {
    if (i > 0) n = (n + 3) & ~3;
    n += messages[i]!.length;
  }
  return n;
}

/** The number of bytes encodeMessage(msg) produces. */
export function encodedSize(msg: TipcMessage): number {
  switch (msg.user) {
    case "NAME_DISTRIBUTOR":
      return INT_H + 20 * msg.items.length;
    case "LINK_PROTOCOL":
      return INT_H + linkProtocolDataLength(msg);
    case "LINK_CONFIG":
      return DSC_H + NODE_ID_LEN;
    case "BCAST_PROTOCOL":
      return INT_H;
    case "MSG_BUNDLER":
      return INT_H + bundleDataLength(msg.messages);
    case "MSG_FRAGMENTER":
    case "TUNNEL_PROTOCOL":
      return INT_H + msg.data.length;
    case "CONN_MANAGER":
    case "GROUP_PROTOCOL":
    case "MSG_CRYPTO":
      return 4 * msg.headerWords.length + msg.data.length;
    case "LOW_IMPORTANCE":
    case "MEDIUM_IMPORTANCE":
    case "HIGH_IMPORTANCE":
    case "CRITICAL_IMPORTANCE":
      return msg.headerSize + msg.payload.length;
    default:
      throw new TipcEncodeError("user", `unknown user ${JSON.stringify((msg as { user: unknown }).user)}`);
  }
}

/** Encodes a message into a new Uint8Array. */
export function encodeMessage(msg: TipcMessage): Uint8Array {
  const size = encodedSize(msg);
  const out = new Uint8Array(size);
  write(msg, out, 0, size);
  return out;
}

/**
 * Encodes a message into `target` at `offset` and returns the number of bytes written.
 * Throws RangeError when it does not fit.
 */
export function encodeInto(msg: TipcMessage, target: Uint8Array, offset = 0): number {
  const size = encodedSize(msg);
  if (offset < 0 || target.length - offset < size) {
    throw new RangeError(`message needs ${size} bytes, ${target.length - offset} available`);
  }
  write(msg, target, offset, size);
  return size;
}

function write(msg: TipcMessage, out: Uint8Array, o: number, size: number): void {
  const hsz =
    msg.user === "LINK_CONFIG"
      ? DSC_H
      : "headerSize" in msg
        ? msg.headerSize
        : "headerWords" in msg
          ? 4 * msg.headerWords.length
          : INT_H;
  if (size > MAX_SIZE || size - hsz > TIPC_MAX_USER_MSG_SIZE) {
    throw new TipcEncodeError("size", `message of ${size} bytes (header ${hsz}) is too large`);
  }
  const dv = new DataView(out.buffer, out.byteOffset + o, size);
  switch (msg.user) {
    case "NAME_DISTRIBUTOR":
      writeNameDistributor(msg, dv, size);
      return;
    case "LINK_PROTOCOL":
      writeLinkProtocol(msg, dv, out, o, size);
      return;
    case "LINK_CONFIG":
      writeLinkConfig(msg, dv, out, o);
      return;
    case "BCAST_PROTOCOL":
      writeBcast(msg, dv);
      return;
    case "MSG_BUNDLER":
      writeBundle(msg, dv, out, o, size);
      return;
    case "MSG_FRAGMENTER":
      writeFragment(msg, dv, out, o, size);
      return;
    case "TUNNEL_PROTOCOL":
      writeTunnel(msg, dv, out, o, size);
      return;
    case "CONN_MANAGER":
    case "GROUP_PROTOCOL":
    case "MSG_CRYPTO":
      writeOpaque(msg, dv, out, o, size);
      return;
    default:
      writeData(msg, dv, out, o, size);
      return;
  }
}

/** Words 2, 3, 6, 7 of sequenced internal messages. */
function writeLinkWords(
  dv: DataView,
  m: { ack: number; seqno: number; prevNode: number; origNode: number; destNode: number },
): void {
  dv.setUint32(8, (((m.ack & 0xffff) << 16) | (m.seqno & 0xffff)) >>> 0);
  dv.setUint32(12, m.prevNode >>> 0);
  dv.setUint32(24, m.origNode >>> 0);
  dv.setUint32(28, m.destNode >>> 0);
}

function word5(m: { nonSeq: boolean; netId?: number; bcAckInvalid?: boolean }): number {
  if (m.netId !== undefined) return m.netId >>> 0;
  return m.bcAckInvalid ? 0x4000 : 0;
}

function writeNameDistributor(msg: NameDistributorMessage, dv: DataView, size: number): void {
  const t = typeValueOf(msg);
  dv.setUint32(0, word0(USER.NAME_DISTRIBUTOR, INT_H, msg.nonSeq, 0, size));
  dv.setUint32(
    4,
    ((t << 29) |
      (msg.bulk ? 1 << 28 : 0) |
      (msg.lastBulk ? 1 << 27 : 0) |
      (msg.nonLegacy ? 1 << 26 : 0) |
      (msg.bcastAck & 0xffff)) >>>
      0,
  );
  writeLinkWords(dv, msg);
  dv.setUint32(16, msg.namedSeqno & 0xffff);
  dv.setUint32(20, word5(msg));
  dv.setUint32(32, 0);
  dv.setUint32(36, 0);
  const items = msg.items;
  const n = items.length;
  for (let i = 0, o = INT_H; i < n; i++, o += 20) {
    const it = items[i]!;
    dv.setUint32(o, it.type);
    dv.setUint32(o + 4, it.lower);
    dv.setUint32(o + 8, it.upper);
    dv.setUint32(o + 12, it.port);
    dv.setUint32(o + 16, it.key);
  }
}

function writeGapAcks(r: GapAckRecord, dv: DataView, o: number): number {
  const bc = r.broadcast.length;
  const uc = r.unicast.length;
  if (bc > 255 || uc > 255) throw new TipcEncodeError("gapAcks", "at most 255 blocks of each kind");
  const len = 4 + 4 * (bc + uc);
  dv.setUint16(o, len);
  dv.setUint8(o + 2, uc);
  dv.setUint8(o + 3, bc);
  let p = o + 4;
  for (const b of r.broadcast) {
    dv.setUint16(p, b.ack & 0xffff);
    dv.setUint16(p + 2, b.gap & 0xffff);
    p += 4;
  }
  for (const b of r.unicast) {
    dv.setUint16(p, b.ack & 0xffff);
    dv.setUint16(p + 2, b.gap & 0xffff);
    p += 4;
  }
  return len;
}

function writeMonitor(m: MonitorRecord, dv: DataView, o: number): number {
  const cnt = m.members.length;
  if (cnt > 64) throw new TipcEncodeError("monitor.members", "at most 64 members (MAX_MON_DOMAIN)");
  const len = 16 + 4 * cnt;
  dv.setUint16(o, len);
  dv.setUint16(o + 2, m.gen & 0xffff);
  dv.setUint16(o + 4, m.ackGen & 0xffff);
  dv.setUint16(o + 6, cnt);
  dv.setBigUint64(o + 8, BigInt.asUintN(64, m.upMap));
  for (let i = 0; i < cnt; i++) dv.setUint32(o + 16 + 4 * i, m.members[i]! >>> 0);
  return len;
}

function writeLinkProtocol(
  msg: LinkProtocolMessage,
  dv: DataView,
  out: Uint8Array,
  o: number,
  size: number,
): void {
  const t = typeValueOf(msg);
  dv.setUint32(0, word0(USER.LINK_PROTOCOL, INT_H, msg.nonSeq, msg.isKeepalive ? 1 << 19 : 0, size));
  const w1 =
    msg.type === "ACTIVATE"
      ? (t << 29) | (msg.destSessionValid ? 1 << 16 : 0) | (msg.destSession & 0xffff)
      : (t << 29) | ((msg.seqGap & 0x1fff) << 16) | (msg.bcastAck & 0xffff);
  dv.setUint32(4, w1 >>> 0);
  writeLinkWords(dv, msg);
  dv.setUint32(16, (((msg.lastBcast & 0xffff) << 16) | (msg.nextSent & 0xffff)) >>> 0);
  dv.setUint32(
    20,
    (((msg.session & 0xffff) << 16) |
      (msg.bcAckInvalid ? 1 << 14 : 0) |
      (msg.peerStopping ? 1 << 13 : 0) |
      (msg.redundantLink ? 1 << 12 : 0) |
      ((msg.bearerId & 7) << 9) |
      ((msg.priority & 0x1f) << 4) |
      ((msg.netPlane & 7) << 1) |
      (msg.probe ? 1 : 0)) >>>
      0,
  );
  dv.setUint32(32, msg.bcGap & 0x3ff);
  dv.setUint32(36, ((((msg.maxPacket >>> 2) & 0xffff) << 16) | (msg.tolerance & 0xffff)) >>> 0);
  if (msg.data) {
    out.set(msg.data, o + INT_H);
    return;
  }
  if (msg.type === "STATE") {
    let p = INT_H;
    if (msg.gapAcks) p += writeGapAcks(msg.gapAcks, dv, p);
    if (msg.monitor) writeMonitor(msg.monitor, dv, p);
  } else if (msg.bearerName !== undefined) {
    const name = msg.bearerName;
    if (name.length >= TIPC_MAX_IF_NAME) {
      throw new TipcEncodeError(
        "bearerName",
        `at most ${TIPC_MAX_IF_NAME - 1} characters: ${JSON.stringify(name)}`,
      );
    }
    out.fill(0, o + INT_H, o + INT_H + TIPC_MAX_IF_NAME);
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c === 0 || c > 0xff)
        throw new TipcEncodeError("bearerName", `not a Latin-1 name: ${JSON.stringify(name)}`);
      out[o + INT_H + i] = c;
    }
  }
}

function writeLinkConfig(msg: LinkConfigMessage, dv: DataView, out: Uint8Array, o: number): void {
  const t = typeValueOf(msg);
  if (!(msg.nodeId instanceof Uint8Array) || msg.nodeId.length !== NODE_ID_LEN) {
    throw new TipcEncodeError("nodeId", `must be ${NODE_ID_LEN} bytes`);
  }
  dv.setUint32(0, word0(USER.LINK_CONFIG, DSC_H, true, 0, DSC_H + NODE_ID_LEN));
  // The signature is written first and the capabilities over it, so bit 15 is capability bit 0.
  dv.setUint32(4, ((t << 29) | ((msg.capabilities & 0x1fff) << 15) | (msg.signature & 0x7fff)) >>> 0);
  dv.setUint32(8, msg.destDomain >>> 0);
  dv.setUint32(12, msg.prevNode >>> 0);
  dv.setUint32(16, msg.netId >>> 0);
  writeMediaAddress(msg.mediaAddress, out, o + 20);
  dv.setUint32(20 + MEDIA_INFO_SIZE, msg.peerNetHash >>> 0);
  dv.setUint32(24 + MEDIA_INFO_SIZE, msg.suggestedAddress >>> 0);
  out.set(msg.nodeId, o + DSC_H);
}

function writeBcast(msg: BcastProtocolMessage, dv: DataView): void {
  const t = typeValueOf(msg);
  dv.setUint32(0, word0(USER.BCAST_PROTOCOL, INT_H, msg.nonSeq, 0, INT_H));
  dv.setUint32(4, ((t << 29) | (msg.bcastAck & 0xffff)) >>> 0);
  writeLinkWords(dv, msg);
  dv.setUint32(16, (((msg.lastBcast & 0xffff) << 16) | (msg.nextSent & 0xffff)) >>> 0);
  dv.setUint32(20, word5(msg));
  dv.setUint32(32, 0);
  dv.setUint32(36, 0);
}

function writeBundle(msg: BundlerMessage, dv: DataView, out: Uint8Array, o: number, size: number): void {
  const t = typeValueOf(msg);
  const n = msg.messages.length;
  if (n > 0xffff) throw new TipcEncodeError("messages", "at most 65535 inner messages");
  dv.setUint32(0, word0(USER.MSG_BUNDLER, INT_H, msg.nonSeq, 0, size));
  dv.setUint32(4, ((t << 29) | (msg.bcastAck & 0xffff)) >>> 0);
  writeLinkWords(dv, msg);
  dv.setUint32(16, 0);
  dv.setUint32(20, word5(msg));
  dv.setUint32(32, 0);
  dv.setUint32(36, ((n << 16) | (msg.importance & 7)) >>> 0);
  let p = INT_H;
  for (let i = 0; i < n; i++) {
    const inner = msg.messages[i]!;
    const isz = inner.length >= 4 ? (((inner[1]! & 1) << 16) | (inner[2]! << 8) | inner[3]!) >>> 0 : -1;
    if (inner.length < 24 || isz !== inner.length) {
      throw new TipcEncodeError(`messages[${i}]`, "not a complete encoded TIPC message");
    }
    if (i > 0) {
      const aligned = (p + 3) & ~3;
      out.fill(0, o + p, o + aligned);
      p = aligned;
    }
    out.set(inner, o + p);
    p += inner.length;
  }
}

function writeFragment(msg: FragmenterMessage, dv: DataView, out: Uint8Array, o: number, size: number): void {
  const t = typeValueOf(msg);
  dv.setUint32(0, word0(USER.MSG_FRAGMENTER, INT_H, msg.nonSeq, 0, size));
  dv.setUint32(4, ((t << 29) | (msg.bcastAck & 0xffff)) >>> 0);
  writeLinkWords(dv, msg);
  dv.setUint32(16, (((msg.fragmentNumber & 0xffff) << 16) | (msg.fragmentCount & 0xffff)) >>> 0);
  dv.setUint32(20, msg.netId === undefined ? 0 : msg.netId >>> 0);
  dv.setUint32(32, 0);
  dv.setUint32(36, msg.importance & 7);
  out.set(msg.data, o + INT_H);
}

function writeTunnel(msg: TunnelMessage, dv: DataView, out: Uint8Array, o: number, size: number): void {
  const t = typeValueOf(msg);
  dv.setUint32(0, word0(USER.TUNNEL_PROTOCOL, INT_H, msg.nonSeq, 0, size));
  dv.setUint32(4, ((t << 29) | (msg.bcastAck & 0xffff)) >>> 0);
  writeLinkWords(dv, msg);
  dv.setUint32(16, (((msg.fragmentNumber & 0xffff) << 16) | (msg.fragmentCount & 0xffff)) >>> 0);
  dv.setUint32(20, (msg.bearerId & 7) << 9);
  dv.setUint32(32, 0);
  dv.setUint32(36, ((msg.msgCount & 0xffff) << 16) >>> 0);
  out.set(msg.data, o + INT_H);
}

function writeOpaque(msg: OpaqueMessage, dv: DataView, out: Uint8Array, o: number, size: number): void {
  const t = typeValueOf(msg);
  const words = msg.headerWords;
  const hsz = 4 * words.length;
  if (hsz < 24 || hsz > 60) throw new TipcEncodeError("headerWords", "6 to 15 header words");
  dv.setUint32(0, word0(USER[msg.user], hsz, msg.nonSeq, (words[0]! >>> 0) & 0xe0000, size));
  dv.setUint32(4, ((t << 29) | ((words[1]! >>> 0) & 0x1fffffff)) >>> 0);
  for (let i = 2; i < words.length; i++) dv.setUint32(4 * i, words[i]! >>> 0);
  out.set(msg.data, o + hsz);
}

function writeData(msg: DataMessage, dv: DataView, out: Uint8Array, o: number, size: number): void {
  const t = typeValueOf(msg);
  const hsz = msg.headerSize;
  if (hsz !== 24 && hsz !== 32 && hsz !== 40 && hsz !== 44) {
    throw new TipcEncodeError("headerSize", `${hsz}; data messages use 24, 32, 40 or 44`);
  }
  const flags =
    (msg.destDroppable ? 1 << 19 : 0) | (msg.srcDroppable ? 1 << 18 : 0) | (msg.syn ? 1 << 17 : 0);
  dv.setUint32(0, word0(USER[msg.user], hsz, msg.nonSeq, flags, size));
  dv.setUint32(
    4,
    ((t << 29) |
      ((msg.errorCode & 0xf) << 25) |
      ((msg.rerouteCount & 0xf) << 21) |
      ((msg.lookupScope & 3) << 19) |
      (msg.bcastAck & 0xffff)) >>>
      0,
  );
  dv.setUint32(8, (((msg.ack & 0xffff) << 16) | (msg.seqno & 0xffff)) >>> 0);
  dv.setUint32(12, msg.prevNode >>> 0);
  dv.setUint32(16, msg.origPort >>> 0);
  dv.setUint32(20, msg.destPort >>> 0);
  if (hsz >= 32) {
    dv.setUint32(24, msg.origNode >>> 0);
    dv.setUint32(28, msg.destNode >>> 0);
  }
  if (hsz >= 40) {
    dv.setUint32(32, msg.nameType >>> 0);
    dv.setUint32(36, msg.nameInstance >>> 0);
  }
  if (hsz >= 44) dv.setUint32(40, msg.nameUpper >>> 0);
  out.set(msg.payload, o + hsz);
}
