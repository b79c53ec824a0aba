import { describe, expect, it } from "vitest";
import { createVirtualClock, realClock, seededRandom } from "./clock.js";

describe("virtual clock", () => {
  it("runs events in time order, same-time events in scheduling order", () => {
    const clock = createVirtualClock(1);
    const seen: string[] = [];
    clock.setTimer(10, () => seen.push(`b@${clock.now()}`));
    clock.setTimer(5, () => seen.push(`a@${clock.now()}`));
    clock.setTimer(10, () => seen.push(`c@${clock.now()}`));
    clock.setTimer(0, () => {
      seen.push(`z@${clock.now()}`);
      clock.setTimer(0, () => seen.push(`nested@${clock.now()}`));
    });
    expect(clock.pending).toBe(4);
    expect(clock.runUntil(7)).toBe(3);
    expect(clock.now()).toBe(7);
    expect(clock.runUntilIdle()).toBe(2);
    expect(seen).toEqual(["z@0", "nested@0", "a@5", "b@10", "c@10"]);
    expect(clock.now()).toBe(10);
  });

  it("cancels timers and reports the next event", () => {
    const clock = createVirtualClock(1);
    let fired = 0;
    const t = clock.setTimer(3, () => fired++);
    clock.setTimer(8, () => fired++);
    t.cancel();
    t.cancel();
    expect(clock.pending).toBe(1);
    expect(clock.nextTime()).toBe(8);
    expect(clock.step()).toBe(true);
    expect(clock.step()).toBe(false);
    expect(fired).toBe(1);
    expect(clock.advance(2)).toBe(0);
    expect(clock.now()).toBe(10);
  });

  it("throws instead of spinning for ever on a self-rescheduling timer", () => {
    const clock = createVirtualClock(1);
    const again = () => {
      clock.setTimer(1, again);
    };
    again();
    expect(() => clock.runUntilIdle(1000)).toThrow(RangeError);
  });

  it("draws the same random stream from the same seed, and a different one from another", () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const xs = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(createVirtualClock(42).random()).toBe(xs[0]);
  });

  it("real clock fires zero-delay and delayed timers, and cancels", async () => {
    const clock = realClock();
    const seen: string[] = [];
    clock.setTimer(0, () => seen.push("now"));
    clock.setTimer(1, () => seen.push("later"));
    clock.setTimer(0, () => seen.push("cancelled")).cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(["now", "later"]);
  });
});
