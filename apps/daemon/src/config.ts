/**
 * tipcd configuration: a file (YAML or JSON), then TIPCD_* environment variables, then flags,
 * merged in that order (flags win) and validated with zod. README.md "Configuration" lists every key.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { DEFAULT_SOCKET_PATH, defaultSocketPath } from "@tipcjs/client";
import { isMulticastAddress, nodeIdFromString } from "@tipcjs/codec";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { MAX_SOCKET_PATH_BYTES } from "./control.js";
import { readKeyFile } from "./keyfile.js";

/** Why a configuration cannot be used. */
export type ConfigErrorCode =
  /** the config file cannot be read */
  | "CONFIG_UNREADABLE"
  /** the config file is not YAML/JSON, or does not hold a mapping */
  | "CONFIG_SYNTAX"
  /** a key or value is wrong (every one in `issues`) */
  | "CONFIG_INVALID";

/** A configuration that cannot be used; `issues` lists every problem, one `path: message` each. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code: ConfigErrorCode;
  constructor(
    message: string,
    readonly issues: string[] = [],
    code: ConfigErrorCode = "CONFIG_INVALID",
  ) {
    super(issues.length ? `${message}\n${issues.map((i) => `  - ${i}`).join("\n")}` : message);
    this.code = code;
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return (
    e instanceof ConfigError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "ConfigError" && "code" in e)
  );
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Keys that would reach an object's prototype if a merge copied them. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

// Numbers from text are decimal digits only: Number() would take "0x10", "1e3", " 1_0"...
const toNumber = (v: unknown) => {
  if (typeof v !== "string") return v;
  const t = v.trim();
  if (t === "") return v;
  return /^[0-9]+$/.test(t) ? Number(t) : Number.NaN;
};
const toBool = (v: unknown) => {
  if (typeof v !== "string") return v;
  const s = v.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(s)) return true;
  if (["0", "false", "no", "off", ""].includes(s)) return false;
  return v;
};
const int = (min: number, max: number, what: string) =>
  z.preprocess(
    toNumber,
    z
      .number({ error: `${what} must be a number` })
      .int(`${what} must be an integer`)
      .min(min, `${what} must be ${min}..${max}`)
      .max(max, `${what} must be ${min}..${max}`),
  );
const bool = z.preprocess(toBool, z.boolean({ error: "must be true or false" }));
const ipLiteral = z
  .string({ error: "an IP address literal is required" })
  .refine((s) => isIP(s) !== 0, { error: "must be an IPv4 or IPv6 address literal" });

function isZeroNodeId(s: string): boolean {
  try {
    return nodeIdFromString(s).every((b) => b === 0);
  } catch {
    return false; // the format check above reports it
  }
}

/** "localhost:PORT" -> PORT (1..65535), else undefined. */
export function parseLocalhostPort(text: string): number | undefined {
  const m = /^localhost:(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[1]) : 0;
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** "ip", "ip:port", "[ipv6]:port" -> { address, port? } */
export function parseHostPort(text: string): { address: string; port?: number } | undefined {
  const t = text.trim();
  let address = t;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) {
    address = bracket[1] ?? "";
    port = bracket[2];
  } else if (isIP(t) === 0) {
    const i = t.lastIndexOf(":");
    if (i > 0) {
      address = t.slice(0, i);
      port = t.slice(i + 1);
    }
  }
  if (isIP(address) === 0) return undefined;
  if (port === undefined) return { address };
  if (!/^\d+$/.test(port) || Number(port) > 65535) return undefined;
  return { address, port: Number(port) };
}

function isLoopback(address: string): boolean {
  if (address === "localhost") return true;
  if (isIP(address) === 4) return address.startsWith("127.");
  if (isIP(address) === 6)
    return address === "::1" || address === "0:0:0:0:0:0:0:1" || /^::ffff:127\./i.test(address);
  return false;
}

/** 0.0.0.0, ::, or 255.255.255.255: an address that names no interface of this host. */
function isUnspecified(address: string): boolean {
  if (isIP(address) === 4) return address === "0.0.0.0" || address === "255.255.255.255";
  if (isIP(address) === 6) return /^[0:]+$/.test(address);
  return false;
}

