export { NAMED, namedScenario, RACES } from "./named.js";
export { htmlReport, summaryTable } from "./report.js";
export type { CheckOutcome, MethodCount, ModeResult } from "./results.js";
export {
  isScenarioError,
  loadScenarioFile,
  type Mode,
  parseScenario,
  type Scenario,
  ScenarioError,
  type ScenarioErrorCode,
  type ScenarioInput,
} from "./scenario.js";
export { runMode, runScenario, type SimOptions, type SimResult, type SweepPoint } from "./sim.js";
export { BindingRegistry, CompactStore } from "./store.js";
