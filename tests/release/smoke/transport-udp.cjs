// Smoke program for @tipcjs/transport-udp through require(), installed alone from the registry.
const assert = require("node:assert/strict");
const { defaultMulticastGroup, TIPC_DEFAULT_NET_ID, udpTransport } = require("@tipcjs/transport-udp");

(async () => {
  assert.equal(TIPC_DEFAULT_NET_ID, 4711);
  assert.equal(typeof defaultMulticastGroup(4711, "ipv4"), "string");
  const t = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  assert.ok(t.localAddress.port > 0);
  await t.close();
  console.log("@tipcjs/transport-udp (CommonJS): open and close on 127.0.0.1 ok");
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
