/**
 * tipcsim's HTML report opened in headless Chromium (Debian's `chromium`, see
 * scripts/bootstrap.sh): the six charts render (a non-empty canvas each) with no console error
 * and no network request; the default scenario's report is screenshot to
 * out/tipcsim-report/tipcsim-report.png and checked for what a reader needs (numeric log axes,
 * p50/p99 marked, the scenario's events drawn, a legend entry per series). Plus the 1,000-node
 * publisher rule, too slow for the unit project.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { htmlReport, namedScenario, parseScenario, runScenario } from "tipcsim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = "/usr/bin/chromium";
/** The screenshot, kept as the test's artifact (out/ is ignored by git). */
const SCREENSHOT = resolve(import.meta.dirname, "../../../out/tipcsim-report/tipcsim-report.png");
const CHARTS = ["c-scale", "c-latency", "c-timeline", "c-switch", "c-bytes", "c-queue"];

describe("HTML report in headless Chromium", () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), "tipcsim-report-"));

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} missing: run scripts/bootstrap.sh (Debian package chromium)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const name of ["mixed", "race2-method-switch"]) {
    it(`${name}: every chart renders, no console error, no network`, async () => {
      const sc =
        name === "mixed"
          ? parseScenario({
              nodes: 30,
              bindingsPerNode: 3,
              duration: 2000,
              joiners: [{ joinAt: 800, leaveAt: 1500 }],
              sweep: { sizes: [5, 10, 20], duration: 400 },
            })
          : namedScenario(name);
      const file = join(dir, `${name}.html`);
      writeFileSync(file, htmlReport(await runScenario(sc)));
      const page = await browser.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("request", (r) => {
        if (!r.url().startsWith("file:")) requests.push(r.url());
      });
      await page.goto(`file://${file}`);
      await page.waitForSelector("body[data-rendered=yes]", { timeout: 30_000 });
      const canvases = await page.$$eval("canvas", (cs) =>
        cs.map((el) => {
          const c = el as unknown as {
            id: string;
            width: number;
            height: number;
            getContext(k: "2d"): {
              getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
            } | null;
          };
          // Non-empty: the chart drew pixels (axes, labels, data) on the canvas.
          const ctx = c.getContext("2d");
          const data = ctx?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if ((data[i] as number) > 0) painted++;
          return { id: c.id, width: c.width, height: c.height, painted };
        }),
      );
      await page.close();
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      expect(canvases.map((c) => c.id)).toEqual(CHARTS);
      for (const c of canvases) {
        expect(c.width).toBeGreaterThan(0);
        expect(c.height).toBeGreaterThan(0);
        expect(c.painted).toBeGreaterThan(500);
      }
    });
  }
  it("the default scenario, screenshot: numeric log axes, p50/p99 marked, events drawn, a legend entry per series", async () => {
    const r = await runScenario(namedScenario("default"));
    const file = join(dir, "default.html");
    writeFileSync(file, htmlReport(r));
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    await page.waitForSelector("body[data-rendered=yes]", { timeout: 30_000 });
    mkdirSync(resolve(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const seen = await readPage(page);
    await page.close();
    expect(errors).toEqual([]);
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.length).toBeGreaterThan(100_000);

    const c = seen.charts;
    expect(Object.keys(c)).toEqual(["scale", "latency", "timeline", "bytes", "queue", "switch"]);
    // Every chart: titled axes, each legend entry its own colour and marker.
    for (const [name, x] of Object.entries(c)) {
      expect(x.x.title, name).not.toBe("");
      expect(x.y.title, name).not.toBe("");
      const looks = x.legend.map((l) => `${l.fill}|${l.stroke}|${l.point}`);
      expect(new Set(looks).size, name).toBe(looks.length);
      expect(new Set(x.legend.map((l) => l.text)).size, name).toBe(x.legend.length);
    }

    // 1. tx per update vs cluster size: numeric log axes; 1 well above the axis' bottom; all-legacy
    // and mixed (equal: N-1) both drawn, side by side with all-broadcast.
    expect(c.scale?.x.type).toBe("logarithmic");
    expect(c.scale?.x.ticks).toEqual([25, 50, 100, 200, 300]);
    expect(c.scale?.y.type).toBe("logarithmic");
    expect(c.scale?.y.ticks).toEqual([1, 10, 100, 1000]);
    expect((c.scale?.y.bottom ?? 0) - (c.scale?.y.pixelOf1 ?? 0)).toBeGreaterThan(20);
    expect(c.scale?.legend.map((l) => l.text)).toEqual(["mixed", "all-broadcast", "all-legacy"]);
    for (const mode of ["mixed", "all-broadcast", "all-legacy"])
      expect(seen.seriesPixels[mode], `${mode} drawn near its last point`).toBeGreaterThan(20);
    expect(seen.scaleNote).toContain("mixed and all-legacy coincide");

    // 2. the CDF: p50 and p99 marked on each curve, where the curve crosses 50 % and 99 %.
    expect(c.latency?.x.type).toBe("linear");
    expect(c.latency?.y.ticks).toContain(0.99);
    for (const [k, m] of r.modes.entries()) {
      const mark = seen.marks[k];
      expect(c.latency?.legend[k]?.text).toBe(
        `${m.mode}: p50 ${m.latency.p50.toLocaleString("en-US")} ms, p99 ${m.latency.p99.toLocaleString("en-US")} ms`,
      );
      expect(mark?.radius50).toBeGreaterThan(0);
      expect(mark?.radius99).toBeGreaterThan(0);
      expect(mark?.y50).toBeCloseTo(c.latency?.y.pixelOfHalf ?? 0, 0);
      expect(mark?.x50).toBeCloseTo(mark?.xOfP50 ?? 0, 0);
      expect(mark?.x99).toBeCloseTo(mark?.xOfP99 ?? 0, 0);
    }
    expect(seen.guides).toEqual(["p50", "p99"]);

    // 3. messages over time: the bin width stated, numeric time axis, each event drawn at its time.
    const bw = r.modes[0]?.timeline.binWidth ?? 0;
    expect(seen.h3).toContain(`Messages over time: transmissions per ${bw} ms bin`);
    expect(c.timeline?.x.type).toBe("linear");
    expect(c.timeline?.x.title).toBe(`virtual time, ms (bins of ${bw} ms)`);
    expect(c.timeline?.y.type).toBe("logarithmic"); // formation's bulk: tens of thousands per bin
    expect(seen.events.map((e) => e.label)).toEqual([
      "join <1.0.301>",
      "leave <1.0.301>",
      "crash <1.0.8>",
      "restart <1.0.8>",
    ]);
    for (const e of seen.events) {
      for (const chart of ["timeline", "switch"] as const) {
        const px = e.pixels[chart];
        expect(px?.on, `${e.label} on ${chart}`).toBeGreaterThan(40);
        expect(px?.off, `${e.label} on ${chart}, 9 px beside`).toBeLessThan((px?.on ?? 0) / 3);
      }
    }
    expect(seen.eventList).toEqual([
      "join <1.0.301> at 4,000 ms",
      "leave <1.0.301> at 8,000 ms",
      "crash <1.0.8> at 9,000 ms",
      "restart <1.0.8> at 10,500 ms",
    ]);

    // 4. update bytes per update and 5. the sender's queueing, per mode, on log axes.
    expect(c.bytes?.y.type).toBe("logarithmic");
    expect(c.bytes?.labels).toEqual(["mixed", "all-broadcast", "all-legacy"]);
    expect(seen.bytes).toEqual(r.modes.map((m) => Math.round((m.updates.bytes / m.updates.count) * 10) / 10));
    expect(seen.bytes[1]).toBe(60);
    expect(c.queue?.legend.map((l) => l.text)).toEqual(["p50", "p99"]);
    expect(c.queue?.y.type).toBe("logarithmic");

    // 6. switch points: to replicast and back, each its own marker.
    expect(c.switch?.legend.map((l) => l.text)).toEqual(["mixed: to replicast", "mixed: back to broadcast"]);

    // thousands separators in the table
    const legacyBytes = r.modes[2]?.updates.bytes ?? 0;
    expect(seen.summary[2]).toContain(legacyBytes.toLocaleString("en-US"));
    expect(legacyBytes).toBeGreaterThan(1_000_000);
  });

  it("stale-gate-loss-unfixed, measured: the page says where tables diverged, how many, and the performance", async () => {
    const r = await runScenario(namedScenario("stale-gate-loss-unfixed"), { measure: true });
    const m = r.modes[0];
    const file = join(dir, "divergence.html");
    writeFileSync(file, htmlReport(r));
    const page = await browser.newPage();
    await page.goto(`file://${file}`);
    await page.waitForSelector("body[data-rendered=yes]", { timeout: 30_000 });
    const sections = await page.$$eval("h2", (hs) =>
      hs.map((h) => {
        const t = h.nextElementSibling as unknown as {
          tBodies?: { rows: { cells: { textContent: string | null }[] }[] }[];
        } | null;
        const rows = t?.tBodies?.[0]?.rows ?? [];
        return {
          title: h.textContent,
          rows: Array.from(rows, (row) => Array.from(row.cells, (c) => c.textContent ?? "")),
        };
      }),
    );
    await page.close();
    const where = sections.find((x) => x.title?.startsWith("Where tables diverged"));
    expect(where?.rows[0]?.slice(0, 3)).toEqual([
      "all-broadcast",
      String(m?.checks.final.differences),
      String(m?.checks.final.pairs),
    ]);
    // kernel node <1.0.31> (index 30) and a restarted peer <1.0.2> (index 1)
    expect(where?.rows[0]?.[3]).toContain("<1.0.31> \u2190 <1.0.2>");
    const perf = sections.find((x) => x.title?.startsWith("Performance"));
    // thousands separators (issue 19)
    expect(perf?.rows[0]?.[3]).toBe(m?.measured?.eventsPerSecond.toLocaleString("en-US"));
    expect(perf?.rows[0]?.[6]).toBe(m?.measured?.bytesPerNodePair.toLocaleString("en-US"));
  });
});

