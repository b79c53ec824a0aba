import { describe, expect, it } from "vitest";
import type { Binding, SubscriptionEvent } from "./index.js";
import { NameTable, NameTableError, TIPC_WAIT_FOREVER } from "./index.js";

const OWN = 0x1001;
const bind = (lower: number, upper: number, node: number, port: number, key = port): Binding => ({
  type: 1000,
  lower,
  upper,
  scope: "cluster",
  node,
  port,
  key,
});
/** kind, found range, socket: what a topology-service user reads from `struct tipc_event`. */
const brief = (events: SubscriptionEvent[]) =>
  events.map((e) => [e.kind, e.found.lower, e.found.upper, e.socket.node, e.socket.port]);

describe("subscriptions, ports mode", () => {
  it("reports every binding overlapping the range, with the intersection as found range", () => {
    const t = new NameTable({ ownNode: OWN });
    t.subscribe({ type: 1000, lower: 10, upper: 20, mode: "ports" });
    expect(t.takeEvents()).toEqual([]);
    t.insert(bind(5, 15, 2, 1));
    t.insert(bind(5, 15, 3, 2)); // same range again: ports mode reports it too
    t.insert(bind(21, 30, 2, 3)); // outside: nothing
    t.insert(bind(12, 12, 4, 4));
    t.insert({ ...bind(15, 25, 2, 5), type: 999 }); // another type: nothing
    expect(brief(t.takeEvents())).toEqual([
      ["published", 10, 15, 2, 1],
      ["published", 10, 15, 3, 2],
      ["published", 12, 12, 4, 4],
    ]);
    t.remove({ type: 1000, lower: 5, upper: 15, node: 2, key: 1 });
    t.purgeNode(4);
    expect(brief(t.takeEvents())).toEqual([
      ["withdrawn", 10, 15, 2, 1],
      ["withdrawn", 12, 12, 4, 4],
    ]);
  });

  it("carries the subscription, its handle, the scope and the whole binding", () => {
    const t = new NameTable({ ownNode: OWN });
    const sub = t.subscribe({ type: 1000, lower: 0, upper: 3, mode: "ports", handle: "h1" });
    t.insert(bind(2, 9, 7, 70, 71));
    const [e] = t.takeEvents();
    expect(e).toEqual({
      kind: "published",
      subscription: sub,
      found: { lower: 2, upper: 3 },
      socket: { node: 7, port: 70 },
      scope: "cluster",
      binding: bind(2, 9, 7, 70, 71),
    });
    expect(e?.subscription.handle).toBe("h1");
  });

  it("sends initial events for what already matches, in publication order", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(bind(50, 60, 2, 1));
    t.insert(bind(1, 100, 3, 2));
    t.insert(bind(50, 60, 4, 3));
    t.insert(bind(200, 300, 5, 4));
    t.subscribe({ type: 1000, lower: 55, upper: 150, mode: "ports" });
    expect(brief(t.takeEvents())).toEqual([
      ["published", 55, 60, 2, 1],
      ["published", 55, 100, 3, 2],
      ["published", 55, 60, 4, 3],
    ]);
    t.subscribe({ type: 1000, lower: 55, upper: 150, mode: "ports", initialEvents: false });
    expect(t.takeEvents()).toEqual([]);
  });

  it("filters on scope when asked", () => {
    const t = new NameTable({ ownNode: OWN });
    t.subscribe({ type: 1000, lower: 0, upper: 10, mode: "ports", scope: "node" });
    t.insert(bind(1, 1, OWN, 1));
    t.insert({ ...bind(2, 2, OWN, 2), scope: "node" });
    expect(brief(t.takeEvents())).toEqual([["published", 2, 2, OWN, 2]]);
  });
});

describe("subscriptions, service mode", () => {
  it("reports a range's first binding and the withdrawal of its last, nothing in between", () => {
    const t = new NameTable({ ownNode: OWN });
    t.subscribe({ type: 1000, lower: 0, upper: 100, mode: "service" });
    t.insert(bind(10, 20, 2, 1));
    t.insert(bind(10, 20, 3, 2));
    t.insert(bind(10, 20, 4, 3));
    expect(brief(t.takeEvents())).toEqual([["published", 10, 20, 2, 1]]);
    t.purgeNode(2);
    t.remove({ type: 1000, lower: 10, upper: 20, node: 4, key: 3 });
    expect(t.takeEvents()).toEqual([]);
    t.remove({ type: 1000, lower: 10, upper: 20, node: 3, key: 2 });
    expect(brief(t.takeEvents())).toEqual([["withdrawn", 10, 20, 3, 2]]);
  });

  it("treats overlapping ranges as separate ranges, as the kernel's interval tree does", () => {
    const t = new NameTable({ ownNode: OWN });
    t.subscribe({ type: 1000, lower: 5, upper: 5, mode: "service" });
    t.insert(bind(0, 10, 2, 1));
    t.insert(bind(5, 5, 3, 2));
    t.insert(bind(4, 6, 4, 3));
    t.insert(bind(0, 10, 5, 4)); // second binding of [0,10]: no event
    expect(brief(t.takeEvents())).toEqual([
      ["published", 5, 5, 2, 1],
      ["published", 5, 5, 3, 2],
      ["published", 5, 5, 4, 3],
    ]);
    t.purgeNode(2); // [0,10] keeps node 5's binding
    t.purgeNode(4); // [4,6] is now empty
    expect(brief(t.takeEvents())).toEqual([["withdrawn", 5, 5, 4, 3]]);
  });

  it("initial events: one per overlapping range, its first publication, in publication order", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(bind(30, 40, 2, 1));
    t.insert(bind(1, 5, 3, 2));
    t.insert(bind(30, 40, 4, 3));
    t.insert(bind(1, 5, 5, 4));
    t.lookupAnycast(1000, 30); // round-robin rotates the list; the first publication stays the same
    t.subscribe({ type: 1000, lower: 0, upper: 1000, mode: "service" });
    expect(brief(t.takeEvents())).toEqual([
      ["published", 30, 40, 2, 1],
      ["published", 1, 5, 3, 2],
    ]);
  });

  it("orders events of several subscriptions newest first, as the kernel's list does", () => {
    const t = new NameTable({ ownNode: OWN });
    const a = t.subscribe({ type: 1000, lower: 0, upper: 10, mode: "service" });
    const b = t.subscribe({ type: 1000, lower: 0, upper: 10, mode: "ports" });
    t.insert(bind(1, 1, 2, 1));
    expect(t.takeEvents().map((e) => e.subscription.id)).toEqual([b.id, a.id]);
  });
});

