// Smoke program for @tipcjs/client, installed alone from the registry: its protocol constants,
// and a typed ClientError (not a crash) when no daemon listens at the socket path.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ClientError,
  connect,
  DEFAULT_SOCKET_PATH,
  isClientError,
  METHODS,
  PROTOCOL_VERSION,
} from "@tipcjs/client";

assert.equal(PROTOCOL_VERSION, 1);
assert.equal(typeof DEFAULT_SOCKET_PATH, "string");
assert.ok(METHODS.includes("bind"));
const dir = mkdtempSync(join(tmpdir(), "client-smoke-"));
try {
  await assert.rejects(connect(join(dir, "no-daemon.sock"), { timeout: 2000 }), (e) => {
    assert.ok(e instanceof ClientError && isClientError(e));
    assert.equal(e.code, "CONNECT_FAILED");
    return true;
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log("@tipcjs/client (ESM): constants, CONNECT_FAILED without a daemon ok");
