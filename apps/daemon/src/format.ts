/** Text layouts of tipcctl, close to the kernel's `tipc` tool (iproute2). */
import type { BindingJSON, LinkJSON, LinkStatJSON, PeerNodeJSON } from "@tipcjs/client";

const pad = (v: string | number, w: number) => String(v).padEnd(w);

/**
 * `tipc nametable show`: `%-10s %-10s %-10s %-8s %-10s %s` with the node column the node's id
 * when known (as the kernel's hash2nodestr does), else its address in hex.
 */
export function formatNameTable(
  bindings: readonly BindingJSON[],
  nodeIds: ReadonlyMap<number, string>,
): string {
  const lines = [
    `${pad("Type", 10)} ${pad("Lower", 10)} ${pad("Upper", 10)} ${pad("Scope", 8)} ${pad("Port", 10)} ${pad("Node", 33)}`,
  ];
  for (const b of bindings) {
    lines.push(
      `${pad(b.type, 10)} ${pad(b.lower, 10)} ${pad(b.upper, 10)} ${pad(b.scope, 8)} ${pad(b.port, 10)} ${nodeIds.get(b.node) ?? b.node.toString(16)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** `tipc nametable show -j` keys: type, lower, upper, scope, port, node (the node string). */
export function nameTableJSON(bindings: readonly BindingJSON[], nodeIds: ReadonlyMap<number, string>) {
  return bindings.map((b) => ({
    type: b.type,
    lower: b.lower,
    upper: b.upper,
    scope: b.scope,
    port: b.port,
    node: nodeIds.get(b.node) ?? b.node.toString(16),
    address: b.node,
    key: b.key,
  }));
}

/**
 * `tipc node list`: `Node Identity                    Hash     State`, then `%-32s %08x up|down`
 * a node, this node first.
 */
export function formatNodes(
  self: { address: number; nodeId: string },
  nodes: readonly PeerNodeJSON[],
): string {
  const lines = ["Node Identity                    Hash     State"];
  for (const n of nodeListJSON(self, nodes)) lines.push(`${pad(n.identity, 32)} ${n.hash} ${n.state}`);
  return `${lines.join("\n")}\n`;
}

/** `node list -j`: the columns of `tipc node list`, with the address and capabilities. */
export function nodeListJSON(self: { address: number; nodeId: string }, nodes: readonly PeerNodeJSON[]) {
  const hash = (a: number) => a.toString(16).padStart(8, "0");
  return [
    { identity: self.nodeId, hash: hash(self.address), state: "up", address: self.address, self: true },
    ...nodes.map((n) => ({
      identity: n.nodeId,
      hash: hash(n.address),
      state: n.up ? "up" : "down",
      address: n.address,
      capabilities: n.capabilities,
      namedBroadcast: n.namedBroadcast,
    })),
  ];
}

/** `tipc link list`: `broadcast-link: up`, then `NAME: up|down` a link (up: established). */
export function formatLinkList(broadcastUp: boolean, links: readonly LinkJSON[]): string {
  return Object.entries(linkListJSON(broadcastUp, links))
    .map(([name, state]) => `${name}: ${state}\n`)
    .join("");
}

/** `tipc link list -j`: one object, `{"broadcast-link": "up", "NAME": "up"|"down", ...}`. */
export function linkListJSON(
  broadcastUp: boolean,
  links: readonly LinkJSON[],
): Record<string, "up" | "down"> {
  const out: Record<string, "up" | "down"> = { "broadcast-link": broadcastUp ? "up" : "down" };
  for (const l of links) out[l.name] = String(l.state).toUpperCase() === "ESTABLISHED" ? "up" : "down";
  return out;
}

/** `tipc link stat show`: a `Link <NAME>` block a link, with what tipcd counts. */
export function formatLinkStats(links: readonly LinkStatJSON[]): string {
  const blocks = links.map((l) => {
    const lines = [`Link <${l.name}>`];
    if (l.mtu === undefined) {
      lines.push(`  ${l.state.toUpperCase()}  Window:${l.window} packets`);
      lines.push(`  TX packets:${l.txPackets} retrans:${l.retransmitted ?? 0}`);
    } else {
      lines.push(
        `  ${l.state}  MTU:${l.mtu}  Priority:${l.priority}  Tolerance:${l.tolerance} ms  Window:${l.window} packets`,
      );
      lines.push(`  RX packets:${l.rxPackets ?? 0}`);
      lines.push(`  TX packets:${l.txPackets}`);
      lines.push(
        `  Send queue:${l.transmitQueue ?? 0} backlog:${l.backlog ?? 0} deferred:${l.deferred ?? 0}`,
      );
    }
    return `${lines.join("\n")}\n`;
  });
  return blocks.join("\n");
}

/** Strict u32 parsing of a CLI argument: decimal or 0x hex, nothing else. */
export function parseU32(text: string): number | undefined {
  const t = text.trim();
  let v: number;
  if (/^0x[0-9a-f]{1,8}$/i.test(t)) v = Number.parseInt(t.slice(2), 16);
  else if (/^\d{1,10}$/.test(t)) v = Number(t);
  else return undefined;
  return v <= 0xffffffff ? v : undefined;
}
