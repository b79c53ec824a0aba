#!/usr/bin/env node
// Checks the package in the current directory as it will be published:
// pnpm pack (which applies publishConfig), then publint --strict and attw on the tarball.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
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
} finally {
  rmSync(dir, { recursive: true, force: true });
}
