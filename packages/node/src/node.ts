import { NodeError } from "./errors.js";
import type { NodeOptions, TipcNode } from "./types.js";

/**
 * Starts a TIPC node on one transport: discovery, links, the name table and its distribution.
 * Resolves once the node has its final address (after the 1 s address trial unless `skipTrial`).
 */
export async function createNode(options: NodeOptions): Promise<TipcNode> {
  void options;
  throw new NodeError("BAD_OPTIONS", "not implemented yet");
}
