/**
 * Topology-service subscriptions (the kernel's subscr.c): the live subscriptions, their timeouts
 * in a binary heap, and the queue of events the table hands out through `takeEvents`. The table
 * decides which bindings a subscription sees (it owns the ranges); this file turns them into
 * events, in the kernel's order and with its filters.
 */
import { MinHeap } from "@tipcjs/codec";
import { NameTableError } from "./errors.js";
import type {
  Binding,
  Scope,
  Subscription,
  SubscriptionEvent,
  SubscriptionMode,
  SubscriptionRequest,
} from "./types.js";
import { checkObject, checkRange, checkScope, checkU32, describe } from "./validate.js";

/** `TIPC_WAIT_FOREVER`: a subscription timeout that never fires. */
export const TIPC_WAIT_FOREVER = 0xffffffff;
/** `TIPC_MAX_SUBSCR`: the kernel's cap on subscriptions per namespace. */
export const TIPC_MAX_SUBSCR = 65535;

/** A subscription as the table keeps it; handed to users as {@link Subscription}. */
export class SubscriptionState implements Subscription {
  active = true;
  constructor(
    readonly id: number,
    readonly type: number,
    readonly lower: number,
    readonly upper: number,
    readonly mode: SubscriptionMode,
    readonly scope: Scope | undefined,
    readonly handle: unknown,
    readonly deadline: number | undefined,
  ) {}
}

/** Whether `a`'s timeout comes before `b`'s: by deadline, then by id (the older first). */
function earlier(a: SubscriptionState, b: SubscriptionState): boolean {
  const da = a.deadline as number;
  const db = b.deadline as number;
  return da < db || (da === db && a.id < b.id);
}

/**
 * The subscriptions with a timeout, by (deadline, id). An ended subscription is not searched for
 * and taken out: it is dropped when it comes to the top, or when the heap, grown to more than
 * twice the live subscriptions (and 64), is rebuilt.
 */
function timeoutHeap(): MinHeap<SubscriptionState> {
  return new MinHeap<SubscriptionState>(earlier);
}

/** The live subscriptions, their timeouts and the events queued for `takeEvents`. */
export class Subscriptions {
  private readonly live = new Map<number, SubscriptionState>();
  private nextId = 1;
  private readonly timeouts = timeoutHeap();
  private events: SubscriptionEvent[] = [];

  constructor(private readonly max: number) {}

  get size(): number {
    return this.live.size;
  }

  /** The live subscription with this id, or `undefined`. */
  get(id: number): SubscriptionState | undefined {
    return this.live.get(id);
  }

  /** Live subscriptions, oldest first. */
  all(): Subscription[] {
    return [...this.live.values()];
  }

  /**
   * Checks a request and starts the subscription it asks for (with its timeout, if any). Throws
   * {@link NameTableError} for a malformed request or beyond the cap, with nothing changed.
   */
  open(request: SubscriptionRequest, now: number | undefined): SubscriptionState {
    checkObject(request, "request");
    const { type, lower, upper, mode, timeout, scope, handle } = request;
    checkU32(type, "type");
    checkU32(lower, "lower");
    checkU32(upper, "upper");
    checkRange(lower, upper);
    if (mode !== "ports" && mode !== "service") {
      throw new NameTableError(
        "BAD_ARGUMENT",
        `mode must be "ports" or "service", got ${describe(mode)}`,
        "mode",
      );
    }
    if (scope !== undefined) checkScope(scope);
    let deadline: number | undefined;
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY && timeout !== TIPC_WAIT_FOREVER) {
      checkU32(timeout, "timeout");
      if (typeof now !== "number" || !Number.isFinite(now)) {
        throw new NameTableError("BAD_ARGUMENT", "a subscription with a timeout needs `now`", "now");
      }
      deadline = now + timeout;
    }
    if (this.live.size >= this.max) {
      throw new NameTableError("SUBSCRIPTION_LIMIT", `at most ${this.max} subscriptions`);
    }
    const sub = new SubscriptionState(this.nextId++, type, lower, upper, mode, scope, handle, deadline);
    this.live.set(sub.id, sub);
    if (deadline !== undefined) this.timeouts.push(sub);
    return sub;
  }

  /** Ends a subscription (cancelled or timed out). */
  end(sub: SubscriptionState): void {
    sub.active = false;
    this.live.delete(sub.id);
    // Keep the lazily-cleaned heap from growing without bound under subscribe/unsubscribe churn.
    const timeouts = this.timeouts;
    if (timeouts.size > 64 && timeouts.size > 2 * this.live.size) timeouts.retain((t) => t.active);
  }

  /**
   * The live subscription whose deadline is the earliest and at most `now`, taken off the heap (the
   * caller ends it and queues its timeout event), or `undefined` when none is due.
   */
  due(now: number): SubscriptionState | undefined {
    const heap = this.timeouts;
    for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
      if (top.active && (top.deadline as number) > now) return undefined;
      heap.pop();
      if (top.active) return top;
    }
    return undefined;
  }

  /** The earliest pending timeout, or `undefined`. */
  nextDeadline(): number | undefined {
    const heap = this.timeouts;
    for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
      if (top.active) return top.deadline;
      heap.pop();
    }
    return undefined;
  }

  /**
   * The kernel's tipc_sub_report_overlap for binding `b` and each of `subs` (the subscriptions on
   * its type, oldest first), newest first. `must` is false when `service` mode does not report the
   * change (a range that had, or keeps, other bindings).
   */
  report(subs: SubscriptionState[], b: Binding, kind: "published" | "withdrawn", must: boolean): void {
    for (let i = subs.length - 1; i >= 0; i--) {
      const sub = subs[i] as SubscriptionState;
      if (b.lower > sub.upper || b.upper < sub.lower) continue;
      if (!must && sub.mode !== "ports") continue;
      if (sub.scope !== undefined && sub.scope !== b.scope) continue;
      this.events.push({
        kind,
        subscription: sub,
        found: { lower: Math.max(b.lower, sub.lower), upper: Math.min(b.upper, sub.upper) },
        socket: { node: b.node, port: b.port },
        scope: b.scope,
        binding: b,
      });
    }
  }

  /** Queues the timeout event of `sub`, which has just ended. */
  reportTimeout(sub: SubscriptionState): void {
    this.events.push({
      kind: "timeout",
      subscription: sub,
      found: { lower: sub.lower, upper: sub.upper },
      socket: { node: 0, port: 0 },
    });
  }

  /** Hands out (and forgets) the events queued since the last call, oldest first. */
  take(): SubscriptionEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  get pending(): number {
    return this.events.length;
  }
}
