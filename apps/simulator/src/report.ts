/**
 * Output: the terminal summary table (cli-table3) and the self-contained HTML report (Chart.js's
 * UMD build inlined, so it opens with no network). Both are pure functions of the results: the
 * same scenario and seed give the same report, byte for byte.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import Table from "cli-table3";
import { addrOf } from "./protocol.js";
import type { ModeResult } from "./results.js";
import type { Mode, Scenario } from "./scenario.js";
import type { SimResult } from "./sim.js";

/** A number for people: thousands separators, at most `digits` decimals (en-US, whatever the machine's locale). */
export const fmt = (x: number, digits = 3) => x.toLocaleString("en-US", { maximumFractionDigits: digits });

const queueText = (m: ModeResult) =>
  m.updates.senderQueue
    ? `${fmt(m.updates.senderQueue.p50, 4)} / ${fmt(m.updates.senderQueue.p99, 4)} / ${fmt(m.updates.senderQueue.max, 4)}`
    : "-";

/** bytes of the publishers' update messages per update */
const bytesPerUpdate = (m: ModeResult) => (m.updates.count ? m.updates.bytes / m.updates.count : 0);

/** The summary table, one column per mode. */
export function summaryTable(r: SimResult): string {
  const t = new Table({ head: ["", ...r.modes.map((m) => m.mode)], style: { head: [], border: [] } });
  const row = (label: string, f: (m: SimResult["modes"][number]) => string | number) =>
    t.push([
      label,
      ...r.modes.map((m) => {
        const v = f(m);
        return typeof v === "number" ? fmt(v) : v;
      }),
    ]);
  row("nodes", (m) => m.nodes);
  row("updates", (m) => m.updates.count);
  row("tx per update, publisher", (m) => m.updates.perUpdateAtPublisher);
  row("tx per update, total", (m) => m.updates.perUpdateTotal);
  row("copies delivered", (m) => m.updates.deliveries);
  row("update bytes sent", (m) => m.updates.bytes);
  row("update bytes per update", (m) => fmt(bytesPerUpdate(m), 1));
  if (r.modes.some((m) => m.updates.senderQueue)) row("sender queue p50/p99/max ms", (m) => queueText(m));
  row(
    "time to all nodes p50/p99/max ms",
    (m) => `${fmt(m.latency.p50)} / ${fmt(m.latency.p99)} / ${fmt(m.latency.max)}`,
  );
  row("initial bulk msgs (items)", (m) => `${fmt(m.bulk.initial.messages)} (${fmt(m.bulk.initial.items)})`);
  row("bulk per join, msgs (bytes)", (m) =>
    m.bulk.joins.length ? m.bulk.joins.map((j) => `${fmt(j.messages)} (${fmt(j.bytes)})`).join(", ") : "-",
  );
  row("held out of order, peak / released", (m) => `${fmt(m.held.peak)} / ${fmt(m.held.releasedFromHold)}`);
  row("method switches", (m) => m.methodSwitches);
  row("checks (failed / done)", (m) => `${fmt(m.checks.failed)} / ${fmt(m.checks.performed)}`);
  row("final differences (node-peer pairs)", (m) =>
    m.checks.final.differences ? `${fmt(m.checks.final.differences)} (${fmt(m.checks.final.pairs)})` : 0,
  );
  if (r.modes.some((m) => m.shadows)) {
    row("pre-2020 receiver differences", (m) => m.shadows?.legacy.differences ?? "-");
    row("Linux receiver differences", (m) => m.shadows?.linux.differences ?? "-");
  }
  row("events", (m) => m.events);
  if (r.modes.some((m) => m.measured)) {
    row("events per second (wall)", (m) => m.measured?.eventsPerSecond ?? "-");
    row("memory per node pair, bytes", (m) => m.measured?.bytesPerNodePair ?? "-");
    row("wall s / peak RSS MiB", (m) =>
      m.measured ? `${fmt(m.measured.wallSeconds)} / ${fmt(m.measured.peakRssMiB)}` : "-",
    );
  }
  let s = t.toString();
  if (r.sweep.length) {
    const { sizes, modes } = sweepAxes(r);
    const t2 = new Table({
      head: ["tx per update at publisher", ...sizes.map((n) => fmt(n))],
      style: { head: [], border: [] },
    });
    for (const mode of modes)
      t2.push([
        mode,
        ...sizes.map((n) =>
          fmt(r.sweep.find((p) => p.size === n && p.mode === mode)?.perUpdateAtPublisher ?? 0),
        ),
      ]);
    s += `\n${t2.toString()}`;
  }
  return s;
}

