// A discovery-only TIPC node on a real network: joins over UDP, publishes nothing, prints each
// peer as it comes up or goes down, and after --seconds the list of peers.
//   npx --yes pnpm@12.4.2 --filter @tipcjs/example-discovery-only discover -- \
//     --local 192.168.1.10 [--peer 192.168.1.11[:6118] ...] [--seconds 10] [--node-id observer]
// Without --peer it uses the kernel's multicast group for the cluster (228.0.18.103:6118).
import { parseArgs } from "node:util";
import { createNode } from "@tipcjs/node";
import { udpTransport } from "@tipcjs/transport-udp";
import { formatPeers, listPeers, watchPeers } from "./peers.js";

const { values } = parseArgs({
  options: {
    local: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "6118" },
    peer: { type: "string", multiple: true, default: [] },
    seconds: { type: "string", default: "10" },
    "node-id": { type: "string", default: `observer-${process.pid}` },
  },
});

/** "10.0.0.2", "10.0.0.2:6119", "[fe80::1]:6118" -> a media address (port 6118 by default). */
function mediaAddress(text: string) {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const address = m?.[1];
  if (!address) throw new Error(`not an address: ${text}`);
  return {
    family: address.includes(":") ? ("ipv6" as const) : ("ipv4" as const),
    address,
    port: Number(m?.[2] ?? 6118),
  };
}

const peers = values.peer.map(mediaAddress);
const transport = await udpTransport({
  localAddress: values.local,
  localPort: Number(values.port),
  mode: peers.length ? "replicast" : "multicast",
  peers,
});
const node = await createNode({ nodeId: values["node-id"], transport });
console.log(
  `${node.nodeId} (${node.address.toString(16).padStart(8, "0")}) listening on ${values.local}:${values.port}`,
);
watchPeers(node, (line) => console.log(line));
await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
console.log(formatPeers(node, listPeers(node)));
await node.close();
