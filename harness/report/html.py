"""The HTML report: one self-contained file to open in a browser, or to upload as a CI artifact.

No network and no library: inline CSS and script (html_assets.py), an inline SVG chart, and the
differences between baseline and new answers computed here with difflib, so the page needs
nothing but itself. Every piece of text — answers above all, which are untrusted model output —
goes through ``html.escape``; the page's Content-Security-Policy lets only its own script run.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from ..trajectory import StepRecord, lines, single
from . import html_compare, html_steps
from .common import (
    STATUS_LABEL,
    STATUS_ORDER,
    answer_text,
    cost,
    cost_delta,
    counts_line,
    judge_cost,
    rate,
    reasons,
    total_cost,
    word_diff,
)
from .diff_samples import from_baselines
from .html_assets import CSS, JS, RATES_CSS, csp
from .rate_change import AGAINST_RECORDINGS, RateDiff, mean_text, method_text, p_text, rate_text, suite_verdict
from .records import CaseRecord, Comparison, RunRecord, Totals, totals
from .sampled import CaseSamples, sampled_cases, suite_rate

MAX_OPEN = 40  # cases shown expanded on load: regressions, then changed, then other failures


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


# ---------------------------------------------------------------- chart


def _bar_colour(value: float | None) -> str:
    if value is None:
        return "#d1d9e0"
    return "#1a7f37" if value >= 0.9 else "#bf8700" if value >= 0.5 else "#cf222e"


def chart(run: RunRecord, base: RunRecord | None = None) -> str:
    """Pass rate and cost per suite (and per suite and model when a suite compares models);
    with a base, a thin grey bar under each shows the base's value."""
    rows = run.groups()
    if not rows:
        return ""
    base_rows = {label: totals(cases) for label, cases in base.groups()} if base else {}
    label_w, bar_w, gap, row_h = 230, 240, 70, 34 if base else 26
    width = label_w + 2 * bar_w + gap + 210
    height = 36 + row_h * len(rows) + 10
    stats = [(label, totals(cases)) for label, cases in rows]
    max_cost = max([t.cost_usd for _, t in stats] + [t.cost_usd for t in base_rows.values()] + [1e-12])
    x_rate, x_cost = label_w, label_w + bar_w + gap
    out = [f'<svg class="chart" role="img" aria-label="pass rate and cost per suite" '
           f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f'<text x="{x_rate}" y="18" class="axis">pass rate</text>',
           f'<text x="{x_cost}" y="18" class="axis">cost (USD)</text>']
    for i, (label, t) in enumerate(stats):
        y = 30 + i * row_h
        indent = 16 if " · " in label else 0
        out.append(f'<text x="{4 + indent}" y="{y + 14}">{e(label[:34])}</text>')
        pr = t.pass_rate or 0.0
        out.append(f'<rect x="{x_rate}" y="{y + 3}" width="{bar_w}" height="14" fill="#f6f8fa" stroke="#d1d9e0"/>')
        out.append(f'<rect class="bar-rate" x="{x_rate}" y="{y + 3}" width="{pr * bar_w:.1f}" height="14" '
                   f'fill="{_bar_colour(t.pass_rate)}"><title>{e(label)}: {rate(t.pass_rate)} '
                   f'({t.counts["passed"]}/{t.cases - t.counts["skipped"]})</title></rect>')
        out.append(f'<text x="{x_rate + bar_w + 4}" y="{y + 14}" class="axis">{rate(t.pass_rate)}</text>')
        cw = t.cost_usd / max_cost * bar_w
        out.append(f'<rect class="bar-cost" x="{x_cost}" y="{y + 3}" width="{cw:.1f}" height="14" fill="#0969da">'
                   f'<title>{e(label)}: {e(total_cost(t))}</title></rect>')
        out.append(f'<text x="{x_cost + cw + 4:.1f}" y="{y + 14}" class="axis">{e(total_cost(t))}</text>')
        old = base_rows.get(label)
        if old is not None:
            out.append(f'<rect x="{x_rate}" y="{y + 19}" width="{(old.pass_rate or 0) * bar_w:.1f}" height="5" '
                       f'fill="#8c959f"><title>base: {rate(old.pass_rate)}</title></rect>')
            out.append(f'<rect x="{x_cost}" y="{y + 19}" width="{old.cost_usd / max_cost * bar_w:.1f}" height="5" '
                       f'fill="#8c959f"><title>base: {e(total_cost(old))}</title></rect>')
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------- cases


