// Runs inside a member namespace (`ip netns exec NS node ... member.ts`) and serves UDP
// transports to the parent test over the IPC channel, one at a time.
import { isTransportError, type Transport } from "@tipcjs/transport";
import { type UdpTransportOptions, udpTransport } from "@tipcjs/transport-udp";

type Request =
  | { op: "open"; options: UdpTransportOptions }
  | { op: "send"; to: unknown; data: string }
  | { op: "broadcast"; data: string }
  | { op: "counters" }
  | { op: "close" };

let transport: (Transport & { counters?: unknown }) | undefined;
const reply = (m: unknown) => process.send?.(m);
const fail = (e: unknown) =>
  reply({
    op: "err",
    code: isTransportError(e) ? e.code : "SOCKET",
    message: e instanceof Error ? e.message : String(e),
  });

process.on("message", async (req: Request) => {
  try {
    switch (req.op) {
      case "open": {
        if (transport) await transport.close();
        try {
          const t = await udpTransport(req.options);
          transport = t;
          t.onReceive((d, from) => reply({ op: "recv", data: Buffer.from(d).toString("base64"), from }));
          t.onError((e) => reply({ op: "err", code: e.code, message: e.message }));
          reply({ op: "opened", localAddress: t.localAddress, mtu: t.mtu, canBroadcast: t.canBroadcast });
        } catch (e) {
          reply({ op: "openFailed", code: isTransportError(e) ? e.code : "OPEN_FAILED", message: String(e) });
        }
        break;
      }
      case "send":
        transport?.send(req.to as never, Buffer.from(req.data, "base64"));
        break;
      case "broadcast":
        transport?.broadcast(Buffer.from(req.data, "base64"));
        break;
      case "counters":
        reply({ op: "counters", counters: transport?.counters });
        break;
      case "close":
        await transport?.close();
        transport = undefined;
        reply({ op: "closed" });
        break;
    }
  } catch (e) {
    fail(e);
  }
});
process.on("disconnect", () => process.exit(0));
reply({ op: "ready" });
