/**
 * A receiver that behaves as Linux's tipc_named_rcv/tipc_named_dequeue do (5.9 .. 6.x,
 * shared/docs/tipc-protocol.md §2.3), kept for comparison: benchmarks and tests that show where
 * the kernel and @tipcjs/distributor differ. Not meant for production use.
 *
 * Per peer: one queue in arrival order, walked from the head after every arrival and again
 * after every message it applies (O(queue) per message); `open`/`rcvNxt` survive node down
 * (only the queue is flushed); "less than rcvNxt" is tested even while the gate is shut.
 */
import { less, mod16, type NameDistributorMessage } from "@tipcjs/codec";
import type { BindingStore } from "./types.js";

interface Entry {
  m: NameDistributorMessage;
  prev: Entry | undefined;
  next: Entry | undefined;
}

interface KernelPeer {
  open: boolean;
  rcvNxt: number;
  head: Entry | undefined;
  tail: Entry | undefined;
  length: number;
}

export class KernelQueueReceiver {
  private readonly peers = new Map<number, KernelPeer>();
  /** messages walked past while scanning, all peers: the cost the indexed receiver avoids */
  visited = 0;
  dropped = 0;
  applied = 0;

  constructor(private readonly table: BindingStore) {}

  private get(peer: number): KernelPeer {
    let p = this.peers.get(peer);
    if (!p) {
      p = { open: false, rcvNxt: 0, head: undefined, tail: undefined, length: 0 };
      this.peers.set(peer, p);
    }
    return p;
  }

  state(peer: number): { open: boolean; rcvNxt: number; queued: number } {
    const p = this.get(peer);
    return { open: p.open, rcvNxt: p.rcvNxt, queued: p.length };
  }

  receive(peer: number, m: NameDistributorMessage): void {
    const p = this.get(peer);
    const e: Entry = { m, prev: p.tail, next: undefined };
    if (p.tail) p.tail.next = e;
    else p.head = e;
    p.tail = e;
    p.length++;
    for (let next = this.dequeue(p); next; next = this.dequeue(p)) this.apply(peer, next);
  }

  /** Node down as the kernel handles it: purge the bindings and the queue, keep open/rcvNxt. */
  nodeDown(peer: number): void {
    const p = this.get(peer);
    p.head = p.tail = undefined;
    p.length = 0;
    this.table.purgeNode(peer);
  }

  private unlink(p: KernelPeer, e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else p.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else p.tail = e.prev;
    p.length--;
  }

  private dequeue(p: KernelPeer): NameDistributorMessage | undefined {
    for (let e = p.head; e; ) {
      const next = e.next;
      this.visited++;
      const m = e.m;
      const seqno = m.namedSeqno;
      if (m.lastBulk) {
        p.rcvNxt = seqno;
        p.open = true;
      }
      if (m.bulk || !m.nonLegacy) {
        this.unlink(p, e);
        return m;
      }
      if (p.open && p.rcvNxt === seqno) {
        p.rcvNxt = mod16(p.rcvNxt + 1);
        this.unlink(p, e);
        return m;
      }
      if (less(seqno, p.rcvNxt)) {
        this.unlink(p, e);
        this.dropped++;
      }
      e = next;
    }
    return undefined;
  }

  private apply(node: number, m: NameDistributorMessage): void {
    this.applied++;
    for (const it of m.items) {
      if (m.type === "PUBLICATION") {
        this.table.insert({
          type: it.type,
          lower: it.lower,
          upper: it.upper,
          node,
          port: it.port,
          key: it.key,
          scope: "cluster",
        });
      } else if (m.type === "WITHDRAWAL") {
        this.table.remove({ type: it.type, lower: it.lower, upper: it.upper, node, key: it.key });
      }
    }
  }
}
