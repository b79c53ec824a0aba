import { describe, expect, it } from "vitest";
import { namedScenario } from "./named.js";
import { fmt, htmlReport, scenarioEvents, summaryTable } from "./report.js";
import { parseScenario } from "./scenario.js";
import { runScenario } from "./sim.js";

const small = (o: Record<string, unknown> = {}) =>
  parseScenario({
    nodes: 12,
    bindingsPerNode: 2,
    duration: 1500,
    updates: { rate: 40 },
    link: { bandwidth: 100 },
    joiners: [{ joinAt: 500, leaveAt: 1000 }],
    crashes: [{ node: 3, at: 600, restartAt: 1200 }],
    detectionDelay: 200,
    sweep: { sizes: [4, 8], duration: 400 },
    ...o,
  });

describe("numbers for people", () => {
  it("thousands separators and at most the given decimals, whatever the machine's locale", () => {
    expect(fmt(9789300)).toBe("9,789,300");
    expect(fmt(1234567.891)).toBe("1,234,567.891");
    expect(fmt(0.00479, 4)).toBe("0.0048");
    expect(fmt(299)).toBe("299");
  });
});

describe("scenario events on the time axes", () => {
  it("the default scenario: join and leave of the pre-2020 node, crash and restart of node 7, in time order", () => {
    expect(scenarioEvents(namedScenario("default"))).toEqual([
      { t: 4000, kind: "join", label: "join <1.0.301>" },
      { t: 8000, kind: "leave", label: "leave <1.0.301>" },
      { t: 9000, kind: "crash", label: "crash <1.0.8>" },
      { t: 10500, kind: "restart", label: "restart <1.0.8>" },
    ]);
  });

  it("link resets and bearer outages too; events past the end are left out", () => {
    const sc = parseScenario({
      fidelity: "full",
      nodes: 4,
      duration: 1000,
      link: { bearers: 2 },
      flaps: [{ a: 0, b: 1, at: 300 }],
      bearerOutages: [{ bearer: 1, at: 100, restoreAt: 2000 }],
      joiners: [{ joinAt: 900 }],
    });
    expect(scenarioEvents(sc).map((e) => `${e.t} ${e.kind} ${e.label}`)).toEqual([
      "100 bearer down LAN 1 down",
      "300 link reset link reset <1.0.1>-<1.0.2>",
      "900 join join <1.0.5>",
    ]);
  });
});

describe("what the report is drawn from", () => {
  it("the sender's queueing: one copy's time for a broadcast, N-1 copies' for replicast", async () => {
    const r = await runScenario(small({ joiners: [], crashes: [], sweep: undefined }));
    const [mixed, bc, legacy] = r.modes;
    // 60 bytes at 100 Mbit/s: 0.0048 ms a copy; 11 peers: 0.0528 ms for the last copy.
    const copy = (60 * 8) / 100_000;
    expect(bc?.updates.senderQueue?.p99).toBeCloseTo(copy, 4);
    expect(mixed?.updates.senderQueue?.max).toBeCloseTo(copy, 4); // no pre-2020 node: broadcast throughout
    expect(legacy?.updates.senderQueue?.p50).toBeGreaterThanOrEqual(11 * copy - 1e-4);
    expect(legacy?.updates.bytes).toBe((legacy?.updates.count ?? 0) * 11 * 60);
    expect(bc?.updates.bytes).toBe((bc?.updates.count ?? 0) * 60);
  });

  it("the latency CDF: 101 percentiles, nondecreasing, p50 and p99 among them", async () => {
    const r = await runScenario(small());
    for (const m of r.modes) {
      const { cdf, p50, p99, max } = m.latency;
      expect(cdf).toHaveLength(101);
      for (let i = 1; i < cdf.length; i++) expect(cdf[i]).toBeGreaterThanOrEqual(cdf[i - 1] as number);
      expect([cdf[50], cdf[99], cdf[100]]).toEqual([p50, p99, max]);
    }
  });

  it("full fidelity: the timeline starts at the end of formation (the scenario's time 0), no sender queue", async () => {
    const r = await runScenario(
      parseScenario({
        fidelity: "full",
        nodes: 4,
        bindingsPerNode: 2,
        duration: 600,
        updates: { rate: 20 },
        modes: ["all-broadcast"],
      }),
    );
    const m = r.modes[0];
    const sum = (xs: number[] | undefined) => (xs ?? []).reduce((a, b) => a + b, 0);
    // Full fidelity bins every fabric datagram, to the broadcast address or to one peer. Those
    // of formation (discovery, link setup, bulks) come before time 0 and those of the settling
    // after the end: counted in `sent`, not in the bins (which used to pile them up at both ends).
    const sent = (m?.sent.broadcast.messages ?? 0) + (m?.sent.replicast.messages ?? 0);
    const binned = sum(m?.timeline.broadcast) + sum(m?.timeline.replicast);
    expect(m?.timeline.binWidth).toBe(6);
    expect(binned).toBeGreaterThan(0);
    expect(binned).toBeLessThan(sent);
    expect(m?.extra?.formationMs).toBeGreaterThan(0);
    expect(m?.updates.senderQueue).toBeUndefined();
  });
});

describe("the HTML report", () => {
  it("is the same for the same seed, names every chart and event, thousands separators in the tables", async () => {
    const a = htmlReport(await runScenario(small()));
    const b = htmlReport(await runScenario(small()));
    expect(a).toBe(b);
    for (const id of ["c-scale", "c-latency", "c-timeline", "c-switch", "c-bytes", "c-queue"])
      expect(a).toContain(`<canvas id="${id}">`);
    const r = await runScenario(small());
    const bw = r.modes[0]?.timeline.binWidth;
    expect(a).toContain(`Messages over time: transmissions per ${bw} ms bin`);
    expect(a).toContain('<li data-kind="join">join &lt;1.0.13&gt; at 500 ms</li>');
    expect(a).toContain('<li data-kind="restart">restart &lt;1.0.4&gt; at 1,200 ms</li>');
    expect(a).toContain("mixed and all-legacy coincide at every size");
    const legacy = r.modes[2];
    expect(legacy?.updates.bytes).toBeGreaterThan(1000);
    expect(a).toContain(`<td>${fmt(legacy?.updates.bytes ?? 0)}</td>`);
    expect(fmt(legacy?.updates.bytes ?? 0)).toContain(",");
    expect(summaryTable(r)).toContain("update bytes per update");
  });

  it("one name per mode: no all-replicast left in the scenarios", () => {
    expect(namedScenario("default").description).not.toContain("all-replicast");
    expect(namedScenario("default").description).toContain("all-legacy");
  });
});
