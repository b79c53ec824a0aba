/**
 * Output: the terminal summary table (cli-table3) and the self-contained HTML report (Chart.js's
 * UMD build inlined, so it opens with no network).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import Table from "cli-table3";
import type { SimResult } from "./sim.js";

const fmt = (x: number) => (Number.isInteger(x) ? x.toLocaleString("en-US") : x.toFixed(2));

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
  row("time to all nodes p50/p99/max ms", (m) => `${m.latency.p50} / ${m.latency.p99} / ${m.latency.max}`);
  row("initial bulk msgs (items)", (m) => `${fmt(m.bulk.initial.messages)} (${fmt(m.bulk.initial.items)})`);
  row("bulk per join, msgs (bytes)", (m) =>
    m.bulk.joins.length ? m.bulk.joins.map((j) => `${fmt(j.messages)} (${fmt(j.bytes)})`).join(", ") : "-",
  );
  row("held out of order, peak / released", (m) => `${m.held.peak} / ${fmt(m.held.releasedFromHold)}`);
  row("method switches", (m) => m.methodSwitches);
  row("checks (failed / done)", (m) => `${m.checks.failed} / ${m.checks.performed}`);
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
      m.measured ? `${m.measured.wallSeconds} / ${m.measured.peakRssMiB}` : "-",
    );
  }
  let s = t.toString();
  if (r.sweep.length) {
    const sizes = [...new Set(r.sweep.map((p) => p.size))];
    const modes = [...new Set(r.sweep.map((p) => p.mode))];
    const t2 = new Table({
      head: ["tx per update at publisher", ...sizes.map(String)],
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

const COLORS: Record<string, string> = {
  mixed: "#d9480f",
  "all-broadcast": "#1971c2",
  "all-legacy": "#2f9e44",
};

/** A single HTML file: the summary, the checks and four charts. */
export function htmlReport(r: SimResult): string {
  const sc = r.scenario;
  // Keep the embedded data small: no per-pair details beyond the first differences.
  const data = {
    modes: r.modes.map((m) => ({
      mode: m.mode,
      latency: m.latency,
      timeline: m.timeline,
      switchPoints: m.switchPoints,
      perUpdate: m.updates.perUpdateAtPublisher,
      perUpdateTotal: m.updates.perUpdateTotal,
      nodes: m.nodes,
    })),
    sweep: r.sweep,
    colors: COLORS,
  };
  const rows = r.modes
    .map(
      (m) =>
        `<tr><td>${esc(m.mode)}</td><td>${m.nodes}</td><td>${m.updates.count}</td><td>${m.updates.perUpdateAtPublisher}</td><td>${m.updates.perUpdateTotal}</td><td>${m.updates.deliveries}</td><td>${m.latency.p50}</td><td>${m.latency.p90}</td><td>${m.latency.p99}</td><td>${m.latency.max}</td><td>${m.bulk.initial.messages}</td><td>${m.bulk.joins.map((j) => j.messages).join(", ") || "-"}</td><td>${m.held.peak} / ${m.held.releasedFromHold}</td><td>${m.methodSwitches}</td><td class="${m.checks.failed ? "bad" : "ok"}">${m.checks.failed ? `${m.checks.failed} failed` : `all ${m.checks.performed} passed`}</td></tr>`,
    )
    .join("\n");
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
      return `<tr><td>${esc(m.mode)}</td><td>${m.events}</td><td>${x.wallSeconds}</td><td>${x.eventsPerSecond}</td><td>${x.nodePairs}</td><td>${(x.heapBytes / 2 ** 20).toFixed(1)}</td><td>${x.bytesPerNodePair}</td><td>${x.peakRssMiB}</td></tr>`;
    })
    .join("\n");
  const diverged = r.modes
    .filter((m) => m.checks.final.differences > 0)
    .map(
      (m) =>
        `<tr><td>${esc(m.mode)}</td><td class="bad">${m.checks.final.differences}</td><td class="bad">${m.checks.final.pairs}</td><td>${esc(
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
        `<tr><td>${esc(m.mode)}</td><td class="${m.checks.final.differences ? "bad" : "ok"}">${m.checks.final.differences}</td><td class="${m.shadows?.legacy.differences ? "bad" : "ok"}">${m.shadows?.legacy.differences}</td><td class="${m.shadows?.linux.differences ? "bad" : "ok"}">${m.shadows?.linux.differences}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tipcsim: ${esc(sc.name)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#2b8a3e}.bad{color:#c92a2a;font-weight:bold}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:2em}.chart{position:relative;height:340px}
code{background:#f1f3f5;padding:1px 4px}
</style></head><body>
<h1>tipcsim: ${esc(sc.name)}</h1>
<p>${esc(sc.description)}</p>
<p>Fidelity <code>${sc.fidelity}</code>, seed <code>${sc.seed}</code>, ${sc.nodes} nodes + ${sc.joiners.length} joining,
${sc.bindingsPerNode} bindings per node, ${sc.updates.rate} updates/s, ${sc.duration} ms of virtual time,
latency ${sc.link.latency} ms + jitter ${sc.link.jitter} ms. Checks: <b class="${r.checksPassed ? "ok" : "bad"}">${r.checksPassed ? "every live table equal to the truth" : "differences found"}</b>.</p>
<table><thead><tr><th>mode</th><th>nodes</th><th>updates</th><th>tx/update publisher</th><th>tx/update total</th><th>copies delivered</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>initial bulk msgs</th><th>bulk msgs per join</th><th>held peak / released</th><th>method switches</th><th>checks</th></tr></thead>
<tbody>${rows}</tbody></table>
${diverged ? `<h2>Where tables diverged (final check)</h2><table><thead><tr><th>mode</th><th>bindings wrong</th><th>node-peer pairs</th><th>node \u2190 peer (first)</th></tr></thead><tbody>${diverged}</tbody></table>` : ""}
${measuredRows ? `<h2>Performance (wall clock: varies run to run)</h2><table><thead><tr><th>mode</th><th>events</th><th>wall s</th><th>events per second</th><th>node pairs</th><th>heap at end MiB</th><th>memory per node pair, bytes</th><th>peak RSS MiB</th></tr></thead><tbody>${measuredRows}</tbody></table>` : ""}
${shadowRows ? `<h2>Receive paths on the same arrivals</h2><table><thead><tr><th>mode</th><th>tipcjs differences</th><th>pre-2020 receiver differences</th><th>Linux receiver differences</th></tr></thead><tbody>${shadowRows}</tbody></table>` : ""}
${diffs ? `<h2>Differences (node, peer, binding)</h2><table><thead><tr><th>receiver</th><th>node</th><th>peer</th><th>binding</th><th>problem</th></tr></thead><tbody>${diffs}</tbody></table>` : ""}
<div class="charts">
<div><h3>Transmissions per update at the publisher vs cluster size</h3><div class="chart"><canvas id="c-scale"></canvas></div></div>
<div><h3>Time for an update to reach every node</h3><div class="chart"><canvas id="c-latency"></canvas></div></div>
<div><h3>Messages over time (transmissions per bin)</h3><div class="chart"><canvas id="c-timeline"></canvas></div></div>
<div><h3>Method switch points</h3><div class="chart"><canvas id="c-switch"></canvas></div></div>
</div>
<script>${chartJsSource().replace(/<\/script/gi, "<\\/script")}</script>
<script>
const D = ${JSON.stringify(data).replace(/</g, "\\u003c")};
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
const col = (m) => D.colors[m] || "#555";
{
  const sizes = [...new Set(D.sweep.map((p) => p.size))].sort((a, b) => a - b);
  const modes = [...new Set(D.sweep.map((p) => p.mode))];
  const ds = modes.length
    ? modes.map((m, i) => ({ label: m, borderColor: col(m), backgroundColor: col(m), borderDash: i % 2 ? [6, 4] : [], borderWidth: 3 - i * 0.7,
        data: sizes.map((s) => { const p = D.sweep.find((q) => q.size === s && q.mode === m); return p ? p.perUpdateAtPublisher : null; }) }))
    : D.modes.map((m) => ({ label: m.mode, borderColor: col(m.mode), backgroundColor: col(m.mode), data: [m.perUpdate] }));
  new Chart(document.getElementById("c-scale"), { type: "line", data: { labels: modes.length ? sizes : [D.modes[0]?.nodes], datasets: ds },
    options: { scales: { x: { title: { display: true, text: "nodes" } }, y: { title: { display: true, text: "transmissions per update" } } } } });
}
{
  const maxW = Math.max(...D.modes.map((m) => m.latency.histogram.binWidth * 30));
  const bins = 30, w = maxW / bins || 1;
  const labels = Array.from({ length: bins }, (_, i) => (i * w).toFixed(2));
  const ds = D.modes.map((m) => {
    const counts = new Array(bins).fill(0);
    m.latency.histogram.counts.forEach((c, i) => { const t = i * m.latency.histogram.binWidth; counts[Math.min(bins - 1, Math.floor(t / w))] += c; });
    return { label: m.mode + " (p99 " + m.latency.p99 + " ms)", backgroundColor: col(m.mode), data: counts };
  });
  new Chart(document.getElementById("c-latency"), { type: "bar", data: { labels, datasets: ds },
    options: { scales: { x: { title: { display: true, text: "ms" } }, y: { title: { display: true, text: "updates" } } } } });
}
{
  const tl = D.modes[0].timeline;
  const labels = tl.broadcast.map((_, i) => Math.round(i * tl.binWidth));
  const ds = [];
  for (const m of D.modes) {
    ds.push({ label: m.mode + ": updates", borderColor: col(m.mode), backgroundColor: col(m.mode), pointRadius: 0,
      data: m.timeline.broadcast.map((b, i) => b + m.timeline.replicast[i]) });
    ds.push({ label: m.mode + ": bulk", borderColor: col(m.mode), borderDash: [4, 4], pointRadius: 0, data: m.timeline.bulk });
  }
  new Chart(document.getElementById("c-timeline"), { type: "line", data: { labels, datasets: ds },
    options: { scales: { x: { title: { display: true, text: "virtual time, ms" } }, y: { type: Math.max(...ds.flatMap((d) => d.data)) > 1000 ? "logarithmic" : "linear", title: { display: true, text: "transmissions" } } } } });
}
{
  const ds = [];
  for (const m of D.modes) {
    ds.push({ label: m.mode + ": to replicast", backgroundColor: col(m.mode), pointStyle: "triangle", pointRadius: 7,
      data: m.switchPoints.filter((p) => p.toReplicast).map((p) => ({ x: p.t, y: p.toReplicast })) });
    ds.push({ label: m.mode + ": to broadcast", backgroundColor: col(m.mode), pointStyle: "rectRot", pointRadius: 7,
      data: m.switchPoints.filter((p) => p.toBroadcast).map((p) => ({ x: p.t, y: p.toBroadcast })) });
  }
  new Chart(document.getElementById("c-switch"), { type: "scatter", data: { datasets: ds },
    options: { scales: { x: { min: 0, max: ${sc.duration}, title: { display: true, text: "virtual time, ms" } }, y: { beginAtZero: true, title: { display: true, text: "nodes switching" } } } } });
}
document.body.dataset.rendered = "yes";
</script>
</body></html>
`;
}

function hexAddr(a: number): string {
  return `<${(a >>> 24) & 0xff}.${(a >>> 12) & 0xfff}.${a & 0xfff}>`;
}