/** IPv4 224.0.0.0/4 or IPv6 ff00::/8, by the codec's one test (a zone, ff02::1%eth0, names an interface). */
function isMulticast(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const bare = family === 6 ? address.replace(/%.*$/, "") : address;
  return isMulticastAddress({ family: family === 4 ? "ipv4" : "ipv6", address: bare, port: 0 });
}

/** A TIPC node address: a number, or hex digits with or without 0x. */
const tipcAddress = z.preprocess(
  (v) =>
    typeof v === "string" && /^(0x)?[0-9a-fA-F]{1,8}$/.test(v.trim()) ? Number.parseInt(v.trim(), 16) : v,
  z
    .number({ error: "a node address is a number or hex text" })
    .int()
    .min(1, "a node address is non-zero")
    .max(0xffffffff, "a node address is a u32"),
);
const nodeIdText = z
  .string({ error: "a node id is text" })
  .min(1)
  .refine(
    (s) => {
      try {
        nodeIdFromString(s);
        return true;
      } catch {
        return false;
      }
    },
    { error: "node id must be up to 16 characters, or 17..32 hex digits" },
  );

const peers = z.preprocess(
  (v) =>
    typeof v === "string"
      ? v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : v,
  z.array(
    z.string().refine((s) => parseHostPort(s) !== undefined, {
      error: (i) => `peer ${JSON.stringify(i.input)} is not "ip", "ip:port" or "[ipv6]:port"`,
    }),
    { error: "must be a list of peer addresses" },
  ),
);

const MISSING_BEARER = "bearer.localAddress is required: the local IP of the UDP bearer (e.g. 127.0.0.1)";

const bearerSchema = z
  .strictObject({
    /** default "udp0" (with `bearers`: "udp<index>") */
    name: z.string().min(1).max(15, "bearer name must be at most 15 characters").optional(),
    localAddress: z
      .string({ error: "bearer.localAddress is required: the local IP of the UDP bearer (e.g. 127.0.0.1)" })
      .pipe(ipLiteral)
      .refine((s) => !isUnspecified(s), {
        error: "localAddress must be an address of this host, not 0.0.0.0, :: or 255.255.255.255",
      })
      .refine((s) => !isMulticast(s), {
        error: "localAddress must be a unicast address of this host; a multicast group goes in group",
      }),
    localPort: int(0, 65535, "localPort").default(6118),
    mode: z.enum(["multicast", "replicast"], { error: 'mode must be "multicast" or "replicast"' }).optional(),
    group: ipLiteral.refine(isMulticast, { error: "group must be a multicast address" }).optional(),
    groupPort: int(1, 65535, "groupPort").optional(),
    multicastInterface: z.string().min(1).optional(),
    multicastTtl: int(1, 255, "multicastTtl").optional(),
    peers: peers.default([]),
    /**
     * Replicast: link only with the configured peers; never add the source of a received
     * discovery datagram as a peer (the udp transport's `learnPeers: false`). Default false.
     */
    configuredPeersOnly: bool.default(false),
  })
  .superRefine((b, ctx) => {
    const mode = b.mode ?? (b.peers.length ? "replicast" : "multicast");
    if (mode === "multicast" && b.peers.length) {
      ctx.addIssue({
        code: "custom",
        path: ["peers"],
        message: "peers are for replicast; multicast mode takes a group",
      });
    }
    if (mode === "multicast" && b.configuredPeersOnly) {
      ctx.addIssue({
        code: "custom",
        path: ["configuredPeersOnly"],
        message: "configuredPeersOnly is for replicast; multicast mode learns no peers",
      });
    }
    if (mode === "replicast" && b.group) {
      ctx.addIssue({
        code: "custom",
        path: ["group"],
        message: "group is for multicast; replicast mode takes peers",
      });
    }
    for (const p of b.peers) {
      const hp = parseHostPort(p);
      if (hp && isIP(hp.address) !== isIP(b.localAddress)) {
        ctx.addIssue({
          code: "custom",
          path: ["peers"],
          message: `peer ${p} is not of localAddress's IP family`,
        });
      }
    }
    if (b.group && isIP(b.group) !== isIP(b.localAddress)) {
      ctx.addIssue({
        code: "custom",
        path: ["group"],
        message: "group is not of localAddress's IP family",
      });
    }
  });

