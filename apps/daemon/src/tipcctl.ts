#!/usr/bin/env node
/**
 * tipcctl: the command line of tipcd. Exit codes: 0 ok, 1 the daemon refused or failed,
 * 2 usage error, 3 cannot connect to the daemon, 4 nothing found (lookup, withdraw).
 */
import { readFileSync } from "node:fs";
import {
  type BearerJSON,
  type BindingJSON,
  type ClientError,
  connect,
  DEFAULT_SOCKET_PATH,
  isClientError,
  type TipcClient,
} from "@tipcjs/client";
import { decodeMessage, formatMessage, messageToJSON, TipcDecodeError } from "@tipcjs/codec";
import { parseHex } from "@tipcjs/decode";
import { Command, CommanderError, Option } from "commander";
import { formatNameTable, formatNodes, nameTableJSON, parseU32 } from "./format.js";
import { VERSION } from "./version.js";

export const EXIT = { OK: 0, DAEMON: 1, USAGE: 2, CONNECT: 3, NOT_FOUND: 4 } as const;

/** Where tipcctl writes; tests pass their own. */
export interface CtlIO {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  readStdin(): string;
  /** resolves when the user interrupts (SIGINT/SIGTERM): ends `subscribe` */
  interrupted: Promise<void>;
}

class Exit extends Error {
  constructor(
    readonly code: number,
    message?: string,
  ) {
    super(message ?? "");
  }
}

const usage = (msg: string) => new Exit(EXIT.USAGE, msg);

function u32Arg(name: string) {
  return (v: string) => {
    const n = parseU32(v);
    if (n === undefined)
      throw usage(`${name} must be an integer 0..4294967295 (decimal or 0x hex), got ${JSON.stringify(v)}`);
    return n;
  };
}
const num = (name: string, v: string) => u32Arg(name)(v);

