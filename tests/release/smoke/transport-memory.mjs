// release-check: install @tipcjs/transport
// Smoke program for @tipcjs/transport-memory, installed from the registry with @tipcjs/transport:
// the README's example on a virtual clock, then the transport conformance suite on the fabric.
import assert from "node:assert/strict";
import { runConformance } from "@tipcjs/transport/conformance";
import { createVirtualClock, memoryFabric } from "@tipcjs/transport-memory";

const clock = createVirtualClock(42);
const fabric = memoryFabric({ clock });
const a = fabric.join();
const b = fabric.join();
const got = [];
b.onReceive((datagram) => got.push([...datagram]));
a.send(b.localAddress, Uint8Array.of(1, 2, 3));
a.broadcast(Uint8Array.of(4));
clock.runUntil(1_000);
assert.deepEqual(got, [[1, 2, 3], [4]]);

const results = await runConformance({
  setup: async (count) => {
    const f = memoryFabric({ clock });
    return Array.from({ length: count }, () => f.join());
  },
  advance: () => clock.runUntilIdle(),
});
const failed = results.filter((r) => !r.passed);
assert.deepEqual(failed, [], "memory fabric passes the transport conformance suite");
console.log(
  `@tipcjs/transport-memory (ESM): send/broadcast on a virtual clock, ${results.length} conformance cases ok`,
);
