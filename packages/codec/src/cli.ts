#!/usr/bin/env node
/** The tipc-decode bin: see ./tipc-decode.ts. */
import { readFileSync } from "node:fs";
import { run } from "./tipc-decode.js";

process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  // A closed pipe (`tipc-decode x.pcap | head`) is not an error.
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

run(process.argv, {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readStdin: () => new Uint8Array(readFileSync(0)),
  stdinIsTTY: process.stdin.isTTY === true,
  readFile: (path) => new Uint8Array(readFileSync(path)),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tipc-decode: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
