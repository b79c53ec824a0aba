// Smoke program for @tipcjs/transport-udp, installed alone from the registry: two transports on
// 127.0.0.1 (free ports) exchange one datagram. Loopback only.
import assert from "node:assert/strict";
import { TIPC_UDP_PORT, udpTransport } from "@tipcjs/transport-udp";

assert.equal(TIPC_UDP_PORT, 6118);
const a = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
const b = await udpTransport({
  localAddress: "127.0.0.1",
  localPort: 0,
  mode: "replicast",
  peers: [a.localAddress],
});
try {
  assert.equal(a.specificationVersion, "v1");
  const got = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no datagram within 5 s")), 5000);
    a.onReceive((datagram, from) => {
      clearTimeout(timer);
      resolve({ datagram: [...datagram], from });
    });
  });
  b.send(a.localAddress, Uint8Array.of(1, 2, 3));
  const { datagram, from } = await got;
  assert.deepEqual(datagram, [1, 2, 3]);
  assert.equal(from.port, b.localAddress.port);
} finally {
  await a.close();
  await b.close();
}
console.log("@tipcjs/transport-udp (ESM): one datagram over 127.0.0.1 ok");
