// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * Cheap reads and in-place writes of header fields, for hot paths that do not need a full
 * decode (the link layer's receive window, retransmission, ack piggybacking).
 */
import { MIN_H_SIZE } from "./constants.js";
import { validateHeader } from "./decode.js";
import { TipcDecodeError } from "./errors.js";
import { TYPE_NAMES, userName } from "./names.js";
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
