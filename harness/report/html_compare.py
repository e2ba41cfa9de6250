"""The HTML report's "Models side by side": per suite that compares models (or wire APIs), each
variant's pass count, cost, p50 latency and tokens, then a table with a row per prompt and a
column per variant: verdict (a sampled case's pass rate), failed checks, spend and the answer.

No script: a long answer is trimmed in a ``<details>`` summary and shown in full when opened (a
click, or Enter or Space on the focused summary), and a table wider than the page scrolls in a
focusable region, so a keyboard reaches every part. Answers are model output: every text is
escaped, and the page's Content-Security-Policy stops what might slip through anyway.
"""

from __future__ import annotations

import html

from .common import STATUS_LABEL, case_cost, latency, total_cost, trim
from .html_assets import COMPARE_CSS
from .records import RunRecord
from .sampled import CaseSamples
from .side_by_side import Cell, SuiteComparison, comparisons

PREVIEW_CHARS = 160  # of an answer, on one line, before it is opened


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _answer(c: Cell) -> str:
    text = c.answer
    if not text:
        return ""
    note = f'<span class="sbs-note">{e(c.answer_note)}</span> ' if c.answer_note else ""
    line = " ".join(text.split())
    if line == text and len(text) <= PREVIEW_CHARS:
        return f'<p class="sbs-answer">{note}{e(text)}</p>'
    return (f'<details class="sbs-answer"><summary>{note}{e(trim(line, PREVIEW_CHARS))}</summary>'
            f"<pre>{e(text)}</pre></details>")


def _cell(c: Cell | None) -> str:
    if c is None:
        return '<td class="sbs-none">not run</td>'
    parts = [f'<span class="badge st-{e(c.status)}">{e(STATUS_LABEL.get(c.status, c.status.upper()))}</span>']
    if c.rate:
        parts.append(f' <span class="sbs-rate">{e(c.rate)}</span>')
    why = c.why
    if why:
        parts.append('<ul class="sbs-why">' + "".join(f"<li>{e(line)}</li>" for line in why) + "</ul>")
    facts = []
    if c.answered:
        spend = c.spend
        facts = [case_cost(spend), latency(c.latency_ms), f"{spend.tokens:,} tokens"]
    if c.steps:
        facts.append(f"{c.steps} steps")
    if facts:
        parts.append(f'<p class="sbs-facts">{e(" · ".join(facts))}</p>')
    parts.append(_answer(c))
    return f'<td data-status="{e(c.status)}">{"".join(parts)}</td>'


def section(cmp: SuiteComparison, number: int) -> str:
    """One suite's comparison; ``number`` keeps its heading's id unique on the page."""
    title = f"sbs-{number}"
    axis = "model · API" if any(" · " in v for v in cmp.variants) else "model"
    summary = "".join(
        f'<tr><th scope="row">{e(s.variant)}</th><td class="num">{e(s.pass_text)}</td>'
        f'<td class="num">{e(total_cost(s.spend))}</td><td class="num">{e(latency(s.p50_latency_ms))}</td>'
        f'<td class="num">{s.spend.tokens:,}</td></tr>' for s in cmp.summaries)
    head = "".join(f'<th scope="col">{e(v)}</th>' for v in cmp.variants)
    rows = "".join(
        f'<tr><th scope="row"><span class="key">{e(r.id)}</span>'
        + (f'<span class="sbs-desc">{e(r.description)}</span>' if r.description else "")
        + "</th>" + "".join(_cell(c) for c in r.cells) + "</tr>" for r in cmp.rows)
    return (f'<section class="sbs" aria-labelledby="{title}" data-suite="{e(cmp.path)}">'
            f'<h2 id="{title}">Models side by side: {e(cmp.suite)}</h2>'
            f'<table class="sbs-summary"><thead><tr><th scope="col">{e(axis)}</th><th scope="col">passed</th>'
            '<th scope="col">cost</th><th scope="col">p50 latency</th><th scope="col">tokens</th></tr></thead>'
            f"<tbody>{summary}</tbody></table>"
            f'<div class="sbs-scroll" role="region" tabindex="0" aria-label="{e(cmp.suite)}: answers side by side">'
            f'<table class="sbs-cases"><thead><tr><th scope="col">case</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div></section>")


def sections(run: RunRecord, sampled: dict[str, CaseSamples] | None = None) -> str:
    """Every suite's comparison, with their styles; '' for a run that compares nothing (its page
    stays byte for byte what it was). ``sampled``: the run's sampled cases, when the caller has them."""
    found = comparisons(run, sampled)
    if not found:
        return ""
    return f"<style>{COMPARE_CSS}</style>" + "".join(section(c, i) for i, c in enumerate(found, 1))
