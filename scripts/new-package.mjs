#!/usr/bin/env node
// Scaffolds a workspace package with the project's conventions:
//   node scripts/new-package.mjs packages/name-table "@tipcjs/name-table" "description" [entry=index ...]
// Each entry NAME becomes export "./NAME" (or "." for index) from src/NAME.ts.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const [dir, name, description, ...entries] = process.argv.slice(2);
if (!dir || !name || !description) {
  console.error('usage: new-package.mjs <dir> <@tipcjs/name> "<description>" [entry ...]');
  process.exit(2);
}
const root = resolve(import.meta.dirname, "..");
const pkgDir = join(root, dir);
const names = entries.length ? entries : ["index"];
const exportsFor = (source) => {
  const map = {};
  for (const e of names) {
    const key = e === "index" ? "." : `./${e}`;
    map[key] = {
      ...(source ? { "@tipcjs/source": `./src/${e}.ts` } : {}),
      import: { types: `./dist/${e}.d.ts`, default: `./dist/${e}.js` },
      require: { types: `./dist/${e}.d.cts`, default: `./dist/${e}.cjs` },
    };
  }
  map["./package.json"] = "./package.json";
  return map;
};
const pkg = {
  name,
  version: "0.0.0",
  description,
  license: "MIT",
  repository: { type: "git", url: "git+https://github.com/tipcjs/tipcjs.git", directory: dir },
  homepage: `https://github.com/tipcjs/tipcjs/tree/main/${dir}#readme`,
  bugs: { url: "https://github.com/tipcjs/tipcjs/issues" },
  type: "module",
  sideEffects: false,
  exports: exportsFor(true),
  main: "./dist/index.cjs",
  module: "./dist/index.js",
  types: "./dist/index.d.ts",
  files: ["dist"],
  publishConfig: { access: "public", exports: exportsFor(false) },
  engines: { node: ">=20" },
  keywords: ["tipc"],
  scripts: { build: "tsup", check: "node ../../scripts/check-package.mjs" },
};
if (!names.includes("index")) {
  delete pkg.main;
  delete pkg.module;
  delete pkg.types;
}
mkdirSync(join(pkgDir, "src"), { recursive: true });
writeFileSync(join(pkgDir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
const entryObj = Object.fromEntries(names.map((e) => [e, `src/${e}.ts`]));
writeFileSync(
  join(pkgDir, "tsup.config.ts"),
  `import { defineConfig } from "tsup";\nimport { packageBuild } from "../../tsup.shared.ts";\n\nexport default defineConfig(packageBuild(${JSON.stringify(entryObj)}));\n`,
);
for (const e of names) {
  const f = join(pkgDir, "src", `${e}.ts`);
  if (!existsSync(f)) writeFileSync(f, "export {};\n");
}
copyFileSync(join(root, "LICENSE"), join(pkgDir, "LICENSE"));
if (!existsSync(join(pkgDir, "README.md")))
  writeFileSync(join(pkgDir, "README.md"), `# ${name}\n\n${description}\n`);
console.log(`scaffolded ${name} in ${dir}`);
