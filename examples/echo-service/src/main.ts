// The echo service over UDP on 127.0.0.1, as two programs or one:
//
//   # terminal 1: the server, on the kernel's UDP bearer port (it learns clients from discovery)
//   npx --yes pnpm@12.4.2 --filter @tipcjs/example-echo-service echo -- server --port 6118
//   # terminal 2: a client that knows where the server's node is, and nothing else
//   npx --yes pnpm@12.4.2 --filter @tipcjs/example-echo-service echo -- client --server 127.0.0.1:6118
//   # or both in one process, on two free ports
//   npx --yes pnpm@12.4.2 --filter @tipcjs/example-echo-service echo -- both
//
// Options may come from the environment instead: ECHO_PORT (--port), ECHO_SERVER (--server),
// ECHO_HOST (--host, a loopback address). The server runs until SIGINT or SIGTERM, then
// unbinds its names, closes its node (peers see it leave at once) and prints its counters.
import { parseArgs } from "node:util";
import type { TipcNode } from "@tipcjs/node";
import { waitForService } from "./client.js";
import { runClient } from "./scenario.js";
import { DATAGRAM_INSTANCE, ECHO_TYPE, startEchoServer } from "./server.js";
import { bearerAddress, runOverUdp, udpNode } from "./udp.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: "string", default: process.env.ECHO_PORT },
    server: { type: "string", default: process.env.ECHO_SERVER },
    host: { type: "string", default: process.env.ECHO_HOST ?? "127.0.0.1" },
    "node-id": { type: "string" },
  },
});
const role = positionals[0] ?? "both";
const print = (line: string) => console.log(line);

function fail(message: string): never {
  console.error(`echo: ${message}`);
  process.exit(2);
}

function port(text: string | undefined, fallback: number): number {
  const n = Number(text ?? fallback);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) fail(`not a UDP port: "${text}"`);
  return n;
}

for (const address of [values.host, values.server ?? "127.0.0.1"])
  if (!address.startsWith("127.")) fail(`this example stays on loopback (127.0.0.0/8), not ${address}`);

if (role === "server") {
  const node = await udpNode({
    nodeId: values["node-id"] ?? "echo-server",
    host: values.host,
    port: port(values.port, 6118),
  });
  const echo = startEchoServer(node);
  print(`${node.nodeId} listening on ${bearerAddress(node)}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await echo.close();
  await node.close();
  print(`stopped: ${JSON.stringify(echo.counters)}`);
} else if (role === "client") {
  if (!values.server) fail("client needs --server ADDRESS[:PORT] (or ECHO_SERVER)");
  let node: TipcNode | undefined;
  try {
    node = await udpNode({
      // at most 16 characters: "echo-c-" and a pid (at most 7 digits on Linux)
      nodeId: values["node-id"] ?? `echo-c-${process.pid}`,
      host: values.host,
      port: port(values.port, 0),
      peers: [values.server],
    });
    // Once the name is in our table, the table also says which node serves it.
    await waitForService(node, ECHO_TYPE, DATAGRAM_INSTANCE, 10_000);
    const where = node.lookupAnycast(ECHO_TYPE, DATAGRAM_INSTANCE);
    if (!where) throw new Error("the service went away");
    await runClient(node, where.node, print);
  } catch (e) {
    console.error(`echo client: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  } finally {
    await node?.close();
  }
} else if (role === "both") {
  await runOverUdp(print);
} else {
  fail(`unknown role "${role}": server, client or both`);
}