function build(io: CtlIO, run: (p: Promise<void>) => void): Command {
  const program = new Command("tipcctl")
    .description(
      "Control a local tipcd: name table, publish, withdraw, lookup, subscribe, nodes, links, stats, decode.",
    )
    .version(VERSION)
    .option(
      "-s, --socket <path>",
      `control socket of tipcd (env TIPCD_SOCKET, default ${DEFAULT_SOCKET_PATH})`,
    )
    .option("--timeout <ms>", "wait at most this long for the daemon (default 10000)")
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 the daemon refused the request or failed, 2 usage error,\n3 cannot connect to tipcd, 4 nothing found (lookup, withdraw).",
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError("(run with --help for usage)");

  const withClient = async <T>(fn: (c: TipcClient) => Promise<T>): Promise<T> => {
    const g = program.opts<{ socket?: string; timeout?: string }>();
    const path = g.socket ?? io.env.TIPCD_SOCKET ?? DEFAULT_SOCKET_PATH;
    const timeout = g.timeout === undefined ? 10_000 : num("--timeout", g.timeout);
    const client = await connect(path, { timeout });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  };
  const json = (v: unknown) => io.out(`${JSON.stringify(v, null, 2)}\n`);
  const nodeIdMap = async (c: TipcClient) => {
    const m = new Map<number, string>([[c.info.address, c.info.nodeId]]);
    for (const n of await c.nodes()) m.set(n.address, n.nodeId);
    return m;
  };
  const printBinding = (b: BindingJSON & { owner?: string }) =>
    io.out(
      `{${b.type}, ${b.lower}, ${b.upper}} scope ${b.scope} port ${b.port} key ${b.key}${b.owner ? ` owner ${b.owner}` : ""}\n`,
    );

  const nametable = program.command("nametable").description("the cluster-wide name table");
  nametable
    .command("show")
    .description("show every binding, laid out as `tipc nametable show`")
    .option("--type <type>", "only this service type")
    .option("--own", "only this node's own bindings (with their owner)")
    .option("-j, --json", "JSON output")
    .action((o: { type?: string; own?: boolean; json?: boolean }) =>
      run(
        withClient(async (c) => {
          const bindings = await c.bindings({
            ...(o.type !== undefined ? { type: num("--type", o.type) } : {}),
            ...(o.own ? { own: true } : {}),
          });
          const ids = await nodeIdMap(c);
          if (o.json) json(o.own ? bindings : nameTableJSON(bindings, ids));
          else io.out(formatNameTable(bindings, ids));
        }),
      ),
    );

  program
    .command("publish")
    .description("bind a service range on this node; by default the daemon holds it after tipcctl exits")
    .argument("<type>", "service type (64..4294967295)")
    .argument("<lower>", "lower instance")
    .argument("[upper]", "upper instance (default lower)")
    .addOption(
      new Option("--scope <scope>", "distribution scope").choices(["cluster", "node"]).default("cluster"),
    )
    .option("--port <port>", "port to bind (default: assigned)")
    .addOption(
      new Option(
        "--owner <owner>",
        "daemon: kept until `tipcctl withdraw`; connection: withdrawn when tipcctl exits",
      )
        .choices(["daemon", "connection"])
        .default("daemon"),
    )
    .option("-j, --json", "JSON output")
    .action(
      (
        type: string,
        lower: string,
        upper: string | undefined,
        o: { scope: "cluster" | "node"; port?: string; owner: "daemon" | "connection"; json?: boolean },
      ) =>
        run(
          (async () => {
            const req = {
              type: num("type", type),
              lower: num("lower", lower),
              upper: upper === undefined ? num("lower", lower) : num("upper", upper),
              scope: o.scope,
              owner: o.owner,
              ...(o.port !== undefined ? { port: num("--port", o.port) } : {}),
            };
            if (req.lower > req.upper)
              throw usage(`lower (${req.lower}) is greater than upper (${req.upper})`);
            await withClient(async (c) => {
              const b = await c.bind(req);
              if (o.json) json(b);
              else printBinding(b);
            });
          })(),
        ),
    );

  program
    .command("withdraw")
    .description("withdraw a binding held by the daemon (made with `tipcctl publish`)")
    .argument("<type>")
    .argument("<lower>")
    .argument("[upper]", "default lower")
    .option("--key <key>", "only the binding with this key")
    .option("-j, --json", "JSON output")
    .action((type: string, lower: string, upper: string | undefined, o: { key?: string; json?: boolean }) =>
      run(
        (async () => {
          const req = {
            type: num("type", type),
            lower: num("lower", lower),
            upper: upper === undefined ? num("lower", lower) : num("upper", upper),
            ...(o.key !== undefined ? { key: num("--key", o.key) } : {}),
          };
          if (req.lower > req.upper) throw usage(`lower (${req.lower}) is greater than upper (${req.upper})`);
          await withClient(async (c) => {
            const list = await c.unbind(req);
            if (o.json) json(list);
            else
              for (const b of list)
                io.out(`withdrawn ${`{${b.type}, ${b.lower}, ${b.upper}} key ${b.key}`}\n`);
          });
        })(),
      ),
    );

  program
    .command("lookup")
    .description("look a service up: anycast (default), closest, node, instance, multicast, nodes")
    .argument("<type>")
    .argument("<instance>", "the instance, or the lower bound for multicast and nodes")
    .argument("[upper]", "upper bound for multicast and nodes")
    .addOption(
      new Option("--mode <mode>", "lookup mode")
        .choices(["anycast", "closest", "node", "instance", "multicast", "nodes"])
        .default("anycast"),
    )
    .option("--node <address>", "node address (hex 0x... or decimal), for --mode node")
    .option("-j, --json", "JSON output")
    .action(
      (
        type: string,
        instance: string,
        upper: string | undefined,
        o: { mode: string; node?: string; json?: boolean },
      ) =>
        run(
          (async () => {
            const params = {
              type: num("type", type),
              lower: num("instance", instance),
              ...(upper !== undefined ? { upper: num("upper", upper) } : {}),
              mode: o.mode as "anycast",
              ...(o.node !== undefined ? { node: num("--node", o.node) } : {}),
            };
            if (o.mode === "node" && o.node === undefined) throw usage("--mode node needs --node <address>");
            if (params.upper !== undefined && params.lower > params.upper) {
              throw usage(`lower (${params.lower}) is greater than upper (${params.upper})`);
            }
            await withClient(async (c) => {
              const r = await c.request("lookup", params);
              const found = (r.sockets?.length ?? 0) + (r.bindings?.length ?? 0) + (r.nodes?.length ?? 0);
              if (o.json) json(r);
              else {
                for (const s of r.sockets ?? [])
                  io.out(`<${s.node.toString(16).padStart(8, "0")}:${s.port}>\n`);
                for (const b of r.bindings ?? []) printBinding(b);
                for (const n of r.nodes ?? []) io.out(`${n.toString(16).padStart(8, "0")}\n`);
              }
              if (found === 0)
                throw new Exit(
                  EXIT.NOT_FOUND,
                  o.json ? "" : `no binding for {${params.type}, ${params.lower}}`,
                );
            });
          })(),
        ),
    );

  program
    .command("subscribe")
    .description("watch a service range: print topology events until interrupted (or --timeout)")
    .argument("<type>")
    .argument("<lower>")
    .argument("<upper>")
    .addOption(
      new Option("--mode <mode>", "ports: every binding; service: first and last")
        .choices(["ports", "service"])
        .default("ports"),
    )
    .option("--sub-timeout <ms>", "end the subscription after this many ms")
    .option("--no-initial", "no events for bindings that already exist")
    .option("-j, --json", "one JSON object a line")
    .action(
      (
        type: string,
        lower: string,
        upper: string,
        o: { mode: "ports" | "service"; subTimeout?: string; initial: boolean; json?: boolean },
      ) =>
        run(
          (async () => {
            const t = num("type", type);
            const l = num("lower", lower);
            const u = num("upper", upper);
            if (l > u) throw usage(`lower (${l}) is greater than upper (${u})`);
            const timeout = o.subTimeout !== undefined ? num("--sub-timeout", o.subTimeout) : undefined;
            await withClient(async (c) => {
              const sub = await c.subscribe(t, l, u, {
                mode: o.mode,
                ...(timeout !== undefined ? { timeout } : {}),
                ...(o.initial === false ? { initialEvents: false } : {}),
              });
              const it = sub[Symbol.asyncIterator]();
              for (;;) {
                const r = await Promise.race([it.next(), io.interrupted.then(() => undefined)]);
                if (!r || r.done) break;
                const ev = r.value;
                if (o.json) io.out(`${JSON.stringify(ev)}\n`);
                else {
                  const where = `<${ev.socket.node.toString(16).padStart(8, "0")}:${ev.socket.port}>`;
                  io.out(
                    `${ev.kind.padEnd(9)} {${t}, ${ev.found.lower}, ${ev.found.upper}} ${where}${ev.scope ? ` ${ev.scope}` : ""}\n`,
                  );
                }
              }
              await sub.cancel().catch(() => {});
            });
          })(),
        ),
    );

  const listCommand = (
    parent: Command,
    what: string,
    fn: (c: TipcClient, jsonOut: boolean) => Promise<void>,
  ) =>
    parent
      .command("list")
      .description(`list the ${what}`)
      .option("-j, --json", "JSON output")
      .action((o: { json?: boolean }) => run(withClient((c) => fn(c, o.json === true))));

  listCommand(
    program.command("node").description("nodes of the cluster"),
    "nodes this node knows",
    async (c, j) => {
      const nodes = await c.nodes();
      if (j) json({ self: c.info, nodes });
      else io.out(formatNodes(c.info, nodes));
    },
  );
  listCommand(program.command("link").description("links to peer nodes"), "links", async (c, j) => {
    const links = await c.links();
    if (j) json(links);
    else {
      io.out("broadcast-link: up\n");
      for (const l of links) {
        const up = String(l.state).toUpperCase() === "ESTABLISHED";
        // as `tipc link list`: ACTIVE, STANDBY (up, not carrying traffic) or the state
        const status = up ? (l.active === false ? "standby" : "active") : String(l.state).toLowerCase();
        io.out(`${l.name}: ${status} (mtu ${l.mtu}, tolerance ${l.tolerance} ms)\n`);
      }
    }
  });
  const bearer = program.command("bearer").description("bearers of this node");
  const printBearer = (b: BearerJSON) => {
    const peers = b.discoveryPeers.map((p) => `${p.address}:${p.port}`).join(",");
    io.out(
      `udp:${b.name} ${b.mediaAddress.address}:${b.mediaAddress.port} ${b.canBroadcast ? "multicast" : "replicast"} mtu ${b.mtu}${peers ? ` peers ${peers}` : ""}${b.enabled === false ? " disabled" : ""}\n`,
    );
  };
  listCommand(bearer, "bearers", async (c, j) => {
    const bearers = await c.bearers();
    if (j) json(bearers);
    else for (const b of bearers) printBearer(b);
  });
  for (const [verb, enable] of [
    ["disable", false],
    ["enable", true],
  ] as const) {
    bearer
      .command(verb)
      .description(
        enable
          ? "put a bearer back in service: discovery resumes and its links re-form"
          : "take a bearer out of service: its links go down and their traffic fails over to other bearers",
      )
      .argument("<name>", "bearer name (see `bearer list`)")
      .option("-j, --json", "JSON output")
      .action((name: string, o: { json?: boolean }) =>
        run(
          withClient(async (c) => {
            const b = enable ? await c.enableBearer(name) : await c.disableBearer(name);
            if (o.json) json(b);
            else printBearer(b);
          }),
        ),
      );
  }

  program
    .command("stats")
    .description("node statistics: bindings, nodes, links, updates by method, held, drops, retransmissions")
    .option("-j, --json", "full statistics as JSON")
    .action((o: { json?: boolean }) =>
      run(
        withClient(async (c) => {
          const s = (await c.stats()) as Record<string, Record<string, unknown>>;
          if (o.json) {
            json(s);
            return;
          }
          const u = s.updates ?? {};
          io.out(
            `${[
              `bindings: ${JSON.stringify(s.bindings)}`,
              `nodes: ${JSON.stringify(s.nodes)}`,
              `links: ${JSON.stringify(s.links)}`,
              `subscriptions: ${String(s.subscriptions)}`,
              `updates: total ${String(u.total)} broadcast ${String(u.broadcast)} replicast ${String(u.replicast)} bulk ${String(u.bulk)} (method ${String(u.method)})`,
              `held out of order: ${JSON.stringify(s.held)}`,
              `drops: ${JSON.stringify(s.drops)}`,
              `retransmissions: ${JSON.stringify(s.retransmissions)}`,
            ].join("\n")}\n`,
          );
        }),
      ),
    );

  program
    .command("decode")
    .description(
      "decode TIPC messages given as hex (arguments, or one message a line on stdin); needs no daemon",
    )
    .argument("[hex...]", "message bytes in hex (whitespace, ':' and '-' allowed)")
    .option("-j, --json", "JSON output")
    .action((hex: string[], o: { json?: boolean }) =>
      run(
        (async () => {
          const inputs = hex.length
            ? [hex.join("")]
            : io
                .readStdin()
                .split(/\r?\n/)
                .filter((l) => l.trim() && !l.trim().startsWith("#"));
          if (inputs.length === 0) throw usage("decode needs hex bytes as arguments or on stdin");
          let bad = 0;
          for (const text of inputs) {
            const bytes = parseHex(text);
            if (!bytes || bytes.length === 0) throw usage(`not hex: ${JSON.stringify(text.slice(0, 60))}`);
            try {
              const msg = decodeMessage(bytes);
              io.out(o.json ? `${JSON.stringify(messageToJSON(msg))}\n` : `${formatMessage(msg)}\n`);
            } catch (e) {
              if (!(e instanceof TipcDecodeError)) throw e;
              bad++;
              io.err(`tipcctl: cannot decode: ${e.code} ${e.message}\n`);
            }
          }
          if (bad) throw new Exit(EXIT.DAEMON, "");
        })(),
      ),
    );
  return program;
}

