#!/usr/bin/env node
/**
 * tipcctl: the command line of tipcd. Exit codes: 0 ok, 1 the daemon refused or failed,
 * 2 usage error, 3 cannot connect to the daemon, 4 nothing found (lookup, withdraw, send).
 */
import { readFileSync } from "node:fs";
import { Readable, Writable } from "node:stream";
import {
  type BearerJSON,
  type BindingJSON,
  type ClientConnection,
  type ClientError,
  connect,
  defaultSocketPath,
  isClientError,
  type LinkStatJSON,
  MAX_PAYLOAD_BYTES,
  type TipcClient,
} from "@tipcjs/client";
import { decodeMessage, formatMessage, messageToJSON, TipcDecodeError } from "@tipcjs/codec";
import { parseHex } from "@tipcjs/decode";
import { Argument, Command, CommanderError, Option } from "commander";
import { completionScript } from "./completion.js";
import {
  formatLinkList,
  formatLinkStats,
  formatNameTable,
  formatNodes,
  linkListJSON,
  nameTableJSON,
  nodeListJSON,
  parseU32,
} from "./format.js";
import { addKeyCommands } from "./tipcctl-keys.js";
import { VERSION } from "./version.js";

export const EXIT = { OK: 0, DAEMON: 1, USAGE: 2, CONNECT: 3, NOT_FOUND: 4 } as const;

