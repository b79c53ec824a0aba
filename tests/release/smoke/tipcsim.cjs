// Smoke program for tipcsim's library exports through require(), installed from the registry.
const assert = require("node:assert/strict");
const { NAMED, parseScenario, RACES, ScenarioError } = require("tipcsim");

assert.ok(RACES.length > 0 && RACES.every((name) => name in NAMED));
assert.ok("default" in NAMED);
const sc = parseScenario({ nodes: 3 });
assert.equal(sc.nodes, 3);
assert.throws(() => parseScenario({ nodes: 0 }), ScenarioError);
console.log("tipcsim (CommonJS): scenario parsing ok");
