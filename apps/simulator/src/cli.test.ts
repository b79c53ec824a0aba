import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { namedScenario } from "./named.js";
import { htmlReport, summaryTable } from "./report.js";
import { runScenario } from "./sim.js";

const cli = join(import.meta.dirname, "cli.ts");
const dir = mkdtempSync(join(tmpdir(), "tipcsim-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "--conditions=@tipcjs/source", cli, ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });

describe("tipcsim CLI", () => {
  it("a bad scenario file exits 2 and names the field", () => {
    const f = join(dir, "bad.yaml");
    writeFileSync(f, "nodes: 3\nlink:\n  jitter: -2\n");
    const r = run(f);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("link.jitter");
  }, 60_000);

  it("runs a race scenario: table on stdout, JSON and HTML written, exit 0; --json alone prints only JSON", () => {
    const r = run("race4-legacy-messages", "--out", dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("pre-2020 receiver differences");
    expect(r.stdout).toContain("checks passed");
    const json = JSON.parse(readFileSync(join(dir, "tipcsim-report.json"), "utf8"));
    expect(json.checksPassed).toBe(true);
    const r2 = run("race4-legacy-messages", "--json");
    expect(r2.status).toBe(0);
    expect(JSON.parse(r2.stdout)).toEqual(json);
  }, 60_000);

  it("a divergence exits 1 and names the pairs; --measure adds events per second and memory per node pair", () => {
    const r = run("backlog-legacy-join-unfixed", "--measure", "--quiet", "--json", join(dir, "m.json"));
    expect(r.status).toBe(1);
    const m = JSON.parse(readFileSync(join(dir, "m.json"), "utf8")).modes[0];
    expect(m.checks.final.pairs).toBe(1);
    expect(m.measured.eventsPerSecond).toBeGreaterThan(0);
    expect(m.measured.nodePairs).toBe(210);
    const t = run("backlog-legacy-join-unfixed", "--measure");
    expect(t.stdout).toMatch(/final differences \(node-peer pairs\)\s*│\s*23 \(1\)/);
    expect(t.stdout).toContain("memory per node pair, bytes");
    expect(t.stdout).toContain("events per second (wall)");
  }, 60_000);
});

describe("report", () => {
  it("the HTML is self-contained: Chart.js inlined, six canvases, no external resource", async () => {
    const r = await runScenario(namedScenario("race2-method-switch"));
    const html = htmlReport(r);
    expect(html.includes("window.Chart=")).toBe(true); // the inlined UMD build
    expect(html.match(/<canvas /g)).toHaveLength(6);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(summaryTable(r)).toContain("method switches");
  });
});