/** Where tipcctl writes; tests pass their own. */
export interface CtlIO {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  readStdin(): string;
  /** stdin as bytes (`send`); default: readStdin() as UTF-8 */
  readStdinBytes?(): Uint8Array;
  /** resolves when the user interrupts (SIGINT/SIGTERM): ends `subscribe` */
  interrupted: Promise<void>;
  /** stdin and stdout as streams (`connect`, `accept`); default: readStdinBytes() and out() */
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
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
      "Control a local tipcd as `tipc` controls the kernel: nametable, node, link, bearer, peer; and publish, withdraw, lookup, subscribe, send, listen, connect, accept, stats, decode.",
    )
    .version(VERSION)
    .option("-j, --json", "JSON output (every command), as `tipc -j`")
    .option("-p, --pretty", "indent the JSON output, as `tipc -j -p`")
    .option(
      "-s, --socket <path>",
      `control socket of tipcd (env TIPCD_SOCKET; default ${defaultSocketPath(io.env)}: /run/tipcd/tipcd.sock for root, else $XDG_RUNTIME_DIR/tipcd.sock)`,
    )
    .option(
      "--timeout <ms>",
      "ms to wait for tipcd to accept the connection and to answer each request (default 10000); `subscribe` ends with --sub-timeout, not this",
    )
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 the daemon refused the request or failed, 2 usage error,\n3 cannot connect to tipcd, 4 nothing found (lookup, withdraw, send).",
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError("(run with --help for usage)");

  const withClient = async <T>(fn: (c: TipcClient) => Promise<T>): Promise<T> => {
    const g = program.opts<{ socket?: string; timeout?: string }>();
    const path = g.socket ?? io.env.TIPCD_SOCKET ?? defaultSocketPath(io.env);
    const timeout = g.timeout === undefined ? 10_000 : num("--timeout", g.timeout);
    const client = await connect(path, { timeout });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  };
  const globals = () => program.opts<{ json?: boolean; pretty?: boolean }>();
  /** JSON wanted: the global -j or a command's own --json */
  const wantJson = (o: { json?: boolean }) => o.json === true || globals().json === true;
  const json = (v: unknown) => io.out(`${JSON.stringify(v, null, globals().pretty ? 2 : undefined)}\n`);
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
          if (wantJson(o)) json(o.own ? bindings : nameTableJSON(bindings, ids));
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
              if (wantJson(o)) json(b);
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
            if (wantJson(o)) json(list);
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
              if (wantJson(o)) json(r);
              else {
                for (const s of r.sockets ?? [])
                  io.out(`<${s.node.toString(16).padStart(8, "0")}:${s.port}>\n`);
                for (const b of r.bindings ?? []) printBinding(b);
                for (const n of r.nodes ?? []) io.out(`${n.toString(16).padStart(8, "0")}\n`);
              }
              if (found === 0)
                throw new Exit(
                  EXIT.NOT_FOUND,
                  wantJson(o) ? "" : `no binding for {${params.type}, ${params.lower}}`,
                );
            });
          })(),
        ),
    );

  program
    .command("subscribe")
    .description(
      "watch a service range: print topology events until interrupted (Ctrl-C) or the --sub-timeout expires",
    )
    .argument("<type>")
    .argument("<lower>")
    .argument("<upper>")
    .addOption(
      new Option("--mode <mode>", "ports: every binding; service: first and last")
        .choices(["ports", "service"])
        .default("ports"),
    )
    .option(
      "--sub-timeout <ms>",
      "the subscription ends (a timeout event, exit 0) after this many ms; default: never",
    )
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
                if (wantJson(o)) io.out(`${JSON.stringify(ev)}\n`);
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
      .action((o: { json?: boolean }) => run(withClient((c) => fn(c, wantJson(o)))));

  const nodeCommand = program.command("node").description("nodes of the cluster, and this node's keys");
  addKeyCommands(nodeCommand, {
    run,
    withClient,
    wantJson,
    json,
    out: (t) => io.out(t),
    err: (t) => io.err(t),
    readStdin: () => io.readStdin(),
    usage,
  });
  listCommand(nodeCommand, "nodes: this node and its peers, as `tipc node list`", async (c, j) => {
    const nodes = await c.nodes();
    if (j) json(nodeListJSON(c.info, nodes));
    else io.out(formatNodes(c.info, nodes));
  });
  const link = program.command("link").description("links to peer nodes");
  listCommand(link, "links and their state (up or down), as `tipc link list`", async (c, j) => {
    const [links, nodes] = await Promise.all([c.links(), c.nodes()]);
    // the broadcast link is up while it reaches a peer
    const broadcastUp = nodes.some((n) => n.up);
    if (j) json(linkListJSON(broadcastUp, links));
    else io.out(formatLinkList(broadcastUp, links));
  });
  const stat = link.command("stat").description("link statistics");
  /** `link NAME` given as words, as `tipc link stat show link NAME` */
  const linkWords = (words: string[], o: { link?: string }): string | undefined => {
    if (words.length === 0) return o.link;
    if (words.length === 2 && words[0] === "link") return words[1];
    throw usage(`expected \`link NAME\`, got ${JSON.stringify(words.join(" "))}`);
  };
  const statCommand = (
    verb: "show" | "reset",
    description: string,
    fn: (c: TipcClient, name: string | undefined, jsonOut: boolean) => Promise<void>,
  ) =>
    stat
      .command(verb)
      .description(description)
      .argument("[words...]", "link NAME")
      .option("--link <name>", "only this link (also as the words `link NAME`, as `tipc` takes it)")
      .option("-j, --json", "JSON output")
      .action((words: string[], o: { link?: string; json?: boolean }) =>
        run(withClient((c) => fn(c, linkWords(words, o), wantJson(o)))),
      );
  statCommand(
    "show",
    "counters and properties of every link (or of one), as `tipc link stat show`",
    async (c, name, j) => {
      const { links } = await c.request("linkStats", name !== undefined ? { link: name } : {});
      if (j) json(links);
      else io.out(formatLinkStats(links as LinkStatJSON[]));
    },
  );
  statCommand(
    "reset",
    "start the counters of every link (or of one) again from 0, as `tipc link stat reset`",
    async (c, name, j) => {
      const r = await c.request("linkStatsReset", name !== undefined ? { link: name } : {});
      if (j) json(r);
    },
  );
  const PROPERTIES = ["tolerance", "priority", "window"] as const;
  link
    .command("get")
    .description("a link property: tolerance (ms), priority, window (packets), as `tipc link get`")
    .addArgument(new Argument("<property>", "the property").choices(PROPERTIES))
    .argument("[words...]", "link NAME (default: as configured for new links)")
    .option("-j, --json", "JSON output")
    .action((property: (typeof PROPERTIES)[number], words: string[], o: { json?: boolean }) =>
      run(
        withClient(async (c) => {
          const name = linkWords(words, {});
          const props = await c.request("linkGet", {});
          let value: number;
          if (name !== undefined) {
            const l = (await c.request("linkStats", { link: name })).links[0] as LinkStatJSON;
            value = l[property] ?? (property === "priority" ? 10 : props[property]);
          } else if (property === "priority") {
            // the first bearer's: what a link on it is selected with
            value = Object.values(props.priority)[0] ?? 10;
          } else value = props[property];
          if (wantJson(o)) json({ [property]: value });
          else io.out(`${value}\n`);
        }),
      ),
    );
  link
    .command("set")
    .description(
      "set a link property at run time, as `tipc link set`: tolerance (ms; the peer takes it) or window (packets) of link NAME, or of every link without it; priority is not changed at run time (exit 1, NOT_SUPPORTED: set the bearer priority in the configuration)",
    )
    .addArgument(new Argument("<property>", "the property").choices(PROPERTIES))
    .argument("<value>", "the value")
    .argument("[words...]", "link NAME")
    .action((property: (typeof PROPERTIES)[number], value: string, words: string[]) =>
      run(
        withClient(async (c) => {
          const name = linkWords(words, {});
          await c.request("linkSet", {
            property,
            value: num("value", value),
            ...(name !== undefined ? { link: name } : {}),
          });
        }),
      ),
    );

  const bearer = program.command("bearer").description("bearers of this node");
  const printBearer = (b: BearerJSON) => {
    const peers = b.discoveryPeers.map((p) => `${p.address}:${p.port}`).join(",");
    io.out(
      `udp:${b.name} ${b.mediaAddress.address}:${b.mediaAddress.port} ${b.canBroadcast ? "multicast" : "replicast"} mtu ${b.mtu}${peers ? ` peers ${peers}` : ""}${b.enabled === false ? " disabled" : ""}\n`,
    );
  };
  listCommand(bearer, "bearers by name (udp:NAME), as `tipc bearer list`", async (c, j) => {
    const bearers = await c.bearers();
    if (j) json(bearers);
    else for (const b of bearers) io.out(`udp:${b.name}\n`);
  });
  bearer
    .command("add")
    .description(
      "add a replicast peer to a UDP bearer at run time, as `tipc bearer add media udp name NAME remoteip IP`",
    )
    .argument("<words...>", "media udp name NAME remoteip IP [remoteport PORT]")
    .option("-j, --json", "JSON output")
    .action((words: string[], o: { json?: boolean }) =>
      run(
        (async () => {
          const kv = keywords(words, ["media", "name", "remoteip", "remoteport"]);
          if (kv.media !== undefined && kv.media !== "udp") throw usage("only media udp takes a remoteip");
          if (kv.name === undefined || kv.remoteip === undefined)
            throw usage("bearer add needs name NAME remoteip IP");
          const port = kv.remoteport === undefined ? undefined : num("remoteport", kv.remoteport);
          await withClient(async (c) => {
            const { bearer: b } = await c.request("peerAdd", {
              bearer: kv.name as string,
              ip: kv.remoteip as string,
              ...(port !== undefined ? { port } : {}),
            });
            if (wantJson(o)) json(b);
          });
        })(),
      ),
    );
  program
    .command("peer")
    .description("peer nodes")
    .command("remove")
    .description(
      "forget a peer's UDP address on every bearer, as `tipc peer remove`: address ADDR or identity ID (a peer that is down: exit 1 BUSY while it is up), or remoteip IP [remoteport PORT]",
    )
    .argument("<words...>", "address ADDR | identity NODEID | remoteip IP [remoteport PORT]")
    .option("-j, --json", "JSON output")
    .action((words: string[], o: { json?: boolean }) =>
      run(
        (async () => {
          const kv = keywords(words, ["address", "identity", "remoteip", "remoteport"]);
          const params =
            kv.address !== undefined
              ? { address: num("address", kv.address) }
              : kv.identity !== undefined
                ? { identity: kv.identity }
                : kv.remoteip !== undefined
                  ? {
                      ip: kv.remoteip,
                      ...(kv.remoteport !== undefined ? { port: num("remoteport", kv.remoteport) } : {}),
                    }
                  : undefined;
          if (params === undefined) throw usage("peer remove needs address ADDR, identity ID or remoteip IP");
          await withClient(async (c) => {
            const r = await c.request("peerRemove", params);
            if (wantJson(o)) json(r);
            else for (const x of r.removed) io.out(`removed ${x.ip}:${x.port} from udp:${x.bearer}\n`);
          });
        })(),
      ),
    );
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
      .argument("<name...>", "bearer name (see `bearer list`), or `media udp name NAME` as `tipc` takes it")
      .option("-j, --json", "JSON output")
      .action((words: string[], o: { json?: boolean }) =>
        run(
          withClient(async (c) => {
            const name =
              words.length === 1
                ? (words[0] as string).replace(/^udp:/, "")
                : keywords(words, ["media", "name"]).name;
            if (name === undefined) throw usage(`bearer ${verb} needs a bearer name`);
            const b = enable ? await c.enableBearer(name) : await c.disableBearer(name);
            if (wantJson(o)) json(b);
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
          if (wantJson(o)) {
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

  const addr = (a: { node: number; port: number }) => `<${a.node.toString(16).padStart(8, "0")}:${a.port}>`;
  const importanceOption = () =>
    new Option(
      "--importance <level>",
      "message importance: 0 low (default), 1 medium, 2 high, 3 critical",
    ).choices(["0", "1", "2", "3"]);
  type Imp = 0 | 1 | 2 | 3;

  program
    .command("send")
    .description(
      "send stdin to the service {type, instance} (anycast), as tipc-pipe: the whole input as one message, or one message a line with --lines",
    )
    .argument("<type>", "service type")
    .argument("<instance>", "service instance")
    .option("-l, --lines", "one message per line of stdin (the newline not sent; empty lines skipped)")
    .option("--node <address>", "only a socket on this node (hex 0x... or decimal)")
    .addOption(importanceOption())
    .option(
      "--wait <ms>",
      "after the last send, wait this many ms for messages that come back undelivered (default 200)",
    )
    .action(
      (
        type: string,
        instance: string,
        o: { lines?: boolean; node?: string; importance?: string; wait?: string },
      ) =>
        run(
          (async () => {
            const to = {
              type: num("type", type),
              instance: num("instance", instance),
              ...(o.node !== undefined ? { node: num("--node", o.node) } : {}),
            };
            const wait = o.wait !== undefined ? num("--wait", o.wait) : 200;
            const input = io.readStdinBytes ? io.readStdinBytes() : new TextEncoder().encode(io.readStdin());
            const messages: Uint8Array[] = [];
            if (o.lines) {
              let start = 0;
              for (let i = 0; i <= input.length; i++) {
                if (i < input.length && input[i] !== 10) continue;
                let end = i;
                if (end > start && input[end - 1] === 13) end--;
                if (end > start) messages.push(input.subarray(start, end));
                start = i + 1;
              }
            } else messages.push(input);
            for (const m of messages)
              if (m.length > MAX_PAYLOAD_BYTES)
                throw usage(
                  `a message carries at most ${MAX_PAYLOAD_BYTES} bytes, stdin gave ${m.length} (try --lines)`,
                );
            await withClient(async (c) => {
              // not dest-droppable: a message the destination cannot take comes back with its reason
              const s = await c.socket({
                type: "rdm",
                destDroppable: false,
                ...(o.importance !== undefined ? { importance: Number(o.importance) as Imp } : {}),
              });
              try {
                for (const m of messages) await s.sendTo(to, m);
              } catch (e) {
                if (isClientError(e) && e.code === "NO_SERVICE")
                  throw new Exit(EXIT.NOT_FOUND, `no binding for {${to.type}, ${to.instance}} (NO_SERVICE)`);
                throw e;
              }
              // what comes back does so within a round trip or two: wait that long, then stop
              let timer: NodeJS.Timeout | undefined;
              const waited = new Promise<undefined>((r) => {
                timer = setTimeout(() => r(undefined), wait);
              });
              let returned = 0;
              for (;;) {
                const ev = await Promise.race([s.receive(), waited]);
                if (ev === undefined) break;
                if (ev.kind !== "returned") continue;
                returned++;
                io.err(
                  `tipcctl: a message of ${ev.data.length} bytes came back from ${addr(ev.rejectedBy)}: ${ev.error}\n`,
                );
              }
              clearTimeout(timer);
              await s.close();
              if (returned > 0)
                throw new Exit(EXIT.NOT_FOUND, `${returned} of ${messages.length} messages not delivered`);
            });
          })(),
        ),
    );

  program
    .command("listen")
    .description(
      "bind {type, lower, upper} to a socket and print the messages it receives until interrupted (Ctrl-C) or --count",
    )
    .argument("<type>", "service type")
    .argument("<lower>", "lower instance")
    .argument("[upper]", "upper instance (default lower)")
    .addOption(
      new Option("--scope <scope>", "distribution scope").choices(["cluster", "node"]).default("cluster"),
    )
    .option("--count <n>", "exit 0 after this many messages")
    .addOption(importanceOption())
    .option("-j, --json", "one JSON object a line: source, destination, importance, data (base64) and text")
    .action(
      (
        type: string,
        lower: string,
        upper: string | undefined,
        o: { scope: "cluster" | "node"; count?: string; importance?: string; json?: boolean },
      ) =>
        run(
          (async () => {
            const range = {
              type: num("type", type),
              lower: num("lower", lower),
              upper: upper === undefined ? num("lower", lower) : num("upper", upper),
            };
            if (range.lower > range.upper)
              throw usage(`lower (${range.lower}) is greater than upper (${range.upper})`);
            const count = o.count !== undefined ? num("--count", o.count) : undefined;
            await withClient(async (c) => {
              const s = await c.socket({
                type: "rdm",
                ...(o.importance !== undefined ? { importance: Number(o.importance) as Imp } : {}),
              });
              await s.bind(range, o.scope);
              const it = s[Symbol.asyncIterator]();
              const text = new TextDecoder();
              let n = 0;
              while (count === undefined || n < count) {
                const r = await Promise.race([it.next(), io.interrupted.then(() => undefined)]);
                if (!r || r.done) break;
                const ev = r.value;
                if (ev.kind !== "message") continue;
                n++;
                if (wantJson(o))
                  io.out(
                    `${JSON.stringify({
                      source: ev.source,
                      destination: ev.destination,
                      importance: ev.importance,
                      bytes: ev.data.length,
                      data: Buffer.from(ev.data).toString("base64"),
                      text: text.decode(ev.data),
                    })}\n`,
                  );
                else {
                  const t = text.decode(ev.data);
                  io.out(t.endsWith("\n") ? t : `${t}\n`);
                }
              }
              await s.close();
            });
          })(),
        ),
    );

  /**
   * Pipes stdin to the connection and the connection to stdout, as nc. TIPC has no half-close
   * (a shutdown ends the connection both ways), so stdin's end shuts the connection down only
   * with `shutdown` (nc -N); otherwise the peer's end ends it. Resolves when it ended, rejects
   * with its typed error.
   */
  const pipeConnection = (conn: ClientConnection, what: string, shutdown: boolean) =>
    new Promise<void>((resolve, reject) => {
      const input: NodeJS.ReadableStream =
        io.stdin ?? Readable.from([Buffer.from(io.readStdinBytes ? io.readStdinBytes() : io.readStdin())]);
      const output: NodeJS.WritableStream =
        io.stdout ??
        new Writable({
          write: (chunk: Buffer, _e, cb) => {
            io.out(Buffer.from(chunk).toString());
            cb();
          },
        });
      let done = false;
      const finish = (e?: unknown) => {
        if (done) return;
        done = true;
        input.unpipe(conn);
        if (e === undefined) resolve();
        else if (isClientError(e) && e.code === "CONNECTION_REFUSED")
          reject(
            new Exit(
              EXIT.DAEMON,
              `connection to ${what} refused: nothing listens there (CONNECTION_REFUSED)`,
            ),
          );
        else if (isClientError(e))
          reject(new Exit(EXIT.DAEMON, `connection to ${what} failed: ${e.message} [${e.code}]`));
        else reject(e);
      };
      conn.on("error", finish);
      conn.on("end", () => finish());
      conn.on("close", () => finish());
      input.pipe(conn, { end: shutdown });
      conn.pipe(output, { end: false });
      void io.interrupted.then(() => {
        conn.destroy();
        finish();
      });
    });

  program
    .command("connect")
    .description(
      "connect to the service {type, instance} and pipe stdin to the connection and the connection to stdout, as nc, until the peer ends it (or, with -N, until stdin ends); exit 1 on refusal or reset",
    )
    .argument("<type>", "service type")
    .argument("<instance>", "service instance")
    .option("--node <address>", "only a socket on this node (hex 0x... or decimal)")
    .option("--seqpacket", "SOCK_SEQPACKET (each read of stdin one message) instead of SOCK_STREAM")
    .option(
      "-N, --shutdown",
      "shut the connection down at the end of stdin (as nc -N); default: wait for the peer to end it",
    )
    .action((type: string, instance: string, o: { node?: string; seqpacket?: boolean; shutdown?: boolean }) =>
      run(
        withClient(async (c) => {
          const to = {
            type: num("type", type),
            instance: num("instance", instance),
            ...(o.node !== undefined ? { node: num("--node", o.node) } : {}),
          };
          const conn = c.connect(to, { type: o.seqpacket ? "seqpacket" : "stream" });
          await pipeConnection(conn, `{${to.type}, ${to.instance}}`, o.shutdown === true);
        }),
      ),
    );

  program
    .command("accept")
    .description(
      "listen on the service {type, instance}, accept one connection and pipe it to stdin and stdout, as nc -l",
    )
    .argument("<type>", "service type")
    .argument("<instance>", "service instance")
    .addOption(
      new Option("--scope <scope>", "distribution scope").choices(["cluster", "node"]).default("cluster"),
    )
    .option("--seqpacket", "SOCK_SEQPACKET instead of SOCK_STREAM")
    .option(
      "-N, --shutdown",
      "shut the connection down at the end of stdin (as nc -N); default: wait for the peer to end it",
    )
    .action(
      (
        type: string,
        instance: string,
        o: { scope: "cluster" | "node"; seqpacket?: boolean; shutdown?: boolean },
      ) =>
        run(
          withClient(async (c) => {
            const service = { type: num("type", type), lower: num("instance", instance), scope: o.scope };
            const server = await c.listen({ service, type: o.seqpacket ? "seqpacket" : "stream" });
            const conn = await new Promise<ClientConnection | undefined>((resolve, reject) => {
              server.once("connection", resolve);
              server.once("error", reject);
              void io.interrupted.then(() => resolve(undefined));
            });
            await server.close();
            if (conn === undefined) return;
            await pipeConnection(conn, `{${service.type}, ${service.lower}}`, o.shutdown === true);
          }),
        ),
    );

  program
    .command("completion")
    .description("print a shell completion script: `source <(tipcctl completion bash)`, or for zsh")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh"]))
    .action((shell: "bash" | "zsh") => {
      io.out(completionScript(program, shell));
    });

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
              io.out(wantJson(o) ? `${JSON.stringify(messageToJSON(msg))}\n` : `${formatMessage(msg)}\n`);
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

/** `tipc`-style keyword arguments (`name udp0 remoteip 10.0.0.2`): each known key takes the next word. */
function keywords(words: string[], keys: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (let i = 0; i < words.length; i += 2) {
    const k = words[i] as string;
    const v = words[i + 1];
    if (!keys.includes(k)) throw usage(`unknown keyword ${JSON.stringify(k)} (expected ${keys.join(", ")})`);
    if (v === undefined) throw usage(`${k} needs a value`);
    if (out[k] !== undefined) throw usage(`${k} is given twice`);
    out[k] = v;
  }
  return out;
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
      // BUSY, NOT_SUPPORTED, LIMIT, DUPLICATE...: the daemon refused
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
    readStdinBytes: () => readFileSync(0),
    interrupted,
    stdin: process.stdin,
    stdout: process.stdout,
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
