/** Bad or hostile input from the network: a counted drop or a rejection, never a throw or growth. */
import { DATA_TYPES, type DataMessage, decodeMessage, encodeMessage } from "@tipcjs/codec";
import { NameTable } from "@tipcjs/name-table";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSocketLayer } from "./socket-layer.js";

const A = 0x1001;
const B = 0x2002;

function setup() {
  const table = new NameTable({ ownNode: A });
  let seed = 0;
  const sl = createSocketLayer({
    ownNode: A,
    table,
    random: () => (seed++ * 0.377) % 1,
    rcvbuf: 4096,
    maxHeldMulticast: 8,
  });
  sl.nodeUp(B);
  const ports = [sl.open({ type: "rdm" }), sl.open({ type: "dgram" }), sl.open({ type: "rdm", rcvbuf: 100 })];
  for (const p of ports) {
    for (const o of sl.bind(p, { type: 1000, lower: 0, upper: 10 }))
      if (o.kind === "publish") table.insert(o.binding);
  }
  table.insert({ type: 1000, lower: 0, upper: 10, node: B, port: 5, key: 1, scope: "cluster" });
  return { sl, ports };
}

function checkBounds(sl: ReturnType<typeof setup>["sl"], ports: number[]): void {
  for (const p of ports) {
    const i = sl.info(p);
    expect(i.queuedBytes).toBeLessThan(i.rcvbuf * 8);
  }
}

describe("hostile input", () => {
  it("random bytes never throw; outputs are valid messages", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }), (inputs) => {
        const { sl, ports } = setup();
        for (const b of inputs) {
          for (const o of sl.receive(b)) if (o.kind === "transmit") decodeMessage(o.message);
        }
        checkBounds(sl, ports);
      }),
      { numRuns: 200 },
    );
  });

  it("well-formed data messages with any fields: bounded queues, each message delivered at most once", () => {
    const { ports: known } = setup();
    const message = fc.record({
      user: fc.constantFrom(
        "LOW_IMPORTANCE",
        "MEDIUM_IMPORTANCE",
        "HIGH_IMPORTANCE",
        "CRITICAL_IMPORTANCE" as const,
      ),
      type: fc.constantFrom(...DATA_TYPES),
      destDroppable: fc.boolean(),
      srcDroppable: fc.boolean(),
      syn: fc.boolean(),
      errorCode: fc.integer({ min: 0, max: 15 }),
      rerouteCount: fc.integer({ min: 0, max: 15 }),
      lookupScope: fc.integer({ min: 0, max: 3 }),
      origNode: fc.constantFrom(A, B, 0x3003),
      origPort: fc.integer({ min: 0, max: 10 }),
      destPort: fc.oneof(fc.constantFrom(0, ...known), fc.nat()),
      nameType: fc.constantFrom(1000, 2000),
      nameInstance: fc.integer({ min: 0, max: 12 }),
      nameUpper: fc.integer({ min: 0, max: 12 }),
      size: fc.integer({ min: 0, max: 3000 }),
      read: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 60 }), (msgs) => {
        const { sl, ports } = setup();
        let id = 0;
        const seen = new Set<number>();
        for (const f of msgs) {
          const headerSize =
            f.type === "CONN_MSG" ? 24 : f.type === "DIRECT_MSG" ? 32 : f.type === "NAMED_MSG" ? 40 : 44;
          const payload = new Uint8Array(Math.max(f.size, 4));
          new DataView(payload.buffer).setUint32(0, ++id);
          const m: DataMessage = {
            ...f,
            user: f.user as DataMessage["user"],
            headerSize,
            nonSeq: false,
            bcastAck: 0,
            ack: 0,
            seqno: 0,
            prevNode: f.origNode,
            destNode: A,
            nameUpper: headerSize === 44 ? f.nameUpper : 0,
            nameType: headerSize >= 40 ? f.nameType : 0,
            nameInstance: headerSize >= 40 ? f.nameInstance : 0,
            origNode: headerSize === 24 ? f.origNode : f.origNode,
            payload,
          };
          for (const o of sl.receive(encodeMessage(m))) if (o.kind === "transmit") decodeMessage(o.message);
          if (f.read) {
            for (const p of ports) {
              const r = sl.read(p);
              if (r?.kind !== "message") continue;
              const key = p * 1e6 + new DataView(r.data.buffer, r.data.byteOffset).getUint32(0);
              expect(seen.has(key)).toBe(false);
              seen.add(key);
            }
          }
          checkBounds(sl, ports);
        }
      }),
      { numRuns: 150 },
    );
  });
});
