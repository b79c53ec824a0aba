/**
 * `tipcctl node set key`, `node flush key` and `node key`, as iproute2's `tipc node set key`:
 *
 *   tipc node set key KEY [algname ALGNAME] [master | nodeid NODEID]
 *   tipc node set key rekeying INTERVAL|now
 *   tipc node flush key
 *
 * KEY is a file (a path with a `/`, or `@PATH`; owner-only, its first key line), `-` (the key
 * read from stdin), or the key itself as `tipc` takes it (`0x` + hex, or the string's bytes): the
 * last is visible to `ps` while tipcctl runs, so tipcctl says so.
 */
import { existsSync } from "node:fs";
import type { KeyStatusJSON, TipcClient } from "@tipcjs/client";
import type { NodeKey } from "@tipcjs/node";
import type { Command } from "commander";
import { parseKeyWords, readKeyFile } from "./keyfile.js";

export interface KeyCommandHelpers {
  run(p: Promise<void>): void;
  withClient<T>(fn: (c: TipcClient) => Promise<T>): Promise<T>;
  wantJson(o: { json?: boolean }): boolean;
  json(v: unknown): void;
  out(text: string): void;
  err(text: string): void;
  readStdin(): string;
  /** a usage error (exit 2) */
  usage(message: string): Error;
}

/** The key a `node set key` argument names: a file, stdin, or the key itself. */
export function resolveKeyArgument(
  words: string[],
  h: Pick<KeyCommandHelpers, "err" | "readStdin" | "usage">,
): NodeKey {
  const [arg, ...rest] = words;
  if (arg === undefined) throw h.usage("node set key needs KEY (a file, - for stdin, or the key)");
  let base: NodeKey;
  try {
    if (arg === "-") {
      const line = h
        .readStdin()
        .split(/\r?\n/)
        .map((l) => l.replace(/#.*$/, "").trim())
        .find((l) => l !== "");
      if (line === undefined) throw new Error("no key on stdin");
      base = parseKeyWords(line.split(/\s+/));
    } else if (arg.startsWith("@") || arg.includes("/") || (!arg.startsWith("0x") && existsSync(arg))) {
      const keys = readKeyFile(arg.startsWith("@") ? arg.slice(1) : arg);
      base = keys[0] as NodeKey;
    } else {
      h.err(
        "tipcctl: warning: a key on the command line is visible to other users (ps); prefer a file or -\n",
      );
      base = { key: arg };
    }
    const extra = rest.length > 0 ? parseKeyWords(["-", ...rest]) : { key: "-" };
    const { key: _k, ...props } = extra;
    return { ...base, ...props };
  } catch (e) {
    throw h.usage((e as Error).message);
  }
}

function formatStatus(s: KeyStatusJSON): string {
  if (!s.enabled) return "encryption: off (tipcd runs without crypto in its configuration)\n";
  const lines = [`encryption: on, plaintext ${s.refusePlaintext ? "refused" : "accepted"}`];
  const slots = (keys: NonNullable<KeyStatusJSON["tx"]>) =>
    keys
      .filter((k) => k.state !== "none")
      .map((k) => `${k.id}:${k.state}${k.hint ? `(${k.hint})` : ""}`)
      .join(" ") || "-";
  lines.push(`tx keys: ${slots(s.tx ?? [])}`);
  for (const p of s.peers ?? [])
    lines.push(
      `peer ${p.address.toString(16).padStart(8, "0")}${p.nodeId ? ` ${p.nodeId}` : ""}: ${slots(p.keys)}`,
    );
  const c = s.counters;
  if (c) {
    lines.push(
      `tx: ${Object.entries(c.tx)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
    lines.push(
      `rx: ${Object.entries(c.rx)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
  }
  const drops = Object.entries(s.drops ?? {});
  lines.push(`drops: ${drops.length ? drops.map(([k, v]) => `${k} ${v}`).join(", ") : "none"}`);
  return `${lines.join("\n")}\n`;
}

/** Adds `set key`, `flush key` and `key` under tipcctl's `node` command. */
export function addKeyCommands(node: Command, h: KeyCommandHelpers): void {
  node
    .command("set")
    .description("node settings, as `tipc node set`")
    .command("key")
    .description(
      "set an encryption key, as `tipc node set key KEY [algname ALG] [master | nodeid ID]`, or `rekeying MINUTES|now`; KEY: a file (a path or @PATH, mode 0600), - for stdin, or the key (0x hex or text: 16/24/32 key bytes + 4 salt bytes)",
    )
    .argument("<words...>", "KEY [algname ALG] [master | nodeid NODEID] | rekeying MINUTES|now")
    .option("-j, --json", "JSON output")
    .action((words: string[], o: { json?: boolean }) =>
      h.run(
        (async () => {
          if (words[0] === "rekeying") {
            const v = words[1];
            if (v === undefined || words.length > 2) throw h.usage("node set key rekeying MINUTES|now");
            if (v !== "now" && !/^\d{1,9}$/.test(v)) throw h.usage("rekeying: minutes (0 = off) or now");
            const rekeying = v === "now" ? ("now" as const) : Number(v);
            await h.withClient(async (c) => {
              const r = await c.request("keySet", { rekeying });
              if (h.wantJson(o)) h.json(r);
            });
            return;
          }
          const key = resolveKeyArgument(words, h);
          await h.withClient(async (c) => {
            const r = await c.request("keySet", {
              key: typeof key.key === "string" ? key.key : `0x${Buffer.from(key.key).toString("hex")}`,
              ...(key.algorithm !== undefined ? { algname: key.algorithm } : {}),
              ...(typeof key.nodeId === "string" ? { nodeid: key.nodeId } : {}),
              ...(key.master === true ? { master: true } : {}),
            });
            if (h.wantJson(o)) h.json(r);
          });
        })(),
      ),
    );
  node
    .command("flush")
    .description("flush settings, as `tipc node flush`")
    .command("key")
    .description("remove every encryption key, TX and RX, as `tipc node flush key`")
    .option("-j, --json", "JSON output")
    .action((o: { json?: boolean }) =>
      h.run(
        h.withClient(async (c) => {
          const r = await c.request("keyFlush", {});
          if (h.wantJson(o)) h.json(r);
        }),
      ),
    );
  node
    .command("key")
    .description("encryption status: key slots (by hint), counters and crypto drops")
    .option("-j, --json", "JSON output")
    .action((o: { json?: boolean }) =>
      h.run(
        h.withClient(async (c) => {
          const s = await c.request("keyStatus", {});
          if (h.wantJson(o)) h.json(s);
          else h.out(formatStatus(s));
        }),
      ),
    );
}
