// release-check: install @tipcjs/transport-udp
// Smoke program for @tipcjs/node, installed from the registry with @tipcjs/transport-udp: two
// nodes over UDP on 127.0.0.1 (free ports) link up, and a binding published on one is looked up
// on the other. Loopback only; bounded by a 20 s timer.
import assert from "node:assert/strict";
import { createNode, NodeError } from "@tipcjs/node";
import { udpTransport } from "@tipcjs/transport-udp";

const guard = setTimeout(() => {
  console.error("node smoke: no result within 20 s");
  process.exit(1);
}, 20_000);
const ta = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
const tb = await udpTransport({
  localAddress: "127.0.0.1",
  localPort: 0,
  mode: "replicast",
  peers: [ta.localAddress],
});
const a = await createNode({ nodeId: "smoke-a", transport: ta, skipTrial: true });
const b = await createNode({ nodeId: "smoke-b", transport: tb, skipTrial: true });
try {
  const up = new Promise((resolve) => a.on("nodeUp", resolve));
  await up;
  const sub = a.subscribe({ type: 1000, lower: 0, upper: 0xffffffff, mode: "ports" });
  const binding = b.publish({ type: 1000, lower: 1, upper: 10 });
  for await (const ev of sub) {
    if (ev.kind === "published") break;
  }
  const found = a.lookupAnycast(1000, 5);
  assert.equal(found?.port, binding.port);
  assert.throws(() => a.publish({ type: 0, lower: 0, upper: 0 }), NodeError);
} finally {
  await Promise.all([a.close(), b.close()]);
  clearTimeout(guard);
}
console.log("@tipcjs/node (ESM): two nodes over UDP on 127.0.0.1, binding seen across the link");
