/**
 * Against a real kernel's bytes (Linux 6.1 in QEMU, src/__fixtures__/README.md): the kernel's
 * bulk is received as the kernel means it, and the bulk we send for the same binding the
 * kernel accepted is byte-identical once the link layer fills its fields.
 */
import { readFileSync } from "node:fs";
import {
  decodeMessage,
  encodeMessage,
  type NameDistributorMessage,
  TIPC_NODE_CAPABILITIES,
} from "@tipcjs/codec";
import { NameTable } from "@tipcjs/name-table";
import { describe, expect, it } from "vitest";
import { createDistributor } from "./distributor.js";
import type { SendOutput } from "./types.js";

const GUEST = 0x13446573; // the kernel node
const HOST = 0x180a1606; // the peer on the host
const fixture = (name: string) =>
  Uint8Array.from(
    Buffer.from(readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), "utf8").trim(), "hex"),
  );
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("golden: Linux 6.1", () => {
  it("the kernel's link-up bulk opens the gate at its seqno and applies both items", () => {
    const m = decodeMessage(fixture("kernel-6.1-bulk.hex")) as NameDistributorMessage;
    expect(m).toMatchObject({
      user: "NAME_DISTRIBUTOR",
      bulk: true,
      lastBulk: true,
      nonLegacy: true,
      namedSeqno: 2,
    });
    const table = new NameTable({ ownNode: HOST });
    const d = createDistributor({ ownNode: HOST, table });
    d.nodeUp(GUEST, { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 });
    const out = d.receive(GUEST, m);
    expect(out.filter((o) => o.kind === "bound")).toHaveLength(2);
    expect(table.lookupAnycast(1000, 5)).toEqual({ node: GUEST, port: 2396154093 });
    expect(table.lookupAnycast(0, GUEST)).toEqual({ node: GUEST, port: 0 });
    // The kernel's counter was 2 (its node-state binding and {1000,1,10} each took one): the
    // next update it sends carries 2 and applies at once.
    expect(d.peer(GUEST)).toMatchObject({ open: true, rcvNxt: 2 });
  });

  it("our bulk for {2000, 5, 5} is byte-identical to the one the kernel accepted", () => {
    const accepted = fixture("accepted-by-kernel-6.1-bulk.hex");
    const d = createDistributor({
      ownNode: HOST,
      table: new NameTable({ ownNode: HOST }),
      publishNodeState: false,
    });
    d.publish({ type: 2000, lower: 5, upper: 5, node: HOST, port: 12345, key: 12346, scope: "cluster" });
    const sends = d
      .nodeUp(GUEST, { capabilities: TIPC_NODE_CAPABILITIES, mtu: 1500 })
      .filter((o): o is SendOutput => o.kind === "send");
    expect(sends).toHaveLength(1);
    // The link layer's part: ack, seqno and prevnode as that run had them.
    const linked = { ...(sends[0] as SendOutput).message, ack: 2, seqno: 1, prevNode: HOST };
    expect(toHex(encodeMessage(linked))).toBe(toHex(accepted));
  });
});
