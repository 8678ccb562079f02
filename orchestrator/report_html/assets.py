"""The report's stylesheet and script, inlined into every report.

Kept as constants (not package data files) so a wheel can never ship a report without
them. Both are trusted, fixed text; the page's Content-Security-Policy allows exactly
these two blocks by their SHA-256 hashes and nothing else — no other script, style
attribute, or network fetch can run even if some text slipped through unescaped.
"""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
:root { --fg:#1d2330; --muted:#6b7385; --line:#dde1ea; --bg:#f6f7fb; --card:#fff; --accent:#3056d3;
  --ok:#2f9e63; --warn:#d99a1e; --bad:#d2463c; --info:#4a7bd8; --stop:#8a8fa3; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  color:var(--fg); background:var(--bg); }
header.top { background:#18203a; color:#fff; padding:24px 32px 18px; }
header.top h1 { margin:0 0 6px; font-size:24px; font-weight:650; overflow-wrap:anywhere; }
header.top .sub { color:#c6cbe0; font-size:13px; }
header.top code { color:#e7eaf7; background:rgba(255,255,255,.12); }
nav.toc { position:sticky; top:0; z-index:5; background:#fff; border-bottom:1px solid var(--line);
  padding:8px 32px; display:flex; flex-wrap:wrap; gap:18px; }
nav.toc a { color:var(--accent); text-decoration:none; font-weight:550; }
main { max-width:1120px; margin:0 auto; padding:20px 24px 60px; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 22px;
  margin:18px 0; }
section.card > h2 { margin:0 0 12px; font-size:19px; }
h3 { font-size:16px; margin:18px 0 8px; }
h4, h5, h6 { font-size:14px; margin:14px 0 6px; }
.muted { color:var(--muted); fill:var(--muted); }
.kpis { display:grid; grid-template-columns:repeat(7,1fr); gap:10px; margin:4px 0 12px; }
@media (max-width: 900px) { .kpis { grid-template-columns:repeat(4,1fr); } }
.kpi { border:1px solid var(--line); border-radius:8px; padding:8px 10px; }
.kpi .v { font-size:17px; overflow-wrap:anywhere; font-weight:650; }
.kpi .k { color:var(--muted); font-size:11px; text-transform:uppercase; letter-spacing:.04em; }
.idea { white-space:pre-wrap; border-left:4px solid var(--line); margin:8px 0; padding:6px 12px;
  background:#fafbfd; overflow-wrap:anywhere; }
details.run-details > summary { cursor:pointer; color:var(--muted); margin:6px 0; }
dl.meta { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:8px 0; }
dl.meta dt { color:var(--muted); }
dl.meta dd { margin:0; overflow-wrap:anywhere; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:650;
  color:#fff; background:var(--stop); vertical-align:middle; }
.badge.ok, .badge.status-succeeded, .badge.decision-pass { background:var(--ok); }
.badge.decision-warn, .badge.status-needs_waiver, .badge.status-budget_exhausted,
.badge.status-awaiting_input, .badge.status-paused { background:var(--warn); }
.badge.decision-fail, .badge.status-failed, .badge.status-cancelled { background:var(--bad); }
.badge.status-running, .badge.status-pending { background:var(--info); }
.table-wrap { overflow-x:auto; margin:8px 0 12px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { border-bottom:1px solid var(--line); padding:5px 8px; text-align:left; vertical-align:top;
  overflow-wrap:break-word; }
table.gates td.phase { font-weight:650; white-space:nowrap; }
table.gates tr:has(td.phase:not(:empty)) td { border-top:1px solid #c9cfdc; }
th { background:#f1f3f8; font-weight:600; }
td.nowrap, th.nowrap { white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr.total td { font-weight:650; border-top:2px solid var(--line); }
tr.gap td { background:#fff6e8; }
td.metrics-cell { min-width:330px; }
ul.metrics { list-style:none; margin:0; padding:0; font-size:12px; }
ul.metrics li.pass { color:var(--fg); } ul.metrics li.fail { color:var(--bad); font-weight:600; }
ul.findings { margin:0; padding-left:18px; }
svg.chart { width:100%; height:auto; display:block; margin:6px 0 4px; font-size:12px; }
svg.chart text { fill:var(--fg); }
svg.chart .label { font-weight:600; }
svg.chart .dur { fill:var(--muted); }
svg.chart .axis line { stroke:#e6e9f0; stroke-width:1; }
svg.chart .axis text { fill:var(--muted); font-size:11px; }
svg.chart .stripe { fill:#f8f9fc; }
svg.chart .parallel { fill:#3056d3; fill-opacity:.08; stroke:#3056d3; stroke-opacity:.45; stroke-dasharray:4 3; }
.seg { fill:var(--info); }
.seg-completed { fill:var(--ok); } .seg-failed { fill:var(--bad); } .seg-waived { fill:var(--warn); }
.seg-retried { fill:#e07b6e; } .seg-stopped { fill:var(--stop); } .seg-open { fill:var(--info); }
.gate { stroke:#fff; stroke-width:1.5; fill:var(--stop); }
.gate-pass { fill:#1d6b43; } .gate-warn { fill:var(--warn); } .gate-fail { fill:var(--bad); }
.model-0 { fill:#3056d3; } .model-1 { fill:#2f9e63; } .model-2 { fill:#d99a1e; }
.model-3 { fill:#8e44ad; } .model-4 { fill:#d2463c; } .model-5 { fill:#16a2b8; }
.legend-line { display:flex; flex-wrap:wrap; gap:14px; color:var(--muted); font-size:12px; margin:2px 0 8px; }
.legend-line span::before { content:""; display:inline-block; width:10px; height:10px; border-radius:2px;
  margin-right:5px; vertical-align:-1px; background:var(--swatch,#999); }
.legend-line .l-completed { --swatch:var(--ok); } .legend-line .l-retried { --swatch:#e07b6e; }
.legend-line .l-failed { --swatch:var(--bad); } .legend-line .l-stopped { --swatch:var(--stop); }
.legend-line .l-open { --swatch:var(--info); } .legend-line .l-parallel { --swatch:#d5ddf6; }
.legend-line .l-gate { --swatch:#1d6b43; }
.meter { vertical-align:middle; margin-right:6px; }
.meter .track { fill:#e9ecf3; } .meter .fill { fill:var(--ok); } .meter .fill.low { fill:var(--bad); }
.meter .min { stroke:var(--fg); stroke-width:1.5; }
details.artifact { border:1px solid var(--line); border-radius:8px; margin:8px 0; background:#fff; }
details.artifact > summary { cursor:pointer; padding:8px 12px; font-weight:600; list-style-position:inside; }
details.artifact > summary .meta { font-weight:400; color:var(--muted); font-size:12px; margin-left:8px; }
details.artifact > .body { padding:2px 16px 12px; border-top:1px solid var(--line); }
details.artifact blockquote { color:var(--muted); margin:8px 0; padding-left:10px; border-left:3px solid var(--line); }
details.artifact blockquote p { margin:2px 0; }
code { font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; background:#f1f3f8;
  padding:0 3px; border-radius:3px; overflow-wrap:anywhere; }
.toolbar { display:flex; gap:8px; align-items:center; flex-wrap:wrap; margin:0 0 8px; }
.toolbar input { flex:1 1 240px; padding:6px 10px; border:1px solid var(--line); border-radius:6px; font:inherit; }
.toolbar button { padding:6px 12px; border:1px solid var(--line); border-radius:6px; background:#fff;
  font:inherit; cursor:pointer; }
.hidden { display:none; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 24px 30px; overflow-wrap:anywhere; }
@media print { nav.toc, .toolbar { display:none; } body { background:#fff; } section.card { break-inside:avoid-page; } }
"""

JS = """
(function () {
  "use strict";
  var all = function (sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); };
  var filter = document.getElementById("artifact-filter");
  var count = document.getElementById("artifact-count");
  function apply() {
    var q = filter.value.trim().toLowerCase();
    var shown = 0;
    all("details.artifact").forEach(function (d) {
      var hit = !q || d.getAttribute("data-search").indexOf(q) !== -1;
      d.classList.toggle("hidden", !hit);
      if (hit) { shown += 1; }
    });
    all(".artifact-phase").forEach(function (g) {
      g.classList.toggle("hidden", g.querySelectorAll("details.artifact:not(.hidden)").length === 0);
    });
    count.textContent = shown + " shown";
  }
  function setOpen(open) {
    all("details.artifact").forEach(function (d) { if (!d.classList.contains("hidden")) { d.open = open; } });
  }
  filter.addEventListener("input", apply);
  document.getElementById("expand-all").addEventListener("click", function () { setOpen(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setOpen(false); });
  window.addEventListener("beforeprint", function () { all("details").forEach(function (d) { d.open = true; }); });
  apply();
})();
"""
