// The parent side: a member process in a namespace, and a Transport that forwards to the UDP
// transport it runs. The proxy applies the contract's synchronous checks itself (they cannot
// cross a process boundary synchronously); everything on the wire is the real udpTransport.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  checkDatagram,
  Handlers,
  isMediaAddress,
  type MediaAddress,
  type Transport,
  TransportError,
  type TransportErrorCode,
} from "@tipcjs/transport";
import type { UdpCounters, UdpTransportOptions } from "@tipcjs/transport-udp";

const memberScript = fileURLToPath(new URL("./member.ts", import.meta.url));
const root = fileURLToPath(new URL("../../..", import.meta.url));

type Reply =
  | { op: "ready" | "closed" }
  | { op: "opened"; localAddress: MediaAddress; mtu: number; canBroadcast: boolean }
  | { op: "openFailed"; code: TransportErrorCode; message: string }
  | { op: "recv"; data: string; from: MediaAddress }
  | { op: "err"; code: TransportErrorCode; message: string }
  | { op: "counters"; counters: UdpCounters };

export class MemberProcess {
  private child: ChildProcess;
  private waiters: { op: string; resolve: (r: Reply) => void }[] = [];
  private current: { handlers: Handlers; closed: boolean } | undefined;

  constructor(readonly ns: string) {
    this.child = spawn(
      "ip",
      ["netns", "exec", ns, process.execPath, "--conditions=@tipcjs/source", "--import", "tsx", memberScript],
      { cwd: root, stdio: ["ignore", "inherit", "inherit", "ipc"] },
    );
    this.child.on("message", (r: Reply) => this.onReply(r));
    this.child.on("error", () => {});
  }

  private onReply(r: Reply): void {
    if (r.op === "recv") {
      const c = this.current;
      if (c && !c.closed) c.handlers.deliver(Buffer.from(r.data, "base64"), Object.freeze(r.from));
      return;
    }
    if (r.op === "err" && !this.waiters.some((w) => w.op === "opened")) {
      const c = this.current;
      if (c && !c.closed) c.handlers.error(new TransportError(r.code, r.message));
      return;
    }
    const i = this.waiters.findIndex((w) => w.op === r.op || (w.op === "opened" && r.op === "openFailed"));
    if (i >= 0) this.waiters.splice(i, 1)[0]?.resolve(r);
  }

  private request(message: object, op: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.ns}: no ${op} within 30 s`)), 30_000);
      this.waiters.push({
        op,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      if (message) this.child.send(message);
    });
  }

  ready(): Promise<Reply> {
    return this.request(undefined as unknown as object, "ready");
  }

  async counters(): Promise<UdpCounters> {
    const r = await this.request({ op: "counters" }, "counters");
    return (r as { counters: UdpCounters }).counters;
  }

  /** Opens a UDP transport in the namespace and returns a proxy for it. */
  async open(options: UdpTransportOptions): Promise<Transport> {
    const r = await this.request({ op: "open", options }, "opened");
    if (r.op === "openFailed") throw new TransportError(r.code, r.message);
    if (r.op !== "opened") throw new Error(`unexpected ${r.op}`);
    const state = { handlers: new Handlers(), closed: false };
    this.current = state;
    const { localAddress, mtu, canBroadcast } = r;
    const guard = (d: Uint8Array) => {
      if (state.closed) throw new TransportError("CLOSED", "closed");
      checkDatagram(d, mtu);
    };
    return {
      specificationVersion: "v1",
      localAddress: Object.freeze(localAddress),
      mtu,
      canBroadcast,
      send: (to, d) => {
        if (state.closed) throw new TransportError("CLOSED", "closed");
        if (!isMediaAddress(to) || to.family !== localAddress.family) {
          throw new TransportError("BAD_ADDRESS", `bad address ${JSON.stringify(to)}`);
        }
        guard(d);
        this.child.send({ op: "send", to, data: Buffer.from(d).toString("base64") });
      },
      broadcast: (d) => {
        guard(d);
        this.child.send({ op: "broadcast", data: Buffer.from(d).toString("base64") });
      },
      onReceive: (h) => state.handlers.onReceive(h),
      onError: (h) => state.handlers.onError(h),
      close: async () => {
        if (state.closed) return;
        state.closed = true;
        state.handlers.clear();
        await this.request({ op: "close" }, "closed");
      },
    };
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}