interface AxisSeen {
  type: string;
  title: string;
  ticks: number[];
  bottom: number;
  pixelOf1: number;
  pixelOfHalf: number;
}
interface ChartSeen {
  x: AxisSeen;
  y: AxisSeen;
  labels: string[];
  legend: { text: string; fill: string; stroke: string; point: string }[];
}
interface PageSeen {
  charts: Record<string, ChartSeen>;
  seriesPixels: Record<string, number>;
  marks: {
    radius50: number;
    radius99: number;
    x50: number;
    y50: number;
    x99: number;
    xOfP50: number;
    xOfP99: number;
  }[];
  guides: string[];
  events: { label: string; pixels: Record<string, { on: number; off: number }> }[];
  eventList: string[];
  h3: string[];
  scaleNote: string;
  bytes: number[];
  summary: string[];
}

/** What the page shows, read from the live charts and from their pixels. */
async function readPage(page: Page): Promise<PageSeen> {
  return page.evaluate(() => {
    // Chart.js's objects, as far as this reads them.
    interface Scale {
      type: string;
      options: { title: { text: string } };
      ticks: { value: number }[];
      bottom: number;
      getPixelForValue(v: number): number;
    }
    interface Element {
      x: number;
      y: number;
      options: { radius: number };
    }
    interface Chart {
      ctx: {
        getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
      };
      currentDevicePixelRatio: number;
      chartArea: { top: number; bottom: number; left: number; right: number };
      scales: Record<string, Scale>;
      data: { labels?: string[]; datasets: { label: string; data: unknown[]; borderColor: string }[] };
      legend: {
        legendItems: { text: string; fillStyle: unknown; strokeStyle: unknown; pointStyle: unknown }[];
      };
      options: { plugins: { guides?: { lines: { label: string }[] } } };
      getDatasetMeta(i: number): { data: Element[] };
    }
    const w = globalThis as unknown as {
      tipcsimReport: {
        charts: Record<string, Chart>;
        data: {
          events: { t: number; label: string; kind: string }[];
          eventColors: Record<string, string>;
          style: Record<string, { color: string }>;
          modes: { mode: string; latency: { p50: number; p99: number } }[];
        };
      };
    };
    const { charts, data } = w.tipcsimReport;
    const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
    /** pixels of this colour (close to it) in a box of the canvas, in CSS pixels */
    const count = (chart: Chart, x: number, y: number, wid: number, hei: number, color: string) => {
      const r = chart.currentDevicePixelRatio;
      const d = chart.ctx.getImageData(
        Math.round(x * r),
        Math.round(y * r),
        Math.max(1, Math.round(wid * r)),
        Math.max(1, Math.round(hei * r)),
      ).data;
      const [cr, cg, cb] = rgb(color) as [number, number, number];
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (
          Math.abs((d[i] as number) - cr) +
            Math.abs((d[i + 1] as number) - cg) +
            Math.abs((d[i + 2] as number) - cb) <
          60
        )
          n++;
      return n;
    };
    const axis = (s: Scale): AxisSeen => ({
      type: s.type,
      title: s.options.title.text,
      ticks: s.ticks.map((t) => t.value),
      bottom: s.bottom,
      pixelOf1: s.getPixelForValue(1),
      pixelOfHalf: s.getPixelForValue(0.5),
    });
    const seenCharts: Record<string, ChartSeen> = {};
    for (const [name, ch] of Object.entries(charts))
      seenCharts[name] = {
        x: axis(ch.scales.x as Scale),
        y: axis(ch.scales.y as Scale),
        labels: ch.data.labels ?? [],
        legend: ch.legend.legendItems.map((l) => ({
          text: l.text,
          fill: String(l.fillStyle),
          stroke: String(l.strokeStyle),
          point: String(l.pointStyle),
        })),
      };
    const scale = charts.scale as Chart;
    const seriesPixels: Record<string, number> = {};
    scale.data.datasets.forEach((ds, i) => {
      const last = scale.getDatasetMeta(i).data.at(-1) as Element;
      seriesPixels[ds.label] = count(
        scale,
        last.x - 12,
        last.y - 12,
        24,
        24,
        data.style[ds.label]?.color ?? "#000000",
      );
    });
    const lat = charts.latency as Chart;
    const marks = data.modes.map((m, i) => {
      const pts = lat.getDatasetMeta(i).data;
      const x = lat.scales.x as Scale;
      return {
        radius50: (pts[50] as Element).options.radius,
        radius99: (pts[99] as Element).options.radius,
        x50: (pts[50] as Element).x,
        y50: (pts[50] as Element).y,
        x99: (pts[99] as Element).x,
        xOfP50: x.getPixelForValue(m.latency.p50),
        xOfP99: x.getPixelForValue(m.latency.p99),
      };
    });
    const events = data.events.map((e) => {
      const pixels: Record<string, { on: number; off: number }> = {};
      for (const name of ["timeline", "switch"]) {
        const ch = charts[name] as Chart;
        const px = (ch.scales.x as Scale).getPixelForValue(e.t);
        const a = ch.chartArea;
        const color = data.eventColors[e.kind] as string;
        // below the labels: the line itself
        pixels[name] = {
          on: count(ch, px - 1.5, a.top + 50, 3, a.bottom - a.top - 50, color),
          off: count(ch, px + 7.5, a.top + 50, 3, a.bottom - a.top - 50, color),
        };
      }
      return { label: e.label, pixels };
    });
    const doc = (
      globalThis as unknown as {
        document: { querySelectorAll(sel: string): ArrayLike<{ textContent: string | null }> };
      }
    ).document;
    const text = (sel: string) => Array.from(doc.querySelectorAll(sel), (el) => el.textContent ?? "");
    const bytesChart = charts.bytes as Chart;
    return {
      charts: seenCharts,
      seriesPixels,
      marks,
      guides: (lat.options.plugins.guides?.lines ?? []).map((g) => g.label),
      events,
      eventList: text("#l-events li"),
      h3: text("h3"),
      scaleNote: text("#n-scale")[0] ?? "",
      bytes: (bytesChart.data.datasets[0]?.data ?? []) as number[],
      summary: text("#t-summary tbody tr"),
    };
  });
}

describe("1,000 nodes (protocol fidelity, short run)", () => {
  it("1 transmission per update at the publisher when all are broadcast-capable, N-1 = 999 with a legacy node; checks pass", async () => {
    const n = 1000;
    const sc = parseScenario({
      nodes: n - 1,
      bindingsPerNode: 0,
      startInterval: 0.5,
      warmup: 50,
      duration: (n - 2) * 0.5 + 150,
      updates: { rate: 100 },
      joiners: [{ joinAt: 0 }],
      modes: ["all-broadcast", "mixed"],
      checks: { interval: 1e9, max: 0 },
    });
    const r = await runScenario(sc);
    const [bc, mixed] = r.modes;
    expect(bc?.updates.count).toBeGreaterThan(5);
    expect(bc?.updates.perUpdateAtPublisher).toBe(1);
    expect(mixed?.updates.perUpdateAtPublisher).toBe(n - 1);
    expect(bc?.updates.deliveries).toBe((bc?.updates.count ?? 0) * (n - 1));
    expect(r.checksPassed).toBe(true);
  });
});
