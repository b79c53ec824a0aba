/** The package version, set at build time from package.json (tsup `define`); "dev" from sources. */
declare const __TIPCD_VERSION__: string | undefined;
export const VERSION: string = typeof __TIPCD_VERSION__ === "string" ? __TIPCD_VERSION__ : "dev";
