/** Prometheus metrics of one node (prom-client), served on a loopback HTTP port. README "Metrics" lists them. */
import { createServer, type Server } from "node:http";
import { DISTRIBUTOR_DROP_CAUSES } from "@tipcjs/distributor";
import { LINK_DROP_CAUSES } from "@tipcjs/link";
import { NODE_TRANSPORT_DROP_CAUSES, type TipcNode } from "@tipcjs/node";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { ControlDisconnectCause } from "./control.js";

export interface MetricsServer {
  readonly registry: Registry;
  /** "host:port" actually bound (port 0 resolves to a real port) */
  readonly address: string;
  close(): Promise<void>;
}

/** Every control disconnect cause at 0: a Record over control.ts's union, so the compiler keeps the two alike. */
const NO_DISCONNECTS: Readonly<Record<ControlDisconnectCause, 0>> = {
  "connection-limit": 0,
  "slow-client": 0,
  "queued-events": 0,
  "line-too-long": 0,
  "bad-frame": 0,
};

/** A counter whose value is read from the node at scrape time; every series is exported, 0 included. */
function mirroredCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string>, number][],
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.inc(labels, v);
    },
  });
}

function gauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string>, number][],
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.set(labels, v);
    },
  });
}

export function createMetricsRegistry(
  node: TipcNode,
  extra: {
    controlConnections: () => number;
    /** control connections refused or ended by the daemon, by cause (ControlServer.stats()) */
    controlDisconnects?: () => Partial<Record<ControlDisconnectCause, number>>;
    /** the most output bytes that ever waited for one control client (ControlServer.stats()) */
    controlUnsentPeak?: () => number;
    /** sockets open through the control socket (ControlServer.stats()) */
    controlSockets?: () => number;
  },
): Registry {
  const registry = new Registry();
  // tipcd_process_cpu_seconds_total, tipcd_process_resident_memory_bytes, tipcd_nodejs_eventloop_lag_seconds...
  collectDefaultMetrics({ register: registry, prefix: "tipcd_" });
  // One stats() snapshot per scrape: the collectors below run back to back.
  let snap: ReturnType<TipcNode["stats"]> | undefined;
  let snapAt = -1;
  const stats = () => {
    const now = Date.now();
    if (!snap || now !== snapAt) {
      snap = node.stats();
      snapAt = now;
    }
    return snap;
  };
  gauge(registry, "tipcd_bindings", "Bindings in the name table (all, and this node's own)", ["kind"], () => [
    [{ kind: "total" }, stats().bindings.total],
    [{ kind: "own" }, stats().bindings.own],
  ]);
  gauge(registry, "tipcd_nodes", "Peer nodes known, and up", ["state"], () => [
    [{ state: "known" }, stats().nodes.known],
    [{ state: "up" }, stats().nodes.up],
  ]);
  gauge(registry, "tipcd_links_up", "Unicast links established", [], () => [[{}, stats().links.up]]);
  gauge(registry, "tipcd_subscriptions", "Topology subscriptions open", [], () => [
    [{}, stats().subscriptions],
  ]);
  gauge(registry, "tipcd_control_connections", "Clients connected to the control socket", [], () => [
    [{}, extra.controlConnections()],
  ]);
  gauge(registry, "tipcd_control_sockets", "Sockets open for control clients (socketOpen)", [], () => [
    [{}, extra.controlSockets?.() ?? 0],
  ]);
  mirroredCounter(
    registry,
    "tipcd_control_disconnects_total",
    "Control connections refused or ended by the daemon, by cause",
    ["cause"],
    () =>
      Object.entries({ ...NO_DISCONNECTS, ...extra.controlDisconnects?.() }).map(([cause, n]) => [
        { cause },
        n,
      ]),
  );
  gauge(
    registry,
    "tipcd_subscription_events_queued",
    "Subscription events queued in the node, not yet taken by their readers (all subscriptions)",
    [],
    () => [[{}, stats().subscriptionEvents.queued]],
  );
  mirroredCounter(
    registry,
    "tipcd_subscription_overflows_total",
    "Subscriptions the node ended because their reader fell behind (SUBSCRIPTION_OVERFLOW)",
    [],
    () => [[{}, stats().subscriptionEvents.overflows]],
  );
  gauge(
    registry,
    "tipcd_control_unsent_peak_bytes",
    "The most output that ever waited for one control client (bounded by its high water mark plus one piece)",
    [],
    () => [[{}, extra.controlUnsentPeak?.() ?? 0]],
  );
  gauge(
    registry,
    "tipcd_update_method",
    "Method of the next binding update (1 for the one in use)",
    ["method"],
    () => [
      [{ method: "broadcast" }, stats().updates.method === "broadcast" ? 1 : 0],
      [{ method: "replicast" }, stats().updates.method === "replicast" ? 1 : 0],
    ],
  );
  mirroredCounter(
    registry,
    "tipcd_updates_sent_total",
    "Binding updates sent, by method: broadcast link, replicast (one unicast copy per peer), bulk at link up",
    ["method"],
    () => [
      [{ method: "broadcast" }, stats().updates.broadcast],
      [{ method: "replicast" }, stats().updates.replicast],
      [{ method: "bulk" }, stats().updates.bulk],
    ],
  );
  mirroredCounter(
    registry,
    "tipcd_update_method_switches_total",
    "Switches between broadcast and replicast",
    [],
    () => [[{}, stats().updates.methodSwitches]],
  );
  gauge(
    registry,
    "tipcd_held_out_of_order",
    "Binding updates held out of order by the distributor, now and peak",
    ["kind"],
    () => [
      [{ kind: "now" }, stats().held.now],
      [{ kind: "peak" }, stats().held.peak],
    ],
  );
  mirroredCounter(
    registry,
    "tipcd_drops_total",
    "Input dropped, by layer and cause",
    ["layer", "cause"],
    () => {
      const out: [Record<string, string>, number][] = [];
      const d = stats().drops;
      // every known cause is exported at 0 from the first scrape, so a rate() over it works
      // before the first drop; a cause not listed (a transport's own) still appears once counted
      const known = {
        distributor: DISTRIBUTOR_DROP_CAUSES,
        link: LINK_DROP_CAUSES,
        transport: NODE_TRANSPORT_DROP_CAUSES,
        crypto: [],
      };
      for (const layer of ["distributor", "link", "transport", "crypto"] as const) {
        const all: Record<string, number> = {};
        for (const cause of known[layer] as readonly string[]) all[cause] = 0;
        Object.assign(all, d[layer]);
        for (const [cause, n] of Object.entries(all)) out.push([{ layer, cause }, n]);
      }
      return out;
    },
  );
  if (node.cryptoStatus() !== undefined) {
    // issue 18: what an operator alerts on, apart from the other crypto drop causes
    const crypto = () => stats().drops.crypto ?? {};
    mirroredCounter(
      registry,
      "tipcd_crypto_decrypt_failures_total",
      "Datagrams that failed authentication (wrong key, forged or corrupted)",
      [],
      () => [[{}, crypto()["crypto-auth-failed"] ?? 0]],
    );
    mirroredCounter(
      registry,
      "tipcd_crypto_replays_total",
      "Encrypted datagrams refused as replays (a seqno seen before, or older than the window)",
      [],
      () => [[{}, crypto()["crypto-replay"] ?? 0]],
    );
  }
  mirroredCounter(
    registry,
    "tipcd_retransmissions_total",
    "Packets retransmitted, by link kind",
    ["link"],
    () => [
      [{ link: "unicast" }, stats().retransmissions.unicast],
      [{ link: "broadcast" }, stats().retransmissions.broadcast],
    ],
  );
  gauge(registry, "tipcd_bearer_links_up", "Links established on each bearer", ["bearer"], () => {
    const links = node.links();
    return node
      .bearers()
      .map((b) => [
        { bearer: b.name },
        links.filter((l) => l.bearerName === b.name && l.state === "ESTABLISHED").length,
      ]);
  });
  mirroredCounter(
    registry,
    "tipcd_link_failovers_total",
    "Links that failed while another link to the same peer carried on (traffic failed over)",
    [],
    () => [[{}, stats().link.failovers]],
  );
  return registry;
}

