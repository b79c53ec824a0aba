export { runFull } from "./full.js";
export { NAMED, namedScenario, RACES } from "./named.js";
export { type Difference, runProtocol } from "./protocol.js";
export { htmlReport, summaryTable } from "./report.js";
export type { CheckOutcome, MethodCount, ModeResult } from "./results.js";
export {
  isScenarioError,
  loadScenarioFile,
  MODES,
  type Mode,
  parseScenario,
  type Scenario,
  ScenarioError,
  type ScenarioErrorCode,
  type ScenarioInput,
  scenarioSchema,
} from "./scenario.js";
export { runMode, runScenario, type SimOptions, type SimResult, type SweepPoint } from "./sim.js";
export { BindingRegistry, CompactStore } from "./store.js";
