// What a discovery-only node knows about its cluster, read from the public @tipcjs/node API
// (`nodes()`, `links()`, the nodeUp/nodeDown events), and printed as `tipc node list` and
// `tipc link list` lay it out.
import type { TipcNode } from "@tipcjs/node";

export interface Peer {
  /** the peer's 128-bit node identity, as the kernel prints it */
  nodeId: string;
  /** its 32-bit node address (hash), 8 hex digits */
  hash: string;
  up: boolean;
  /** where discovery found it, e.g. "127.0.0.1:6118" */
  media: string;
  /** it takes binding updates on the broadcast link (TIPC_NAMED_BCAST, Linux 5.9 and later) */
  namedBroadcast: boolean;
  /** its links, one per bearer that reaches it: "udp0 ESTABLISHED" */
  links: string[];
}

const hex8 = (n: number) => n.toString(16).padStart(8, "0");

/** Every peer the node has discovered, up or down, sorted by node identity. */
export function listPeers(node: TipcNode): Peer[] {
  const links = node.links();
  return node
    .nodes()
    .map((n) => ({
      nodeId: n.nodeId,
      hash: hex8(n.address),
      up: n.up,
      media:
        n.mediaAddress.family === "ipv6"
          ? `[${n.mediaAddress.address}]:${n.mediaAddress.port}`
          : `${n.mediaAddress.address}:${n.mediaAddress.port}`,
      namedBroadcast: n.namedBroadcast,
      links: links.filter((l) => l.peer === n.address).map((l) => `${l.bearerName} ${l.state}`),
    }))
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
}

/** The peers as a table: `tipc node list`'s columns, then where each was found and its links. */
export function formatPeers(self: TipcNode, peers: Peer[]): string {
  const rows = [
    ["Node Identity", "Hash", "State", "Found at", "Updates", "Links"],
    [self.nodeId, hex8(self.address), "up", "(this node)", "", ""],
    ...peers.map((p) => [
      p.nodeId,
      p.hash,
      p.up ? "up" : "down",
      p.media,
      p.namedBroadcast ? "broadcast" : "replicast",
      p.links.join(", "),
    ]),
  ];
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => r[c]?.length ?? 0))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Calls `print` with a line for each peer that comes up or goes down; returns the unsubscribe. */
export function watchPeers(node: TipcNode, print: (line: string) => void): () => void {
  const offUp = node.on("nodeUp", (n) => print(`up    ${n.nodeId} (${hex8(n.address)})`));
  // nodeDown carries only the address: the identity is still in nodes() (a known node, down).
  const offDown = node.on("nodeDown", (n) => {
    const id = node.nodes().find((p) => p.address === n.address)?.nodeId ?? "?";
    print(`down  ${id} (${hex8(n.address)})`);
  });
  return () => {
    offUp();
    offDown();
  };
}
