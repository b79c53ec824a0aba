// release-check: install @tipcjs/client
// Smoke program for tipcd (the daemon's library exports), installed from the registry with
// @tipcjs/client: start a daemon on 127.0.0.1 (replicast, no peers, a free UDP port) with its
// control socket in a temp dir, bind and look up through the client, stop it. Loopback only.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@tipcjs/client";
import { ConfigError, startDaemon, VERSION, validateConfig } from "tipcd";

const guard = setTimeout(() => {
  console.error("tipcd smoke: no result within 30 s");
  process.exit(1);
}, 30_000);
const { version } = createRequire(import.meta.url)("tipcd/package.json");
assert.equal(VERSION, version, "VERSION is the published package's version");
assert.throws(() => validateConfig({ bearer: { localAddress: "not-an-ip" } }), ConfigError);

const dir = mkdtempSync(join(tmpdir(), "tipcd-smoke-"));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const config = validateConfig({
  nodeId: "tipcd-smoke",
  bearer: { localAddress: "127.0.0.1", localPort: 0, mode: "replicast" },
  control: { path: join(dir, "tipcd.sock") },
});
const daemon = await startDaemon(config, { logger: quiet });
try {
  const client = await connect(config.control.path, { timeout: 5000 });
  const own = await client.bind({ type: 1000, lower: 1, upper: 10 });
  const found = await client.lookup(1000, 5);
  assert.equal(found?.port, own.port);
  await client.close();
} finally {
  await daemon.close();
  rmSync(dir, { recursive: true, force: true });
  clearTimeout(guard);
}
console.log(`tipcd ${VERSION} (ESM): daemon started, bind and lookup through its control socket ok`);
