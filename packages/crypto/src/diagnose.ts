/**
 * For interop work: which of the kernel's nonce rules makes a captured frame authenticate under
 * a given key. When a kernel frame does not decrypt in the engine, this tells a wrong key from a
 * wrong nonce rule (cluster vs per-node, the address's byte order) without any engine state.
 */
import { gcmAlgorithm, openFrame } from "./aead.js";
import { buildIv, type Ehdr, ehdrSize, IV_SIZE, isEncrypted, readEhdr } from "./ehdr.js";
import type { AeadKey } from "./key.js";

export type NonceRule = "cluster" | "per-node-le" | "per-node-be" | "per-node-undestined";

export interface FrameDiagnosis {
  /** the header, when the bytes are an encryption message at all */
  ehdr?: Ehdr;
  /** the rule under which the tag verified; undefined when none did */
  rule?: NonceRule;
  /** the plaintext (TIPC message and padding) under that rule */
  plaintext?: Uint8Array;
}

/**
 * Tries every nonce rule with `key`. `receiver` is the frame's destination address, needed for
 * the per-node destined rules.
 */
export function diagnoseFrame(frame: Uint8Array, key: AeadKey, receiver?: number): FrameDiagnosis {
  if (!isEncrypted(frame)) return {};
  const ehdr = readEhdr(frame);
  if (!ehdr) return {};
  const n = key.material.length - 4;
  const aesKey = key.material.subarray(0, n);
  const salt = key.material.subarray(n);
  const algorithm = gcmAlgorithm(key.material.length);
  const ehsz = ehdrSize(ehdr.user);
  const rules: [NonceRule, boolean, number | undefined, boolean][] = [
    ["cluster", true, undefined, true],
    ["per-node-undestined", false, undefined, true],
  ];
  if (receiver !== undefined) {
    rules.push(["per-node-le", false, receiver, true], ["per-node-be", false, receiver, false]);
  }
  const iv = new Uint8Array(IV_SIZE);
  for (const [rule, cluster, dest, le] of rules) {
    buildIv(iv, salt, frame, cluster, dest, le);
    const plaintext = openFrame(algorithm, aesKey, iv, frame, ehsz);
    if (plaintext) return { ehdr, rule, plaintext };
  }
  return { ehdr };
}
