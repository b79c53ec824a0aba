#!/usr/bin/env node
/**
 * tipcd: runs one TIPC node over UDP. Exit codes: 0 stopped by SIGINT/SIGTERM, 1 runtime
 * failure (socket in use, cannot bind, crash), 2 invalid configuration or usage.
 */
import { Command, CommanderError, Option } from "commander";
import pino from "pino";
import pretty from "pino-pretty";
import { ConfigError, type DaemonFlags, loadConfig } from "./config.js";
import { isControlSocketError } from "./control.js";
import { startDaemon } from "./daemon.js";
import { VERSION } from "./version.js";

const collect = (v: string, prev: string[] = []) => [...prev, v];

function program(): Command {
  return new Command("tipcd")
    .description(
      "Run one TIPC node over UDP, with a control socket (tipcctl, @tipcjs/client) and Prometheus metrics.",
    )
    .version(VERSION)
    .option("-c, --config <file>", "configuration file, YAML or JSON (env TIPCD_CONFIG)")
    .option(
      "--node-id <identity>",
      "node identity: up to 16 characters, or 17..32 hex digits (TIPCD_NODE_ID)",
    )
    .option("--cluster-id <n>", "cluster (network) id 1..9999, default 4711 (TIPCD_CLUSTER_ID)")
    .option("--legacy", "behave as a pre-5.9 kernel: no TIPC_NAMED_BCAST, replicast only (TIPCD_LEGACY)")
    .option("--tolerance <ms>", "link tolerance 50..30000 ms, default 1500 (TIPCD_TOLERANCE)")
    .option("--bearer-name <name>", 'bearer name, default "udp0" (TIPCD_BEARER_NAME)')
    .option("--local-address <ip>", "local IP of the UDP bearer (TIPCD_LOCAL_ADDRESS)")
    .option("--local-port <port>", "local UDP port, default 6118 (TIPCD_LOCAL_PORT)")
    .addOption(
      new Option(
        "--mode <mode>",
        "bearer mode (TIPCD_MODE); default replicast with peers, else multicast",
      ).choices(["multicast", "replicast"]),
    )
    .option("--group <ip>", "multicast group, default 228.0.x.y from the cluster id (TIPCD_GROUP)")
    .option("--group-port <port>", "multicast group port (TIPCD_GROUP_PORT)")
    .option(
      "--multicast-interface <if>",
      "multicast interface: an IPv4 address or an IPv6 interface name (TIPCD_MULTICAST_INTERFACE)",
    )
    .option("--peer <ip[:port]>", "replicast peer, repeatable or comma-separated (TIPCD_PEERS)", collect)
    .option(
      "--configured-peers-only",
      "replicast: link only with the --peer list, never learn a peer from a received datagram (TIPCD_CONFIGURED_PEERS_ONLY)",
    )
    .option(
      "--socket <path>",
      "control socket path (TIPCD_SOCKET); default /run/tipcd/tipcd.sock for root, else $XDG_RUNTIME_DIR/tipcd.sock (/tmp/tipcd-UID/tipcd.sock without it)",
    )
    .option("--socket-mode <octal>", "control socket file mode, default 0600 (TIPCD_SOCKET_MODE)")
    .option("--metrics <host:port>", "serve Prometheus metrics on this loopback address (TIPCD_METRICS)")
    .option(
      "--key-file <path>",
      "encryption keys, one a line as `tipc node set key` takes them; mode 0600 (TIPCD_KEY_FILE)",
    )
    .option(
      "--log-level <level>",
      "fatal, error, warn, info (default), debug, trace, silent (TIPCD_LOG_LEVEL)",
    )
    .option("--pretty", "human-readable logs (default when stdout is a terminal)")
    .option("--no-pretty", "JSON logs even on a terminal")
    .addHelpText(
      "after",
      "\nPrecedence: flags > environment > config file.\nExit codes: 0 stopped by SIGINT/SIGTERM, 1 runtime failure, 2 invalid configuration or usage.",
    )
    .exitOverride();
}

async function main(argv: string[]): Promise<void> {
  const cmd = program();
  try {
    cmd.parse(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    throw e;
  }
  const flags = cmd.opts<DaemonFlags>();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(flags);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tipcd: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
  const usePretty = config.log.pretty ?? process.stdout.isTTY === true;
  const logger = usePretty
    ? pino(
        { level: config.log.level },
        pretty({ colorize: process.stdout.isTTY === true, destination: 1, sync: true }),
      )
    : pino({ level: config.log.level });

  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon(config, {
      logger,
      version: VERSION,
      setLogLevel: (level) => {
        logger.level = level;
      },
    });
  } catch (e) {
    // a control path that cannot serve is a configuration error, except a live daemon on it
    const code = isControlSocketError(e) && e.code !== "IN_USE" ? 2 : 1;
    const text = isControlSocketError(e)
      ? `control.path (--socket): ${e.message} [${e.code}]`
      : `cannot start: ${(e as Error).message}`;
    logger.fatal({ err: e }, "tipcd could not start");
    process.exitCode = code;
    // nothing may keep a failed start alive: exit once stderr has taken the message
    process.stderr.write(`tipcd: ${text}\n`, () => process.exit(code));
    return;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "stopping");
    daemon.close().then(
      () => {
        process.exitCode = 0;
        // The node closed its sockets and timers; let pending log writes flush, then exit.
        setImmediate(() => process.exit(0));
      },
      (e: unknown) => {
        logger.error({ err: e }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  // SIGHUP: the file and the environment read again (flags still win): peers and log level
  process.on("SIGHUP", () => {
    if (stopping) return;
    try {
      daemon.reload(loadConfig(flags));
    } catch (e) {
      const text = e instanceof ConfigError ? e.message : (e as Error)?.message;
      logger.error({ error: text }, "configuration not reloaded: the running one is kept");
    }
  });
}

main(process.argv).catch((e: unknown) => {
  process.stderr.write(`tipcd: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
