// Smoke program for tipcsim's library exports through require(), installed from the registry.
const assert = require("node:assert/strict");
const { MODES, NAMED, parseScenario, ScenarioError } = require("tipcsim");

assert.ok(MODES.includes("mixed"));
assert.ok("default" in NAMED);
const sc = parseScenario({ nodes: 3 });
assert.equal(sc.nodes, 3);
assert.throws(() => parseScenario({ nodes: 0 }), ScenarioError);
console.log("tipcsim (CommonJS): scenario parsing ok");
