/** AES-GCM as TIPC uses it (tipc_aead_init, tipc_aead_decrypt): one home for both callers. */
import { createDecipheriv, type KeyObject } from "node:crypto";
import { TAG_SIZE } from "./ehdr.js";

export type GcmAlgorithm = "aes-128-gcm" | "aes-192-gcm" | "aes-256-gcm";

/** The node:crypto cipher for a user key of `materialLength` bytes (key + 4 salt bytes). */
export function gcmAlgorithm(materialLength: number): GcmAlgorithm {
  const n = materialLength - 4;
  return n === 16 ? "aes-128-gcm" : n === 24 ? "aes-192-gcm" : "aes-256-gcm";
}

/**
 * Authenticates and decrypts `frame` = ehdr (the AAD, `ehsz` bytes) | ciphertext | tag.
 * Returns the plaintext, or undefined when the tag does not verify.
 */
export function openFrame(
  algorithm: GcmAlgorithm,
  key: KeyObject | Uint8Array,
  iv: Uint8Array,
  frame: Uint8Array,
  ehsz: number,
): Uint8Array | undefined {
  const end = frame.length - TAG_SIZE;
  try {
    const d = createDecipheriv(algorithm, key, iv, { authTagLength: TAG_SIZE });
    d.setAAD(frame.subarray(0, ehsz));
    d.setAuthTag(frame.subarray(end));
    const pt = d.update(frame.subarray(ehsz, end));
    d.final();
    return pt;
  } catch {
    return undefined;
  }
}
