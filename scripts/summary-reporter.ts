import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints the plain closing line CI reads: "N passed, N failed[, N skipped]".
 * Vitest's own summary is not in that form (docs/toolchain.md, pitfall 10).
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let casesInModule = 0;
      for (const test of mod.children.allTests()) {
        casesInModule++;
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
      // A file that failed to load (syntax error, failing hook) has no test cases: count it as failed.
      if (casesInModule === 0 && mod.state() === "failed") failed++;
    }
    failed += unhandledErrors.length;
    const tail = skipped > 0 ? `, ${skipped} skipped` : "";
    process.stdout.write(`\n${passed} passed, ${failed} failed${tail}\n`);
  }
}
