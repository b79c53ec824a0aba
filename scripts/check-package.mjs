#!/usr/bin/env node
// Checks the package in the current directory as it will be published:
// pnpm pack (which applies publishConfig), then publint --strict and attw on the tarball, and
// checks that the tarball ships LICENSE and a package.json with repository, homepage and bugs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const dir = mkdtempSync(join(tmpdir(), "tipcjs-pack-"));
try {
  execFileSync("npx", ["--yes", "pnpm@12.4.2", "pack", "--pack-destination", dir], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const tarball = join(
    dir,
    readdirSync(dir).find((f) => f.endsWith(".tgz")),
  );
  execFileSync(bin("publint"), ["run", tarball, "--strict"], { stdio: "inherit" });
  execFileSync(bin("attw"), [tarball, "--profile", "node16", "--format", "ascii"], { stdio: "inherit" });
  const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
  const manifest = JSON.parse(
    execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }),
  );
  const problems = [];
  if (!files.includes("package/LICENSE")) problems.push("no LICENSE in the tarball");
  else if (
    execFileSync("tar", ["-xzOf", tarball, "package/LICENSE"], { encoding: "utf8" }) !==
    readFileSync(join(root, "LICENSE"), "utf8")
  )
    problems.push("LICENSE differs from the repository's");
  if (!manifest.repository?.url || !manifest.repository?.directory)
    problems.push("package.json: repository (with url and directory) missing");
  if (!manifest.homepage) problems.push("package.json: homepage missing");
  if (!manifest.bugs?.url) problems.push("package.json: bugs.url missing");
  if (problems.length) {
    process.stderr.write(`check-package: ${manifest.name}: ${problems.join("; ")}\n`);
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
