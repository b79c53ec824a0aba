// Smoke program for @tipcjs/client through require(), installed alone from the registry.
const assert = require("node:assert/strict");
const { connect, isClientError, PROTOCOL_VERSION } = require("@tipcjs/client");

(async () => {
  assert.equal(PROTOCOL_VERSION, 1);
  await assert.rejects(connect("/nonexistent/tipcd-smoke.sock", { timeout: 2000 }), (e) => isClientError(e));
  console.log("@tipcjs/client (CommonJS): CONNECT_FAILED without a daemon ok");
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
