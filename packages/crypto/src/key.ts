// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/**
 * User keys as `tipc node set key` passes them (`struct tipc_aead_key`, uapi linux/tipc.h) and
 * the session-key message of the 5.10+ key exchange (`tipc_crypto_key_xmit` /
 * `tipc_crypto_key_rcv`, net/tipc/crypto.c).
 */
import {
  decodeMessage,
  encodeMessage,
  INT_H_SIZE,
  type OpaqueMessage,
  peekUserValue,
  TipcDecodeError,
  USER,
} from "@tipcjs/codec";

/** TIPC_AEAD_ALG_NAME: the algorithm name field is 32 bytes, NUL-padded. */
export const TIPC_AEAD_ALG_NAME = 32;
/** The only algorithm the kernel accepts (`tipc_aead_key_validate`). */
export const TIPC_AEAD_ALG = "gcm(aes)";
/** [KEY: 16, 24 or 32 octets][SALT: 4 octets] */
export const TIPC_AEAD_KEYLENS = [20, 28, 36] as const;
/** Key modes (crypto.h): one key for the whole cluster, or one TX key per node. */
export const CLUSTER_KEY = 1;
export const PER_NODE_KEY = 2;
/** msg.h: MSG_CRYPTO's only type. */
export const KEY_DISTR_MSG = 0;

export type CryptoErrorCode = "BAD_KEY_LENGTH" | "UNSUPPORTED_ALGORITHM" | "INVALID_OPTION" | "BUSY";

