// Workspace discovery and the checks that need no registry: which packages are public, which
// smoke programs they need, and whether a packed tarball holds only what it should.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Folders whose non-private packages are published. */
export const PUBLIC_PACKAGE_ROOTS = ["packages", "apps"];

const DEP_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies"];

/**
 * Every workspace package under packages/* and apps/* (read at run time, so a new package is
 * covered without edits). Returns { name, version, dir, relDir, private, manifest }.
 */
export function discoverPackages(root) {
  const found = [];
  for (const top of PUBLIC_PACKAGE_ROOTS) {
    const base = join(root, top);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const file = join(base, entry.name, "package.json");
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, "utf8"));
      found.push({
        name: manifest.name,
        version: manifest.version,
        dir: join(base, entry.name),
        relDir: `${top}/${entry.name}`,
        private: manifest.private === true,
        manifest,
      });
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

export function publicPackages(root) {
  return discoverPackages(root).filter((p) => !p.private);
}

/** The part of a package name after its scope: "@tipcjs/node" -> "node". */
export function shortName(name) {
  return name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
}

/** Bins a manifest declares, as { binName: path }. */
export function binsOf(manifest) {
  if (!manifest.bin) return {};
  if (typeof manifest.bin === "string") return { [shortName(manifest.name)]: manifest.bin };
  return { ...manifest.bin };
}

function collectConditions(node, out) {
  if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      out.add(key);
      collectConditions(value, out);
    }
  }
  return out;
}

/** True when the package can be imported at all (has "." export or a main field). */
export function hasImportableEntry(manifest) {
  const exp = manifest.exports;
  if (exp === undefined) return typeof manifest.main === "string";
  if (typeof exp === "string" || Array.isArray(exp)) return true;
  const keys = Object.keys(exp);
  if (keys.length && !keys[0].startsWith(".")) return true; // conditions object for "."
  return keys.some((k) => k !== "./package.json");
}

/** True when the (published) manifest says require() works: a "require" condition, or a CommonJS main. */
export function claimsCommonJs(manifest) {
  if (!hasImportableEntry(manifest)) return false;
  if (manifest.exports !== undefined) {
    if (typeof manifest.exports === "string")
      return manifest.type !== "module" || manifest.exports.endsWith(".cjs");
    const conditions = collectConditions(manifest.exports, new Set());
    return conditions.has("require") || (conditions.has("default") && manifest.type !== "module");
  }
  return manifest.type !== "module" || String(manifest.main).endsWith(".cjs");
}

/** Names of workspace packages this manifest depends on at run time (not devDependencies). */
export function runtimeDeps(manifest) {
  const names = new Set();
  for (const field of DEP_FIELDS) for (const dep of Object.keys(manifest[field] ?? {})) names.add(dep);
  return names;
}

/**
 * The smoke programs the check runs for a package, from smokeDir/<short name>.mjs and .cjs.
 * A package that can be imported needs the .mjs, and the .cjs too when it claims CommonJS;
 * a bin-only package is covered by `npx <bin> --help`. The .mjs may name extra packages to
 * install with it in a line `// release-check: install @tipcjs/a @tipcjs/b`.
 */
export function smokePlan(pkg, smokeDir) {
  const short = shortName(pkg.name);
  const mjs = join(smokeDir, `${short}.mjs`);
  const cjs = join(smokeDir, `${short}.cjs`);
  const importable = hasImportableEntry(pkg.manifest);
  const wantsCjs = claimsCommonJs(pkg.publishedManifest ?? pkg.manifest);
  const missing = [];
  if (importable && !existsSync(mjs)) missing.push(`${short}.mjs`);
  if (importable && wantsCjs && !existsSync(cjs)) missing.push(`${short}.cjs`);
  let install = [pkg.name];
  if (existsSync(mjs)) {
    const m = /^\/\/ release-check: install (.+)$/m.exec(readFileSync(mjs, "utf8"));
    if (m) install = [...new Set([pkg.name, ...m[1].trim().split(/\s+/)])];
  }
  return {
    short,
    esm: existsSync(mjs) ? mjs : null,
    cjs: existsSync(cjs) ? cjs : null,
    install,
    missing,
  };
}

/** Errors for public packages that lack the smoke programs they need (empty when all is well). */
export function missingSmokePrograms(packages, smokeDir) {
  const errors = [];
  for (const pkg of packages) {
    const plan = smokePlan(pkg, smokeDir);
    if (plan.missing.length) {
      errors.push(
        `${pkg.name} (${pkg.relDir}) has no smoke program: write ${plan.missing
          .map((f) => `tests/release/smoke/${f}`)
          .join(
            " and ",
          )} (a short program using only the package's documented exports, run against the package installed alone from the registry; see tests/release/README.md)`,
      );
    }
  }
  return errors;
}

const FORBIDDEN_FILES = [
  [/(^|\/)src\//, "source folder"],
  [/\.(test|spec)\.[cm]?[jt]sx?$/, "test file"],
  [/(^|\/)(__tests__|tests?)\//, "test folder"],
  [/(^|\/)(__fixtures__|fixtures?)\//, "fixtures"],
  [/(^|\/)(bench|benchmarks?)\/|\.bench\.[cm]?[jt]s$/, "benchmark"],
  [/(?<!\.d)\.[cm]?tsx?$/, "TypeScript source"],
  [
    /(^|\/)(tsconfig[^/]*\.json|tsup\.config\.[cm]?[jt]s|vitest\.config\.[cm]?[jt]s|turbo\.json|biome\.json)$/,
    "build config",
  ],
  [/(^|\/)(\.turbo|node_modules)\//, "build state"],
];

/** Files in a tarball (paths without the leading "package/") that must not be published. */
export function forbiddenFiles(files) {
  const bad = [];
  for (const file of files) {
    for (const [re, why] of FORBIDDEN_FILES) {
      if (re.test(file)) {
        bad.push(`${file} (${why})`);
        break;
      }
    }
  }
  return bad;
}

/** Problems in a packed package.json: workspace: ranges or the source export condition left in. */
export function publishedManifestProblems(manifest) {
  const problems = [];
  for (const field of [...DEP_FIELDS, "devDependencies"]) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith("workspace:")) problems.push(`${field}.${dep} is still "${range}"`);
    }
  }
  if (JSON.stringify(manifest.exports ?? {}).includes("@tipcjs/source")) {
    problems.push('exports still has the "@tipcjs/source" condition (publishConfig.exports missing?)');
  }
  return problems;
}

/** Public packages that depend on `name` at run time, directly. */
export function directDependents(packages, name) {
  return packages.filter((p) => runtimeDeps(p.manifest).has(name)).map((p) => p.name);
}

/** The package a registry log line is about ("req: 'GET /@tipcjs%2fcodec'" -> "@tipcjs/codec"). */
export function requestPackage(line) {
  const m = /req: '\S+ \/([^' ?]*)/.exec(line);
  if (!m) return null;
  const parts = decodeURIComponent(m[1].replace(/%2f/gi, "/")).split("/");
  return parts[0].startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}
