/**
 * What the distributor emits encodes to the kernel's words (tipc-protocol.md Appendix A), and
 * decoding those bytes gives back a message the receiver applies the same way.
 */
import {
  decodeMessage,
  encodeMessage,
  type NameDistributorMessage,
  TIPC_NODE_CAPABILITIES,
} from "@tipcjs/codec";
import { NameTable } from "@tipcjs/name-table";
import { describe, expect, it } from "vitest";
import { createDistributor } from "./distributor.js";
import type { DistributorOutput, SendOutput } from "./types.js";

const A = 0x1001;
const B = 0x1002;
const word = (b: Uint8Array, n: number) => new DataView(b.buffer, b.byteOffset).getUint32(n * 4);
const sent = (outs: DistributorOutput[]) =>
  outs.filter((o): o is SendOutput => o.kind === "send").map((o) => o.message);

describe("wire form", () => {
  const a = createDistributor({ ownNode: A, table: new NameTable({ ownNode: A }), initialSndNxt: 0x1234 });
  const [bulk] = sent(a.nodeUp(B, { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 })) as [
    NameDistributorMessage,
  ];
  a.bulkAcked(B); // the link acknowledged the bulk: updates go by broadcast
  const [publication] = sent(
    a.publish({ type: 77, lower: 1, upper: 2, node: A, port: 3, key: 4, scope: "cluster" }),
  ) as [NameDistributorMessage];
  const [withdrawal] = sent(a.withdraw({ type: 77, lower: 1, upper: 2, node: A, key: 4 })) as [
    NameDistributorMessage,
  ];

  it("a single publication: one item, word 0 0x5740003C, word 1 0x04000000, seqno in word 4", () => {
    const bytes = encodeMessage(publication);
    expect(bytes.length).toBe(60);
    expect(word(bytes, 0)).toBe(0x5740003c);
    expect(word(bytes, 1)).toBe(0x04000000);
    expect(word(bytes, 4)).toBe(0x1234);
    expect(word(bytes, 6)).toBe(A);
    expect(word(bytes, 7)).toBe(0);
    expect([10, 11, 12, 13, 14].map((n) => word(bytes, n))).toEqual([77, 1, 2, 3, 4]);
  });

  it("a withdrawal: word 1 0x24000000, the next seqno", () => {
    const bytes = encodeMessage(withdrawal);
    expect(word(bytes, 1)).toBe(0x24000000);
    expect(word(bytes, 4)).toBe(0x1235);
  });

  it("the last bulk message: word 1 0x1C000000, bc_ack_invalid, destnode the peer, seqno = sndNxt", () => {
    const bytes = encodeMessage(bulk);
    expect(word(bytes, 1)).toBe(0x1c000000);
    expect(word(bytes, 4)).toBe(0x1234);
    expect((word(bytes, 5) >>> 14) & 1).toBe(1);
    expect(word(bytes, 7)).toBe(B);
    expect(bytes.length).toBe(60); // the node-state binding
  });

  it("decoded bytes are received exactly as the objects are", () => {
    const tb = new NameTable({ ownNode: B });
    const b = createDistributor({ ownNode: B, table: tb });
    b.nodeUp(A, { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 });
    const rx = (m: NameDistributorMessage) =>
      b.receive(A, decodeMessage(encodeMessage(m)) as NameDistributorMessage);
    expect(rx(withdrawal)).toEqual([]); // held behind the publication
    expect(rx(publication)).toEqual([]); // held behind the bulk's gate
    const out = rx(bulk);
    expect(out.map((o) => o.kind)).toEqual(["bound", "bound", "unbound"]);
    expect(tb.nodeBindings(A).map((x) => x.type)).toEqual([0]);
  });
});
