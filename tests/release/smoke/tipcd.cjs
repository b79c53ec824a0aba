// Smoke program for tipcd's library exports through require(), installed from the registry.
const assert = require("node:assert/strict");
const { ConfigError, validateConfig, VERSION } = require("tipcd");

assert.equal(VERSION, require("tipcd/package.json").version);
const config = validateConfig({ nodeId: "a", bearer: { localAddress: "127.0.0.1" } });
assert.equal(config.bearer.localPort, 6118);
assert.throws(() => validateConfig({}), ConfigError);
assert.throws(() => validateConfig({ nodeId: "a", bearer: { localAddress: "not-an-ip" } }), ConfigError);
console.log(`tipcd ${VERSION} (CommonJS): configuration validation ok`);
