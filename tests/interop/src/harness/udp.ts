import { createSocket, type Socket } from "node:dgram";
import { PcapWriter } from "./pcap.js";

export interface Datagram {
  data: Buffer;
  from: { address: string; port: number };
  /** host wall-clock ms (Date.now()) at receipt */
  at: number;
}

/** A free UDP port on 127.0.0.1 right now (bind to 0, read, close). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((res, rej) => {
    s.once("error", rej);
    s.bind(0, "127.0.0.1", () => res());
  });
  const { port } = s.address();
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

/**
 * A UDP socket on 127.0.0.1 that records every datagram it receives and sends, optionally
 * into a pcap file (for tshark). Use its `port` as the guest's `hostPort`.
 */
export class UdpPeer {
  readonly received: Datagram[] = [];
  /** what this socket sent, in order (`from` is the destination here) */
  readonly sent: Datagram[] = [];
  private closed = false;
  private waiters: Array<{ test: (d: Datagram) => boolean; resolve: (d: Datagram) => void }> = [];

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    private readonly pcap: PcapWriter | undefined,
  ) {
    socket.on("message", (data, rinfo) => {
      const d: Datagram = { data, from: { address: rinfo.address, port: rinfo.port }, at: Date.now() };
      this.received.push(d);
      this.pcap?.add(d.at, d.from, { address: "127.0.0.1", port: this.port }, data);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(d)) return true;
        w.resolve(d);
        return false;
      });
    });
  }

  static async open({ port = 0, pcapPath }: { port?: number; pcapPath?: string } = {}): Promise<UdpPeer> {
    const socket = createSocket("udp4");
    await new Promise<void>((res, rej) => {
      socket.once("error", rej);
      socket.bind(port, "127.0.0.1", () => res());
    });
    return new UdpPeer(socket, socket.address().port, pcapPath ? new PcapWriter(pcapPath) : undefined);
  }

  /**
   * The first datagram (already received or still to come) for which `test` holds, searching
   * from index `from` of `received`.
   */
  next(test: (d: Datagram) => boolean, { timeoutMs = 60_000, from = 0 } = {}): Promise<Datagram> {
    const have = this.received.slice(from).find(test);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (d: Datagram) => {
          clearTimeout(timer);
          resolve(d);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching datagram on 127.0.0.1:${this.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  send(data: Uint8Array, to: { address: string; port: number }): Promise<void> {
    const at = Date.now();
    this.sent.push({ data: Buffer.from(data), from: { ...to }, at });
    this.pcap?.add(at, { address: "127.0.0.1", port: this.port }, to, data);
    return new Promise((res, rej) =>
      this.socket.send(data, to.port, to.address, (err) => (err ? rej(err) : res())),
    );
  }

  get sentCount(): number {
    return this.sent.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((res) => this.socket.close(() => res()));
    this.pcap?.close();
  }
}
