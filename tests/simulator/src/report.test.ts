/**
 * tipcsim's HTML report opened in headless Chromium (Debian's `chromium`, see
 * scripts/bootstrap.sh): the four charts render (a non-empty canvas each) with no console error
 * and no network request. Plus the 1,000-node publisher rule, too slow for the unit project.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { htmlReport, namedScenario, parseScenario, runScenario } from "tipcsim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = "/usr/bin/chromium";

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
      expect(canvases.map((c) => c.id)).toEqual(["c-scale", "c-latency", "c-timeline", "c-switch"]);
      for (const c of canvases) {
        expect(c.width).toBeGreaterThan(0);
        expect(c.height).toBeGreaterThan(0);
        expect(c.painted).toBeGreaterThan(500);
      }
    });
  }
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
    expect(perf?.rows[0]?.[3]).toBe(String(m?.measured?.eventsPerSecond));
    expect(perf?.rows[0]?.[6]).toBe(String(m?.measured?.bytesPerNodePair));
  });
});

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
