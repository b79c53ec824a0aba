/**
 * Name tables compared with the truth: each binding as `type lower upper node`, the node by its
 * identity (as `tipc nametable show` prints it). The kernel's table is read with one serial
 * command that prints runs of single-instance bindings (`type node first last`), so 100,000 rows
 * cost a few KB on the 35 KB/s console instead of 6 MB; tipcd's through `@tipcjs/client`.
 */
import type { TipcClient } from "@tipcjs/client";
import type { KernelGuest } from "./qemu.js";

/** `type lower upper node` */
export type BindingKey = string;

export function bindingKey(type: number, lower: number, upper: number, node: string): BindingKey {
  return `${type} ${lower} ${upper} ${node}`;
}

/** The bindings a test has made and not withdrawn: what every table must hold at the end. */
export class Truth {
  readonly keys = new Set<BindingKey>();
  add(type: number, lower: number, upper: number, node: string): void {
    this.keys.add(bindingKey(type, lower, upper, node));
  }
  delete(type: number, lower: number, upper: number, node: string): void {
    this.keys.delete(bindingKey(type, lower, upper, node));
  }
  /** every binding of `node` gone (its process killed: the others purge them) */
  dropNode(node: string): void {
    for (const k of this.keys) if (k.endsWith(` ${node}`)) this.keys.delete(k);
  }
}

/** One line for the serial console: the rows with minType <= type < maxType, as runs. */
export function kernelTableCommand(minType: number, maxType: number): string {
  return [
    `tipc nametable show | awk -v a=${minType} -v b=${maxType} '$1 >= a && $1 < b {print $1, $6, $2, $3}'`,
    "sort -k1,1n -k2,2 -k3,3n -k4,4n",
    `awk '$3 == $4 && $1 == t && $2 == n && $3 == e + 1 { e = $3; next } { if (t != "") print t, n, s, e; if ($3 == $4) { t = $1; n = $2; s = $3; e = $4 } else { print "R", $1, $2, $3, $4; t = "" } } END { if (t != "") print t, n, s, e }'`,
  ].join(" | ");
}

/** The kernel's bindings with minType <= type < maxType. */
export async function kernelTable(
  guest: KernelGuest,
  minType: number,
  maxType: number,
): Promise<BindingKey[]> {
  return parseKernelTableRuns(await guest.exec(kernelTableCommand(minType, maxType), { timeoutMs: 120_000 }));
}

/** The bindings in what `kernelTableCommand` printed. */
export function parseKernelTableRuns(out: string): BindingKey[] {
  const keys: BindingKey[] = [];
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "R" && f.length === 5)
      keys.push(bindingKey(Number(f[1]), Number(f[3]), Number(f[4]), f[2] as string));
    else if (f.length === 4 && /^\d+$/.test(f[0] as string)) {
      for (let i = Number(f[2]); i <= Number(f[3]); i++)
        keys.push(bindingKey(Number(f[0]), i, i, f[1] as string));
    }
  }
  return keys;
}

/** tipcd's bindings of `types`, nodes named by identity (its own and its peers'). */
export async function tipcdTable(client: TipcClient, types: number[]): Promise<BindingKey[]> {
  const names = new Map<number, string>([[client.info.address, client.info.nodeId]]);
  for (const n of await client.nodes()) names.set(n.address, n.nodeId);
  const keys: BindingKey[] = [];
  for (const type of types) {
    for (const b of await client.bindings({ type })) {
      keys.push(
        bindingKey(b.type, b.lower, b.upper, names.get(b.node) ?? b.node.toString(16).padStart(8, "0")),
      );
    }
  }
  return keys;
}

export interface TableDiff {
  /** in the truth, not in the table */
  missing: BindingKey[];
  /** in the table, not in the truth (or more than once) */
  extra: BindingKey[];
}

export function diffTable(actual: BindingKey[], expected: Set<BindingKey>): TableDiff {
  const seen = new Set<BindingKey>();
  const extra: BindingKey[] = [];
  for (const k of actual) {
    if (expected.has(k) && !seen.has(k)) seen.add(k);
    else extra.push(k);
  }
  const missing: BindingKey[] = [];
  for (const k of expected) if (!seen.has(k)) missing.push(k);
  return { missing: missing.sort(), extra: extra.sort() };
}

export function describeDiff(what: string, d: TableDiff, expected: number, first = 5): string {
  const show = (keys: BindingKey[]) =>
    keys.length === 0 ? "" : ` [${keys.slice(0, first).join("; ")}${keys.length > first ? "; ..." : ""}]`;
  return `${what}: ${d.missing.length} missing${show(d.missing)}, ${d.extra.length} extra${show(d.extra)} (${expected} expected)`;
}

/**
 * Reads a table until it equals the truth or `timeoutMs` passed (bounded polling): undefined
 * once equal, else the last difference described.
 */
export async function settle(
  what: string,
  read: () => Promise<BindingKey[]>,
  expected: Set<BindingKey>,
  { timeoutMs = 45_000, intervalMs = 500 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = diffTable(await read(), expected);
    if (d.missing.length === 0 && d.extra.length === 0) return undefined;
    if (Date.now() >= deadline) return describeDiff(what, d, expected.size);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** from, from + 1, ..., from + count - 1 */
export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** Binds single instances `lowers` of `type` in tipcd (owner daemon), 250 in flight, noted in `truth`. */
export async function bindAll(c: TipcClient, truth: Truth, type: number, lowers: number[]): Promise<void> {
  for (let i = 0; i < lowers.length; i += 250) {
    await Promise.all(
      lowers.slice(i, i + 250).map(async (lower) => {
        await c.bind({ type, lower, owner: "daemon" });
        truth.add(type, lower, lower, c.info.nodeId);
      }),
    );
  }
}

/** Withdraws what `bindAll` bound, noted in `truth`. */
export async function unbindAll(c: TipcClient, truth: Truth, type: number, lowers: number[]): Promise<void> {
  for (let i = 0; i < lowers.length; i += 250) {
    await Promise.all(
      lowers.slice(i, i + 250).map(async (lower) => {
        await c.unbind({ type, lower });
        truth.delete(type, lower, lower, c.info.nodeId);
      }),
    );
  }
}
