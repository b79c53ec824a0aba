/**
 * Parsers for what iproute2's `tipc` (6.1) prints in the guest. They take the command's output
 * and ignore lines they do not recognise (headers, blank lines).
 */

export type Scope = "cluster" | "node";

/** One row of `tipc nametable show`. */
export interface NameTableEntry {
  type: number;
  lower: number;
  upper: number;
  scope: Scope;
  port: number;
  /** the publishing node's identity as `tipc` prints it (its id string, or the hex hash) */
  node: string;
}

/** One row of `tipc link list`. */
export interface LinkEntry {
  /** e.g. "broadcast-link" or "guest1:b1-hostpeer:hb0" */
  name: string;
  /** "up" or "down" (anything else is kept as printed) */
  state: string;
  broadcast: boolean;
}

/** One row of `tipc node list` (or of `tipc node get identity`, which has no state). */
export interface NodeEntry {
  identity: string;
  /** the 32-bit node address (hash of the identity) */
  address: number;
  state: string;
}

const NAMETABLE_ROW = /^(\d+)\s+(\d+)\s+(\d+)\s+(cluster|node)\s+(\d+)\s+(\S+)\s*$/;

export function parseNameTable(output: string): NameTableEntry[] {
  const rows: NameTableEntry[] = [];
  for (const line of output.split("\n")) {
    const m = NAMETABLE_ROW.exec(line.trim());
    if (!m) continue;
    rows.push({
      type: Number(m[1]),
      lower: Number(m[2]),
      upper: Number(m[3]),
      scope: m[4] as Scope,
      port: Number(m[5]),
      node: m[6] as string,
    });
  }
  return rows;
}

export function parseLinkList(output: string): LinkEntry[] {
  const rows: LinkEntry[] = [];
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    const at = line.lastIndexOf(": ");
    if (at <= 0) continue;
    const name = line.slice(0, at);
    const state = line.slice(at + 2).trim();
    if (!state || /\s/.test(state)) continue;
    rows.push({ name, state, broadcast: name === "broadcast-link" });
  }
  return rows;
}

const NODE_ROW = /^(\S+)\s+([0-9a-fA-F]{1,8})(?:\s+(\S+))?\s*$/;

export function parseNodeList(output: string): NodeEntry[] {
  const rows: NodeEntry[] = [];
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("Node Identity")) continue;
    const m = NODE_ROW.exec(line);
    if (!m) continue;
    rows.push({
      identity: m[1] as string,
      address: Number.parseInt(m[2] as string, 16),
      state: m[3] ?? "",
    });
  }
  return rows;
}

/** The link whose name says it leads to `peerIdentity` (names read "own:bearer-peer:peerbearer"). */
export function findLinkTo(links: LinkEntry[], peerIdentity: string): LinkEntry | undefined {
  return links.find((l) => !l.broadcast && l.name.includes(`-${peerIdentity}:`));
}