/** A key or key-command problem; never thrown for bytes from the network. */
export class TipcCryptoError extends Error {
  override readonly name = "TipcCryptoError";
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isTipcCryptoError(e: unknown): e is TipcCryptoError {
  return e instanceof TipcCryptoError;
}

/** A validated AEAD user key: the AES key followed by the 4-byte salt. */
export interface AeadKey {
  algName: string;
  /** 20, 28 or 36 bytes: key then salt */
  material: Uint8Array;
}

/**
 * Parses KEY as iproute2's `str2key` (tipc/misc.c) does: "0x" followed by hex digits is hex
 * (an odd count takes a single leading nibble), anything else is the string's bytes. Then
 * validates it as `tipc_aead_key_validate` does. Throws TipcCryptoError.
 */
export function parseKey(text: string, algName: string = TIPC_AEAD_ALG): AeadKey {
  let material: Uint8Array;
  const hex = text.length > 2 && text.startsWith("0x") && /^[0-9a-fA-F]+$/.test(text.slice(2));
  if (hex) {
    let digits = text.slice(2);
    if (digits.length % 2 === 1) digits = `0${digits}`;
    material = Uint8Array.from(Buffer.from(digits, "hex"));
  } else {
    material = new TextEncoder().encode(text);
  }
  return validateKey({ algName, material });
}

/** `tipc_aead_key_validate`: algorithm "gcm(aes)", 16/24/32 key bytes + 4 salt bytes. */
export function validateKey(key: AeadKey): AeadKey {
  if (key.algName !== TIPC_AEAD_ALG) {
    throw new TipcCryptoError("UNSUPPORTED_ALGORITHM", `algorithm "${key.algName}"; only "${TIPC_AEAD_ALG}"`);
  }
  if (!(TIPC_AEAD_KEYLENS as readonly number[]).includes(key.material.length)) {
    throw new TipcCryptoError(
      "BAD_KEY_LENGTH",
      `${key.material.length} octets; a key is 20, 28 or 36 octets (16/24/32 + 4 salt)`,
    );
  }
  return { algName: key.algName, material: Uint8Array.from(key.material) };
}

/** The kernel's key "hint": the hex of the 5 key bytes before the salt (tipc_aead_init). */
export function keyHint(key: AeadKey): string {
  const n = key.material.length - 4;
  return Buffer.from(key.material.subarray(n - 5, n)).toString("hex");
}

/** The data of a KEY_DISTR_MSG: alg_name[32], keylen (BE32), key. */
export function encodeKeyData(key: AeadKey): Uint8Array {
  const out = new Uint8Array(TIPC_AEAD_ALG_NAME + 4 + key.material.length);
  out.set(new TextEncoder().encode(key.algName).subarray(0, TIPC_AEAD_ALG_NAME - 1), 0);
  new DataView(out.buffer).setUint32(TIPC_AEAD_ALG_NAME, key.material.length);
  out.set(key.material, TIPC_AEAD_ALG_NAME + 4);
  return out;
}

/**
 * A MSG_CRYPTO/KEY_DISTR_MSG as `tipc_crypto_key_xmit` builds it: `tipc_msg_init(own,
 * MSG_CRYPTO, KEY_DISTR_MSG, INT_H_SIZE, dnode)` (prevnode and orignode = own, destnode =
 * dnode, 0 for the broadcast link), word 4 = key_gen << 16 | mode, then the key data. The link
 * fills in its sequence numbers.
 */
export function buildKeyDistrMessage(
  ownAddr: number,
  destAddr: number,
  gen: number,
  mode: number,
  key: AeadKey,
) {
  const words = new Array<number>(INT_H_SIZE / 4).fill(0);
  words[3] = ownAddr >>> 0;
  words[4] = (((gen & 0xffff) << 16) | (mode & 0xf)) >>> 0;
  words[6] = ownAddr >>> 0;
  words[7] = destAddr >>> 0;
  const msg: OpaqueMessage = {
    user: "MSG_CRYPTO",
    type: "KEY_DISTR",
    nonSeq: false,
    headerWords: words,
    data: encodeKeyData(key),
  };
  return encodeMessage(msg);
}

export interface ReceivedSessionKey {
  gen: number;
  mode: number;
  key: AeadKey;
  prevNode: number;
}

/**
 * Reads a KEY_DISTR_MSG (`tipc_crypto_key_rcv`), checking what the kernel checks (data size =
 * 36 + keylen) and, beyond it, that the key is one the kernel could use. Returns a reason
 * string for anything else.
 */
export function readKeyDistrMessage(bytes: Uint8Array): ReceivedSessionKey | string {
  let msg: ReturnType<typeof decodeMessage>;
  try {
    msg = decodeMessage(bytes);
  } catch (e) {
    if (e instanceof TipcDecodeError) return "malformed";
    throw e;
  }
  if (msg.user !== "MSG_CRYPTO" || !("headerWords" in msg)) return "not-msg-crypto";
  if (msg.type !== "KEY_DISTR") return "unknown-type";
  const words = msg.headerWords;
  if (words.length < INT_H_SIZE / 4) return "short-header";
  const data = msg.data;
  if (data.length < TIPC_AEAD_ALG_NAME + 4) return "short-key";
  const keylen = new DataView(data.buffer, data.byteOffset, data.length).getUint32(TIPC_AEAD_ALG_NAME);
  if (data.length !== TIPC_AEAD_ALG_NAME + 4 + keylen) return "bad-key-size";
  const nul = data.subarray(0, TIPC_AEAD_ALG_NAME).indexOf(0);
  if (nul < 0) return "bad-algorithm";
  const algName = new TextDecoder().decode(data.subarray(0, nul));
  const material = data.slice(TIPC_AEAD_ALG_NAME + 4);
  if (algName !== TIPC_AEAD_ALG || !(TIPC_AEAD_KEYLENS as readonly number[]).includes(material.length)) {
    return "bad-key";
  }
  const w4 = words[4]! >>> 0;
  return { gen: w4 >>> 16, mode: w4 & 0xf, key: { algName, material }, prevNode: words[3]! >>> 0 };
}

/** True for MSG_CRYPTO messages (user 14), whatever their type. */
export function isKeyMessage(bytes: Uint8Array): boolean {
  return peekUserValue(bytes) === USER.MSG_CRYPTO;
}