function sweepAxes(r: SimResult): { sizes: number[]; modes: Mode[] } {
  return {
    sizes: [...new Set(r.sweep.map((p) => p.size))].sort((a, b) => a - b),
    modes: [...new Set(r.sweep.map((p) => p.mode))],
  };
}

function chartJsSource(): string {
  let req: NodeRequire;
  try {
    req = createRequire(import.meta.url);
  } catch {
    req = createRequire(join(process.cwd(), "noop.js"));
  }
  const main = req.resolve("chart.js"); // .../chart.js/dist/chart.cjs
  return readFileSync(join(dirname(main), "chart.umd.min.js"), "utf8");
}

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

/**
 * How each mode looks in every chart: its colour, a lighter tint for its second series (bulk,
 * switches back to broadcast), its marker and its line. all-legacy is drawn widest and beneath,
 * mixed dashed on top, so that where they coincide (N-1 copies) both stay visible.
 */
const STYLE: Record<
  Mode,
  { color: string; tint: string; point: string; dash: number[]; width: number; order: number }
> = {
  mixed: { color: "#d9480f", tint: "#ffa94d", point: "triangle", dash: [7, 4], width: 2.5, order: 1 },
  "all-broadcast": { color: "#1971c2", tint: "#74c0fc", point: "circle", dash: [], width: 2.5, order: 2 },
  "all-legacy": { color: "#2f9e44", tint: "#8ce99a", point: "rect", dash: [], width: 7, order: 3 },
};

/** What each mode name means (one name for each, in the tables, the charts, the JSON and the CLI). */
const MODE_MEANING: Record<Mode, string> = {
  mixed:
    "2020+ nodes (TIPC_NAMED_BCAST) and the joiners pre-2020: broadcast until a pre-2020 peer is up, then replicast",
  "all-broadcast": "every node 2020+ (the joiners too): one broadcast per update",
  "all-legacy": "every node pre-2020: one replicast copy per peer",
};

export type ScenarioEventKind =
  | "join"
  | "leave"
  | "crash"
  | "restart"
  | "link reset"
  | "bearer down"
  | "bearer up";

/** A scenario event on the time axis (scenario time, ms). */
export interface ScenarioEvent {
  t: number;
  kind: ScenarioEventKind;
  label: string;
}

/** The scenario's events in time order, as marked on the report's time axes. */
export function scenarioEvents(sc: Scenario): ScenarioEvent[] {
  const node = (i: number) => hexAddr(addrOf(i));
  const ev: ScenarioEvent[] = [];
  sc.joiners.forEach((j, k) => {
    ev.push({ t: j.joinAt, kind: "join", label: `join ${node(sc.nodes + k)}` });
    if (j.leaveAt !== undefined)
      ev.push({ t: j.leaveAt, kind: "leave", label: `leave ${node(sc.nodes + k)}` });
  });
  for (const c of sc.crashes) {
    ev.push({ t: c.at, kind: "crash", label: `crash ${node(c.node)}` });
    if (c.restartAt !== undefined)
      ev.push({ t: c.restartAt, kind: "restart", label: `restart ${node(c.node)}` });
  }
  for (const f of sc.flaps)
    ev.push({ t: f.at, kind: "link reset", label: `link reset ${node(f.a)}-${node(f.b)}` });
  for (const o of sc.bearerOutages) {
    ev.push({ t: o.at, kind: "bearer down", label: `LAN ${o.bearer} down` });
    if (o.restoreAt !== undefined)
      ev.push({ t: o.restoreAt, kind: "bearer up", label: `LAN ${o.bearer} back` });
  }
  // Stable order: by time, then as listed.
  return ev
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => e.t <= sc.duration)
    .sort((a, b) => a.e.t - b.e.t || a.i - b.i)
    .map(({ e }) => e);
}

const EVENT_COLOR: Record<ScenarioEventKind, string> = {
  join: "#2b8a3e",
  leave: "#495057",
  crash: "#c92a2a",
  restart: "#1864ab",
  "link reset": "#862e9c",
  "bearer down": "#e67700",
  "bearer up": "#5c940d",
};

