import type { Options } from "tsup";

/** Build options every package shares: ESM + CJS, declarations, Node 20 target. */
export function packageBuild(entry: Record<string, string> | string[], extra: Options = {}): Options {
  return {
    entry,
    format: ["esm", "cjs"],
    target: "node20",
    platform: "node",
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    dts: { compilerOptions: { ignoreDeprecations: "6.0", customConditions: [] } },
    ...extra,
  };
}
