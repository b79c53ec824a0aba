/** Prometheus metrics of one node (prom-client), served on a loopback HTTP port. README "Metrics" lists them. */
import { createServer, type Server } from "node:http";
import type { TipcNode } from "@tipcjs/node";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";

export interface MetricsServer {
  readonly registry: Registry;
  /** "host:port" actually bound (port 0 resolves to a real port) */
  readonly address: string;
  close(): Promise<void>;
}

/** A counter whose value is read from the node at scrape time. */
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
      for (const [labels, v] of read()) if (v > 0) this.inc(labels, v);
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
    controlDisconnects?: () => Record<string, number>;
  },
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tipcd_process_" });
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
  mirroredCounter(
    registry,
    "tipcd_control_disconnects_total",
    "Control connections refused or ended by the daemon, by cause",
    ["cause"],
    () => Object.entries(extra.controlDisconnects?.() ?? {}).map(([cause, n]) => [{ cause }, n]),
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
      for (const layer of ["distributor", "link", "transport"] as const) {
        for (const [cause, n] of Object.entries(d[layer])) out.push([{ layer, cause }, n]);
      }
      return out;
    },
  );
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

/** Serves GET /metrics (and /healthz) on a loopback host:port. */
export async function startMetricsServer(
  registry: Registry,
  host: string,
  port: number,
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
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
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