describe("subscription timeouts and cancellation", () => {
  it("queues a timeout event at the deadline, echoing the range with socket {0, 0}, then ends", () => {
    const t = new NameTable({ ownNode: OWN });
    const sub = t.subscribe({ type: 1000, lower: 3, upper: 4, mode: "ports", timeout: 500, handle: 7 }, 1000);
    expect(sub.deadline).toBe(1500);
    expect(t.nextDeadline()).toBe(1500);
    t.expire(1499);
    expect(t.takeEvents()).toEqual([]);
    t.expire(1500);
    expect(t.takeEvents()).toEqual([
      { kind: "timeout", subscription: sub, found: { lower: 3, upper: 4 }, socket: { node: 0, port: 0 } },
    ]);
    expect(sub.active).toBe(false);
    expect(t.nextDeadline()).toBeUndefined();
    t.insert(bind(3, 3, 2, 1));
    expect(t.takeEvents()).toEqual([]);
    expect(t.unsubscribe(sub)).toBe(false);
  });

  it("fires several timeouts in deadline order, and initial events come before a zero timeout", () => {
    const t = new NameTable({ ownNode: OWN });
    t.insert(bind(1, 1, 2, 1));
    const late = t.subscribe({ type: 1000, lower: 0, upper: 9, mode: "ports", timeout: 30 }, 0);
    const early = t.subscribe({ type: 1000, lower: 0, upper: 9, mode: "ports", timeout: 10 }, 0);
    const now = t.subscribe({ type: 1000, lower: 0, upper: 9, mode: "ports", timeout: 0 }, 0);
    const forever = t.subscribe(
      { type: 1000, lower: 0, upper: 9, mode: "ports", timeout: TIPC_WAIT_FOREVER },
      0,
    );
    expect(forever.deadline).toBeUndefined();
    t.takeEvents();
    t.expire(100);
    expect(t.takeEvents().map((e) => [e.kind, e.subscription.id])).toEqual([
      ["timeout", now.id],
      ["timeout", early.id],
      ["timeout", late.id],
    ]);
    expect(t.activeSubscriptions()).toEqual([forever]);
  });

  it("cancellation stops events and removes the pending timeout", () => {
    const t = new NameTable({ ownNode: OWN });
    const sub = t.subscribe({ type: 1000, lower: 0, upper: 9, mode: "ports", timeout: 10 }, 0);
    expect(t.unsubscribe(sub)).toBe(true);
    expect(t.unsubscribe(sub.id)).toBe(false);
    expect(t.nextDeadline()).toBeUndefined();
    t.insert(bind(1, 1, 2, 1));
    t.expire(1000);
    expect(t.takeEvents()).toEqual([]);
    expect(t.activeSubscriptions()).toEqual([]);
  });

  it("survives heavy subscribe/cancel churn with long timeouts (lazy heap cleanup)", () => {
    const t = new NameTable({ ownNode: OWN });
    const keep = t.subscribe({ type: 1, lower: 0, upper: 0, mode: "ports", timeout: 5 }, 0);
    for (let i = 0; i < 1000; i++) {
      t.unsubscribe(t.subscribe({ type: 1, lower: 0, upper: 0, mode: "ports", timeout: 1e6 }, 0));
    }
    expect(t.nextDeadline()).toBe(5);
    t.expire(5);
    expect(t.takeEvents().map((e) => e.subscription.id)).toEqual([keep.id]);
    expect(t.nextDeadline()).toBeUndefined();
  });

  it("rejects bad requests with NameTableError and keeps the subscriptions it had", () => {
    const t = new NameTable({ ownNode: OWN, maxSubscriptions: 1 });
    const ok = t.subscribe({ type: 1, lower: 0, upper: 0, mode: "ports" });
    const bad: unknown[] = [
      null,
      { type: 1, lower: 5, upper: 4, mode: "ports" },
      { type: 1, lower: 0, upper: 4, mode: "both" },
      { type: -1, lower: 0, upper: 4, mode: "ports" },
      { type: 1, lower: 0, upper: 4, mode: "ports", scope: "zone" },
      { type: 1, lower: 0, upper: 4, mode: "ports", timeout: 10 }, // no `now`
      { type: 1, lower: 0, upper: 4, mode: "ports", timeout: 1.5 },
    ];
    for (const request of bad) {
      expect(() => t.subscribe(request as never, 0)).toThrow(NameTableError);
    }
    expect(() => t.subscribe({ type: 1, lower: 0, upper: 0, mode: "ports" })).toThrow(
      expect.objectContaining({ code: "SUBSCRIPTION_LIMIT" }),
    );
    expect(t.activeSubscriptions()).toEqual([ok]);
  });
});
