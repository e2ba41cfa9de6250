"""The HTML report's inline stylesheet and script, kept apart from the markup code that uses them.

The script is allowed by its hash in the page's Content-Security-Policy, and nothing else may run
or load: an answer that slipped through escaping still could not execute or phone home.
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#fff; --soft:#f6f8fa;
  --pass:#1a7f37; --fail:#cf222e; --warn:#9a6700; --skip:#6e7781; --info:#0969da;
  --del:#ffd7d5; --ins:#ccffd8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg);
  background: var(--bg); margin: 0; padding: 20px 28px 60px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
.sub { color: var(--muted); margin: 0 0 12px; }
.summary { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; background: var(--soft); min-width: 120px; }
.tile b { display: block; font-size: 18px; }
.tile span { color: var(--muted); font-size: 12px; }
.gates { list-style: none; padding: 0; margin: 0; }
.gates li { padding: 2px 0; }
.gates .met::before { content: "✔ "; color: var(--pass); }
.gates .unmet::before { content: "✘ "; color: var(--fail); }
.notes { color: var(--warn); }
svg.chart { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 8px; background: var(--bg); }
svg.chart text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg.chart .axis { fill: var(--muted); }
#filters { position: sticky; top: 0; background: var(--bg); padding: 10px 0; border-bottom: 1px solid var(--line);
  display: flex; flex-wrap: wrap; gap: 8px; align-items: center; z-index: 1; }
#filters button { border: 1px solid var(--line); border-radius: 16px; padding: 3px 12px; background: var(--soft);
  cursor: pointer; font: inherit; }
#filters button[aria-pressed="false"] { opacity: .45; text-decoration: line-through; }
#filters input[type=search] { border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; font: inherit; min-width: 220px; }
#shown { color: var(--muted); margin-left: auto; }
.case { border: 1px solid var(--line); border-radius: 8px; margin: 6px 0; background: var(--bg); }
.case[hidden] { display: none; }
.case > summary { display: grid; grid-template-columns: 80px minmax(200px, 3fr) minmax(90px, 1fr) 60px 80px 80px minmax(120px, 2fr);
  gap: 10px; align-items: center; padding: 6px 10px; cursor: pointer; list-style: none; }
.case > summary::-webkit-details-marker { display: none; }
.case[open] > summary { border-bottom: 1px solid var(--line); background: var(--soft); }
.key { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
.num { text-align: right; color: var(--muted); font-variant-numeric: tabular-nums; }
.badge { display: inline-block; border-radius: 4px; padding: 1px 6px; font-size: 12px; font-weight: 600; color: #fff; text-align: center; }
.st-passed { background: var(--pass); } .st-failed, .st-error { background: var(--fail); }
.st-stale, .st-missing { background: var(--warn); } .st-skipped, .st-removed { background: var(--skip); }
.flag { display: inline-block; border: 1px solid currentColor; border-radius: 10px; padding: 0 7px; font-size: 11px; margin-right: 4px; }
.flag.changed { color: var(--info); } .flag.regressed { color: var(--fail); } .flag.fixed { color: var(--pass); }
.flag.new { color: var(--warn); }
.body { padding: 10px 12px; }
.reasons { margin: 0 0 8px; padding-left: 18px; color: var(--fail); }
.reasons b { color: var(--fg); }
.change-summary { color: var(--info); margin: 0 0 8px; }
.sxs { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
.side h4 { margin: 0 0 4px; font-size: 12px; color: var(--muted); font-weight: 600; }
pre { margin: 0; padding: 8px 10px; background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  white-space: pre-wrap; overflow-wrap: anywhere; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  max-height: 480px; overflow: auto; }
del.hl { background: var(--del); text-decoration: line-through; text-decoration-color: var(--fail); }
ins.hl { background: var(--ins); text-decoration: none; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft); padding: 0 3px; border-radius: 3px; }
"""

