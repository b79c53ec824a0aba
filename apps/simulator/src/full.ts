import type { RunOptions } from "./protocol.js";
import type { ModeResult } from "./results.js";
import type { Mode, Scenario } from "./scenario.js";

export function runFull(_sc: Scenario, _mode: Mode, _opts: RunOptions = {}): ModeResult {
  throw new Error("full fidelity: not yet");
}
