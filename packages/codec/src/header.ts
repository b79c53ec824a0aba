// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * Cheap reads and in-place writes of header fields, for hot paths that do not need a full
 * decode (the link layer's receive window, retransmission, ack piggybacking).
 */
import {
  INT_H_SIZE,
  MIN_H_SIZE,
  TIPC_CRITICAL_IMPORTANCE,
  TIPC_MAX_USER_MSG_SIZE,
  TIPC_SYSTEM_IMPORTANCE,
  TIPC_VERSION,
} from "./constants.js";
import { validateHeader } from "./decode.js";
import { TipcDecodeError } from "./errors.js";
import { TYPE_NAMES, USER, userName } from "./names.js";
import type { UserName } from "./types.js";

function word(bytes: Uint8Array, i: number): number {
  const o = 4 * i;
  return ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
}

function need(bytes: Uint8Array, n: number): void {
  if (bytes.length < n) throw new TipcDecodeError("TRUNCATED_HEADER", bytes.length, `need ${n} bytes`);
}

/** The user's wire value (word 0 bits 25..28), or -1 when there are fewer than 4 bytes. */
export function peekUserValue(bytes: Uint8Array): number {
  return bytes.length < 4 ? -1 : (bytes[0]! >>> 1) & 0xf;
}

/**
 * The kernel's msg_importance, without decoding: the user of a data message that carries no error
 * code; word 9 bits 0..2 of a fragment or bundle (the importance of what it carries); otherwise
 * TIPC_SYSTEM_IMPORTANCE, as for anything too short to hold words 0 and 1 (never throws).
 */
export function peekImportance(bytes: Uint8Array): number {
  if (bytes.length < 8) return TIPC_SYSTEM_IMPORTANCE;
  const user = (bytes[0]! >>> 1) & 0xf;
  if (user <= TIPC_CRITICAL_IMPORTANCE && ((bytes[4]! >>> 1) & 0xf) === 0) return user;
  if ((user === USER.MSG_BUNDLER || user === USER.MSG_FRAGMENTER) && bytes.length >= INT_H_SIZE)
    return bytes[39]! & 7;
  return TIPC_SYSTEM_IMPORTANCE;
}

/** The user's name, without validating anything else. Throws TipcDecodeError. */
export function peekUser(bytes: Uint8Array): UserName {
  need(bytes, 4);
  const v = (bytes[0]! >>> 1) & 0xf;
  const name = userName(v);
  if (!name) throw new TipcDecodeError("UNKNOWN_USER", 0, `user ${v}`);
  return name;
}

/** The message type's wire value (word 1 bits 29..31). Throws TipcDecodeError. */
export function peekTypeValue(bytes: Uint8Array): number {
  need(bytes, 8);
  return bytes[4]! >>> 5;
}

/** The header size in bytes (word 0 bits 21..24, times 4). Throws TipcDecodeError. */
export function readHeaderSize(bytes: Uint8Array): number {
  need(bytes, 4);
  return ((word(bytes, 0) >>> 21) & 0xf) << 2;
}

/** The message size in bytes (word 0 bits 0..16). Throws TipcDecodeError. */
export function readMessageSize(bytes: Uint8Array): number {
  need(bytes, 4);
  return word(bytes, 0) & 0x1ffff;
}

/** Word 0 bit 20: not sent on a unicast link (discovery, broadcast-link packets). */
export function isNonSeq(bytes: Uint8Array): boolean {
  need(bytes, 4);
  return (bytes[1]! & 0x10) !== 0;
}

/** Word 2 bits 0..15: the (unicast or broadcast) link sequence number. */
export function peekSeqno(bytes: Uint8Array): number {
  need(bytes, 12);
  return (bytes[10]! << 8) | bytes[11]!;
}

/** Word 2 bits 16..31: the ack (rcv_nxt - 1). */
export function peekAck(bytes: Uint8Array): number {
  need(bytes, 12);
  return (bytes[8]! << 8) | bytes[9]!;
}

/** Word 1 bits 0..15: the broadcast ack (not meaningful in ACTIVATE, where it is dest_session). */
export function peekBcastAck(bytes: Uint8Array): number {
  need(bytes, 8);
  return (bytes[6]! << 8) | bytes[7]!;
}

/** Word 3: the node that sent the packet on this hop. */
export function peekPrevNode(bytes: Uint8Array): number {
  need(bytes, 16);
  return word(bytes, 3);
}

/** Word 7 when the header has one (>= 32 bytes), else 0. */
export function peekDestNode(bytes: Uint8Array): number {
  need(bytes, MIN_H_SIZE);
  return readHeaderSize(bytes) >= 32 && bytes.length >= 32 ? word(bytes, 7) : 0;
}

export interface HeaderSummary {
  user: UserName;
  /** the type name for this user */
  type: string;
  headerSize: number;
  /** message size (header + data) */
  size: number;
  nonSeq: boolean;
  ack: number;
  seqno: number;
  bcastAck: number;
  prevNode: number;
}

/**
 * Word 0 validated as the kernel does (version, sizes, length) plus the fields every link
 * needs, without decoding the body. Throws TipcDecodeError.
 */
export function peekHeader(bytes: Uint8Array): HeaderSummary {
  const size = validateHeader(bytes);
  const user = peekUser(bytes);
  const t = bytes[4]! >>> 5;
  const type = TYPE_NAMES[user][t];
  if (type === undefined) throw new TipcDecodeError("UNKNOWN_TYPE", 4, `type ${t}`);
  return {
    user,
    type,
    headerSize: readHeaderSize(bytes),
    size,
    nonSeq: isNonSeq(bytes),
    ack: peekAck(bytes),
    seqno: peekSeqno(bytes),
    bcastAck: peekBcastAck(bytes),
    prevNode: word(bytes, 3),
  };
}

/** Writes word 2 bits 0..15 (seqno) in place. */
export function writeSeqno(bytes: Uint8Array, seqno: number): void {
  need(bytes, 12);
  bytes[10] = (seqno >>> 8) & 0xff;
  bytes[11] = seqno & 0xff;
}

/**
 * Writes the acks a link piggybacks on every sequenced packet, in place: word 2 bits 16..31
 * (ack) and word 1 bits 0..15 (bcast_ack). Not for ACTIVATE, whose word 1 carries dest_session.
 */
export function writeAcks(bytes: Uint8Array, ack: number, bcastAck: number): void {
  need(bytes, 12);
  bytes[8] = (ack >>> 8) & 0xff;
  bytes[9] = ack & 0xff;
  bytes[6] = (bcastAck >>> 8) & 0xff;
  bytes[7] = bcastAck & 0xff;
}

/**
 * The header fields a link reads on every packet it receives, with no decode (see
 * readLinkHeader). `word5` is the network id on broadcast-link packets.
 */
export interface LinkHeader {
  /** the user's wire value */
  user: number;
  headerSize: number;
  size: number;
  nonSeq: boolean;
  bcastAck: number;
  ack: number;
  seqno: number;
  prevNode: number;
  word5: number;
  /** word 7 when the header has one (>= 32 bytes) */
  destNode: number | undefined;
}

/**
 * Word 0 checked as the kernel's tipc_msg_validate checks it (version 2, header size 24..60,
 * header <= size <= datagram, data <= 66000; the user is not checked here), then the fields a
 * link needs. Undefined for a packet to drop. Never throws.
 */
export function readLinkHeader(bytes: Uint8Array): LinkHeader | undefined {
  if (bytes.length < MIN_H_SIZE) return undefined;
  const w0 = word(bytes, 0);
  if (w0 >>> 29 !== TIPC_VERSION) return undefined;
  const headerSize = ((w0 >>> 21) & 0xf) << 2;
  const size = w0 & 0x1ffff;
  if (headerSize < MIN_H_SIZE || size < headerSize || size > bytes.length) return undefined;
  if (size - headerSize > TIPC_MAX_USER_MSG_SIZE) return undefined;
  return {
    user: (w0 >>> 25) & 0xf,
    headerSize,
    size,
    nonSeq: ((w0 >>> 20) & 1) === 1,
    bcastAck: (bytes[6]! << 8) | bytes[7]!,
    ack: (bytes[8]! << 8) | bytes[9]!,
    seqno: (bytes[10]! << 8) | bytes[11]!,
    prevNode: word(bytes, 3),
    word5: word(bytes, 5),
    destNode: headerSize >= 32 ? word(bytes, 7) : undefined,
  };
}

/**
 * Word 5 bit 14 (the kernel's msg_bc_ack_invalid) for the users that carry it (BCAST_PROTOCOL,
 * LINK_PROTOCOL, NAME_DISTRIBUTOR), else false. `user` is the wire value.
 */
export function isBcAckInvalid(bytes: Uint8Array, user: number): boolean {
  if (user !== USER.BCAST_PROTOCOL && user !== USER.NAME_DISTRIBUTOR && user !== USER.LINK_PROTOCOL)
    return false;
  return bytes.length >= 24 && (bytes[22]! & 0x40) !== 0;
}

/** What a link writes into a packet it sends (see writeLinkFields). */
export interface LinkFields {
  nonSeq: boolean;
  seqno: number;
  ack: number;
  bcastAck: number;
  prevNode: number;
  /** set word 7 when the header has one and it is 0 */
  destNode?: number;
  /** set word 6 when the header has one and it is 0 */
  origNode?: number;
  /** broadcast-link packets: word 5 becomes the network id, and word 7 becomes 0 */
  netId?: number;
}

function setWord(bytes: Uint8Array, i: number, v: number): void {
  const o = 4 * i;
  bytes[o] = v >>> 24;
  bytes[o + 1] = (v >>> 16) & 0xff;
  bytes[o + 2] = (v >>> 8) & 0xff;
  bytes[o + 3] = v & 0xff;
}

/**
 * Writes the link-layer fields into an encoded packet, in place: the non-sequenced bit, seqno,
 * ack, bcast_ack and prevnode; origNode and destNode where the header has them and they are 0;
 * for the broadcast link (netId) the network id in word 5 and destnode 0.
 */
export function writeLinkFields(bytes: Uint8Array, f: LinkFields): void {
  need(bytes, MIN_H_SIZE);
  const headerSize = readHeaderSize(bytes);
  bytes[1] = f.nonSeq ? bytes[1]! | 0x10 : bytes[1]! & 0xef;
  writeAcks(bytes, f.ack, f.bcastAck);
  writeSeqno(bytes, f.seqno);
  setWord(bytes, 3, f.prevNode >>> 0);
  if (f.netId !== undefined) setWord(bytes, 5, f.netId >>> 0);
  if (headerSize >= 32 && bytes.length >= 32) {
    if (f.origNode !== undefined && word(bytes, 6) === 0) setWord(bytes, 6, f.origNode >>> 0);
    if (f.destNode !== undefined) {
      if (f.netId !== undefined) setWord(bytes, 7, 0);
      else if (word(bytes, 7) === 0) setWord(bytes, 7, f.destNode >>> 0);
    }
  }
}
