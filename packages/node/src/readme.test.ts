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
