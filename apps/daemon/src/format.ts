/** Text layouts of tipcctl, close to the kernel's `tipc` tool (iproute2). */
import type { BindingJSON, PeerNodeJSON } from "@tipcjs/client";

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

export function formatNodes(
  self: { address: number; nodeId: string },
  nodes: readonly PeerNodeJSON[],
): string {
  const lines = [`${pad("Node Identity", 33)} ${pad("Hash", 8)} ${pad("State", 6)} Capabilities`];
  lines.push(
    `${pad(self.nodeId, 33)} ${pad(self.address.toString(16).padStart(8, "0"), 8)} ${pad("up", 6)} (this node)`,
  );
  for (const n of nodes) {
    lines.push(
      `${pad(n.nodeId, 33)} ${pad(n.address.toString(16).padStart(8, "0"), 8)} ${pad(n.up ? "up" : "down", 6)} 0x${n.capabilities.toString(16)}${n.namedBroadcast ? " NAMED_BCAST" : ""}`,
    );
  }
  return `${lines.join("\n")}\n`;
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
