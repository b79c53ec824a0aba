/** tipcd as a library: one node over UDP, its control socket and its metrics endpoint. */
import { createNode, type Logger, type MediaAddress, type NodeKey, type TipcNode } from "@tipcjs/node";
import { udpTransport } from "@tipcjs/transport-udp";
import { type DaemonConfig, parseHostPort, parseLocalhostPort } from "./config.js";
import { type ControlServer, prepareSocketPath, startControlServer } from "./control.js";
import { readKeyFile } from "./keyfile.js";
import { rateLimitLogger } from "./log.js";
import { createMetricsRegistry, healthOf, type MetricsServer, startMetricsServer } from "./metrics.js";

export interface Daemon {
  readonly node: TipcNode;
  readonly control: ControlServer;
  readonly metrics: MetricsServer | undefined;
  /**
   * Applies a new configuration (SIGHUP): replicast peers added to and removed from each bearer,
   * and the log level. What cannot change without a restart (node id, addresses, ports, bearers,
   * the control socket, metrics) is left as it was and named in `ignored`.
   */
  reload(config: DaemonConfig): ReloadResult;
  /** Graceful stop: control socket closed, node.close() (withdrawals reach peers at once), metrics closed. */
  close(): Promise<void>;
}

export interface ReloadResult {
  /** `bearer ip:port` */
  added: string[];
  removed: string[];
  /** the new log level, if it changed */
  logLevel?: string;
  /** keys that changed and need a restart */
  ignored: string[];
  /** keys of the key file set anew (a rotation: the kernel's pending → active switch, no link reset) */
  keysSet?: number;
  /** why the key file could not be applied (the running keys stay) */
  keyError?: string;
}

export interface StartOptions {
  /** every line goes through a rate limit per kind (log.ts: 10 per 10 s, then a count) */
  logger: Logger;
  version?: string;
  /** sets the log level on reload (tipcd passes pino's) */
  setLogLevel?: (level: string) => void;
}