/** What GET /healthz answers: the node's state, with its bearers and links. */
export interface Health {
  /**
   * ok: running, a bearer up, and a link up to every peer it knows (or no peer known yet);
   * degraded: running with a bearer up, but a known peer is down; down: closed or every bearer disabled
   */
  status: "ok" | "degraded" | "down";
  address: string;
  bearers: { name: string; up: boolean }[];
  links: { up: number; total: number };
  nodes: { up: number; known: number };
}

export function healthOf(node: TipcNode): Health {
  const bearers = node.bearers().map((b) => ({ name: b.name, up: b.enabled }));
  const links = node.links();
  const nodes = node.nodes();
  const upNodes = nodes.filter((n) => n.up).length;
  const status =
    node.closed || !bearers.some((b) => b.up) ? "down" : upNodes < nodes.length ? "degraded" : "ok";
  return {
    status,
    address: node.address.toString(16).padStart(8, "0"),
    bearers,
    links: { up: links.filter((l) => l.state === "ESTABLISHED").length, total: links.length },
    nodes: { up: upNodes, known: nodes.length },
  };
}

/**
 * Serves GET /metrics and GET /healthz on a loopback host:port. /healthz answers 200 with the
 * node's `Health` as JSON when it is `ok` or `degraded`, 503 when it is `down`.
 */
export async function startMetricsServer(
  registry: Registry,
  host: string,
  port: number,
  health?: () => Health,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        },
        (e: Error) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`${e.message}\n`);
        },
      );
    } else if (req.method === "GET" && req.url === "/healthz") {
      const h = health?.();
      res.writeHead(h?.status === "down" ? 503 : 200, { "content-type": "application/json" });
      res.end(`${JSON.stringify(h ?? { status: "ok" })}\n`);
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found: try /metrics\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address();
  const bound =
    typeof a === "object" && a
      ? `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`
      : `${host}:${port}`;
  return {
    registry,
    address: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
