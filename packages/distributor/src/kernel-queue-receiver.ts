/**
 * Linux's named-message receive path (tipc_named_rcv/tipc_named_dequeue, 5.9 .. 6.x,
 * shared/docs/tipc-protocol.md §2.3), kept for comparison: the `linux` flavour of the
 * distributor, benchmarks, and tests that show where the kernel and @tipcjs/distributor differ.
 *
 * Per peer: one queue in arrival order, walked from the head after every arrival and again
 * after every message it hands out (O(queue) per message); `open`/`rcvNxt` survive node down
 * (only the queue is flushed); "less than rcvNxt" is tested even while the gate is shut.
 */
import { less, mod16, type NameDistributorMessage } from "@tipcjs/codec";
import type { BindingStore } from "./types.js";

interface Entry {
  m: NameDistributorMessage;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** One peer's named queue and gate, as the kernel keeps them in its node object. */
export class KernelNamedQueue {
  open = false;
  rcvNxt = 0;
  length = 0;
  /** queue entries looked at while walking: the cost an index avoids */
  visited = 0;
  /** messages dropped as "less than rcvNxt" */
  dropped = 0;
  private head: Entry | undefined;
  private tail: Entry | undefined;

  push(m: NameDistributorMessage): void {
    const e: Entry = { m, prev: this.tail, next: undefined };
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
    this.length++;
  }

  /** Node down: the queue is flushed; open and rcvNxt are kept. Returns how many were flushed. */
  flush(): number {
    const n = this.length;
    this.head = this.tail = undefined;
    this.length = 0;
    return n;
  }

  /** The next message to apply, or undefined: one walk from the head, as tipc_named_dequeue does. */
  dequeue(): NameDistributorMessage | undefined {
    for (let e = this.head; e; ) {
      const next = e.next;
      this.visited++;
      const m = e.m;
      const seqno = m.namedSeqno;
      if (m.lastBulk) {
        this.rcvNxt = seqno;
        this.open = true;
      }
      if (m.bulk || !m.nonLegacy) {
        this.unlink(e);
        return m;
      }
      if (this.open && this.rcvNxt === seqno) {
        this.rcvNxt = mod16(this.rcvNxt + 1);
        this.unlink(e);
        return m;
      }
      if (less(seqno, this.rcvNxt)) {
        this.unlink(e);
        this.dropped++;
      }
      e = next;
    }
    return undefined;
  }

  private unlink(e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    this.length--;
  }
}

/** A bare kernel-like receiver over a table: no validation, no events, no counters but the queue's. */
export class KernelQueueReceiver {
  private readonly peers = new Map<number, KernelNamedQueue>();
  applied = 0;

  constructor(private readonly table: BindingStore) {}

  private get(peer: number): KernelNamedQueue {
    let q = this.peers.get(peer);
    if (!q) {
      q = new KernelNamedQueue();
      this.peers.set(peer, q);
    }
    return q;
  }

  /** messages walked past while scanning, all peers */
  get visited(): number {
    let n = 0;
    for (const q of this.peers.values()) n += q.visited;
    return n;
  }

  state(peer: number): { open: boolean; rcvNxt: number; queued: number } {
    const q = this.get(peer);
    return { open: q.open, rcvNxt: q.rcvNxt, queued: q.length };
  }

  receive(peer: number, m: NameDistributorMessage): void {
    const q = this.get(peer);
    q.push(m);
    for (let next = q.dequeue(); next; next = q.dequeue()) this.apply(peer, next);
  }

  /** Node down as the kernel handles it: purge the bindings and the queue, keep open/rcvNxt. */
  nodeDown(peer: number): void {
    this.get(peer).flush();
    this.table.purgeNode(peer);
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
