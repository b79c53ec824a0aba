// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * MSG_FRAGMENTER (user 12): splitting a message larger than the link MTU into fragments
 * (tipc_msg_build) and putting it back together (tipc_buf_append).
 */

import { messageImportance } from "./bundle.js";
import { MAX_MSG_SIZE } from "./constants.js";
import { validateHeader } from "./decode.js";
import { TipcDecodeError } from "./errors.js";
import { mod16 } from "./seq.js";
import type { FragmenterMessage } from "./types.js";

const INT_H = 40;

function word(bytes: Uint8Array, o: number): number {
  return ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
}

export interface FragmentFields {
  nonSeq?: boolean;
  bcastAck?: number;
  ack?: number;
  seqno?: number;
  /** default: the message's prevnode (word 3) */
  prevNode?: number;
  /** default: prevNode, as tipc_msg_init sets it */
  origNode?: number;
  /** default: the message's destnode (word 7), or 0 for a 24-byte header */
  destNode?: number;
  /** default: the message's importance (msg_importance) */
  importance?: number;
  netId?: number;
  /**
   * Set the fragment count (word 4 bits 0..15) in every fragment, as tunnel fragmentation
   * (tipc_msg_fragment) does; plain fragmentation (tipc_msg_build) leaves it 0.
   */
  withCount?: boolean;
}

/**
 * Splits an encoded message into fragments of at most `maxPacket` bytes each (40-byte
 * fragment header included): FIRST_FRAGMENT, FRAGMENT..., LAST_FRAGMENT, numbered from 1.
 * Fragment data are views into `bytes`. Pure: the link assigns seqno/ack when sending.
 * Throws RangeError when the message fits in a single fragment or maxPacket leaves no room.
 */
export function fragmentMessage(
  bytes: Uint8Array,
  maxPacket: number,
  fields: FragmentFields = {},
): FragmenterMessage[] {
  const chunk = Math.floor(maxPacket) - INT_H;
  if (!(chunk > 0))
    throw new RangeError(`maxPacket ${maxPacket} leaves no room after the 40-byte fragment header`);
  if (bytes.length <= chunk)
    throw new RangeError(`a ${bytes.length}-byte message fits in one ${maxPacket}-byte packet`);
  const count = Math.ceil(bytes.length / chunk);
  if (count > 0xffff) throw new RangeError(`${count} fragments exceed the 16-bit fragment number`);
  const hsz = bytes.length >= 4 ? ((word(bytes, 0) >>> 21) & 0xf) << 2 : 0;
  const prevNode = fields.prevNode ?? (bytes.length >= 16 ? word(bytes, 12) : 0);
  const destNode = fields.destNode ?? (hsz > 24 && bytes.length >= 32 ? word(bytes, 28) : 0);
  const importance = fields.importance ?? messageImportance(bytes);
  const out: FragmenterMessage[] = [];
  for (let i = 0; i < count; i++) {
    const start = i * chunk;
    const frag: FragmenterMessage = {
      user: "MSG_FRAGMENTER",
      type: i === 0 ? "FIRST_FRAGMENT" : i === count - 1 ? "LAST_FRAGMENT" : "FRAGMENT",
      nonSeq: fields.nonSeq ?? false,
      bcastAck: fields.bcastAck ?? 0,
      ack: fields.ack ?? 0,
      seqno: fields.seqno ?? 0,
      prevNode,
      origNode: fields.origNode ?? prevNode,
      destNode,
      fragmentNumber: i + 1,
      fragmentCount: fields.withCount ? count : 0,
      importance,
      data: bytes.subarray(start, Math.min(start + chunk, bytes.length)),
    };
    if (fields.netId !== undefined) frag.netId = fields.netId;
    out.push(frag);
  }
  return out;
}

export interface ReassemblerOptions {
  /** largest message accepted, in bytes; default MAX_MSG_SIZE (66060) */
  maxSize?: number;
}

/**
 * Reassembles the fragments of one link, which arrive in link order. Bounded: at most
 * `maxSize` bytes are held. Any error resets it (the partial message is dropped, as the
 * kernel drops it) and throws TipcDecodeError.
 */
export class Reassembler {
  readonly maxSize: number;
  #parts: Uint8Array[] = [];
  #size = 0;
  #nextNumber = 0;
  #active = false;

  constructor(options: ReassemblerOptions = {}) {
    this.maxSize = options.maxSize ?? MAX_MSG_SIZE;
  }

  /** Whether a message is partly reassembled. */
  get inProgress(): boolean {
    return this.#active;
  }

  /** Bytes held for the message in progress. */
  get bufferedBytes(): number {
    return this.#size;
  }

  /** Drops any partial message. */
  reset(): void {
    this.#parts = [];
    this.#size = 0;
    this.#nextNumber = 0;
    this.#active = false;
  }

  #fail(code: ConstructorParameters<typeof TipcDecodeError>[0], offset: number, detail: string): never {
    this.reset();
    throw new TipcDecodeError(code, offset, detail);
  }

  /**
   * Adds the next fragment (a MSG_FRAGMENTER message, or any fragment with the same numbering,
   * e.g. a FAILOVER tunnel fragment). Returns the complete message (validated as the kernel validates
   * it) when `frag` is the LAST_FRAGMENT, otherwise undefined.
   */
  push(frag: Pick<FragmenterMessage, "type" | "fragmentNumber" | "data">): Uint8Array | undefined {
    if (frag.type === "FIRST_FRAGMENT") {
      if (this.#active)
        this.#fail("UNEXPECTED_FIRST_FRAGMENT", this.#size, "a message is already in progress");
      this.#active = true;
    } else {
      if (!this.#active)
        this.#fail(
          "FRAGMENT_WITHOUT_FIRST",
          0,
          `${frag.type} ${frag.fragmentNumber} without a first fragment`,
        );
      if (frag.fragmentNumber !== this.#nextNumber) {
        this.#fail(
          "FRAGMENT_OUT_OF_ORDER",
          this.#size,
          `fragment ${frag.fragmentNumber}, expected ${this.#nextNumber}`,
        );
      }
    }
    if (this.#size + frag.data.length > this.maxSize) {
      this.#fail("REASSEMBLY_TOO_LARGE", this.#size, `more than ${this.maxSize} bytes`);
    }
    this.#parts.push(frag.data);
    this.#size += frag.data.length;
    this.#nextNumber = mod16(frag.fragmentNumber + 1);
    if (frag.type !== "LAST_FRAGMENT") return undefined;
    const out = new Uint8Array(this.#size);
    let o = 0;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.length;
    }
    this.reset();
    const size = validateHeader(out);
    return size === out.length ? out : out.subarray(0, size);
  }
}