/** Runs tipcctl with `argv` (as process.argv); resolves with the exit code. */
export async function runCtl(argv: string[], io: CtlIO): Promise<number> {
  let action: Promise<void> | undefined;
  const program = build(io, (p) => {
    action = p;
  });
  try {
    await program.parseAsync(argv);
    if (action) await action;
    return EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (e instanceof Exit) {
      if (e.message) io.err(`tipcctl: ${e.message}\n`);
      return e.code;
    }
    if (isClientError(e)) {
      const ce = e as ClientError;
      io.err(
        `tipcctl: ${ce.message}${ce.code === "CONNECT_FAILED" ? " (is tipcd running? --socket PATH)" : ` [${ce.code}]`}\n`,
      );
      if (ce.code === "CONNECT_FAILED") return EXIT.CONNECT;
      if (ce.code === "NOT_FOUND") return EXIT.NOT_FOUND;
      if (ce.code === "BAD_ARGUMENT" || ce.code === "RESERVED_TYPE") return EXIT.USAGE;
      return EXIT.DAEMON;
    }
    io.err(`tipcctl: ${(e as Error)?.message ?? String(e)}\n`);
    return EXIT.DAEMON;
  }
}

/** Calls `done` once everything written to `stream` so far has left the process (or failed). */
function flushed(stream: NodeJS.WriteStream, done: () => void): void {
  if (stream.destroyed || stream.writableLength === 0) done();
  else stream.write("", () => done());
}

const isMain = process.argv[1] !== undefined && /tipcctl(\.[cm]?[jt]s)?$/.test(process.argv[1]);
if (isMain) {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  let interrupt: () => void = () => {};
  const interrupted = new Promise<void>((r) => {
    interrupt = r;
  });
  process.on("SIGINT", () => interrupt());
  process.on("SIGTERM", () => interrupt());
  runCtl(process.argv, {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    env: process.env,
    readStdin: () => readFileSync(0, "utf8"),
    interrupted,
  }).then(
    (code) => {
      process.exitCode = code;
      // Exit once stdout and stderr have taken everything: a pipe takes 64 KiB at a time and
      // process.exit() drops the rest. Exit explicitly then, as stdin or the timers of a
      // finished subscribe must not hold the process.
      flushed(process.stdout, () => flushed(process.stderr, () => process.exit(code)));
    },
    (e: unknown) => {
      process.stderr.write(`tipcctl: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
