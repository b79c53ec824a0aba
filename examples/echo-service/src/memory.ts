// Both nodes in one process over @tipcjs/transport-memory: no sockets, no ports, real time.
import { createNode } from "@tipcjs/node";
import { memoryFabric } from "@tipcjs/transport-memory";
import { runScenario, type ScenarioRun } from "./scenario.js";

export async function runOverMemory(print: (line: string) => void): Promise<ScenarioRun> {
  // Without a virtual clock the fabric delivers on real time, so the nodes run as they would
  // on a network. skipTrial: no other node can claim our address here, skip the 1 s trial.
  const fabric = memoryFabric();
  const [server, client] = await Promise.all([
    createNode({ nodeId: "echo-server", transport: fabric.join(), skipTrial: true }),
    createNode({ nodeId: "echo-client", transport: fabric.join(), skipTrial: true }),
  ]);
  try {
    return await runScenario(server, client, print);
  } finally {
    await Promise.all([server.close(), client.close()]);
  }
}
