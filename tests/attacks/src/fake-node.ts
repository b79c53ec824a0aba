// A stranger that becomes a linked node of one tipcd by speaking the protocol (discovery,
// RESET, ACTIVATE, then STATE keepalives acking whatever it is sent), so it can send sequenced
// packets the link accepts: what any host on the bearer's network can do.
import { decodeMessage } from "@tipcjs/codec";
import { discovery, fragment, linkProtocol } from "./craft.js";
import { Attacker, type Daemon, waitFor } from "./kit.js";

export class FakeNode {
  /** the tipcd's session on its link to us, from its RESET / ACTIVATE */
  private peerSession: number | undefined;
  private ack = 0;
  private lastBcast = 0;
  private stateSeqno = 1;
  /** our unicast snd_nxt */
  sndNxt = 1;
  private timer: NodeJS.Timeout | undefined;
  private readonly session = 0x1234;

  private constructor(
    readonly attacker: Attacker,
    readonly nodeId: string,
    readonly address: number,
    readonly target: Daemon,
  ) {
    attacker.socket.on("message", (bytes) => this.onMessage(bytes));
  }

  /** Links to `target` as `nodeId` (bounded: throws if the link is not up within 20 s). */
  static async link(
    target: Daemon,
    nodeId: string,
    address: number,
    capabilities: number,
  ): Promise<FakeNode> {
    const f = new FakeNode(await Attacker.open(), nodeId, address, target);
    const dsc = discovery({ nodeId, prevNode: address, port: f.attacker.port, capabilities });
    await waitFor(
      async () => {
        if (f.peerSession === undefined) await f.send(dsc);
        return f.peerSession !== undefined;
      },
      20_000,
      `${target.nodeId}'s RESET to the fake node`,
      100,
    );
    await f.send(f.proto("RESET"));
    await f.send(f.proto("ACTIVATE"));
    f.timer = setInterval(() => void f.send(f.proto("STATE")).catch(() => {}), 150);
    await waitFor(
      async () => (await target.client.nodes()).some((n) => n.address === address && n.up),
      20_000,
      `${target.nodeId} seeing the fake node up`,
      50,
    );
    return f;
  }

  private proto(type: "RESET" | "ACTIVATE" | "STATE"): Uint8Array {
    return linkProtocol({
      type,
      prevNode: this.address,
      destNode: this.target.address,
      session: this.session,
      seqno: type === "STATE" ? this.stateSeqno++ : 0,
      ack: type === "STATE" ? this.ack : 0,
      bcastAck: this.lastBcast,
      nextSent: this.sndNxt,
      ...(type === "ACTIVATE" && this.peerSession !== undefined ? { destSession: this.peerSession } : {}),
    });
  }

  private onMessage(bytes: Buffer): void {
    let m: ReturnType<typeof decodeMessage>;
    try {
      m = decodeMessage(bytes);
    } catch {
      return;
    }
    if (m.user === "LINK_PROTOCOL") {
      if (m.type !== "STATE") this.peerSession = m.session;
      else {
        this.lastBcast = m.lastBcast;
        if (m.probe) void this.send(this.proto("STATE")).catch(() => {});
      }
      return;
    }
    // a sequenced unicast packet: ack it (and everything before it) at the next STATE
    if ("seqno" in m && "nonSeq" in m && !m.nonSeq && m.seqno > this.ack) this.ack = m.seqno;
  }

  send(bytes: Uint8Array): Promise<void> {
    return new Promise((res, rej) =>
      this.attacker.socket.send(bytes, this.target.port, "127.0.0.1", (e) => (e ? rej(e) : res())),
    );
  }

  /**
   * A FIRST_FRAGMENT then `count - 1` FRAGMENTs of `size` bytes each, in sequence on our link,
   * never a LAST_FRAGMENT. Returns the datagrams the kernel dropped before tipcd read them.
   */
  async fragmentFlood(count: number, size: number): Promise<number> {
    const target = this.target;
    const me = this;
    function* frames() {
      for (let k = 0; k < count; k++) {
        yield fragment({
          prevNode: me.address,
          destNode: target.address,
          seqno: me.sndNxt,
          ack: me.ack,
          type: k === 0 ? "FIRST_FRAGMENT" : "FRAGMENT",
          fragmentNumber: k + 1,
          data: new Uint8Array(size),
        });
        me.sndNxt = (me.sndNxt + 1) & 0xffff;
      }
    }
    return this.attacker.flood(frames(), target.port, 160 * 1024);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.attacker.close();
  }
}
