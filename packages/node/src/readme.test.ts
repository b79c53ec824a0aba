// The README's example, run as written (real time, UDP on 127.0.0.1), with its output checked.
import { udpTransport } from "@tipcjs/transport-udp";
import { expect, it } from "vitest";
import { createNode } from "./index.js";

it("the README example runs", async () => {
  const out: string[] = [];
  const log = (...args: unknown[]) =>
    out.push(args.map((a) => (typeof a === "object" ? JSON.stringify(a) : String(a))).join(" "));
  // --- README example starts (console.log -> log)
  // Two nodes on one host, each on its own UDP port, sending to each other (replicast).
  const ta = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  const tb = await udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  ta.addPeer(tb.localAddress);
  tb.addPeer(ta.localAddress);
  // Each resolves after the kernel's 1 s address trial.
  const [a, b] = await Promise.all([
    createNode({ nodeId: "host-a", transport: ta }),
    createNode({ nodeId: "host-b", transport: tb }),
  ]);

  b.on("nodeUp", (n) => log("peer up:", n.nodeId));
  const sub = b.subscribe({ type: 1000, lower: 0, upper: 99, mode: "ports" });

  const binding = a.publish({ type: 1000, lower: 1, upper: 10 }); // port and key assigned
  for await (const ev of sub) {
    if (ev.kind === "published") log(ev.kind, ev.found, ev.socket.node === a.address);
    break; // leaving the loop cancels the subscription
  }
  log("lookup:", b.lookupAnycast(1000, 5)?.port === binding.port);

  a.withdraw(binding);
  await a.close(); // withdraws the rest, waits for acks, RESET (peer stopping), closes its socket
  await b.close();
  // --- README example ends
  expect(out).toEqual(["peer up: host-a", 'published {"lower":1,"upper":10} true', "lookup: true"]);
}, 15_000);

it("the README's socket example runs", async () => {
  const out: string[] = [];
  const log = (text: string, source: unknown) => out.push(`${text} ${JSON.stringify(source)}`);
  const udp = () => udpTransport({ localAddress: "127.0.0.1", localPort: 0, mode: "replicast" });
  const transports = [await udp(), await udp()] as const;
  for (const [i, t] of transports.entries()) t.addPeer(transports[1 - i]?.localAddress as never);
  const a = await createNode({ nodeId: "host-a", transport: transports[0], skipTrial: true });
  const b = await createNode({ nodeId: "host-b", transport: transports[1], skipTrial: true });
  const end = Date.now() + 5000;
  // --- README socket example starts (console.log -> log); waits for the binding to reach a
  const server = b.socket({ type: "rdm" });
  server.bind({ type: 1000, lower: 5 }); // published cluster-wide through the distributor
  while (a.lookupAnycast(1000, 5) === undefined && Date.now() < end)
    await new Promise((r) => setTimeout(r, 5));
  const client = a.socket({ type: "rdm" });
  await client.sendTo({ type: 1000, instance: 5 }, new TextEncoder().encode("hello"));
  for await (const ev of server) {
    if (ev.kind === "message") log(new TextDecoder().decode(ev.data), ev.source); // { node, port }
    break; // leaving the loop does not close the socket
  }
  // --- README socket example ends
  expect(out).toEqual([`hello {"node":${a.address},"port":${client.port}}`]);
  await Promise.all([a.close(), b.close()]);
}, 15_000);
