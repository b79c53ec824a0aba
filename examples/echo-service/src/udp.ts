// Nodes over UDP on loopback: the kernel's UDP bearer wire format, so the same nodes could
// link with Linux kernel TIPC nodes on a real network.
import { createNode, type TipcNode } from "@tipcjs/node";
import { udpTransport } from "@tipcjs/transport-udp";
import { runScenario, type ScenarioRun } from "./scenario.js";

export interface UdpNodeOptions {
  nodeId: string;
  /** 127.0.0.1 by default; this example stays on loopback */
  host?: string;
  /** the UDP port of this node's bearer (0: any free port) */
  port: number;
  /** where the other node is, "127.0.0.1:6118"; a node given none learns peers from their discovery */
  peers?: string[];
}

/** "127.0.0.1:6118" or "127.0.0.1" (port 6118, the kernel's UDP bearer port). */
export function parsePeer(text: string): { family: "ipv4"; address: string; port: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(text.trim());
  const port = Number(m?.[2] ?? 6118);
  if (!m?.[1] || port < 1 || port > 65_535) throw new Error(`not an IPv4 address[:port]: "${text}"`);
  return { family: "ipv4", address: m[1], port };
}

/** A replicast UDP bearer: discovery goes to `peers` and to the peers it learns. */
function loopbackTransport(port: number, peers: string[] = [], host = "127.0.0.1") {
  return udpTransport({
    localAddress: host,
    localPort: port,
    mode: "replicast",
    peers: peers.map(parsePeer),
  });
}

/** A node with one UDP bearer. */
export async function udpNode(options: UdpNodeOptions): Promise<TipcNode> {
  const transport = await loopbackTransport(options.port, options.peers, options.host);
  // Resolves after the kernel's 1 s address trial (no other node may hold our address).
  try {
    return await createNode({ nodeId: options.nodeId, transport });
  } catch (e) {
    // a refused option (a node id too long...): the bearer's socket must not keep the program alive
    await transport.close();
    throw e;
  }
}

/** Where a node's (first) bearer listens, "127.0.0.1:40123". */
export function bearerAddress(node: TipcNode): string {
  const media = node.bearers()[0]?.mediaAddress;
  if (!media) throw new Error("the node has no bearer");
  return `${media.address}:${media.port}`;
}

/** Server and client in one process, each on its own UDP port of 127.0.0.1. */
export async function runOverUdp(print: (line: string) => void): Promise<ScenarioRun> {
  const ts = await loopbackTransport(0);
  const { address, port } = ts.localAddress;
  // The client knows where the server is; the server learns the client from its discovery.
  const tc = await loopbackTransport(0, [`${address}:${port}`]);
  const [server, client] = await Promise.all([
    createNode({ nodeId: "echo-server", transport: ts }),
    createNode({ nodeId: "echo-client", transport: tc }),
  ]);
  try {
    return await runScenario(server, client, print);
  } finally {
    await Promise.all([server.close(), client.close()]);
  }
}
