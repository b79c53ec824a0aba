// Two TIPC nodes over the Unix datagram transport: the "carries a two-node cluster" half of
// the example, used by the demo and by the test.
import { createNode, type TipcNode } from "@tipcjs/node";
import { unixTransport } from "./unix-transport.js";

/** Starts one node on the shared socket directory. */
export function startNode(directory: string, nodeId: string): Promise<TipcNode> {
  const transport = unixTransport({ directory });
  // The node sends discovery to transport.peers() (the other sockets in the directory)
  // because the transport cannot broadcast; it closes the transport in node.close().
  return createNode({ nodeId, transport, skipTrial: true, bearerName: "unix0" });
}

/** Waits (real time) until `done()` holds, or throws after `ms`. */
export async function waitFor(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