/** The page's script: draws the charts from `D` (the embedded data) with Chart.js. */
const PAGE_SCRIPT = `
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.locale = "en-US";
Chart.defaults.font.family = "system-ui, sans-serif";
Chart.defaults.color = "#333";
const nf = (x, d) => Number(x).toLocaleString("en-US", { maximumFractionDigits: d === undefined ? 3 : d });
const S = (m) => D.style[m];
const legend = { position: "bottom", labels: { usePointStyle: true, pointStyleWidth: 16, boxHeight: 9, padding: 12 } };
const axisTitle = (text) => ({ display: true, text, font: { size: 12, weight: "bold" } });
const powersOfTen = (lo, hi) => { const t = []; for (let v = 1e-6; v <= hi * 1.0001; v *= 10) if (v >= lo * 0.9999) t.push({ value: Number(v.toPrecision(1)) }); return t; };
const label = (ctx, text, x, y, align, color) => {
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = align;
  const w = ctx.measureText(text).width;
  const x0 = align === "right" ? x - w : align === "center" ? x - w / 2 : x;
  ctx.fillStyle = "rgba(255,255,255,0.85)";
  ctx.fillRect(x0 - 2, y - 10, w + 4, 13);
  ctx.fillStyle = color || "#222";
  ctx.fillText(text, x, y);
};
// Scenario events (join, leave, crash, restart...) as labelled vertical lines on a time axis.
Chart.register({
  id: "events",
  afterDatasetsDraw(chart, _a, opts) {
    if (!opts || !opts.show) return;
    const x = chart.scales.x, a = chart.chartArea, ctx = chart.ctx;
    ctx.save();
    let row = 0, lastX = -1e9;
    for (const e of D.events) {
      const px = x.getPixelForValue(e.t);
      if (px < a.left - 0.5 || px > a.right + 0.5) continue;
      ctx.strokeStyle = D.eventColors[e.kind];
      ctx.lineWidth = 1.5;
      ctx.setLineDash([5, 3]);
      ctx.beginPath(); ctx.moveTo(px, a.top); ctx.lineTo(px, a.bottom); ctx.stroke();
      ctx.setLineDash([]);
      row = px - lastX < 95 ? (row + 1) % 3 : 0;
      lastX = px;
      const right = px > a.right - 90;
      label(ctx, e.label, px + (right ? -3 : 3), a.top + 12 + row * 14, right ? "right" : "left", D.eventColors[e.kind]);
    }
    ctx.restore();
  },
});
// Horizontal guides (the CDF's p50 and p99) and, per dataset, drop lines from its marks to the x axis.
Chart.register({
  id: "guides",
  afterDatasetsDraw(chart, _a, opts) {
    if (!opts || !opts.lines) return;
    const x = chart.scales.x, y = chart.scales.y, a = chart.chartArea, ctx = chart.ctx;
    ctx.save();
    for (const g of opts.lines) {
      const py = y.getPixelForValue(g.value);
      ctx.strokeStyle = "#868e96"; ctx.lineWidth = 1; ctx.setLineDash([2, 3]);
      ctx.beginPath(); ctx.moveTo(a.left, py); ctx.lineTo(a.right, py); ctx.stroke();
      ctx.setLineDash([]);
      label(ctx, g.label, a.left + 4, py - 3, "left", "#222");
    }
    chart.data.datasets.forEach((ds, i) => {
      if (!chart.isDatasetVisible(i) || !ds.marks) return;
      for (const m of ds.marks) {
        const px = x.getPixelForValue(m.x), py = y.getPixelForValue(m.y);
        ctx.strokeStyle = ds.borderColor; ctx.lineWidth = 1; ctx.setLineDash([3, 3]);
        ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(px, a.bottom); ctx.stroke();
      }
    });
    ctx.restore();
  },
});
// Each bar's value printed above it (bytes, ms): a log axis is read by its labels.
Chart.register({
  id: "valueLabels",
  afterDatasetsDraw(chart, _a, opts) {
    if (!opts || !opts.unit) return;
    const ctx = chart.ctx;
    ctx.save();
    chart.data.datasets.forEach((ds, i) => {
      if (!chart.isDatasetVisible(i)) return;
      chart.getDatasetMeta(i).data.forEach((bar, k) => {
        const v = ds.data[k];
        if (v === null || v === undefined) return;
        label(ctx, nf(v, opts.digits) + opts.unit, bar.x, bar.y - 4, "center", "#222");
      });
    });
    ctx.restore();
  },
});
// The last value of each line next to its last point.
Chart.register({
  id: "endLabels",
  afterDatasetsDraw(chart, _a, opts) {
    if (!opts || !opts.show) return;
    const ctx = chart.ctx, seen = new Set();
    ctx.save();
    chart.data.datasets.forEach((ds, i) => {
      const pts = chart.getDatasetMeta(i).data;
      const last = pts[pts.length - 1], v = ds.data[ds.data.length - 1];
      if (!last || !v) return;
      const key = Math.round(last.y / 12) + ":" + nf(v.y);
      if (seen.has(key)) return;
      seen.add(key);
      label(ctx, nf(v.y), last.x + 10, last.y + 4, "left", ds.borderColor);
    });
    ctx.restore();
  },
});
const charts = {};
// 1. Transmissions per update vs cluster size: numeric log-log axes.
{
  const sizes = [...new Set(D.sweep.map((p) => p.size))].sort((a, b) => a - b);
  const modes = [...new Set(D.sweep.map((p) => p.mode))];
  const series = modes.length
    ? modes.map((m) => ({ mode: m, data: sizes.flatMap((s) => { const p = D.sweep.find((q) => q.size === s && q.mode === m); return p ? [{ x: s, y: p.perUpdateAtPublisher }] : []; }) }))
    : D.modes.map((m) => ({ mode: m.mode, data: [{ x: m.nodes, y: m.perUpdate }] }));
  const xs = series.flatMap((s) => s.data.map((p) => p.x));
  const ys = series.flatMap((s) => s.data.map((p) => p.y)).filter((v) => v > 0);
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(10, ...ys) * 1.5));
  charts.scale = new Chart(document.getElementById("c-scale"), {
    type: "line",
    data: { datasets: series.map((s) => ({ label: s.mode, data: s.data, order: S(s.mode).order,
      borderColor: S(s.mode).color + (s.mode === "all-legacy" ? "99" : ""), backgroundColor: s.mode === "all-legacy" ? "#ffffff" : S(s.mode).color,
      pointBorderColor: S(s.mode).color, borderDash: S(s.mode).dash, borderWidth: S(s.mode).width, pointStyle: S(s.mode).point,
      pointRadius: s.mode === "all-legacy" ? 8 : 5, pointBorderWidth: 2 })) },
    options: {
      layout: { padding: { right: 36 } },
      plugins: { legend, endLabels: { show: true } },
      scales: {
        x: { type: "logarithmic", min: Math.min(...xs) / 1.25, max: Math.max(...xs) * 1.25, title: axisTitle("nodes in the cluster (log scale)"),
          afterBuildTicks: (ax) => { ax.ticks = xTicks.map((value) => ({ value })); }, ticks: { callback: (v) => nf(v) } },
        y: { type: "logarithmic", min: 0.5, max: yMax, title: axisTitle("transmissions per update (log scale)"),
          afterBuildTicks: (ax) => { ax.ticks = powersOfTen(1, yMax); }, ticks: { callback: (v) => nf(v) } },
      },
    },
  });
}
// 2. Time for an update to reach every node: the CDF, p50 and p99 marked.
{
  const ds = D.modes.filter((m) => m.latency.cdf.length).map((m) => ({
    label: m.mode + ": p50 " + nf(m.latency.p50) + " ms, p99 " + nf(m.latency.p99) + " ms",
    data: m.latency.cdf.map((v, i) => ({ x: v, y: i / 100 })), stepped: true, order: S(m.mode).order,
    borderColor: S(m.mode).color, backgroundColor: S(m.mode).color, borderDash: S(m.mode).dash, borderWidth: 2.5,
    pointStyle: S(m.mode).point, pointRadius: m.latency.cdf.map((_, i) => (i === 50 || i === 99 ? 7 : 0)), pointBorderColor: "#fff", pointBorderWidth: 1,
    marks: [{ x: m.latency.p50, y: 0.5 }, { x: m.latency.p99, y: 0.99 }],
  }));
  charts.latency = new Chart(document.getElementById("c-latency"), {
    type: "line",
    data: { datasets: ds },
    options: {
      plugins: { legend, guides: { lines: [{ value: 0.5, label: "p50" }, { value: 0.99, label: "p99" }] } },
      scales: {
        x: { type: "linear", min: 0, title: axisTitle("time for an update to reach every node up, ms"), ticks: { callback: (v) => nf(v) } },
        y: { type: "linear", min: 0, max: 1.04, title: axisTitle("share of updates (CDF)"),
          afterBuildTicks: (ax) => { ax.ticks = [0, 0.25, 0.5, 0.75, 0.99].map((value) => ({ value })); }, ticks: { callback: (v) => Math.round(v * 100) + " %" } },
      },
    },
  });
}
// 3. Messages over time, per bin, with the scenario's events.
{
  const bw = D.binWidth;
  const log = D.timelineLog;
  const series = [];
  D.modes.forEach((m, k) => {
    const upd = m.timeline.broadcast.map((b, i) => b + m.timeline.replicast[i]);
    series.push({ label: m.mode + (D.full ? ": datagrams" : ": updates"), values: upd, color: S(m.mode).color, dash: [], point: S(m.mode).point, order: S(m.mode).order, k: 2 * k });
    series.push({ label: m.mode + ": bulk", values: m.timeline.bulk, color: S(m.mode).tint, dash: [6, 4], point: "crossRot", order: S(m.mode).order, k: 2 * k + 1 });
  });
  charts.timeline = new Chart(document.getElementById("c-timeline"), {
    type: "line",
    // A series with nothing in it (bulk at full fidelity, where datagrams are counted by destination) is left out.
    data: { datasets: series.filter((s) => s.values.some((v) => v > 0)).map((s) => {
      const pts = s.values.map((v, i) => ({ x: i * bw, y: log && v === 0 ? null : v }));
      pts.push({ x: s.values.length * bw, y: pts[pts.length - 1].y });
      return { label: s.label, data: pts, stepped: true, order: s.order, borderColor: s.color, backgroundColor: s.color, borderDash: s.dash,
        borderWidth: s.dash.length ? 2 : 2.5, pointStyle: s.point, pointBorderColor: s.color,
        pointRadius: pts.map((p, i) => (p.y && i % 10 === (s.k * 3) % 10 ? 5 : 0)) };
    }) },
    options: {
      plugins: { legend, events: { show: true } },
      scales: {
        x: { type: "linear", min: 0, max: D.duration, title: axisTitle("virtual time, ms (bins of " + nf(bw) + " ms)"), ticks: { callback: (v) => nf(v) } },
        y: log
          ? { type: "logarithmic", min: 0.7, title: axisTitle("transmissions per bin (log scale)"),
              afterBuildTicks: (ax) => { ax.ticks = powersOfTen(1, ax.max); }, ticks: { callback: (v) => nf(v) } }
          : { type: "linear", beginAtZero: true, title: axisTitle("transmissions per bin"), ticks: { callback: (v) => nf(v) } },
      },
    },
  });
}
// 4. Update bytes per mode, and 5. the sender's queueing per update: bars with their values.
// series: one per mode (a bar each, in the mode's colour, no legend: the axis names them) or
// several ({ label, color, value }) side by side, with a legend.
const bars = (id, title, unit, digits, series) => {
  const shown = D.modes.filter((m) => series.some((s) => s.value(m) !== undefined));
  const perMode = series.length === 1;
  const vs = series.flatMap((s) => shown.map(s.value)).filter((v) => v > 0);
  const lo = vs.length ? Math.min(...vs) : 1, hi = vs.length ? Math.max(...vs) : 1;
  return new Chart(document.getElementById(id), {
    type: "bar",
    data: { labels: shown.map((m) => m.mode), datasets: series.map((s) => ({ label: s.label, data: shown.map(s.value),
      backgroundColor: perMode ? shown.map((m) => S(m.mode).color) : s.color }) ) },
    options: {
      plugins: { legend: perMode ? { display: false } : { position: "bottom" }, valueLabels: { unit, digits } },
      scales: {
        x: { title: axisTitle("mode") },
        y: { type: "logarithmic", min: Math.pow(10, Math.floor(Math.log10(lo))) / 2, max: Math.pow(10, Math.ceil(Math.log10(hi * 3))), title: axisTitle(title + " (log scale)"),
          afterBuildTicks: (ax) => { ax.ticks = powersOfTen(ax.min, ax.max); }, ticks: { callback: (v) => nf(v, 6) } },
      },
    },
  });
};
charts.bytes = bars("c-bytes", "update bytes per update", " B", 1, [{ label: "update bytes per update", value: (m) => m.bytesPerUpdate }]);
if (document.getElementById("c-queue"))
  charts.queue = bars("c-queue", "ms until the last copy leaves", " ms", 4, [
    { label: "p50", color: "#adb5bd", value: (m) => (m.senderQueue ? m.senderQueue.p50 : undefined) },
    { label: "p99", color: "#495057", value: (m) => (m.senderQueue ? m.senderQueue.p99 : undefined) },
  ]);
// 6. Method switch points, with the scenario's events.
{
  const ds = [];
  for (const m of D.modes) {
    const to = (k) => m.switchPoints.filter((p) => p[k]).map((p) => ({ x: p.t, y: p[k] }));
    const r = to("toReplicast"), b = to("toBroadcast");
    if (r.length) ds.push({ label: m.mode + ": to replicast", data: r, pointStyle: "triangle", pointRadius: 9, backgroundColor: S(m.mode).color, borderColor: S(m.mode).color });
    if (b.length) ds.push({ label: m.mode + ": back to broadcast", data: b, pointStyle: "rectRot", pointRadius: 9, backgroundColor: S(m.mode).tint, borderColor: S(m.mode).color, borderWidth: 2 });
  }
  const ys = ds.flatMap((d) => d.data.map((p) => p.y));
  charts.switch = new Chart(document.getElementById("c-switch"), {
    type: "scatter",
    data: { datasets: ds },
    options: {
      plugins: { legend, events: { show: true } },
      scales: {
        x: { type: "linear", min: 0, max: D.duration, title: axisTitle("virtual time, ms"), ticks: { callback: (v) => nf(v) } },
        y: { beginAtZero: true, max: Math.max(1, ...ys) * 1.25, title: axisTitle("nodes switching"), ticks: { callback: (v) => nf(v) } },
      },
    },
  });
}
window.tipcsimReport = { charts, data: D };
document.body.dataset.rendered = "yes";
`;

