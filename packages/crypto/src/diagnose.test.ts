// biome-ignore-all lint/style/noNonNullAssertion: test fixtures
import { nodeAddressFromId } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { data, discovery, ID_A, ID_B, seededRandom } from "./__helpers__/packets.js";
import { diagnoseFrame } from "./diagnose.js";
import { createCrypto } from "./engine.js";
import { parseKey } from "./key.js";

const A = nodeAddressFromId(ID_A);
const B = nodeAddressFromId(ID_B);
const K = parseKey("this_is_a_key16_salt");

function frame(
  perNode: boolean,
  p: Uint8Array,
  dest: number | undefined,
  peerLittleEndian = true,
): Uint8Array {
  const a = createCrypto({ ownAddr: A, ownNodeId: ID_A, peerLittleEndian, random: seededRandom(1) });
  a.setKey(K, perNode ? { nodeId: ID_A } : {}, 0);
  const r = a.encrypt(p, dest, 0);
  if (!r.ok) throw new Error(r.cause);
  return r.frames[0]!;
}

describe("diagnoseFrame", () => {
  it("names the nonce rule a frame was built with", () => {
    expect(diagnoseFrame(frame(false, data(A, B, 1), B), K, B).rule).toBe("cluster");
    expect(diagnoseFrame(frame(false, discovery(A), undefined), K).rule).toBe("cluster");
    expect(diagnoseFrame(frame(true, discovery(A), undefined), K).rule).toBe("per-node-undestined");
    expect(diagnoseFrame(frame(true, data(A, B, 1), B), K, B).rule).toBe("per-node-le");
    expect(diagnoseFrame(frame(true, data(A, B, 1), B, false), K, B).rule).toBe("per-node-be");
  });

  it("finds no rule under a wrong key, and nothing at all in plaintext", () => {
    const d = diagnoseFrame(frame(false, data(A, B, 1), B), parseKey("another_key_of_24_bytes!SALT"), B);
    expect(d.rule).toBeUndefined();
    expect(d.ehdr?.txKey).toBe(1);
    expect(diagnoseFrame(data(A, B, 1), K, B)).toEqual({});
  });
});