def _highlighted(old: str, new: str) -> tuple[str, str]:
    left, right = [], []
    for op, text in word_diff(old, new):
        if op == "=":
            left.append(e(text))
            right.append(e(text))
        elif op == "-":
            left.append(f'<del class="hl">{e(text)}</del>')
        else:
            right.append(f'<ins class="hl">{e(text)}</ins>')
    return "".join(left), "".join(right)


def _checks_cell(case: CaseRecord) -> str:
    return f"{sum(c.passed for c in case.checks)}/{len(case.checks)}" if case.checks else "-"


def _flags(case: CaseRecord, rated: bool = False, flaky: bool = False) -> str:
    """A sample of a case compared as rates (``rated``) is not a regression, fix or new case alone."""
    flags = [("regressed", case.regressed and not rated), ("fixed", case.fixed and not rated),
             ("changed", case.changed), ("new", case.new and not rated), ("flaky", flaky)]
    return "".join(f'<span class="flag {name}">{name}</span>' for name, on in flags if on)


def _case(case: CaseRecord, *, status: str, base_label: str, head_label: str, open_: bool,
          rated: bool = False, flaky: bool = False) -> str:
    latency = f"{case.latency_ms:,.0f} ms" if case.latency_ms is not None else "-"
    attrs = (f'class="case" data-status="{e(status)}" data-changed="{int(case.changed)}" '
             f'data-regressed="{int(case.regressed and not rated)}" data-key="{e(case.key)}"'
             + (" open" if open_ else ""))
    parts = [f"<details {attrs}>", "<summary>",
             f'<span class="badge st-{e(status)}">{e(STATUS_LABEL.get(status, status.upper()))}</span>',
             f'<span class="key">{e(case.suite)} · {e(case.name)}</span>',
             f"<span>{e(case.model)}</span>", f'<span class="num">{_checks_cell(case)}</span>',
             _cost_cell(case), f'<span class="num">{e(latency)}</span>',
             f"<span>{_flags(case, rated, flaky)}</span>", "</summary>", '<div class="body">']
    why = reasons(case)
    if why:
        parts.append('<ul class="reasons">' + "".join(
            f"<li>{_reason_html(line)}</li>" for line in why) + "</ul>")
    if case.description:
        parts.append(f'<p class="sub">{e(case.description)}</p>')
    if case.detail:
        parts.append(f'<pre class="detail">{e(case.detail)}</pre>')
    if case.rerecord:
        parts.append(f"<p>Record it again: <code>{e(case.rerecord)}</code></p>")
    new_text = answer_text(case.answer)
    if case.changed and case.baseline is not None:
        change = case.change
        assert change is not None
        similar = "" if "similarity" in change.summary else f" · similarity {change.similarity:.0%}"
        parts.append(f'<p class="change-summary">{e(change.summary)}{similar}</p>')
        old_text = answer_text(case.baseline)
        if case.steps or case.baseline_steps:  # trajectories side by side, step by step
            old_text = _steps_text(case.baseline_steps or single(case.baseline))
            new_text = _steps_text(case.steps or single(case.answer)) if case.answer is not None else ""
        left, right = _highlighted(old_text, new_text)
        was = f" · {e(case.baseline_status)}" if case.baseline_status else ""
        parts.append('<div class="sxs">'
                     f'<div class="side old"><h4>baseline · {e(base_label)}{was}</h4><pre class="answer">{left}</pre></div>'
                     f'<div class="side new"><h4>new · {e(head_label)} · {e(case.status)}</h4>'
                     f'<pre class="answer">{right}</pre></div></div>')
    elif new_text:
        parts.append(f'<pre class="answer">{e(new_text)}</pre>')
    parts.append(html_steps.timeline(case.steps, case.stopped))
    parts.append("</div></details>")
    return "".join(parts)


def _steps_text(steps: Iterable[StepRecord]) -> str:
    return "\n".join(lines(list(steps), limit=None, stats=False))


def _cost_cell(case: CaseRecord) -> str:
    """The case's whole cost; with judge calls, the split in a tooltip and a small note."""
    if case.judge is None:
        return f'<span class="num">{e(cost(case.cost_usd))}</span>'
    split = f"answer {cost(case.cost_usd)} + judge {cost(case.judge_cost_usd)} ({case.judge.calls} call(s))"
    return f'<span class="num" title="{e(split)}">{e(cost(case.total_cost_usd))} <small>incl. judge</small></span>'


def _reason_html(line: str) -> str:
    name, sep, rest = line.partition(": ")
    return f"<b>{e(name)}</b>: {e(rest)}" if sep and " " not in name else e(line)


def _order(cases: Iterable[CaseRecord], rated: frozenset[str] = frozenset()) -> list[CaseRecord]:
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return sorted(cases, key=lambda c: (not (c.regressed and c.node_id not in rated), not c.changed,
                                        rank.get(c.status, 9)))


