import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.shared.ts";

// `cli` is the tipc-decode bin (package.json "bin" points at dist/cli.js).
export default defineConfig(packageBuild({ index: "src/index.ts", cli: "src/cli.ts" }));