JS = """
(function () {
  "use strict";
  var cases = Array.prototype.slice.call(document.querySelectorAll(".case"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button[data-filter-status]"));
  var onlyChanged = document.getElementById("only-changed");
  var onlyRegressed = document.getElementById("only-regressed");
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  function apply() {
    var on = {};
    buttons.forEach(function (b) { on[b.getAttribute("data-filter-status")] = b.getAttribute("aria-pressed") === "true"; });
    var q = search.value.trim().toLowerCase();
    var n = 0;
    cases.forEach(function (el) {
      var ok = on[el.getAttribute("data-status")] !== false
        && (!onlyChanged.checked || el.getAttribute("data-changed") === "1")
        && (!onlyRegressed.checked || el.getAttribute("data-regressed") === "1")
        && (!q || el.getAttribute("data-key").toLowerCase().indexOf(q) !== -1);
      el.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + cases.length + " shown";
  }
  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      b.setAttribute("aria-pressed", b.getAttribute("aria-pressed") === "true" ? "false" : "true");
      apply();
    });
  });
  onlyChanged.addEventListener("change", apply);
  onlyRegressed.addEventListener("change", apply);
  search.addEventListener("input", apply);
  apply();
})();
"""


def script_hash(script: str = JS) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def csp() -> str:
    return ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src '{script_hash()}'; base-uri 'none'; form-action 'none'")

#: Styles of the diff's "Sampled cases" section, sent only with it (pages without samples are unchanged).
RATES_CSS = """table.rates { border-collapse: collapse; margin: 6px 0 12px; }
table.rates th, table.rates td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }
.verdict.regressed { color: var(--fail); font-weight: 600; } .verdict.improved { color: var(--pass); font-weight: 600; }
.verdict.same { color: var(--muted); } .flag.flaky { color: var(--warn); }"""

#: Styles of a multi-step case's timeline (html_steps.py), sent only on pages that have one.
STEPS_CSS = """details.trajectory { margin: 10px 0 0; border: 1px solid var(--line); border-radius: 6px; }
details.trajectory > summary { cursor: pointer; padding: 6px 10px; color: var(--info); font-weight: 600; }
details.trajectory > summary:focus-visible, .case > summary:focus-visible { outline: 2px solid var(--info); outline-offset: 2px; }
details.trajectory[open] > summary { border-bottom: 1px solid var(--line); }
ol.steps { list-style: none; margin: 0; padding: 6px 10px 10px; }
li.step { border-left: 3px solid var(--line); padding: 4px 0 6px 12px; margin: 6px 0; }
.step-head { display: flex; gap: 10px; align-items: baseline; margin-bottom: 4px; }
.step-head .turn { color: var(--warn); font-size: 12px; } .step-head .num { margin-left: auto; }
.part { margin: 4px 0; } .part .who { display: block; font-size: 12px; color: var(--muted); margin-bottom: 2px; }
.part.user pre { border-color: var(--info); } .part.call pre { background: #fff8c5; }
.part.error pre, .part.error .who { color: var(--fail); } .stopped { color: var(--warn); margin: 0 10px 8px; }"""

#: Styles of the "Models side by side" sections (html_compare.py), sent only on pages that have one.
COMPARE_CSS = """section.sbs { margin: 0 0 24px; }
table.sbs-summary { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
table.sbs-summary th, table.sbs-summary td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }
table.sbs-summary th[scope=row] { font-weight: 600; }
.sbs-scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
.sbs-scroll:focus-visible, details.sbs-answer > summary:focus-visible { outline: 2px solid var(--info); outline-offset: 2px; }
table.sbs-cases { border-collapse: collapse; width: 100%; }
table.sbs-cases th, table.sbs-cases td { border-bottom: 1px solid var(--line); padding: 8px 10px; text-align: left;
  vertical-align: top; }
table.sbs-cases td { min-width: 240px; } table.sbs-cases thead th { background: var(--soft); }
table.sbs-cases tbody th { font-weight: normal; min-width: 140px; }
.sbs-desc { display: block; color: var(--muted); font-size: 12px; }
.sbs-rate { font-size: 12px; } .sbs-note { color: var(--muted); font-size: 12px; }
.sbs-why { margin: 4px 0; padding-left: 18px; color: var(--fail); font-size: 12.5px; }
.sbs-facts { margin: 4px 0; color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.sbs-answer { margin: 4px 0 0; overflow-wrap: anywhere; }
details.sbs-answer > summary { cursor: pointer; } details.sbs-answer[open] > summary { color: var(--muted); }
.sbs-none { color: var(--muted); font-style: italic; }"""
