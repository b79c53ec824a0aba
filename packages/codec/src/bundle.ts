// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * MSG_BUNDLER (user 6): several small messages carried in one packet, each inner message
 * starting on a 4-byte boundary (tipc_msg_bundle / tipc_msg_extract in the kernel).
 */
import { decodeMessage, validateHeader } from "./decode.js";
import { TipcDecodeError, TipcEncodeError } from "./errors.js";
import type { BundlerMessage } from "./types.js";

const INT_H = 40;

function word(bytes: Uint8Array, o: number): number {
  return ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
}

/**
 * The importance the kernel gives a message (msg_importance): the user for data messages
 * without an error code, word 9 bits 0..2 for fragments and bundles, else 4 (SYSTEM).
 */
export function messageImportance(bytes: Uint8Array): number {
  if (bytes.length < 8) throw new TipcDecodeError("TRUNCATED_HEADER", bytes.length, "need 8 bytes");
  const user = (bytes[0]! >>> 1) & 0xf;
  const errorCode = (bytes[4]! >>> 1) & 0xf;
  if (user <= 3 && errorCode === 0) return user;
  if ((user === 6 || user === 12) && bytes.length >= INT_H) return word(bytes, 36) & 7;
  return 4;
}

/** Whether the kernel would put a message of this user in a bundle (not fragments, tunnel or BCAST_PROTOCOL). */
export function canBundle(bytes: Uint8Array): boolean {
  const user = bytes.length < 4 ? -1 : (bytes[0]! >>> 1) & 0xf;
  return user >= 0 && user !== 12 && user !== 10 && user !== 5;
}

/** Size in bytes of a bundle holding messages of these sizes (header included). */
export function bundleSize(messageSizes: readonly number[]): number {
  let n = INT_H;
  for (let i = 0; i < messageSizes.length; i++) {
    if (i > 0) n = (n + 3) & ~3;
    n += messageSizes[i]!;
  }
  return n;
}

/** Whether a message of `messageSize` bytes still fits in a bundle of `bundleSize` bytes under `maxPacket`. */
export function fitsInBundle(currentBundleSize: number, messageSize: number, maxPacket: number): boolean {
  return ((currentBundleSize + 3) & ~3) + messageSize <= maxPacket;
}

export interface BundleFields {
  nonSeq?: boolean;
  bcastAck?: number;
  ack?: number;
  seqno?: number;
  /** default: the first inner message's prevnode */
  prevNode?: number;
  /** default: prevNode */
  origNode?: number;
  /** default: 0 */
  destNode?: number;
  /** default: the first inner message's importance */
  importance?: number;
  netId?: number;
}

/**
 * Builds a MSG_BUNDLER message around complete encoded messages, with the header the kernel
 * gives a new bundle. The link layer fills in ack/seqno/bcastAck when it sends it.
 */
export function bundleMessages(messages: readonly Uint8Array[], fields: BundleFields = {}): BundlerMessage {
  if (messages.length === 0) throw new TipcEncodeError("messages", "a bundle holds at least one message");
  messages.forEach((m, i) => {
    let size: number;
    try {
      size = validateHeader(m);
    } catch (e) {
      throw new TipcEncodeError(`messages[${i}]`, `not a valid TIPC message (${(e as Error).message})`);
    }
    if (size !== m.length)
      throw new TipcEncodeError(`messages[${i}]`, `${m.length} bytes but size says ${size}`);
    if (!canBundle(m))
      throw new TipcEncodeError(
        `messages[${i}]`,
        "fragments, tunnel and BCAST_PROTOCOL messages are not bundled",
      );
  });
  const first = messages[0]!;
  const prevNode = fields.prevNode ?? word(first, 12);
  const msg: BundlerMessage = {
    user: "MSG_BUNDLER",
    type: "BUNDLE",
    nonSeq: fields.nonSeq ?? false,
    bcastAck: fields.bcastAck ?? 0,
    ack: fields.ack ?? 0,
    seqno: fields.seqno ?? 0,
    prevNode,
    origNode: fields.origNode ?? prevNode,
    destNode: fields.destNode ?? 0,
    importance: fields.importance ?? messageImportance(first),
    messages: [...messages],
  };
  if (fields.netId !== undefined) msg.netId = fields.netId;
  return msg;
}

/**
 * The inner messages of a bundle (views into its bytes). Accepts the encoded bundle or a
 * decoded BundlerMessage. Throws TipcDecodeError for malformed bytes.
 */
export function unbundle(bundle: Uint8Array | BundlerMessage): Uint8Array[] {
  if (!(bundle instanceof Uint8Array)) return bundle.messages;
  const msg = decodeMessage(bundle);
  if (msg.user !== "MSG_BUNDLER") throw new TipcDecodeError("BAD_BUNDLE", 0, `not a bundle but ${msg.user}`);
  return msg.messages;
}
