// Smoke program for tipcsim (the simulator's library exports), installed alone from the
// registry: a named race scenario runs, and runs the same twice (the simulator is deterministic);
// a bad scenario is a typed ScenarioError.
import assert from "node:assert/strict";
import { namedScenario, parseScenario, RACES, runScenario, ScenarioError } from "tipcsim";

assert.ok(RACES.length > 0);
const result = await runScenario(namedScenario(RACES[0]));
assert.equal(result.tool, "tipcsim");
assert.ok(result.modes.length > 0);
assert.equal(typeof result.checksPassed, "boolean");
const again = await runScenario(namedScenario(RACES[0]));
assert.deepEqual(JSON.parse(JSON.stringify(again.modes)), JSON.parse(JSON.stringify(result.modes)));
assert.throws(() => parseScenario({ nodes: -1 }), ScenarioError);
console.log(`tipcsim (ESM): ${RACES[0]} ran twice in ${result.modes.length} mode(s), same results`);
