import type { SubscriptionEvent } from "@tipcjs/name-table";
import type { NodeError } from "./errors.js";
import type { TopologySubscription } from "./types.js";

/** Events queued, not yet read, across all of a node's subscriptions. */
export interface QueuedEventCount {
  n: number;
}

/** Events of one topology subscription, queued until read by `for await` (the node bounds them). */
export class TopologySubscriptionImpl implements TopologySubscription {
  private readonly queue: SubscriptionEvent[] = [];
  private head = 0;
  private waiting:
    | { resolve: (r: IteratorResult<SubscriptionEvent>) => void; reject: (e: unknown) => void }
    | undefined;
  private ended = false;
  private failure: NodeError | undefined;

  constructor(
    readonly id: number,
    private readonly onCancel: () => void,
    private readonly total: QueuedEventCount = { n: 0 },
  ) {}

  get active(): boolean {
    return !this.ended;
  }

  /** Why the subscription ended early (OVERFLOW), if it did. */
  get error(): NodeError | undefined {
    return this.failure;
  }

  /** Events already delivered but not yet read. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  push(ev: SubscriptionEvent): void {
    if (this.ended) return;
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w.resolve({ value: ev, done: false });
    } else {
      this.queue.push(ev);
      this.total.n++;
    }
  }

  private shift(): SubscriptionEvent | undefined {
    if (this.head >= this.queue.length) return undefined;
    const ev = this.queue[this.head] as SubscriptionEvent;
    this.queue[this.head] = undefined as unknown as SubscriptionEvent;
    this.head++;
    this.total.n--;
    // compact now and then: a long-lived reader keeps an array of what it has not read
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return ev;
  }

  private clear(): void {
    this.total.n -= this.queued;
    this.queue.length = 0;
    this.head = 0;
  }

  /** No more events (timeout, node closed); what is queued can still be read. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve({ value: undefined, done: true });
  }

  /**
   * The reader fell too far behind: its queued events are dropped and the subscription ends;
   * the next read rejects with `error` (NodeError OVERFLOW).
   */
  overflow(error: NodeError): void {
    if (this.ended) return;
    this.clear();
    this.failure = error;
    this.ended = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(error);
  }

  cancel(): void {
    if (this.ended) return;
    this.clear();
    this.end();
    this.onCancel();
  }

  /** Reads all queued events without waiting (for synchronous callers and tests). */
  drain(): SubscriptionEvent[] {
    const out = this.queue.slice(this.head);
    this.clear();
    return out;
  }

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionEvent> {
    return {
      next: () => {
        const ev = this.shift();
        if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
        if (this.failure !== undefined) return Promise.reject(this.failure);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiting = { resolve, reject };
        });
      },
      return: () => {
        this.cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
