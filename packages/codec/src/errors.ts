/**
 * The one error type that escapes from decoding bad bytes. `code` says what was wrong and
 * `offset` where in the datagram (in bytes) the problem was found.
 */
export type TipcDecodeErrorCode =
  /** fewer bytes than the 24-byte minimum header, or than the header size word 0 announces */
  | "TRUNCATED_HEADER"
  /** word 0 version is not 2 */
  | "BAD_VERSION"
  /** header size outside 24..60, or not a size this user's messages have */
  | "BAD_HEADER_SIZE"
  /** header size below the minimum for this user (40 for internal users, 60 for LINK_CONFIG) */
  | "HEADER_TOO_SMALL"
  /** message size (word 0 bits 0..16) smaller than the header size */
  | "SIZE_TOO_SMALL"
  /** message data larger than TIPC_MAX_USER_MSG_SIZE (66000) */
  | "SIZE_TOO_LARGE"
  /** message size larger than the datagram */
  | "TRUNCATED_MESSAGE"
  /** user 4 or 15 (internal pseudo-users, never on the wire) */
  | "UNKNOWN_USER"
  /** message type not defined for this user */
  | "UNKNOWN_TYPE"
  /** NAME_DISTRIBUTOR data is not a whole number of 20-byte items */
  | "ITEM_DATA_MISALIGNED"
  /** discovery media type is not UDP (3) */
  | "BAD_MEDIA_TYPE"
  /** discovery media address protocol is neither IPv4 (0x0800) nor IPv6 (0x86DD) */
  | "BAD_MEDIA_ADDRESS"
  /** the data area is shorter than the user requires (the 16-byte node id of discovery) */
  | "DATA_TOO_SHORT"
  /** an inner message of a bundle is malformed or does not fit */
  | "BAD_BUNDLE"
  /** bundle msgcnt (word 9) differs from the number of inner messages */
  | "BUNDLE_COUNT_MISMATCH"
  /** reassembly: FRAGMENT or LAST_FRAGMENT without a FIRST_FRAGMENT before it */
  | "FRAGMENT_WITHOUT_FIRST"
  /** reassembly: a FIRST_FRAGMENT while another message is being reassembled */
  | "UNEXPECTED_FIRST_FRAGMENT"
  /** reassembly: fragment number does not follow the previous one */
  | "FRAGMENT_OUT_OF_ORDER"
  /** reassembly: the message grows beyond the reassembler's limit */
  | "REASSEMBLY_TOO_LARGE";

/**
 * Bad bytes. The message says where and what (`at byte 2`, `at byte 40: 3 items`); the code is
 * in `code` only, so print `${e.code} ${e.message}` for a line that has both.
 */
export class TipcDecodeError extends Error {
  override readonly name = "TipcDecodeError";
  readonly code: TipcDecodeErrorCode;
  /** byte offset in the datagram (or reassembled message) where the problem was found */
  readonly offset: number;

  constructor(code: TipcDecodeErrorCode, offset: number, detail?: string) {
    super(`at byte ${offset}${detail ? `: ${detail}` : ""}`);
    this.code = code;
    this.offset = offset;
  }
}

/** Why the encoder refused: one code, the field at fault is in `field`. */
export type TipcEncodeErrorCode =
  /** a field of the message object is missing, out of range or not encodable */
  "BAD_FIELD";

/** Thrown by the encoder for a message object that cannot be put on the wire. */
export class TipcEncodeError extends Error {
  override readonly name = "TipcEncodeError";
  readonly code: TipcEncodeErrorCode = "BAD_FIELD";
  /** the field at fault, e.g. "bearerName" */
  readonly field: string;

  constructor(field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.field = field;
  }
}

/** An error of class `name` with a `code`, from this or a duplicated copy of the package. */
export function isNamed(e: unknown, name: string): boolean {
  return typeof e === "object" && e !== null && (e as { name?: unknown }).name === name && "code" in e;
}

/** True when `e` is a {@link TipcDecodeError} (also across duplicated package copies). */
export function isTipcDecodeError(e: unknown): e is TipcDecodeError {
  return e instanceof TipcDecodeError || isNamed(e, "TipcDecodeError");
}

/** True when `e` is a {@link TipcEncodeError} (also across duplicated package copies). */
export function isTipcEncodeError(e: unknown): e is TipcEncodeError {
  return e instanceof TipcEncodeError || isNamed(e, "TipcEncodeError");
}
