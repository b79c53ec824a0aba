// biome-ignore-all lint/style/noNonNullAssertion: test data of known shape
/** Property tests: round trips for every user, and no input makes the decoder throw anything else. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeMessage } from "./decode.js";
import { encodedSize, encodeInto, encodeMessage } from "./encode.js";
import { TipcDecodeError } from "./errors.js";
import {
  bcastProtocolMessage,
  bundlerMessage,
  dataMessage,
  fragmenterMessage,
  linkConfigMessage,
  linkProtocolMessage,
  mutatedBytes,
  nameDistributorMessage,
  opaqueMessage,
  tipcMessage,
  tunnelMessage,
} from "./test-arbitraries.js";
import type { TipcMessage } from "./types.js";

const perUser: [string, fc.Arbitrary<TipcMessage>][] = [
  ["NAME_DISTRIBUTOR", nameDistributorMessage],
  ["LINK_PROTOCOL", linkProtocolMessage],
  ["LINK_CONFIG", linkConfigMessage],
  ["BCAST_PROTOCOL", bcastProtocolMessage],
  ["MSG_BUNDLER", bundlerMessage],
  ["MSG_FRAGMENTER", fragmenterMessage],
  ["TUNNEL_PROTOCOL", tunnelMessage],
  ["data (users 0..3)", dataMessage],
  ["CONN_MANAGER / GROUP_PROTOCOL / MSG_CRYPTO", opaqueMessage],
];

describe("decode(encode(m)) equals m", { timeout: 60_000 }, () => {
  it.each(perUser)("%s", (_name, arb) => {
    fc.assert(
      fc.property(arb, (m) => {
        const bytes = encodeMessage(m);
        expect(bytes.length).toBe(encodedSize(m));
        expect(decodeMessage(bytes)).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it("encodeInto writes the same bytes at any offset of a dirty buffer", () => {
    fc.assert(
      fc.property(tipcMessage, fc.nat({ max: 16 }), fc.integer({ min: 0, max: 255 }), (m, offset, fill) => {
        const expected = encodeMessage(m);
        const target = new Uint8Array(offset + expected.length + 8).fill(fill);
        expect(encodeInto(m, target, offset)).toBe(expected.length);
        expect(target.subarray(offset, offset + expected.length)).toEqual(expected);
        expect(target[offset + expected.length]).toBe(fill);
      }),
      { numRuns: 300 },
    );
  });
});

function decodeOrCode(bytes: Uint8Array): TipcMessage | string {
  try {
    return decodeMessage(bytes);
  } catch (e) {
    if (e instanceof TipcDecodeError) {
      expect(e.offset).toBeGreaterThanOrEqual(0);
      expect(e.offset).toBeLessThanOrEqual(bytes.length);
      return e.code;
    }
    throw e;
  }
}

describe("bad bytes only ever give TipcDecodeError", { timeout: 60_000 }, () => {
  it("random byte strings", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        decodeOrCode(b);
      }),
      { numRuns: 2000 },
    );
  });

  it("random bytes behind a valid version nibble (reaching the per-user decoders)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 24, maxLength: 200 }),
        fc.integer({ min: 0, max: 15 }),
        (b, user) => {
          b[0] = 0x40 | (user << 1) | (b[0]! & 1);
          decodeOrCode(b);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("mutated valid messages; whatever decodes re-encodes to something that decodes the same", () => {
    fc.assert(
      fc.property(mutatedBytes, (b) => {
        const m = decodeOrCode(b);
        if (typeof m !== "string") expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 2000 },
    );
  });
});
