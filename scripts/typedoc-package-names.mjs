// TypeDoc plugin: names each documented module after the package it belongs to
// ("@tipcjs/codec", "@tipcjs/transport/conformance") instead of its folder ("packages/codec/src"),
// so the API reference reads like the imports a package user writes.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Converter, ReflectionKind } from "typedoc";

function packageOf(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, "utf8")).name;
  }
  return undefined;
}

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const file = context.getSymbolFromReflection(mod)?.declarations?.[0]?.getSourceFile().fileName;
      const name = file && packageOf(file);
      if (!name) continue;
      const entry = basename(file).replace(/\.[cm]?tsx?$/, "");
      mod.name = entry === "index" ? name : `${name}/${entry}`;
    }
  });
}
