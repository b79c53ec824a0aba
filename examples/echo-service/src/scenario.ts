// The walk-through the demo prints, on any two nodes that can reach each other: a server on
// one, a client on the other. demo.ts runs it over the in-memory fabric, main.ts and
// loopback.ts over UDP.
import type { SocketAddress, TipcNode } from "@tipcjs/node";
import { type Answer, ask, pipeLines, type Returned, sendToNobody, waitForService } from "./client.js";
import {
  DATAGRAM_INSTANCE,
  ECHO_TYPE,
  type EchoServerCounters,
  STREAM_INSTANCE,
  startEchoServer,
} from "./server.js";

export interface ClientRun {
  answers: Answer[];
  echoed: string[];
  returned: Returned;
}

export interface ScenarioRun extends ClientRun {
  /** the server's rdm socket, which every answer should come from */
  serverSocket: SocketAddress;
  counters: EchoServerCounters;
}

const hex8 = (n: number) => n.toString(16).padStart(8, "0");
const at = (a: SocketAddress) => `<${hex8(a.node)}:${a.port}>`;

export const QUESTIONS = ["hello, tipc", "where are you?", "größe"];
export const LINES = ["first line", "second line", "third line"];

/** The client's part: find the service by name, ask, stream, and send to a name nobody bound. */
export async function runClient(
  client: TipcNode,
  serverNode: number,
  print: (line: string) => void,
): Promise<ClientRun> {
  await waitForService(client, ECHO_TYPE, DATAGRAM_INSTANCE, 10_000);
  await waitForService(client, ECHO_TYPE, STREAM_INSTANCE, 10_000);
  print(
    `${client.nodeId}: {${ECHO_TYPE}, ${DATAGRAM_INSTANCE}} and {${ECHO_TYPE}, ${STREAM_INSTANCE}} are in the name table`,
  );

  const answers = await ask(client, QUESTIONS);
  for (const [i, a] of answers.entries())
    print(`datagram  "${QUESTIONS[i]}" -> "${a.reply}" from ${at(a.from)}`);

  const echoed = await pipeLines(client, LINES);
  for (const line of echoed) print(`stream    ${line}`);

  const returned = await sendToNobody(client, serverNode);
  print(`no name   looked up here: ${returned.unboundHere}`);
  print(
    `no name   looked up on ${hex8(serverNode)}: returned ${returned.error} (TIPC error ${returned.errorCode}) ` +
      `by ${at(returned.rejectedBy)} with "${returned.data}"`,
  );
  return { answers, echoed, returned };
}

/** Server on `server`, client on `client`; the server stops (unbinds) at the end. */
export async function runScenario(
  server: TipcNode,
  client: TipcNode,
  print: (line: string) => void,
): Promise<ScenarioRun> {
  const echo = startEchoServer(server);
  print(
    `${server.nodeId}: serving {${ECHO_TYPE}, ${DATAGRAM_INSTANCE}} (datagrams) and {${ECHO_TYPE}, ${STREAM_INSTANCE}} (streams)`,
  );
  try {
    const run = await runClient(client, server.address, print);
    return { ...run, serverSocket: echo.socket.address, counters: { ...echo.counters } };
  } finally {
    await echo.close();
  }
}
