import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  binsOf,
  claimsCommonJs,
  directDependents,
  forbiddenFiles,
  missingSmokePrograms,
  publicPackages,
  publishedManifestProblems,
  requestPackage,
  smokePlan,
} from "../scripts/workspace.mjs";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeWorkspace(
  packages: Record<string, Record<string, unknown>>,
  smoke: Record<string, string> = {},
) {
  const root = mkdtempSync(join(tmpdir(), "tipcjs-release-unit-"));
  dirs.push(root);
  for (const [rel, manifest] of Object.entries(packages)) {
    mkdirSync(join(root, rel), { recursive: true });
    writeFileSync(join(root, rel, "package.json"), JSON.stringify(manifest));
  }
  mkdirSync(join(root, "smoke"));
  for (const [file, text] of Object.entries(smoke)) writeFileSync(join(root, "smoke", file), text);
  return root;
}

const dual = {
  type: "module",
  exports: {
    ".": {
      import: { types: "./dist/index.d.ts", default: "./dist/index.js" },
      require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
    },
    "./package.json": "./package.json",
  },
};

describe("workspace discovery", () => {
  it("finds the non-private packages under packages/* and apps/*, not tests/* or private ones", () => {
    const root = fakeWorkspace({
      "packages/a": { name: "@tipcjs/a", version: "1.0.0", ...dual },
      "packages/b": { name: "@tipcjs/b", version: "1.0.0", private: true },
      "apps/sim": { name: "@tipcjs/simulator", version: "0.1.0", bin: { tipcsim: "./dist/cli.js" } },
      "tests/release": { name: "@tipcjs/release-tests", version: "0.0.0", private: true },
      "examples/x": { name: "@tipcjs/example-x", version: "0.0.0" },
    });
    expect(publicPackages(root).map((p) => p.name)).toEqual(["@tipcjs/a", "@tipcjs/simulator"]);
  });

  it("names the smoke programs a public package lacks, and what to write", () => {
    const root = fakeWorkspace(
      {
        "packages/a": { name: "@tipcjs/a", version: "1.0.0", ...dual },
        "packages/b": { name: "@tipcjs/b", version: "1.0.0", ...dual },
        "packages/esm-only": {
          name: "@tipcjs/esm-only",
          version: "1.0.0",
          type: "module",
          exports: { ".": { import: "./dist/index.js" } },
        },
        "apps/sim": { name: "@tipcjs/simulator", version: "0.1.0", bin: { tipcsim: "./dist/cli.js" } },
      },
      { "a.mjs": "", "a.cjs": "", "b.mjs": "", "esm-only.mjs": "" },
    );
    const errors = missingSmokePrograms(publicPackages(root), join(root, "smoke"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("@tipcjs/b (packages/b) has no smoke program");
    expect(errors[0]).toContain("tests/release/smoke/b.cjs");
    expect(errors[0]).not.toContain("b.mjs");
  });

  it("reads extra packages to install from the smoke program's header", () => {
    const root = fakeWorkspace(
      { "packages/node": { name: "@tipcjs/node", version: "1.0.0", ...dual } },
      { "node.mjs": "// release-check: install @tipcjs/transport-udp\nimport '@tipcjs/node';\n" },
    );
    const [pkg] = publicPackages(root);
    if (!pkg) throw new Error("no package found");
    expect(smokePlan(pkg, join(root, "smoke")).install).toEqual(["@tipcjs/node", "@tipcjs/transport-udp"]);
  });

  it("finds direct run-time dependents only", () => {
    const root = fakeWorkspace({
      "packages/codec": { name: "@tipcjs/codec", version: "1.0.0" },
      "packages/link": {
        name: "@tipcjs/link",
        version: "1.0.0",
        dependencies: { "@tipcjs/codec": "workspace:^" },
      },
      "packages/dev": {
        name: "@tipcjs/dev",
        version: "1.0.0",
        devDependencies: { "@tipcjs/codec": "workspace:^" },
      },
      "packages/peer": {
        name: "@tipcjs/peer",
        version: "1.0.0",
        peerDependencies: { "@tipcjs/codec": "^1" },
      },
    });
    expect(directDependents(publicPackages(root), "@tipcjs/codec")).toEqual(["@tipcjs/link", "@tipcjs/peer"]);
  });
});

describe("manifests and tarballs", () => {
  it("tells CommonJS-claiming packages from ESM-only and bin-only ones", () => {
    expect(claimsCommonJs(dual)).toBe(true);
    expect(claimsCommonJs({ type: "module", exports: { ".": { import: "./dist/index.js" } } })).toBe(false);
    expect(claimsCommonJs({ main: "./index.js" })).toBe(true);
    expect(claimsCommonJs({ type: "module", bin: { x: "./cli.js" } })).toBe(false);
    expect(binsOf({ name: "@tipcjs/simulator", bin: "./dist/cli.js" })).toEqual({
      simulator: "./dist/cli.js",
    });
  });

  it("rejects tests, fixtures, sources, benchmarks and build config in a tarball", () => {
    const bad = forbiddenFiles([
      "dist/index.js",
      "dist/index.d.ts",
      "dist/index.d.cts",
      "dist/index.js.map",
      "README.md",
      "package.json",
      "src/index.ts",
      "dist/seq.test.js",
      "dist/__fixtures__/frame.bin",
      "bench/decode.bench.ts",
      "dist/decode.bench.js",
      "tsconfig.json",
      "tsup.config.ts",
    ]);
    expect(bad.map((b) => b.split(" ")[0])).toEqual([
      "src/index.ts",
      "dist/seq.test.js",
      "dist/__fixtures__/frame.bin",
      "bench/decode.bench.ts",
      "dist/decode.bench.js",
      "tsconfig.json",
      "tsup.config.ts",
    ]);
  });

  it("rejects workspace: ranges and the source export condition in a packed package.json", () => {
    expect(
      publishedManifestProblems({ dependencies: { "@tipcjs/codec": "^1.0.0" }, exports: dual.exports }),
    ).toEqual([]);
    const problems = publishedManifestProblems({
      dependencies: { "@tipcjs/codec": "workspace:^" },
      exports: { ".": { "@tipcjs/source": "./src/index.ts", default: "./dist/index.js" } },
    });
    expect(problems).toHaveLength(2);
  });
});

describe("registry log lines", () => {
  it("names the package a request is about, scoped or not", () => {
    const line = (req: string) => `http <-- 200, user: null(127.0.0.1), req: '${req}', bytes: 0/957`;
    expect(requestPackage(line("GET /@tipcjs%2fcodec"))).toBe("@tipcjs/codec");
    expect(requestPackage(line("PUT /@tipcjs%2Fname-table"))).toBe("@tipcjs/name-table");
    expect(requestPackage(line("GET /@tipcjs/codec/-/codec-1.0.0.tgz"))).toBe("@tipcjs/codec");
    expect(requestPackage(line("GET /tipcd/-/tipcd-0.1.0.tgz"))).toBe("tipcd");
    expect(requestPackage(line("GET /commander"))).toBe("commander");
    expect(requestPackage("warn --- config file")).toBe(null);
  });
});