_FLAKY = '<span class="flag flaky">flaky</span>'
_VERDICT_CLASS = {"regressed": "regressed", "improved": "improved", "no significant change": "same"}


def rates_section(diff: RateDiff, against: str = "") -> str:
    """The cases compared as pass rates over their samples, their suites and the flaky ones."""
    rows = "".join(
        f'<tr><td class="key">{e(c.node_id)}</td><td>{e(rate_text(c.base))}</td><td>{e(rate_text(c.head))}</td>'
        f'<td class="num">{e(p_text(c.p))}</td><td class="verdict {_VERDICT_CLASS[c.verdict]}">{e(c.verdict)}</td>'
        f"<td>{_FLAKY if c.flaky else ''}</td></tr>" for c in diff.ordered())
    suites = "".join(
        f"<tr><td>{e(s.name)}</td><td>{e(mean_text(s.change.base_mean))}</td>"
        f'<td>{e(mean_text(s.change.head_mean))}</td><td class="num">{s.change.cases}</td>'
        f'<td class="num">{e(p_text(s.p))}</td><td class="verdict {_VERDICT_CLASS[s.verdict]}">'
        f"{e(suite_verdict(s))}</td></tr>" for s in diff.suites)
    flaky = ", ".join(f"<code>{e(c.node_id)}</code>" for c in diff.flaky)
    return (f"<style>{RATES_CSS}</style>" f'<section id="rates"><h2>Sampled cases{e(against)}</h2>'
            f'<p class="sub">{e(method_text(diff))}</p>'
            '<table class="rates"><thead><tr><th>case</th><th>base</th><th>head</th><th>p (adjusted)</th>'
            f"<th>verdict</th><th>samples</th></tr></thead><tbody>{rows}</tbody></table>"
            '<table class="rates"><thead><tr><th>suite</th><th>base mean rate</th><th>head mean rate</th>'
            f"<th>sampled cases</th><th>p</th><th>verdict</th></tr></thead><tbody>{suites}</tbody></table>"
            + (f'<p class="flaky-list">Flaky (samples disagree): {flaky}</p>' if flaky else "")
            + "</section>")


# ---------------------------------------------------------------- page


def _tile(value: str, label: str) -> str:
    return f'<div class="tile"><b>{e(value)}</b><span>{e(label)}</span></div>'


_FLAKY = '<span class="flag flaky">flaky</span>'
#: Only pages with samples carry these rules, so a page without samples stays byte for byte the same.
_SAMPLES_CSS = ("<style>.flag.flaky { color: var(--warn); } table.samples { border-collapse: collapse; "
                "margin: 8px 0 16px; font-size: 13px; } table.samples th, table.samples td { border-bottom: "
                "1px solid var(--line); padding: 4px 10px; text-align: left; }</style>")


def _samples_table(sampled: dict[str, CaseSamples]) -> str:
    """Each case with samples: its status as a whole, its rate and interval, pass@k and pass^k,
    whether its samples disagree, and its gates. The samples themselves are listed under Cases."""
    rows = "".join(
        f'<tr><td><span class="badge st-{e(s.status)}">{e(STATUS_LABEL.get(s.status, s.status))}</span></td>'
        f"<td>{e(s.suite)} · {e(s.id)}</td><td>{e(s.model)}</td><td>{e(s.summary)}</td><td>{e(s.estimates)}</td>"
        f"<td>{_FLAKY if s.flaky else ''}</td>"
        f"<td>{e('; '.join(g.text for g in s.gates) or 'none: every sample must pass')}</td></tr>"
        for s in sampled.values())
    flaky = [s for s in sampled.values() if s.flaky]
    listed = ("<h3>Flaky cases</h3><ul>" + "".join(f"<li>{e(s.key)}: {e(s.summary)}</li>" for s in flaky)
              + "</ul>") if flaky else ""
    return (_SAMPLES_CSS + f"<h2>Cases with samples ({len(sampled)})</h2><table class=\"samples\"><tr><th>status</th><th>case</th>"
            "<th>model</th><th>samples</th><th>pass@k · pass^k</th><th>flaky</th><th>gate</th></tr>"
            + rows + "</table>" + listed)


