import { describe, expect, it } from "vitest";
import { connManagerFields, connManagerMessage } from "./conn-manager.js";
import { decodeMessage } from "./decode.js";
import { encodeMessage } from "./encode.js";
import type { OpaqueMessage } from "./types.js";

describe("CONN_MANAGER fields", () => {
  it("CONN_ACK puts conn_ack and adv_win in word 9 and nagle_ack in word 0 bit 18", () => {
    const bytes = encodeMessage(
      connManagerMessage({
        type: "CONN_ACK",
        errorCode: 0,
        prevNode: 0x1001,
        origPort: 0xaabbccdd,
        destPort: 7,
        origNode: 0x1001,
        destNode: 0x1002,
        connAck: 0x1234,
        advWin: 512,
        nagleAck: true,
      }),
    );
    expect(bytes.length).toBe(40);
    const dv = new DataView(bytes.buffer);
    // version 2, user 8, header 10 words, bit 18, size 40
    expect(dv.getUint32(0)).toBe(((2 << 29) | (8 << 25) | (10 << 21) | (1 << 18) | 40) >>> 0);
    expect(dv.getUint32(4) >>> 29).toBe(2); // CONN_ACK
    expect(dv.getUint32(16)).toBe(0xaabbccdd);
    expect(dv.getUint32(20)).toBe(7);
    expect(dv.getUint32(24)).toBe(0x1001);
    expect(dv.getUint32(28)).toBe(0x1002);
    expect(dv.getUint32(36)).toBe(((0x1234 << 16) | 512) >>> 0);
    const f = connManagerFields(decodeMessage(bytes) as OpaqueMessage);
    expect(f).toMatchObject({ type: "CONN_ACK", connAck: 0x1234, advWin: 512, nagleAck: true, destPort: 7 });
  });

  it("a probe reversed with an error code keeps it in word 1 bits 25..28", () => {
    const m = connManagerMessage({
      type: "CONN_PROBE_REPLY",
      errorCode: 2,
      prevNode: 1,
      origPort: 2,
      destPort: 3,
      origNode: 1,
      destNode: 4,
      connAck: 0,
      advWin: 0,
      nagleAck: false,
    });
    const f = connManagerFields(decodeMessage(encodeMessage(m)) as OpaqueMessage);
    expect(f).toMatchObject({
      type: "CONN_PROBE_REPLY",
      errorCode: 2,
      origPort: 2,
      destNode: 4,
      nagleAck: false,
    });
  });
});