const baseSchema = z.strictObject({
  /** `tipc node set identity`: up to 16 characters, or 17..32 hex digits */
  nodeId: z
    .string({ error: "nodeId is required (a node identity: up to 16 characters, or 17..32 hex digits)" })
    .min(1, "nodeId must not be empty")
    .refine((s) => s.length <= 16 || (s.length <= 32 && /^[0-9a-fA-F]+$/.test(s)), {
      error: "nodeId must be up to 16 characters, or 17..32 hex digits",
    })
    .refine((s) => !isZeroNodeId(s), { error: "nodeId must not be all zero (no address derives from it)" }),
  clusterId: int(1, 9999, "clusterId").default(4711),
  legacy: bool.default(false),
  tolerance: int(50, 30000, "tolerance (ms)").default(1500),
  bearer: bearerSchema.optional(),
  /** several bearers (at most 3), instead of `bearer`: names default to udp0, udp1... */
  bearers: z
    .array(bearerSchema, { error: "bearers must be a list of bearers" })
    .min(1, "bearers must list at least one bearer")
    .max(3, "at most 3 bearers")
    .optional(),

  control: z
    .strictObject({
      path: z
        .string()
        .min(1, "control socket path must not be empty")
        .refine((s) => Buffer.byteLength(s) <= MAX_SOCKET_PATH_BYTES, {
          error: (i) =>
            `control socket path is ${Buffer.byteLength(String(i.input))} bytes; a Unix socket path takes at most ${MAX_SOCKET_PATH_BYTES}`,
        })
        .default(DEFAULT_SOCKET_PATH),
      /** file mode of the socket, octal text ("0600") or a number */
      mode: z
        .preprocess(
          (v) =>
            typeof v === "string" && /^0?o?[0-7]{3,4}$/.test(v.trim())
              ? Number.parseInt(v.trim().replace(/^0?o?/, ""), 8)
              : v,
          z
            .number({ error: 'control socket mode must be octal text such as "0600"' })
            .int()
            .min(0)
            .max(0o777),
        )
        .default(0o600),
    })
    .default({ path: DEFAULT_SOCKET_PATH, mode: 0o600 }),
  metrics: z
    .strictObject({
      /** "127.0.0.1:9464" style; loopback only. Absent: no metrics endpoint. */
      address: z
        .string()
        .refine((s) => parseHostPort(s)?.port !== undefined || parseLocalhostPort(s) !== undefined, {
          error: 'metrics address must be "ip:port" (e.g. 127.0.0.1:9464)',
        })
        .refine(
          (s) => isLoopback(s.startsWith("localhost:") ? "localhost" : (parseHostPort(s)?.address ?? "")),
          {
            error:
              "metrics address must be a loopback address (127.0.0.0/8 or ::1): metrics are not for the network",
          },
        )
        .optional(),
    })
    .default({}),
  /** encryption (issue 18): present = the node encrypts once a key is set (keys from keyFile or tipcctl) */
  crypto: z
    .strictObject({
      /** one key a line as `tipc node set key` takes them; mode 0600, owned by tipcd's user */
      keyFile: z.string().min(1, "crypto.keyFile must not be empty").optional(),
      refusePlaintext: bool.default(true),
      keyExchange: bool.default(true),
    })
    .optional(),
  /** an allow-list of peer nodes, with or without keys */
  admission: z
    .strictObject({
      /** node addresses: numbers, or hex text as tipc prints them ("0x1001001", "01001001") */
      addresses: z.array(tipcAddress, { error: "admission.addresses must be a list" }).default([]),
      nodeIds: z.array(nodeIdText, { error: "admission.nodeIds must be a list" }).default([]),
    })
    .optional(),
  log: z
    .strictObject({
      level: z
        .enum(LOG_LEVELS, { error: `log level must be one of ${LOG_LEVELS.join(", ")}` })
        .default("info"),
      /** human-readable lines (default: when stdout is a terminal) */
      pretty: bool.optional(),
    })
    .default({ level: "info" }),
});

