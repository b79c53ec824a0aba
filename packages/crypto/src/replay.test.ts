import { describe, expect, it } from "vitest";
import { ReplayGuard, ReplayWindow } from "./replay.js";

describe("ReplayWindow", () => {
  it("accepts each seqno once, in any order inside the window", () => {
    const w = new ReplayWindow(64);
    for (const s of [5, 3, 4, 1, 2, 10, 7]) {
      expect(w.check(s)).toBe(true);
      w.mark(s);
      expect(w.check(s)).toBe(false);
    }
    expect(w.check(6)).toBe(true);
    expect(w.check(0)).toBe(false);
  });

  it("refuses seqnos older than the window, and forgets marks as it slides", () => {
    const w = new ReplayWindow(64);
    w.mark(1);
    w.mark(100);
    expect(w.check(36)).toBe(false); // 100 - 36 = 64: outside
    expect(w.check(37)).toBe(true);
    w.mark(37);
    w.mark(37 + 64); // slides: bit 37 reused for 101
    expect(w.check(101)).toBe(false);
    expect(w.check(100)).toBe(false);
    expect(w.check(99)).toBe(true);
    w.mark(10_000); // jump past the whole window
    expect(w.check(9_999)).toBe(true);
    expect(w.check(10_000)).toBe(false);
  });

  it("takes only multiples of 32", () => {
    expect(() => new ReplayWindow(33)).toThrow(RangeError);
  });
});

describe("ReplayGuard (restartable per-peer stream)", () => {
  it("accepts a restart from 1 and the old stream's packets still in flight, each once", () => {
    const g = new ReplayGuard(64);
    for (let s = 1; s <= 300; s++) g.mark(s);
    g.restart();
    // the new stream from 1, interleaved with old packets 301..305 still in flight
    const order = [1, 301, 2, 302, 3, 303, 304, 4, 305, 5];
    for (const s of order) {
      expect(g.check(s)).toBe(true);
      g.mark(s);
    }
    for (const s of order) expect(g.check(s)).toBe(false);
    expect(g.check(250)).toBe(false); // old, replayed
    // the new stream runs past the old one: the old window is dropped
    for (let s = 6; s <= 400; s++) {
      expect(g.check(s)).toBe(true);
      g.mark(s);
    }
    expect(g.check(400)).toBe(false);
  });

  it("tells a short old stream's late packets from the new stream's same seqnos", () => {
    const g = new ReplayGuard(64);
    for (let s = 1; s <= 10; s++) g.mark(s);
    g.restart();
    const order = [1, 11, 2, 12, ...Array.from({ length: 18 }, (_, i) => i + 3)];
    for (const s of order) {
      expect(g.check(s), `seqno ${s}`).toBe(true);
      g.mark(s);
    }
    expect(g.check(20)).toBe(false);
  });
});
