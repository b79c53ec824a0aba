import type { Options } from "tsup";

/** Build options every package shares: ESM + CJS, declarations, Node 20 target. */
export function packageBuild(entry: Record<string, string> | string[], extra: Options = {}): Options {
  return {
    entry,
    format: ["esm", "cjs"],
    target: "node20",
    platform: "node",
    // No source maps: with sources embedded they were two thirds of every tarball (BENCHMARKS.md, Package sizes).
    sourcemap: false,
    clean: true,
    splitting: false,
    treeshake: true,
    dts: { compilerOptions: { ignoreDeprecations: "6.0", customConditions: [] } },
    ...extra,
  };
}
