// The example on one host: two ordinary nodes, each with a binding, and a discovery-only node
// that finds them over UDP on 127.0.0.1 (replicast), lists them, and sees one leave.
import { createNode, type TipcNode } from "@tipcjs/node";
import { udpTransport } from "@tipcjs/transport-udp";
import { formatPeers, listPeers, type Peer, watchPeers } from "./peers.js";

/** Polls `cond` every 20 ms until it holds, or throws after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface LoopbackRun {
  /** what the discovery-only node listed with both peers up, and after one left */
  withBoth: Peer[];
  afterLeave: Peer[];
  /** the nodeUp/nodeDown lines it printed */
  events: string[];
  /**
   * service bindings the other nodes saw from the discovery-only node: none (like every TIPC
   * node it has only its node-state binding, type 0, which the node publishes by itself)
   */
  bindingsFromObserver: number;
}

export async function discoverOnLoopback(print: (line: string) => void): Promise<LoopbackRun> {
  const local = { localAddress: "127.0.0.1", localPort: 0, mode: "replicast" as const };
  const [ta, tb, to] = await Promise.all([udpTransport(local), udpTransport(local), udpTransport(local)]);
  // The observer knows where to look; the others learn it from its discovery messages.
  to.addPeer(ta.localAddress);
  to.addPeer(tb.localAddress);
  ta.addPeer(tb.localAddress);
  tb.addPeer(ta.localAddress);
  const nodes: TipcNode[] = [];
  try {
    // Each resolves after the kernel's 1 s address trial.
    const [a, b, observer] = await Promise.all([
      createNode({ nodeId: "service-a", transport: ta }),
      createNode({ nodeId: "service-b", transport: tb }),
      createNode({ nodeId: "observer", transport: to }),
    ]);
    nodes.push(a, b, observer);
    a.publish({ type: 1000, lower: 1, upper: 10 });
    b.publish({ type: 1000, lower: 11, upper: 20 });

    const events: string[] = [];
    const stop = watchPeers(observer, (line) => {
      events.push(line);
      print(line);
    });
    const upCount = () => listPeers(observer).filter((p) => p.up).length;
    await waitFor(() => upCount() === 2, 10_000, "both peers up");
    const withBoth = listPeers(observer);
    print(formatPeers(observer, withBoth));

    // The other nodes see the observer but no service binding of its own.
    const services = (n: TipcNode) => n.bindings().filter((x) => x.type !== 0);
    await waitFor(() => services(a).length === 2 && services(b).length === 2, 5_000, "the bindings");
    const bindingsFromObserver = [a, b].flatMap(services).filter((x) => x.node === observer.address).length;

    nodes.splice(nodes.indexOf(b), 1);
    await b.close(); // graceful: RESET with peer-stopping, the observer sees it down at once
    await waitFor(() => upCount() === 1, 10_000, "service-b down");
    const afterLeave = listPeers(observer);
    print(formatPeers(observer, afterLeave));
    stop();
    return { withBoth, afterLeave, events, bindingsFromObserver };
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}