/** The validated config: `bearers` always lists every bearer (named), `bearer` is the first. */
export const configSchema = baseSchema
  .superRefine((c, ctx) => {
    if (c.bearer === undefined && c.bearers === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["bearer"],
        message: MISSING_BEARER,
      });
    }
    if (c.bearer !== undefined && c.bearers !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["bearers"],
        message: "give bearer (one) or bearers (a list), not both",
      });
    }
    const names = new Set<string>();
    (c.bearers ?? []).forEach((b, i) => {
      const name = b.name ?? `udp${i}`;
      if (names.has(name))
        ctx.addIssue({
          code: "custom",
          path: ["bearers", i, "name"],
          message: `bearer name ${name} is used twice`,
        });
      names.add(name);
    });
  })
  .transform((c) => {
    const bearers = (c.bearers ?? (c.bearer ? [c.bearer] : [])).map((b, i) => ({
      ...b,
      name: b.name ?? `udp${i}`,
    }));
    return { ...c, bearers, bearer: bearers[0] as (typeof bearers)[number] };
  });

export type DaemonConfig = z.output<typeof configSchema>;
export type DaemonConfigInput = z.input<typeof configSchema>;

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Deep merge of plain objects; later sources win, `undefined` never overrides, and an object
 * left with nothing defined in it (an environment or flags group that was not used) is dropped.
 */
export function mergeConfig(...sources: Raw[]): Raw {
  const out: Raw = {};
  for (const src of sources) {
    for (const [k, v] of Object.entries(src)) {
      if (v === undefined || FORBIDDEN_KEYS.has(k)) continue;
      if (isObject(v)) {
        const merged = mergeConfig(isObject(out[k]) ? (out[k] as Raw) : {}, v);
        if (Object.keys(merged).length > 0) out[k] = merged;
      } else out[k] = v;
    }
  }
  return out;
}

/** Paths of `__proto__`, `constructor`, `prototype` keys anywhere in a parsed file. */
function forbiddenKeys(v: unknown, at: string): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => forbiddenKeys(x, `${at}${at ? "." : ""}${i}`));
  if (!isObject(v)) return [];
  return Object.keys(v).flatMap((k) => {
    const path = `${at}${at ? "." : ""}${k}`;
    return FORBIDDEN_KEYS.has(k) ? [path] : forbiddenKeys(v[k], path);
  });
}

/** Reads a YAML or JSON file (YAML is a superset of JSON). */
export function readConfigFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      [],
      "CONFIG_UNREADABLE",
    );
  }
  let data: unknown;
  try {
    data = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(
      `config file ${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`,
      [],
      "CONFIG_SYNTAX",
    );
  }
  if (data === null || data === undefined) return {};
  if (!isObject(data))
    throw new ConfigError(`config file ${path} must hold an object (a mapping of keys)`, [], "CONFIG_SYNTAX");
  const forbidden = forbiddenKeys(data, "");
  if (forbidden.length)
    throw new ConfigError(
      `invalid tipcd configuration in ${path}:`,
      forbidden.map((k) => `${k}: key not allowed (it would reach the object prototype)`),
    );
  return data;
}

