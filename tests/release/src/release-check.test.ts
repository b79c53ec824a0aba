// Runs the whole release check (local Verdaccio, changeset version, build, publish, installs of
// single packages from the registry) and asserts on the result it writes.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { binsOf, claimsCommonJs, forbiddenFiles, publicPackages, shortName } from "../scripts/workspace.mjs";

const releaseDir = resolve(import.meta.dirname, "..");
const repoRoot = resolve(releaseDir, "../..");
const out = mkdtempSync(join(tmpdir(), "tipcjs-release-result-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface CheckResult {
  ok: boolean;
  errors: string[];
  cleanedUp: boolean;
  tempDir: string;
  publicPackages: string[];
  registry: {
    url: string;
    pid: number;
    publishes: { name: string; version: string; log: string[] }[];
  };
  packages: Record<
    string,
    {
      version: string;
      tarball: { bytes: number; files: { path: string }[] };
      manifest: Record<string, unknown>;
    }
  >;
  releases: { name: string; before: Record<string, string>; after: Record<string, string> }[];
  breaking: {
    package: string;
    before: string;
    after: string;
    dependents: { name: string; before: string; after: string; publishedRange: string | null }[];
  };
  consumers: {
    package: string;
    install: string[];
    resolved: Record<string, { version: string; resolved: string | null }>;
    runs: { kind: string; ok: boolean }[];
    log: string[];
  }[];
  bins: { package: string; bin: string; ok: boolean; output: string }[];
}

function runCheck(json: string): Promise<number | null> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [join(releaseDir, "scripts", "release-check.mjs"), "--json", json, "--timeout", "1500"],
      { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] },
    );
    child.on("error", fail);
    child.on("close", (code) => done(code));
  });
}

describe("release check", () => {
  // Builds twice and installs from a registry: minutes, not seconds (bounded by --timeout above).
  it("publishes every public package to a local registry and installs each alone from it", {
    timeout: 1_600_000,
  }, async () => {
    const json = join(out, "result.json");
    const publicAtStart = publicPackages(repoRoot).map((p) => p.name);
    const code = await runCheck(json);
    const result = JSON.parse(readFileSync(json, "utf8")) as CheckResult;
    expect(result.errors).toEqual([]);
    expect(code).toBe(0);
    expect(result.ok).toBe(true);

    // Cleaned up: the registry process is gone and its temp dir removed.
    expect(result.cleanedUp).toBe(true);
    expect(existsSync(result.tempDir)).toBe(false);
    expect(() => process.kill(result.registry.pid, 0)).toThrow();
    expect(result.registry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    // Every public package of the workspace (as the check's copy had them) went through it.
    expect(result.publicPackages).toEqual(expect.arrayContaining(publicAtStart));
    expect(result.publicPackages.length).toBeGreaterThan(0);
    for (const name of result.publicPackages) {
      const info = result.packages[name];
      expect(info, name).toBeDefined();
      if (!info) continue;
      // Published, as the registry's log shows, at the version the last release gave it.
      const publishes = result.registry.publishes.filter((p) => p.name === name);
      expect(publishes.length, `${name} published`).toBeGreaterThan(0);
      for (const p of publishes) {
        expect(
          p.log.some((l) => l.startsWith("http <-- 201") && l.includes(`PUT /${name.replace("/", "%2f")}'`)),
          p.name,
        ).toBe(true);
      }
      expect(info.version).toBe(result.releases.at(-1)?.after[name]);
      // Only what it needs in the tarball.
      expect(forbiddenFiles(info.tarball.files.map((f) => f.path))).toEqual([]);
      expect(info.tarball.files.map((f) => f.path)).toContain("package.json");
      expect(info.tarball.files.map((f) => f.path)).toContain("LICENSE");
      expect(info.manifest).toMatchObject({
        license: "MIT",
        repository: { url: "git+https://github.com/tipcjs/tipcjs.git" },
        bugs: { url: "https://github.com/tipcjs/tipcjs/issues" },
      });

      // Installed alone, by name, from the registry; ESM and (when claimed) CommonJS programs ran.
      const consumer = result.consumers.find((c) => c.package === name);
      const bins = Object.keys(binsOf(info.manifest));
      if (consumer) {
        expect(consumer.install[0]).toBe(`${name}@${info.version}`);
        const own = consumer.resolved[name];
        expect(own?.version).toBe(info.version);
        expect(own?.resolved).toBe(`${result.registry.url}${name}/-/${shortName(name)}-${info.version}.tgz`);
        for (const [dep, r] of Object.entries(consumer.resolved)) {
          expect(r.resolved?.startsWith(result.registry.url), dep).toBe(true);
        }
        expect(consumer.log.some((l) => l.includes(`GET /${name}/-/`))).toBe(true);
        const kinds = consumer.runs.filter((r) => r.ok).map((r) => r.kind);
        expect(kinds).toContain("ESM");
        if (claimsCommonJs(info.manifest)) expect(kinds).toContain("CommonJS");
      } else {
        expect(bins.length, `${name} has neither a smoke program nor a bin`).toBeGreaterThan(0);
      }
      // Every bin answers --help when run through npx from the registry.
      for (const bin of bins) {
        const b = result.bins.find((x) => x.bin === bin);
        expect(b?.ok, `npx ${bin} --help`).toBe(true);
      }
    }

    // The breaking change: next major for the package, and each dependent bumped and asking for it.
    const { breaking } = result;
    const major = Number(breaking.before.split(".")[0]);
    expect(breaking.after).toBe(`${major + 1}.0.0`);
    for (const d of breaking.dependents) {
      expect(d.after, d.name).not.toBe(d.before);
      expect(d.publishedRange, d.name).toBe(`^${breaking.after}`);
    }
  });
});
