// Types for workspace.mjs (used by the tests in ../src).
/** A package.json, as read from disk or from a tarball. */
export type Manifest = Record<string, unknown>;
export interface WorkspacePackage {
  name: string;
  version: string;
  dir: string;
  relDir: string;
  private: boolean;
  manifest: Manifest;
  publishedManifest?: Manifest;
}
export interface SmokePlan {
  short: string;
  esm: string | null;
  cjs: string | null;
  install: string[];
  missing: string[];
}
export const PUBLIC_PACKAGE_ROOTS: string[];
export function discoverPackages(root: string): WorkspacePackage[];
export function publicPackages(root: string): WorkspacePackage[];
export function shortName(name: string): string;
export function binsOf(manifest: Manifest): Record<string, string>;
export function hasImportableEntry(manifest: Manifest): boolean;
export function claimsCommonJs(manifest: Manifest): boolean;
export function runtimeDeps(manifest: Manifest): Set<string>;
export function smokePlan(pkg: WorkspacePackage, smokeDir: string): SmokePlan;
export function missingSmokePrograms(packages: WorkspacePackage[], smokeDir: string): string[];
export function forbiddenFiles(files: string[]): string[];
export function publishedManifestProblems(manifest: Manifest): string[];
export function directDependents(packages: WorkspacePackage[], name: string): string[];
/** The package a Verdaccio log line is about ("req: 'GET /@tipcjs%2fcodec'" -> "@tipcjs/codec"). */
export function requestPackage(line: string): string | null;
