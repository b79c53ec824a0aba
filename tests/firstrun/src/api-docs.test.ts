/**
 * The API reference: TypeDoc builds it from the sources of every published package (the root
 * typedoc.json, as `pnpm docs:api` does) with no warning, and every internal link of the
 * generated site resolves (file and #fragment).
 */
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLinks } from "../../../scripts/check-links.mjs";

const root = resolve(import.meta.dirname, "../../..");
const out = mkdtempSync(join(tmpdir(), "tipcjs-api-"));

describe("API reference (typedoc)", () => {
  beforeAll(() => {
    const r = spawnSync(
      join(root, "node_modules", ".bin", "typedoc"),
      ["--out", out, "--treatWarningsAsErrors", "--logLevel", "Warn"],
      { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } },
    );
    expect(r.stdout + r.stderr).not.toMatch(/warning|error/i);
    expect(r.status).toBe(0);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("has one module per published package and entry point, named as it is imported", () => {
    const manifests = ["packages", "apps"].flatMap((d) =>
      readdirSync(join(root, d))
        .map((p) => JSON.parse(readFileSync(join(root, d, p, "package.json"), "utf8")))
        .filter((m) => !m.private),
    );
    const modules = readFileSync(join(out, "modules.html"), "utf8");
    const names = manifests.flatMap((m) =>
      Object.keys(m.exports)
        .filter((k) => k !== "./package.json")
        .map((k) => (k === "." ? m.name : `${m.name}/${k.slice(2)}`)),
    );
    expect(names.length).toBeGreaterThanOrEqual(12);
    for (const name of names) expect(modules, name).toContain(`>${name}<`);
    // A few documented exports, each on its own page.
    for (const page of [
      "classes/_tipcjs_decode.CaptureReader.html",
      "functions/_tipcjs_node.createNode.html",
    ])
      expect(existsSync(join(out, page)), page).toBe(true);
  });

  it("every internal link resolves; a removed page or a missing anchor is reported", () => {
    const ok = checkLinks(out);
    expect(ok.broken).toEqual([]);
    expect(ok.files).toBeGreaterThan(100);
    expect(ok.checked).toBeGreaterThan(5000);
    // The checker itself: break the site twice and see both.
    unlinkSync(join(out, "classes", "_tipcjs_decode.CaptureReader.html"));
    appendFileSync(join(out, "index.html"), '<a href="modules.html#no-such-anchor">x</a>');
    const bad = checkLinks(out);
    expect(bad.broken.some((b) => b.includes("_tipcjs_decode.CaptureReader.html (no such file)"))).toBe(true);
    expect(bad.broken).toContain('index.html -> modules.html#no-such-anchor (no id "no-such-anchor" there)');
  });
});
