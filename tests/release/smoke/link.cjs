// Smoke program for @tipcjs/link through require(), installed alone from the registry.
const assert = require("node:assert/strict");
const { createLinkEngine, DEFAULT_CAPABILITIES, nodeIdFromString, nodeIdString } = require("@tipcjs/link");

const id = nodeIdFromString("node-a");
assert.equal(id.length, 16);
assert.equal(nodeIdString(id), "node-a");
assert.ok(DEFAULT_CAPABILITIES & 0x800, "TIPC_NAMED_BCAST advertised by default");
const e = createLinkEngine({
  nodeId: id,
  random: Math.random,
  bearer: {
    name: "udp0",
    mediaAddress: { family: "ipv4", address: "127.0.0.1", port: 6118 },
    mtu: 1400,
    canBroadcast: false,
  },
});
e.start(0);
assert.ok(e.poll().some((o) => o.kind === "transmit") || e.nextDeadline() !== undefined);
console.log("@tipcjs/link (CommonJS): engine created and started");
