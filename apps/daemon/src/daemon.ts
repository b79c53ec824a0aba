/** tipcd as a library: one node over UDP, its control socket and its metrics endpoint. */
import { createNode, type Logger, type TipcNode } from "@tipcjs/node";
import { udpTransport } from "@tipcjs/transport-udp";
import { type DaemonConfig, parseHostPort } from "./config.js";
import { type ControlServer, startControlServer } from "./control.js";
import { createMetricsRegistry, type MetricsServer, startMetricsServer } from "./metrics.js";

export interface Daemon {
  readonly node: TipcNode;
  readonly control: ControlServer;
  readonly metrics: MetricsServer | undefined;
  /** Graceful stop: control socket closed, node.close() (withdrawals reach peers at once), metrics closed. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  version?: string;
}

export async function startDaemon(config: DaemonConfig, options: StartOptions): Promise<Daemon> {
  const { logger } = options;
  const b = config.bearer;
  const mode = b.mode ?? (b.peers.length ? "replicast" : "multicast");
  const transport = await udpTransport({
    localAddress: b.localAddress,
    localPort: b.localPort,
    mode,
    clusterId: config.clusterId,
    ...(b.group ? { group: b.group } : {}),
    ...(b.groupPort ? { groupPort: b.groupPort } : {}),
    ...(b.multicastInterface ? { multicastInterface: b.multicastInterface } : {}),
    ...(b.multicastTtl ? { multicastTtl: b.multicastTtl } : {}),
    ...(mode === "replicast"
      ? {
          peers: b.peers.map((p) => {
            const hp = parseHostPort(p);
            if (!hp) throw new Error(`bad peer ${p}`);
            const family = hp.address.includes(":") ? ("ipv6" as const) : ("ipv4" as const);
            return { family, address: hp.address, port: hp.port ?? 6118 };
          }),
        }
      : {}),
  });
  let node: TipcNode;
  try {
    node = await createNode({
      nodeId: config.nodeId,
      netId: config.clusterId,
      legacy: config.legacy,
      tolerance: config.tolerance,
      bearerName: b.name,
      transport,
      logger,
    });
  } catch (e) {
    await transport.close().catch(() => {});
    throw e;
  }
  node.on("nodeUp", (n) =>
    logger.info({ peer: hex(n.address), nodeId: n.nodeId, capabilities: n.capabilities }, "node up"),
  );
  node.on("nodeDown", (n) => logger.info({ peer: hex(n.address) }, "node down"));
  node.on("linkUp", (l) => logger.info({ link: l.name }, "link up"));
  node.on("linkDown", (l) => logger.info({ link: l.name, reason: l.reason }, "link down"));
  node.on("duplicateAddress", (d) =>
    logger.warn({ address: hex(d.address), from: d.mediaAddress }, "duplicate address"),
  );
  node.on("transportError", (t) => logger.warn({ err: t.error }, "transport error"));

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
    const hp = a.startsWith("localhost:")
      ? { address: "127.0.0.1", port: Number(a.slice(10)) }
      : parseHostPort(a);
    try {
      metrics = await startMetricsServer(
        createMetricsRegistry(node, { controlConnections: () => control.connections }),
        hp?.address ?? "127.0.0.1",
        hp?.port ?? 9464,
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
      bearer: `${b.name} ${transport.localAddress.address}:${transport.localAddress.port} ${mode}`,
      control: control.path,
      metrics: metrics?.address,
    },
    "tipcd started",
  );
  let closing: Promise<void> | undefined;
  return {
    node,
    control,
    metrics,
    close: () => {
      closing ??= (async () => {
        await control.close();
        await node.close();
        await metrics?.close();
        logger.info({}, "tipcd stopped");
      })();
      return closing;
    },
  };
}

const hex = (a: number) => a.toString(16).padStart(8, "0");
