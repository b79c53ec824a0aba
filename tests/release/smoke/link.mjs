// Smoke program for @tipcjs/link, installed alone from the registry: two sans-I/O link engines
// on virtual time, their datagrams carried by this loop, discover each other and bring a link up.
import assert from "node:assert/strict";
import { createLinkEngine, DEFAULT_CAPABILITIES, nodeIdFromString } from "@tipcjs/link";

const addrA = { family: "ipv4", address: "127.0.0.1", port: 6118 };
const addrB = { family: "ipv4", address: "127.0.0.2", port: 6118 };
const engine = (name, self, peer) =>
  createLinkEngine({
    nodeId: nodeIdFromString(name),
    random: Math.random,
    skipTrial: true,
    bearer: { name: "udp0", mediaAddress: self, mtu: 1400, canBroadcast: false, discoveryPeers: [peer] },
  });
const a = engine("node-a", addrA, addrB);
const b = engine("node-b", addrB, addrA);
const ups = { a: null, b: null };
let now = 0;
a.start(now);
b.start(now);
for (let step = 0; step < 2000 && !(ups.a && ups.b); step++) {
  for (const [self, other, fromAddr, key] of [
    [a, b, addrA, "a"],
    [b, a, addrB, "b"],
  ]) {
    for (const out of self.poll()) {
      if (out.kind === "transmit") other.receive(out.bytes, fromAddr, now);
      if (out.kind === "nodeUp") ups[key] = out;
    }
  }
  now += 10;
  a.tick(now);
  b.tick(now);
}
assert.ok(ups.a && ups.b, "both ends saw nodeUp within 20 s of virtual time");
assert.equal(ups.a.capabilities, DEFAULT_CAPABILITIES);
assert.equal(a.upPeers().length, 1);
console.log(`@tipcjs/link (ESM): link up after ${now} ms of virtual time`);
