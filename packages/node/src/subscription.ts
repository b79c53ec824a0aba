import type { SubscriptionEvent } from "@tipcjs/name-table";
import type { TopologySubscription } from "./types.js";

/** Events of one topology subscription, queued until read by `for await`. */
export class TopologySubscriptionImpl implements TopologySubscription {
  private readonly queue: SubscriptionEvent[] = [];
  private waiting: ((r: IteratorResult<SubscriptionEvent>) => void) | undefined;
  private ended = false;

  constructor(
    readonly id: number,
    private readonly onCancel: () => void,
  ) {}

  get active(): boolean {
    return !this.ended;
  }

  /** Events already delivered but not yet read. */
  get queued(): number {
    return this.queue.length;
  }

  push(ev: SubscriptionEvent): void {
    if (this.ended) return;
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w({ value: ev, done: false });
    } else this.queue.push(ev);
  }

  /** No more events (timeout, node closed); what is queued can still be read. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.({ value: undefined, done: true });
  }

  cancel(): void {
    if (this.ended) return;
    this.queue.length = 0;
    this.end();
    this.onCancel();
  }

  /** Reads all queued events without waiting (for synchronous callers and tests). */
  drain(): SubscriptionEvent[] {
    return this.queue.splice(0);
  }

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionEvent> {
    return {
      next: () => {
        const ev = this.queue.shift();
        if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: () => {
        this.cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
