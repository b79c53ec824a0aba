/**
 * The README's first command installs only what the main job needs: run as on a machine
 * without the test-only Debian packages (scripts/without-test-packages.sh: their files deleted
 * in an overlay of /usr inside a mount namespace, apt-get/apt/dpkg replaced by a tripwire),
 * `bootstrap.sh` installs no Debian package, while `bootstrap.sh --test` does try to (so the
 * packages really are hidden there). `npx` is a stub that records its arguments, so the
 * workspace's node_modules is left alone; the whole demo is run the same way by hand
 * (README, "On a fresh machine").
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