def _summary(run: RunRecord, cmp: Comparison | None) -> str:
    t: Totals = run.totals
    sampled = sampled_cases(run)
    measured = suite_rate((c.node_id, c.status) for c in run.cases) if sampled else None
    tiles = [_tile(rate(measured.rate), "pass rate (mean of case rates)") if measured else
             _tile(rate(t.pass_rate), "pass rate"), _tile(counts_line(t), "samples" if sampled else "cases"),
             _tile(total_cost(t), "cost"), _tile(f"{t.tokens:,}", "tokens")]
    if t.judge_calls:
        tiles.append(_tile(judge_cost(t), f"of the cost: rubric judges ({t.judge_calls} calls, {t.judge_tokens:,} tokens)"))
    if t.budget_skipped:
        tiles.append(_tile(str(t.budget_skipped), "skipped by budget (run incomplete)"))
    if cmp is not None:
        b = cmp.base_totals
        tiles += [_tile(str(len(cmp.regressed_keys)), "regressed"), _tile(str(len(cmp.fixed_keys)), "fixed"),
                  _tile(str(len(cmp.changed)), "changed answers"),
                  _tile(f"{len(cmp.added)} / {len(cmp.removed)}", "added / removed"),
                  _tile(cost_delta(t.cost_usd - b.cost_usd), f"cost vs base ({total_cost(b)})"),
                  _tile(f"{t.tokens - b.tokens:+,}", f"tokens vs base ({b.tokens:,})")]
    else:
        tiles.append(_tile(str(sum(c.changed for c in run.cases)), "changed answers"))
    return '<div class="summary">' + "".join(tiles) + "</div>"


def _filters(statuses: dict[str, int], changed: int, regressed: int) -> str:
    buttons = "".join(f'<button type="button" data-filter-status="{e(s)}" aria-pressed="true">'
                      f"{e(s)} ({n})</button>" for s, n in statuses.items())
    return ('<nav id="filters" aria-label="filters">' + buttons
            + f'<label><input type="checkbox" id="only-changed"> changed only ({changed})</label>'
            + f'<label><input type="checkbox" id="only-regressed"> regressions only ({regressed})</label>'
            + '<input type="search" id="search" placeholder="filter by suite or case id" aria-label="search">'
            + '<span id="shown"></span></nav>')


def render(run: RunRecord, comparison: Comparison | None = None) -> str:
    if comparison is not None:
        run = comparison.head
        title = f"harness diff: {comparison.base_label} → {comparison.head_label}"
        base_label, head_label = comparison.base_label, comparison.head_label
    else:
        title = "harness run" + (f": {run.label}" if run.label else "")
        base_label, head_label = "before re-recording", "this run"
    # Sampled cases are compared as rates: a diff's, or a re-recording run's against its cassettes.
    rates = comparison.samples if comparison is not None else from_baselines(run.cases)
    rated = rates.node_ids if rates is not None else frozenset()
    cases = _order(run.cases, rated)
    removed = list(comparison.removed) if comparison else []
    statuses: dict[str, int] = {}
    for c in cases:
        statuses[c.status] = statuses.get(c.status, 0) + 1
    if removed:
        statuses["removed"] = len(removed)
    order = [*STATUS_ORDER, "removed"]
    statuses = dict(sorted(statuses.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))
    body = [f"<h1>{e(title)}</h1>",
            f'<p class="sub">{e(run.created)} · harness {e(run.harness_version)}'
            + (f" · record mode {e(run.record_mode)}" if run.record_mode != "none" else "") + "</p>",
            _summary(run, comparison)]
    if comparison is not None and comparison.notes:
        body.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in comparison.notes) + "</ul>")
    if run.gates:
        body.append("<h2>Gates</h2><ul class=\"gates\">" + "".join(
            f'<li class="{"met" if g.met else "unmet"}">{e(g.text)}</li>' for g in run.gates) + "</ul>")
    if rates is not None:
        body.append(rates_section(rates, "" if comparison is not None else AGAINST_RECORDINGS))
    graph = chart(run, comparison.base if comparison else None)
    if graph:
        body.append("<h2>Per suite</h2>" + graph)
    sampled = sampled_cases(run)
    compared = html_compare.sections(run, sampled)
    if compared:
        body.append(compared)
    if sampled:
        body.append(_samples_table(sampled))
    if any(c.steps for c in (*cases, *removed)):
        body.append(html_steps.css())
    body.append("<h2>Cases</h2>")
    body.append(_filters(statuses, sum(c.changed for c in cases),
                         sum(c.regressed and c.node_id not in rated for c in cases)))
    opened = 0
    for c in cases:
        open_ = (c.changed or c.failing) and opened < MAX_OPEN
        opened += open_
        body.append(_case(c, status=c.status, base_label=base_label, head_label=head_label, open_=open_,
                          rated=c.node_id in rated, flaky=c.node_id in sampled and sampled[c.node_id].flaky))
    body.extend(_case(c, status="removed", base_label=base_label, head_label=head_label, open_=False)
                for c in removed)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{e(csp())}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + f"\n<script>{JS}</script>\n</body></html>\n")