/** TIPCD_* environment variables as a raw config (README lists them). */
export function configFromEnv(env: Record<string, string | undefined>): Raw {
  const e = (k: string) => (env[k] === undefined || env[k] === "" ? undefined : env[k]);
  return {
    nodeId: e("TIPCD_NODE_ID"),
    clusterId: e("TIPCD_CLUSTER_ID"),
    legacy: e("TIPCD_LEGACY"),
    tolerance: e("TIPCD_TOLERANCE"),
    bearer: {
      name: e("TIPCD_BEARER_NAME"),
      localAddress: e("TIPCD_LOCAL_ADDRESS"),
      localPort: e("TIPCD_LOCAL_PORT"),
      mode: e("TIPCD_MODE"),
      group: e("TIPCD_GROUP"),
      groupPort: e("TIPCD_GROUP_PORT"),
      multicastInterface: e("TIPCD_MULTICAST_INTERFACE"),
      peers: e("TIPCD_PEERS"),
      configuredPeersOnly: e("TIPCD_CONFIGURED_PEERS_ONLY"),
    },
    control: { path: e("TIPCD_SOCKET"), mode: e("TIPCD_SOCKET_MODE") },
    metrics: { address: e("TIPCD_METRICS") },
    crypto: { keyFile: e("TIPCD_KEY_FILE") },
    log: { level: e("TIPCD_LOG_LEVEL"), pretty: e("TIPCD_LOG_PRETTY") },
  };
}

/** The flags of tipcd (as commander gives them) as a raw config. */
export interface DaemonFlags {
  config?: string;
  nodeId?: string;
  clusterId?: string;
  legacy?: boolean;
  tolerance?: string;
  bearerName?: string;
  localAddress?: string;
  localPort?: string;
  mode?: string;
  group?: string;
  groupPort?: string;
  multicastInterface?: string;
  peer?: string[];
  configuredPeersOnly?: boolean;
  socket?: string;
  socketMode?: string;
  metrics?: string;
  /** a path: the key itself never goes on the command line */
  keyFile?: string;
  logLevel?: string;
  pretty?: boolean;
}

export function configFromFlags(f: DaemonFlags): Raw {
  return {
    nodeId: f.nodeId,
    clusterId: f.clusterId,
    legacy: f.legacy,
    tolerance: f.tolerance,
    bearer: {
      name: f.bearerName,
      localAddress: f.localAddress,
      localPort: f.localPort,
      mode: f.mode,
      group: f.group,
      groupPort: f.groupPort,
      multicastInterface: f.multicastInterface,
      peers: f.peer?.length
        ? f.peer
            .flatMap((p) => p.split(","))
            .map((p) => p.trim())
            .filter(Boolean)
        : undefined,
      configuredPeersOnly: f.configuredPeersOnly,
    },
    control: { path: f.socket, mode: f.socketMode },
    metrics: { address: f.metrics },
    crypto: { keyFile: f.keyFile },
    log: { level: f.logLevel, pretty: f.pretty },
  };
}

/** Validates a merged raw config. Throws ConfigError listing every problem. */
export function validateConfig(raw: unknown): DaemonConfig {
  const r = configSchema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => {
    const path = i.path.join(".");
    if (i.code === "unrecognized_keys")
      return `${path ? `${path}: ` : ""}unknown key(s) ${i.keys.join(", ")}`;
    return `${path || "(config)"}: ${i.message}`;
  });
  // zod skips the whole-object check when a field is invalid: name a missing bearer anyway
  const rawObj = isObject(raw) ? raw : {};
  if (
    rawObj.bearer === undefined &&
    rawObj.bearers === undefined &&
    !issues.some((i) => i.startsWith("bearer"))
  )
    issues.push(`bearer: ${MISSING_BEARER}`);
  throw new ConfigError("invalid tipcd configuration:", issues);
}

/** File (flags.config or TIPCD_CONFIG) < environment < flags, validated. */
export function loadConfig(
  flags: DaemonFlags,
  env: Record<string, string | undefined> = process.env,
  uid: number | undefined = process.getuid?.(),
): DaemonConfig {
  const file = flags.config ?? env.TIPCD_CONFIG;
  const fromFile = file ? readConfigFile(file) : {};
  // the socket path unless given: /run/tipcd for root, the user's runtime directory otherwise
  const defaults = { control: { path: defaultSocketPath(env, uid) } };
  const config = validateConfig(mergeConfig(defaults, fromFile, configFromEnv(env), configFromFlags(flags)));
  // a key file open to others, or unreadable, stops tipcd here (the daemon reads it again at start)
  if (config.crypto?.keyFile !== undefined) readKeyFile(config.crypto.keyFile, uid);
  return config;
}
