// Smoke program for @tipcjs/node through require(), installed from the registry.
const assert = require("node:assert/strict");
const { createNode, isNodeError, realTimeClock } = require("@tipcjs/node");

(async () => {
  assert.equal(typeof realTimeClock().now(), "number");
  // Bad options are a typed error, not a crash.
  await assert.rejects(
    () => createNode({ nodeId: "x" }),
    (e) => isNodeError(e) && e.code === "BAD_OPTIONS",
  );
  console.log("@tipcjs/node (CommonJS): createNode validates its options");
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
