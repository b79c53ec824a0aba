import type { NameDistributorMessage } from "@tipcjs/codec";

/** A sequenced publication from `origNode` (seqno 0, one item {1000, 1, 1}), fields overridable. */
export function namedMessage(
  origNode: number,
  over: Partial<NameDistributorMessage> = {},
): NameDistributorMessage {
  return {
    user: "NAME_DISTRIBUTOR",
    type: "PUBLICATION",
    nonSeq: false,
    bcastAck: 0,
    ack: 0,
    seqno: 0,
    prevNode: 0,
    origNode,
    destNode: 0,
    bulk: false,
    lastBulk: false,
    nonLegacy: true,
    namedSeqno: 0,
    bcAckInvalid: false,
    items: [{ type: 1000, lower: 1, upper: 1, port: 7, key: 1 }],
    ...over,
  };
}
