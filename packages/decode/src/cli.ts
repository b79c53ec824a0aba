#!/usr/bin/env node
/** The tipc-decode bin: see ./tipc-decode.ts. */
import { processIO, run } from "./tipc-decode.js";

process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  // A closed pipe (`tipc-decode x.pcap | head`) is not an error.
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

run(process.argv, processIO()).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tipc-decode: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