/** A single HTML file: the summary, the checks and six charts. */
export function htmlReport(r: SimResult): string {
  const sc = r.scenario;
  const events = scenarioEvents(sc);
  const binWidth = r.modes[0]?.timeline.binWidth ?? 1;
  const timelineMax = Math.max(
    0,
    ...r.modes.flatMap((m) => m.timeline.broadcast.map((b, i) => b + (m.timeline.replicast[i] ?? 0))),
    ...r.modes.flatMap((m) => m.timeline.bulk),
  );
  const queued = r.modes.some((m) => m.updates.senderQueue);
  // Keep the embedded data small: no per-pair details beyond the first differences.
  const data = {
    modes: r.modes.map((m) => ({
      mode: m.mode,
      latency: { p50: m.latency.p50, p99: m.latency.p99, cdf: m.latency.cdf },
      timeline: m.timeline,
      switchPoints: m.switchPoints,
      perUpdate: m.updates.perUpdateAtPublisher,
      bytesPerUpdate: Math.round(bytesPerUpdate(m) * 10) / 10,
      senderQueue: m.updates.senderQueue,
      nodes: m.nodes,
    })),
    sweep: r.sweep,
    style: STYLE,
    events,
    eventColors: EVENT_COLOR,
    duration: sc.duration,
    binWidth,
    timelineLog: timelineMax > 1000,
    full: sc.fidelity === "full",
  };
  const cell = (x: number, digits = 3) => `<td>${fmt(x, digits)}</td>`;
  const rows = r.modes
    .map(
      (m) =>
        `<tr><td>${esc(m.mode)}</td>${cell(m.nodes)}${cell(m.updates.count)}${cell(m.updates.perUpdateAtPublisher)}${cell(m.updates.perUpdateTotal)}${cell(m.updates.deliveries)}${cell(m.updates.bytes)}${cell(bytesPerUpdate(m), 1)}${queued ? `<td>${queueText(m)}</td>` : ""}${cell(m.latency.p50)}${cell(m.latency.p90)}${cell(m.latency.p99)}${cell(m.latency.max)}${cell(m.bulk.initial.messages)}<td>${m.bulk.joins.map((j) => fmt(j.messages)).join(", ") || "-"}</td><td>${fmt(m.held.peak)} / ${fmt(m.held.releasedFromHold)}</td>${cell(m.methodSwitches)}<td class="${m.checks.failed ? "bad" : "ok"}">${m.checks.failed ? `${fmt(m.checks.failed)} failed` : `all ${fmt(m.checks.performed)} passed`}</td></tr>`,
    )
    .join("\n");
  const { sizes, modes: sweepModes } = sweepAxes(r);
  const sweepRows = sweepModes
    .map(
      (mode) =>
        `<tr><td>${esc(mode)}</td>${sizes
          .map((n) => {
            const p = r.sweep.find((q) => q.size === n && q.mode === mode);
            return p ? cell(p.perUpdateAtPublisher) : "<td>-</td>";
          })
          .join("")}</tr>`,
    )
    .join("\n");
  // Where mixed and all-legacy give the same count at every size, say so next to the chart.
  const same = (a: Mode, b: Mode) =>
    sweepModes.includes(a) &&
    sweepModes.includes(b) &&
    sizes.every(
      (n) =>
        r.sweep.find((p) => p.size === n && p.mode === a)?.perUpdateAtPublisher ===
        r.sweep.find((p) => p.size === n && p.mode === b)?.perUpdateAtPublisher,
    );
  const scaleNote = same("mixed", "all-legacy")
    ? "mixed and all-legacy coincide at every size: with one pre-2020 node up, every update goes by replicast, one copy per peer (N-1); all-broadcast sends 1."
    : "";
  const diffs = r.modes
    .flatMap((m) => [
      ...m.checks.final.first.map((d) => ({ ...d, who: `${m.mode} (tipcjs)` })),
      ...(m.shadows?.legacy.first ?? []).map((d) => ({ ...d, who: `${m.mode} (pre-2020 receiver)` })),
      ...(m.shadows?.linux.first ?? []).map((d) => ({ ...d, who: `${m.mode} (Linux receiver)` })),
    ])
    .map(
      (d) =>
        `<tr><td>${esc(d.who)}</td><td>${esc(hexAddr(d.node))}</td><td>${esc(hexAddr(d.peer))}</td><td>${esc(d.binding)}</td><td>${d.problem}</td></tr>`,
    )
    .join("\n");
  const measuredRows = r.modes
    .filter((m) => m.measured)
    .map((m) => {
      const x = m.measured as NonNullable<typeof m.measured>;
      return `<tr><td>${esc(m.mode)}</td>${cell(m.events)}${cell(x.wallSeconds)}${cell(x.eventsPerSecond)}${cell(x.nodePairs)}${cell(x.heapBytes / 2 ** 20, 1)}${cell(x.bytesPerNodePair)}${cell(x.peakRssMiB)}</tr>`;
    })
    .join("\n");
  const diverged = r.modes
    .filter((m) => m.checks.final.differences > 0)
    .map(
      (m) =>
        `<tr><td>${esc(m.mode)}</td><td class="bad">${fmt(m.checks.final.differences)}</td><td class="bad">${fmt(m.checks.final.pairs)}</td><td>${esc(
          [...new Set(m.checks.final.first.map((d) => `${hexAddr(d.node)} \u2190 ${hexAddr(d.peer)}`))].join(
            ", ",
          ),
        )}${m.checks.final.pairs > new Set(m.checks.final.first.map((d) => `${d.node}:${d.peer}`)).size ? ", ..." : ""}</td></tr>`,
    )
    .join("\n");
  const shadowRows = r.modes
    .filter((m) => m.shadows)
    .map(
      (m) =>
        `<tr><td>${esc(m.mode)}</td><td class="${m.checks.final.differences ? "bad" : "ok"}">${fmt(m.checks.final.differences)}</td><td class="${m.shadows?.legacy.differences ? "bad" : "ok"}">${fmt(m.shadows?.legacy.differences ?? 0)}</td><td class="${m.shadows?.linux.differences ? "bad" : "ok"}">${fmt(m.shadows?.linux.differences ?? 0)}</td></tr>`,
    )
    .join("\n");
  const modeList = r.modes
    .map((m) => `<li><b>${esc(m.mode)}</b>: ${esc(MODE_MEANING[m.mode])}</li>`)
    .join("");
  const eventList = events.length
    ? events.map((e) => `<li data-kind="${esc(e.kind)}">${esc(e.label)} at ${fmt(e.t)} ms</li>`).join("")
    : "";
  const copyMs = sc.link.bandwidth > 0 ? (60 * 8) / (sc.link.bandwidth * 1000) : 0;
  const queueNote =
    sc.fidelity !== "protocol"
      ? "Not modelled at full fidelity (the memory fabric has no interface rate)."
      : sc.link.bandwidth === 0
        ? "link.bandwidth is 0 (an infinitely fast interface): no queueing."
        : `At ${fmt(sc.link.bandwidth)} Mbit/s one 60-byte update message takes ${fmt(copyMs, 4)} ms on the publisher's interface; replicast sends one copy per peer, one after another, so the last copy to N-1 peers leaves (N-1) times later, and everything the node sends after it waits too. p50 / p99 / max in the table above.`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tipcsim: ${esc(sc.name)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1280px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td{white-space:nowrap}
td:first-child,th:first-child{text-align:left}.ok{color:#2b8a3e}.bad{color:#c92a2a;font-weight:bold}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:1.5em 2em}.chart{position:relative;height:360px}
h3{margin:0.2em 0}.note{font-size:0.85em;color:#495057;margin:0.3em 0}
ul.events{font-size:0.85em;color:#495057;margin:0.3em 0;padding-left:1.2em}
code{background:#f1f3f5;padding:1px 4px}
</style></head><body>
<h1>tipcsim: ${esc(sc.name)}</h1>
<p>${esc(sc.description)}</p>
<p>Fidelity <code>${sc.fidelity}</code>, seed <code>${sc.seed}</code>, ${fmt(sc.nodes)} nodes + ${fmt(sc.joiners.length)} joining,
${fmt(sc.bindingsPerNode)} bindings per node, ${fmt(sc.updates.rate)} updates/s, ${fmt(sc.duration)} ms of virtual time,
latency ${fmt(sc.link.latency)} ms + jitter ${fmt(sc.link.jitter)} ms${sc.fidelity === "protocol" && sc.link.bandwidth > 0 ? `, ${fmt(sc.link.bandwidth)} Mbit/s interfaces` : ""}. Checks: <b class="${r.checksPassed ? "ok" : "bad"}">${r.checksPassed ? "every live table equal to the truth" : "differences found"}</b>.</p>
<ul class="modes">${modeList}</ul>
<table id="t-summary"><thead><tr><th>mode</th><th>nodes</th><th>updates</th><th>tx/update publisher</th><th>tx/update total</th><th>copies delivered</th><th>update bytes</th><th>bytes per update</th>${queued ? "<th>sender queue p50 / p99 / max, ms</th>" : ""}<th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>initial bulk msgs</th><th>bulk msgs per join</th><th>held peak / released</th><th>method switches</th><th>checks</th></tr></thead>
<tbody>${rows}</tbody></table>
${diverged ? `<h2>Where tables diverged (final check)</h2><table><thead><tr><th>mode</th><th>bindings wrong</th><th>node-peer pairs</th><th>node \u2190 peer (first)</th></tr></thead><tbody>${diverged}</tbody></table>` : ""}
${measuredRows ? `<h2>Performance (wall clock: varies run to run)</h2><table><thead><tr><th>mode</th><th>events</th><th>wall s</th><th>events per second</th><th>node pairs</th><th>heap at end MiB</th><th>memory per node pair, bytes</th><th>peak RSS MiB</th></tr></thead><tbody>${measuredRows}</tbody></table>` : ""}
${shadowRows ? `<h2>Receive paths on the same arrivals</h2><table><thead><tr><th>mode</th><th>tipcjs differences</th><th>pre-2020 receiver differences</th><th>Linux receiver differences</th></tr></thead><tbody>${shadowRows}</tbody></table>` : ""}
${diffs ? `<h2>Differences (node, peer, binding)</h2><table><thead><tr><th>receiver</th><th>node</th><th>peer</th><th>binding</th><th>problem</th></tr></thead><tbody>${diffs}</tbody></table>` : ""}
<div class="charts">
<div><h3 id="h-scale">Transmissions per update at the publisher vs cluster size</h3><div class="chart"><canvas id="c-scale"></canvas></div>
${scaleNote ? `<p class="note" id="n-scale">${esc(scaleNote)}</p>` : ""}
${sweepRows ? `<table id="t-sweep"><thead><tr><th>tx per update at publisher, nodes:</th>${sizes.map((n) => `<th>${fmt(n)}</th>`).join("")}</tr></thead><tbody>${sweepRows}</tbody></table>` : ""}</div>
<div><h3 id="h-latency">Time for an update to reach every node (CDF, p50 and p99 marked)</h3><div class="chart"><canvas id="c-latency"></canvas></div>
<p class="note">From the publication until the last node up at the time has applied it; updates whose receivers went down first are not counted.</p></div>
<div><h3 id="h-timeline">Messages over time: transmissions per ${fmt(binWidth)} ms bin</h3>${sc.fidelity === "full" ? `<p class="note">Full fidelity: every datagram on the fabric (acks, retransmissions, supervision too), to the broadcast address or to one peer; time 0 is the end of formation.</p>` : ""}<div class="chart"><canvas id="c-timeline"></canvas></div>
${eventList ? `<ul class="events" id="l-events">${eventList}</ul>` : `<p class="note">No join, leave, crash or restart in this scenario.</p>`}</div>
<div><h3 id="h-switch">Method switch points</h3><div class="chart"><canvas id="c-switch"></canvas></div>
<p class="note">${
    sc.fidelity === "full"
      ? "Full fidelity counts each node's switches (method switches in the table) but records no switch times."
      : `Nodes switching between broadcast and replicast as pre-2020 peers come and go${r.modes.some((m) => m.switchPoints.length) ? "" : ": none in this run"}.`
  }</p></div>
<div><h3 id="h-bytes">Update bytes per update, by mode</h3><div class="chart"><canvas id="c-bytes"></canvas></div>
<p class="note">Bytes the publisher sends for one update: TIPC messages of 60 bytes (40-byte header, one 20-byte item) times the copies (UDP/IP headers not counted). Over the run: ${r.modes.map((m) => `${esc(m.mode)} ${fmt(m.updates.bytes)} B`).join(", ")}.</p></div>
<div><h3 id="h-queue">The sender's queueing cost of replicast</h3>${queued && sc.link.bandwidth > 0 ? `<div class="chart"><canvas id="c-queue"></canvas></div>` : ""}
<p class="note">${esc(queueNote)}</p></div>
</div>
<script>${chartJsSource().replace(/<\/script/gi, "<\\/script")}</script>
<script>
const D = ${JSON.stringify(data).replace(/</g, "\\u003c")};
${PAGE_SCRIPT}</script>
</body></html>
`;
}

function hexAddr(a: number): string {
  return `<${(a >>> 24) & 0xff}.${(a >>> 12) & 0xfff}.${a & 0xfff}>`;
}