export async function startDaemon(config: DaemonConfig, options: StartOptions): Promise<Daemon> {
  const logger = rateLimitLogger(options.logger);
  // a path that cannot serve fails before any UDP socket is opened or the node starts
  await prepareSocketPath(config.control.path);
  const transports: Transport[] = [];
  const described: string[] = [];
  let node: TipcNode;
  // the key file is read before any socket opens: a bad one (ConfigError) starts nothing
  let keys: NodeKey[] = config.crypto?.keyFile !== undefined ? readKeyFile(config.crypto.keyFile) : [];
  try {
    for (const b of config.bearers) {
      const mode = b.mode ?? (b.peers.length ? "replicast" : "multicast");
      const t = await openBearer(b, mode, config.clusterId);
      transports.push(t);
      described.push(`${b.name} ${t.localAddress.address}:${t.localAddress.port} ${mode}`);
    }
    node = await createNode({
      nodeId: config.nodeId,
      netId: config.clusterId,
      legacy: config.legacy,
      tolerance: config.tolerance,
      bearers: config.bearers.map((b, i) => ({ name: b.name, transport: transports[i] as Transport })),
      logger,
      ...(config.crypto !== undefined
        ? {
            crypto: {
              keys,
              refusePlaintext: config.crypto.refusePlaintext,
              keyExchange: config.crypto.keyExchange,
            },
          }
        : {}),
      ...(config.admission !== undefined
        ? { admission: { addresses: config.admission.addresses, nodeIds: config.admission.nodeIds } }
        : {}),
    });
  } catch (e) {
    await Promise.all(transports.map((t) => t.close().catch(() => {})));
    throw e;
  }
  // node up/down, link up/down, duplicate addresses and transport errors: the node logs each once

  let control: ControlServer;
  try {
    control = await startControlServer(node, {
      path: config.control.path,
      mode: config.control.mode,
      logger,
      ...(options.version ? { version: options.version } : {}),
    });
  } catch (e) {
    await node.close();
    throw e;
  }
  let metrics: MetricsServer | undefined;
  if (config.metrics.address) {
    const a = config.metrics.address;
    const localhostPort = parseLocalhostPort(a);
    const hp = localhostPort !== undefined ? { address: "127.0.0.1", port: localhostPort } : parseHostPort(a);
    try {
      metrics = await startMetricsServer(
        createMetricsRegistry(node, {
          controlConnections: () => control.connections,
          controlDisconnects: () => control.stats().disconnects,
          controlUnsentPeak: () => control.stats().unsentPeak,
          controlSockets: () => control.stats().sockets,
        }),
        hp?.address ?? "127.0.0.1",
        hp?.port ?? 9464,
        () => healthOf(node),
      );
    } catch (e) {
      await control.close();
      await node.close();
      throw e;
    }
  }
  logger.info(
    {
      nodeId: node.nodeId,
      address: hex(node.address),
      netId: node.netId,
      legacy: node.legacy,
      bearers: described,
      control: control.path,
      metrics: metrics?.address,
    },
    "tipcd started",
  );
  let closing: Promise<void> | undefined;
  let current = config;
  const reload = (next: DaemonConfig): ReloadResult => {
    const result: ReloadResult = { added: [], removed: [], ignored: [] };
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    for (const key of [
      "nodeId",
      "clusterId",
      "legacy",
      "tolerance",
      "control",
      "metrics",
      "crypto",
      "admission",
    ] as const)
      if (key !== "crypto" && !same(current[key], next[key])) result.ignored.push(key);
    // the key file is read again: keys not set before are set now (rotation without a link reset)
    const { keyFile: _k, ...cryptoRest } = next.crypto ?? {};
    const { keyFile: _o, ...cryptoWas } = current.crypto ?? {};
    if ((next.crypto === undefined) !== (current.crypto === undefined) || !same(cryptoRest, cryptoWas))
      result.ignored.push("crypto");
    else if (next.crypto?.keyFile !== undefined) {
      try {
        const fresh = readKeyFile(next.crypto.keyFile);
        const had = new Set(keys.map((k) => JSON.stringify(k)));
        let n = 0;
        for (const k of fresh)
          if (!had.has(JSON.stringify(k))) {
            node.setKey(k);
            n++;
          }
        keys = fresh;
        if (n > 0) result.keysSet = n;
      } catch (e) {
        result.keyError = (e as Error).message;
        logger.warn({ error: result.keyError }, "key file not applied");
      }
    }
    const before = new Map(current.bearers.map((b) => [b.name, b]));
    if (
      !same(
        [...before.keys()],
        next.bearers.map((b) => b.name),
      )
    )
      result.ignored.push("bearers");
    for (const b of next.bearers) {
      const old = before.get(b.name);
      if (old === undefined) continue;
      const { peers: _p, ...rest } = b;
      const { peers: _q, ...oldRest } = old;
      if (!same(rest, oldRest)) result.ignored.push(`bearers.${b.name}`);
      const mode = old.mode ?? (old.peers.length ? "replicast" : "multicast");
      if (mode !== "replicast") continue;
      const key = (a: MediaAddress) => `${a.address}:${a.port}`;
      const was = old.peers.map(peerAddress);
      const now = b.peers.map(peerAddress);
      const wasKeys = new Set(was.map(key));
      const nowKeys = new Set(now.map(key));
      for (const a of now.filter((x) => !wasKeys.has(key(x)))) {
        node.addPeer(b.name, a);
        result.added.push(`${b.name} ${key(a)}`);
      }
      for (const a of was.filter((x) => !nowKeys.has(key(x)))) {
        node.removePeer(a);
        result.removed.push(`${b.name} ${key(a)}`);
      }
    }
    if (next.log.level !== current.log.level) {
      options.setLogLevel?.(next.log.level);
      result.logLevel = next.log.level;
    }
    if (!same(current.log.pretty, next.log.pretty)) result.ignored.push("log.pretty");
    current = {
      ...next,
      // what was not applied stays as it runs
      nodeId: current.nodeId,
      clusterId: current.clusterId,
      legacy: current.legacy,
      tolerance: current.tolerance,
      control: current.control,
      metrics: current.metrics,
      crypto: result.ignored.includes("crypto") ? current.crypto : next.crypto,
      admission: current.admission,
    };
    logger.info({ ...result }, "configuration reloaded");
    return result;
  };
  return {
    node,
    control,
    metrics,
    reload,
    close: () => {
      closing ??= (async () => {
        await control.close();
        await node.close();
        await metrics?.close();
        logger.info({}, "tipcd stopped");
        logger.close();
      })();
      return closing;
    },
  };
}

type BearerConfig = DaemonConfig["bearers"][number];
type Transport = Awaited<ReturnType<typeof udpTransport>>;

/** One UDP bearer's transport, as the config describes it. */
function openBearer(b: BearerConfig, mode: "multicast" | "replicast", clusterId: number): Promise<Transport> {
  return udpTransport({
    localAddress: b.localAddress,
    localPort: b.localPort,
    mode,
    clusterId,
    learnPeers: !b.configuredPeersOnly,
    ...(b.group ? { group: b.group } : {}),
    ...(b.groupPort ? { groupPort: b.groupPort } : {}),
    ...(b.multicastInterface ? { multicastInterface: b.multicastInterface } : {}),
    ...(b.multicastTtl ? { multicastTtl: b.multicastTtl } : {}),
    ...(mode === "replicast" ? { peers: b.peers.map(peerAddress) } : {}),
  });
}

/** A configured peer (`ip`, `ip:port`, `[ipv6]:port`; validated by the config) as a media address. */
function peerAddress(p: string): MediaAddress {
  const hp = parseHostPort(p);
  if (!hp) throw new Error(`bad peer ${p}`);
  const family = hp.address.includes(":") ? ("ipv6" as const) : ("ipv4" as const);
  return { family, address: hp.address, port: hp.port ?? 6118 };
}

const hex = (a: number) => a.toString(16).padStart(8, "0");
