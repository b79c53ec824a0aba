import { describe, expect, it } from "vitest";
import { realClock, seededRandom } from "./clock.js";

/** Timers that keep the process alive (an unref'd timer is not listed). */
const refedTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("shared clock and random", () => {
  it("seededRandom draws the stream @tipcjs/transport-memory published (xoshiro128**)", () => {
    // values recorded from transport-memory's seededRandom before it moved here: seeded runs
    // (simulator reports, property-test seeds) replay as they did
    const expected: [number, number[]][] = [
      [0, [0.8868539538234472, 0.26395898405462503, 0.012474989285692573]],
      [1, [0.5686059962026775, 0.753928849240765, 0.8893939366098493]],
      [42, [0.6606157226487994, 0.12688010395504534, 0.11170196393504739]],
      [0xffffffff, [0.19461841275915504, 0.44733440689742565, 0.5485967288259417]],
    ];
    for (const [seed, values] of expected) {
      const r = seededRandom(seed);
      expect([r(), r(), r()]).toEqual(values);
    }
  });

  it("realClock keeps the process alive for a pending timer, unless unref is asked", () => {
    const before = refedTimers();
    const kept = realClock().setTimer(60_000, () => {});
    expect(refedTimers()).toBe(before + 1);
    kept.cancel();
    expect(refedTimers()).toBe(before);
    const unrefd = realClock({ unref: true }).setTimer(60_000, () => {});
    expect(refedTimers()).toBe(before);
    unrefd.cancel();
  });

  it("realClock({ unref: true }) still fires zero-delay and delayed timers, and cancels", async () => {
    const clock = realClock({ unref: true });
    const seen: string[] = [];
    clock.setTimer(1, () => seen.push("later"));
    clock.setTimer(0, () => seen.push("now"));
    clock.setTimer(0, () => seen.push("cancelled")).cancel();
    const t0 = clock.now();
    await new Promise<void>((resolve) => {
      const poll = () => (seen.length >= 2 || clock.now() - t0 > 5000 ? resolve() : setTimeout(poll, 2));
      poll();
    });
    expect(seen.sort()).toEqual(["later", "now"]);
  });
});
