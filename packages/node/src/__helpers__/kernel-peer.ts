/**
 * A peer that receives name updates as the Linux kernel does (tests only): the real link engine
 * on a memory transport, with the distributor's `linux` flavour above it (one queue per peer,
 * and the receive gate kept across node down: tipc-protocol.md §2.3). It publishes nothing of
 * its own beyond the node-state binding; it is there to be sent to.
 */
import type { Distributor, DistributorOutput } from "@tipcjs/distributor";
import { createDistributor } from "@tipcjs/distributor";
import { createLinkEngine, type LinkEngine, nodeIdFromString } from "@tipcjs/link";
import { NameTable } from "@tipcjs/name-table";
import type { MemoryFabric, MemoryTransport, VirtualClock } from "@tipcjs/transport-memory";
import { seededRandom } from "@tipcjs/transport-memory";

export class KernelPeer {
  readonly transport: MemoryTransport;
  readonly engine: LinkEngine;
  readonly table: NameTable;
  readonly dist: Distributor;
  private timer: { cancel(): void } | undefined;

  constructor(
    fabric: MemoryFabric,
    private readonly clock: VirtualClock,
    name: string,
    tolerance: number,
  ) {
    this.transport = fabric.join();
    this.engine = createLinkEngine({
      nodeId: nodeIdFromString(name),
      random: seededRandom(77),
      skipTrial: true,
      tolerance,
      bearer: {
        name: "mem0",
        mediaAddress: this.transport.localAddress,
        mtu: this.transport.mtu,
        canBroadcast: true,
      },
    });
    this.engine.start(clock.now());
    this.table = new NameTable({ ownNode: this.engine.address });
    this.dist = createDistributor({ ownNode: this.engine.address, table: this.table, flavor: "linux" });
    this.transport.onReceive((bytes, from) => {
      this.engine.receive(bytes, from, this.clock.now());
      this.pump();
    });
    this.pump();
  }

  /** What this peer holds for `node`, as `type/lower-upper:port#key` strings. */
  view(node: number): string[] {
    return this.table
      .nodeBindings(node)
      .map((b) => `${b.type}/${b.lower}-${b.upper}:${b.port}#${b.key}`)
      .sort();
  }

  private send(outs: DistributorOutput[]): void {
    const now = this.clock.now();
    for (const o of outs) {
      if (o.kind !== "send") continue;
      if (o.to === "broadcast") this.engine.sendBroadcast(o.message, now);
      else this.engine.sendUnicast(o.to, o.message, now);
    }
  }

  private pump(): void {
    for (let outs = this.engine.poll(); outs.length > 0; outs = this.engine.poll()) {
      for (const o of outs) {
        if (o.kind === "transmit") {
          if (o.to === "broadcast") this.transport.broadcast(o.bytes);
          else this.transport.send(o.to, o.bytes);
        } else if (o.kind === "deliver" && o.message.user === "NAME_DISTRIBUTOR") {
          this.send(this.dist.receive(o.peer, o.message));
        } else if (o.kind === "nodeUp") {
          this.send(this.dist.nodeUp(o.peer, { capabilities: o.capabilities, mtu: o.mtu }));
        } else if (o.kind === "nodeDown") {
          this.dist.nodeDown(o.peer);
        }
      }
    }
    this.timer?.cancel();
    const d = this.engine.nextDeadline();
    this.timer =
      d === undefined
        ? undefined
        : this.clock.setTimer(Math.max(1, d - this.clock.now()), () => {
            this.engine.tick(this.clock.now());
            this.pump();
          });
  }
}

/**
 * `inner`, except that the first `count` datagrams `lose` picks are lost (the link retransmits
 * them): loss aimed at one path, e.g. a bulk.
 */
export function losing(
  inner: MemoryTransport,
  lose: (datagram: Uint8Array) => boolean,
  count = 1,
): MemoryTransport & { lost: number } {
  const t = {
    ...inner,
    lost: 0,
    send(to: Parameters<MemoryTransport["send"]>[0], datagram: Uint8Array) {
      if (t.lost < count && lose(datagram)) {
        t.lost++;
        return;
      }
      inner.send(to, datagram);
    },
  };
  return t;
}
