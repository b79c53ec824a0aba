/**
 * tipcd's key file: owner-only, never a key on the command line where `ps` shows it.
 *
 * Key file: one key a line, as `tipc node set key` takes its arguments (`KEY [algname ALG]
 * [nodeid ID] [master]`, KEY = `0x` + hex digits or the string's bytes); blank lines and `#`
 * comments skipped. The keys are set in file order (a cluster key, or per-node keys: our own
 * id's is our TX key, a peer's that peer's RX key).
 */
import { readFileSync, statSync } from "node:fs";
import type { NodeKey } from "@tipcjs/node";
import { ConfigError } from "./config.js";

/** Bounds of a key file: bytes and keys. */
export const MAX_KEY_FILE_BYTES = 16 * 1024;
export const MAX_KEYS = 16;

/** One line of a key file, or the words of `tipcctl node set key`, as a key. Throws Error with the reason. */
export function parseKeyWords(words: string[]): NodeKey {
  const [key, ...rest] = words;
  if (key === undefined || key === "") throw new Error("no key");
  const out: NodeKey = { key };
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i];
    if (w === "master") out.master = true;
    else if (w === "algname" || w === "nodeid") {
      const v = rest[++i];
      if (v === undefined) throw new Error(`${w} needs a value`);
      if (w === "algname") out.algorithm = v;
      else out.nodeId = v;
    } else throw new Error(`unknown word ${JSON.stringify(w)} (algname ALG, nodeid ID, master)`);
  }
  return out;
}

/**
 * Reads and checks a key file: a regular file of this user, readable and writable by its owner
 * only (mode 0600 or 0400), at most 16 KiB and 16 keys. Throws ConfigError naming the problem
 * (never the key).
 */
export function readKeyFile(path: string, uid: number | undefined = process.getuid?.()): NodeKey[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    throw new ConfigError(
      `cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (!st.isFile()) throw new ConfigError(`key file ${path} is not a regular file`);
  const mode = Number(st.mode) & 0o777;
  if ((mode & 0o077) !== 0)
    throw new ConfigError(
      `key file ${path} is open to group or others (mode ${mode.toString(8).padStart(4, "0")}): chmod 600 ${path}`,
    );
  if (uid !== undefined && Number(st.uid) !== uid)
    throw new ConfigError(`key file ${path} belongs to uid ${st.uid}, not to tipcd's user (uid ${uid})`);
  if (Number(st.size) > MAX_KEY_FILE_BYTES)
    throw new ConfigError(`key file ${path} is larger than ${MAX_KEY_FILE_BYTES} bytes`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(
      `cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const keys: NodeKey[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] as string).replace(/#.*$/, "").trim();
    if (line === "") continue;
    if (keys.length >= MAX_KEYS) throw new ConfigError(`key file ${path} holds more than ${MAX_KEYS} keys`);
    try {
      keys.push(parseKeyWords(line.split(/\s+/)));
    } catch (e) {
      throw new ConfigError(`key file ${path} line ${n + 1}: ${(e as Error).message}`);
    }
  }
  if (keys.length === 0) throw new ConfigError(`key file ${path} holds no key`);
  return keys;
}
