import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bindingKey, describeDiff, diffTable, kernelTableCommand, parseKernelTableRuns } from "./tables.js";

// `tipc nametable show` as iproute2 6.1 prints it
const TABLE = `Type       Lower      Upper      Scope    Port       Node
0          1          1          cluster  0          guest1
30000      5          5          cluster  3          guest1
30000      1          1          cluster  3          guest1
30000      2          2          cluster  3          guest1
30000      3          3          cluster  3          guest1
30000      3          3          cluster  4          guest1
30000      7          9          cluster  3          guest1
30000      10         10         cluster  3          guest1
31000      2          2          cluster  1          tipcd-host
31000      1          1          cluster  1          tipcd-host
31000      2          2          cluster  1          guest1
40000      1          1          cluster  1          guest1
`;

describe("the kernel's table as runs", () => {
  it("the command's runs give back every row in range, duplicates and ranges included (host awk and sort)", () => {
    const dir = mkdtempSync(join(tmpdir(), "tipcjs-runs-"));
    try {
      const file = join(dir, "table.txt");
      writeFileSync(file, TABLE);
      const cmd = kernelTableCommand(30000, 31001).replace("tipc nametable show", `cat ${file}`);
      const out = execFileSync("sh", ["-c", cmd], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
      // 1..3 and 5, 10 are runs; 3 twice; 7..9 a range
      expect(out.trim().split("\n").length).toBeLessThan(10);
      expect(parseKernelTableRuns(out).sort()).toEqual(
        [
          bindingKey(30000, 1, 1, "guest1"),
          bindingKey(30000, 2, 2, "guest1"),
          bindingKey(30000, 3, 3, "guest1"),
          bindingKey(30000, 3, 3, "guest1"),
          bindingKey(30000, 5, 5, "guest1"),
          bindingKey(30000, 7, 9, "guest1"),
          bindingKey(30000, 10, 10, "guest1"),
          bindingKey(31000, 1, 1, "tipcd-host"),
          bindingKey(31000, 2, 2, "tipcd-host"),
          bindingKey(31000, 2, 2, "guest1"),
        ].sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a difference names what is missing and what is extra (a duplicate counts as extra)", () => {
    const expected = new Set([bindingKey(1, 1, 1, "a"), bindingKey(1, 2, 2, "a"), bindingKey(1, 3, 3, "a")]);
    const d = diffTable(
      [bindingKey(1, 1, 1, "a"), bindingKey(1, 1, 1, "a"), bindingKey(1, 4, 4, "a")],
      expected,
    );
    expect(d).toEqual({ missing: ["1 2 2 a", "1 3 3 a"], extra: ["1 1 1 a", "1 4 4 a"] });
    expect(describeDiff("t", d, expected.size, 1)).toBe(
      "t: 2 missing [1 2 2 a; ...], 2 extra [1 1 1 a; ...] (3 expected)",
    );
  });
});
