// The client half: everything it does goes by service name, {type, instance}; the node's name
// table (filled by the name distributor from every peer) says where the service lives.
import { isNodeError, type SocketAddress, type TipcNode } from "@tipcjs/node";
import { DATAGRAM_INSTANCE, ECHO_TYPE, STREAM_INSTANCE } from "./server.js";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Resolves once `node`'s name table holds a binding of {type, instance}, or throws after `ms`.
 * A topology subscription (TIPC_SUB_SERVICE) tells us: no polling. Its first event reports a
 * binding that is already there.
 */
export async function waitForService(
  node: TipcNode,
  type: number,
  instance: number,
  ms: number,
): Promise<void> {
  const sub = node.subscribe({ type, lower: instance, upper: instance, mode: "service", timeout: ms });
  for await (const ev of sub) {
    if (ev.kind === "published") {
      sub.cancel();
      return;
    }
    if (ev.kind === "timeout") break;
  }
  throw new Error(`no binding of {${type}, ${instance}} within ${ms} ms`);
}

/** Rejects after `ms` unless `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Answer {
  reply: string;
  /** the socket that answered: {node, port} */
  from: SocketAddress;
}

/**
 * Sends each text as one datagram to the service {ECHO_TYPE, DATAGRAM_INSTANCE} and reads the
 * answers. `sendTo` looks the name up in this node's table (round-robin among the sockets bound
 * to it, wherever they are) and sends a NAMED_MSG; the server answers to our socket's address.
 */
export async function ask(node: TipcNode, texts: string[], ms = 5_000): Promise<Answer[]> {
  const socket = node.socket({ type: "rdm" });
  try {
    const answers: Answer[] = [];
    for (const text of texts) {
      await socket.sendTo({ type: ECHO_TYPE, instance: DATAGRAM_INSTANCE }, encoder.encode(text));
      const ev = await within(socket.receive(), ms, `answer to "${text}"`);
      if (ev?.kind !== "message")
        throw new Error(`expected an answer to "${text}", got ${ev?.kind ?? "the end"}`);
      answers.push({ reply: decoder.decode(ev.data), from: ev.source });
    }
    return answers;
  } finally {
    socket.close();
  }
}

/**
 * Connects to {ECHO_TYPE, STREAM_INSTANCE} (a TIPC stream connection, a Node.js Duplex), writes
 * the lines and reads the echo until every line came back, then ends the connection.
 *
 * Why not write, end() and read to the end: TIPC has no half-close. `end()` is the kernel's
 * shutdown(), which ends both directions (TIPC_CONN_SHUTDOWN), so a client reads what it
 * waits for before it ends, as a request/response protocol over TIPC does.
 */
export async function pipeLines(node: TipcNode, lines: string[], ms = 5_000): Promise<string[]> {
  const conn = node.connect({ type: ECHO_TYPE, instance: STREAM_INSTANCE });
  conn.setEncoding("utf8");
  const sent = lines.map((l) => `${l}\n`).join("");
  // The echo is the same number of lines; capitals can be longer ("ß" -> "SS"), not 4 times.
  const limit = 4 * sent.length;
  const echoed = new Promise<string>((resolve, reject) => {
    let text = "";
    conn.on("data", (chunk: string) => {
      text += chunk;
      if (text.split("\n").length > lines.length) resolve(text);
      else if (text.length > limit) reject(new Error(`the echo passed ${limit} characters`));
    });
    conn.on("end", () => reject(new Error(`the server ended the stream after "${text}"`)));
    conn.on("error", reject); // CONNECTION_REFUSED, CONNECTION_RESET, PEER_LOST...
  });
  // Writes before `connect` wait in the stream; TIPC flow control paces them after.
  conn.write(sent);
  try {
    const text = await within(echoed, ms, "echo of every line");
    return text.split("\n").slice(0, lines.length);
  } finally {
    conn.end(); // shutdown: the server's side ends too
  }
}

export interface Returned {
  /** what `sendTo` said for a name bound nowhere in our table: NodeError NO_SERVICE */
  unboundHere: string;
  /** the message that came back from the server's node: NO_NAME, TIPC_ERR_NO_NAME (1) */
  error: string;
  errorCode: number;
  /** the returned data (TIPC_RETDATA: at most 1,024 bytes of what we sent) */
  data: string;
  /** who rejected it: the server's node, port 0 (no socket took it) */
  rejectedBy: SocketAddress;
}

/**
 * A message to a name nobody bound. Two ways it fails:
 * - Looked up here (no `node`): our own table has no binding, so `sendTo` rejects NO_SERVICE and
 *   nothing is sent (the kernel's EHOSTUNREACH).
 * - With `node` set, the lookup is left to that node: the message goes out with destination
 *   port 0, the node finds no binding and returns it with TIPC_ERR_NO_NAME. We only see it
 *   because the socket is not dest-droppable: TIPC's default for rdm and dgram drops failed
 *   messages silently (TIPC_DEST_DROPPABLE).
 */
export async function sendToNobody(
  node: TipcNode,
  serverNode: number,
  instance = 99,
  ms = 5_000,
): Promise<Returned> {
  const socket = node.socket({ type: "rdm", destDroppable: false });
  try {
    const text = `anyone on {${ECHO_TYPE}, ${instance}}?`;
    let unboundHere = "sent";
    try {
      await socket.sendTo({ type: ECHO_TYPE, instance }, encoder.encode(text));
    } catch (e) {
      if (!isNodeError(e)) throw e;
      unboundHere = e.code;
    }
    await socket.sendTo({ type: ECHO_TYPE, instance, node: serverNode }, encoder.encode(text));
    const ev = await within(socket.receive(), ms, "returned message");
    if (ev?.kind !== "returned") throw new Error(`expected the message back, got ${ev?.kind ?? "the end"}`);
    return {
      unboundHere,
      error: ev.error,
      errorCode: ev.errorCode,
      data: decoder.decode(ev.data),
      rejectedBy: ev.rejectedBy,
    };
  } finally {
    socket.close();
  }
}
