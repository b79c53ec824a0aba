/**
 * The README's first command installs only what the main job needs. Run as on a machine
 * without the test-only Debian packages (scripts/without-test-packages.sh: their files deleted
 * in an overlay of /usr inside a mount namespace, apt-get/apt/dpkg replaced by a tripwire):
 * the main job itself runs through (in this checkout, so its build is mostly turbo's cache; the
 * README's timings come from fresh clones); `bootstrap.sh` alone, with `npx` a stub that
 * records its arguments, installs no Debian package and only the workspace; and
 * `bootstrap.sh --test` does try to install them (so the packages really are hidden there).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
const stubs = mkdtempSync(join(tmpdir(), "tipcjs-bootstrap-"));
const npxLog = join(stubs, "npx.log");
writeFileSync(join(stubs, "npx"), `#!/bin/sh\necho "npx $*" >> ${npxLog}\n`);
chmodSync(join(stubs, "npx"), 0o755);

function bare(...bootstrapArgs: string[]) {
  writeFileSync(npxLog, "");
  const r = spawnSync(
    "bash",
    [
      join(root, "scripts", "without-test-packages.sh"),
      "--here",
      "--",
      "env",
      `PATH=${stubs}:${process.env.PATH}`,
      "bash",
      "scripts/bootstrap.sh",
      ...bootstrapArgs,
    ],
    { cwd: root, encoding: "utf8", timeout: 300_000 },
  );
  return { status: r.status, out: r.stdout + r.stderr, npx: readFileSync(npxLog, "utf8") };
}

describe("bootstrap on a machine without the test-only packages", () => {
  afterAll(() => rmSync(stubs, { recursive: true, force: true }));

  it("the main job (bootstrap.sh && pnpm demo) runs through: decode summary, tipcsim's table, the report", () => {
    const report = join(root, "reports", "tipcsim-report.html");
    rmSync(report, { force: true });
    const r = spawnSync("bash", [join(root, "scripts", "without-test-packages.sh"), "--here"], {
      cwd: root,
      encoding: "utf8",
      timeout: 540_000,
      env: { ...process.env, NO_COLOR: "1" },
    });
    const out = r.stdout + r.stderr;
    expect(out).toContain("absent here: qemu-system-x86_64 chromium tshark dumpcap editcap gcc");
    expect(out).toMatch(/ {2}\d+ packages built in /);
    expect(out).toMatch(/^\d+ datagrams: all \d+ decoded and re-encoded byte-exact$/m);
    expect(out).toContain("checks passed: every live node's table equals the truth");
    expect(out).toMatch(/demo: done in [\d.]+ s; report: reports\/tipcsim-report\.html/);
    expect(out).toContain("no apt-get, apt or dpkg call (exit status of the command: 0)");
    expect(r.status).toBe(0);
    expect(readFileSync(report, "utf8")).toContain("<html");
  }, 600_000);

  it("bootstrap.sh (the main job's) installs no Debian package, only the workspace", () => {
    const r = bare();
    expect(r.out).toContain("absent here: qemu-system-x86_64 chromium tshark dumpcap editcap gcc");
    expect(r.out).toContain("no apt-get, apt or dpkg call (exit status of the command: 0)");
    expect(r.status).toBe(0);
    expect(r.npx).toBe("npx --yes pnpm@12.4.2 install --frozen-lockfile\n");
  });

  it("bootstrap.sh --test (the tests') tries to install them there, and the tripwire catches it", () => {
    const r = bare("--test");
    expect(r.out).toMatch(/bootstrap: installing Debian packages for the tests: .*qemu-system-x86/);
    expect(r.out).toContain("FAILED: an install was attempted");
    expect(r.out).toContain("apt-get update -qq");
    expect(r.status).toBe(1);
    expect(r.npx).toBe("");
  });
});
