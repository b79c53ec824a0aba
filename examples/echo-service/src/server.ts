// The server half: a TIPC service that answers by name.
//
// - Datagrams: an rdm socket bound to {ECHO_TYPE, DATAGRAM_INSTANCE} answers every message
//   with the same text in capitals, sent back to the sender's socket address (`ev.source`),
//   as a `recvfrom` + `sendto` loop on a Linux TIPC socket would.
// - Streams: a listener bound to {ECHO_TYPE, STREAM_INSTANCE} accepts connections and writes
//   back what each one sends, in capitals, until the client ends its side.
//
// Clients reach both by service name only: they never need to know which node, or which port,
// serves it. Binding is publishing: the name goes into every node's name table.
import type { TipcConnection, TipcNode, TipcServer, TipcSocket } from "@tipcjs/node";

/** The service type both names share (types below 64 are reserved by TIPC). */
export const ECHO_TYPE = 18_888;
/** {ECHO_TYPE, 1}: answers datagrams. */
export const DATAGRAM_INSTANCE = 1;
/** {ECHO_TYPE, 2}: echoes streams. */
export const STREAM_INSTANCE = 2;

export interface EchoServerOptions {
  /** Connections served at once (64); one more is closed as it is accepted: its client fails CONNECTION_REFUSED. */
  maxConnections?: number;
}

export interface EchoServerCounters {
  /** datagrams answered */
  answered: number;
  /** replies that could not be sent (the client's node went away, a reply too large...) */
  replyFailures: number;
  /** connections accepted, and refused over maxConnections */
  connections: number;
  refused: number;
  /** connections that ended with an error (a client that vanished: PEER_LOST, CONNECTION_RESET) */
  connectionErrors: number;
}

export interface EchoServer {
  /** the rdm socket answering {ECHO_TYPE, DATAGRAM_INSTANCE} */
  readonly socket: TipcSocket;
  /** the listener on {ECHO_TYPE, STREAM_INSTANCE} */
  readonly listener: TipcServer;
  readonly counters: EchoServerCounters;
  /** Connections being served now. */
  readonly open: number;
  /** Unbinds both names (peers see the withdrawals), ends open connections, stops the loop. */
  close(): Promise<void>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Starts both halves of the service on `node`. */
export function startEchoServer(node: TipcNode, options: EchoServerOptions = {}): EchoServer {
  const maxConnections = options.maxConnections ?? 64;
  const counters: EchoServerCounters = {
    answered: 0,
    replyFailures: 0,
    connections: 0,
    refused: 0,
    connectionErrors: 0,
  };

  // --- datagrams -------------------------------------------------------------------------
  const socket = node.socket({ type: "rdm" });
  socket.bind({ type: ECHO_TYPE, lower: DATAGRAM_INSTANCE });

  // One message at a time: the reply's send resolves once the link has taken it, so a client
  // that floods us waits on its own link's backlog, not on a queue here. The socket's receive
  // queue is bounded by the node (rcvbuf; past it, messages are rejected OVERLOAD).
  const answering = (async () => {
    for await (const ev of socket) {
      if (ev.kind !== "message") continue; // our replies never come back: they are dest-droppable
      const reply = encoder.encode(decoder.decode(ev.data).toUpperCase());
      try {
        await socket.sendToSocket(ev.source, reply);
        counters.answered++;
      } catch {
        // NO_NODE (the client's node went down), MESSAGE_TOO_LARGE (capitals can take more
        // bytes than the original, "ß" -> "SS"), CLOSED: that client gets no answer, the
        // service goes on.
        counters.replyFailures++;
      }
    }
  })();

  // --- streams ---------------------------------------------------------------------------
  const listener = node.listen({ service: { type: ECHO_TYPE, lower: STREAM_INSTANCE } });
  const open = new Set<TipcConnection>();
  listener.on("connection", (conn: TipcConnection) => {
    if (open.size >= maxConnections) {
      counters.refused++;
      conn.destroy();
      return;
    }
    counters.connections++;
    open.add(conn);
    // setEncoding keeps a character split across two chunks whole before it is uppercased.
    conn.setEncoding("utf8");
    conn.on("data", (text: string) => {
      // TIPC's flow control reaches back to the client: stop reading while our write side is
      // full, so a client that sends and never reads holds one window, not an ever-growing buffer.
      if (!conn.write(text.toUpperCase())) {
        conn.pause();
        conn.once("drain", () => conn.resume());
      }
    });
    // No "end" handler: TIPC has no half-close, so the client's end() (shutdown) ends both
    // directions, and the stream ends its writable side by itself (allowHalfOpen false).
    conn.on("error", () => {
      counters.connectionErrors++;
    });
    conn.on("close", () => open.delete(conn));
  });

  return {
    socket,
    listener,
    counters,
    get open() {
      return open.size;
    },
    async close() {
      listener.close();
      for (const conn of open) conn.destroy();
      socket.close(); // ends the `for await` above
      await answering;
    },
  };
}
