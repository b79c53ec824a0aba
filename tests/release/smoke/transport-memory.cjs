// Smoke program for @tipcjs/transport-memory through require(), installed from the registry.
const assert = require("node:assert/strict");
const { createVirtualClock, memoryFabric, seededRandom } = require("@tipcjs/transport-memory");

const clock = createVirtualClock(7);
const fabric = memoryFabric({ clock });
const a = fabric.join();
const b = fabric.join();
let n = 0;
b.onReceive(() => n++);
a.send(b.localAddress, Uint8Array.of(9));
clock.runUntilIdle();
assert.equal(n, 1);
assert.equal(seededRandom(1)(), seededRandom(1)(), "seeded random replays");
console.log("@tipcjs/transport-memory (CommonJS): delivery on a virtual clock ok");
