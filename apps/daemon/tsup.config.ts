import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.shared.ts";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as {
  version: string;
};

// `tipcd` and `tipcctl` are the bins (package.json "bin" points at dist/tipcd.js, dist/tipcctl.js).
export default defineConfig(
  packageBuild(
    { index: "src/index.ts", tipcd: "src/tipcd.ts", tipcctl: "src/tipcctl.ts" },
    { define: { __TIPCD_VERSION__: JSON.stringify(version) } },
  ),
);
