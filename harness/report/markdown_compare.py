"""The Markdown report's "Models side by side": per suite that compares models (or wire APIs), each
variant's pass count, cost, p50 latency and tokens, then a table with a row per prompt and a
column per variant.

A cell is the variant's verdict (a sampled case's pass rate), its spend, its answer on one line and
why it failed, separated by ``<br>`` (GitHub renders it inside a table; every text around it is
escaped, so an answer cannot add markup of its own). Answers are trimmed hard: the whole comment
must stay under GitHub's size limit, and the HTML report has them in full.
"""

from __future__ import annotations

from .common import STATUS_LABEL, case_cost, latency, total_cost
from .markdown_text import cell, code, table
from .records import RunRecord
from .sampled import CaseSamples
from .side_by_side import Cell, SuiteComparison, comparisons

ANSWER_CHARS = 100  # per cell: several variants share one table row
WHY_CHARS = 120
MAX_ROWS = 50


def _verdict(c: Cell) -> str:
    label = STATUS_LABEL.get(c.status, c.status.upper())
    shown = f"**{label}**" if c.failing else label
    return f"{shown} {cell(c.rate)}" if c.rate else shown


def _cell(c: Cell | None) -> str:
    if c is None:
        return "not run"
    facts = [_verdict(c)]
    if c.answered:
        spend = c.spend
        facts += [case_cost(spend), latency(c.latency_ms), f"{spend.tokens:,} tok"]
    if c.steps:
        facts.append(f"{c.steps} steps")
    lines = [" · ".join(facts)]
    if c.answer:
        note = f"({c.answer_note}) " if c.answer_note else ""
        lines.append(cell(note + c.answer, ANSWER_CHARS))
    why = c.why
    if why:
        lines.append("✗ " + cell("; ".join(why), WHY_CHARS))
    return "<br>".join(lines)


def _head(cmp: SuiteComparison) -> list[str]:
    """The section's heading and its per-variant summary table."""
    axis = "model · API" if any(" · " in v for v in cmp.variants) else "model"
    head = [f"### Models side by side: {cell(cmp.suite)} ({len(cmp.rows)} cases)", ""]
    return head + table([axis, "passed", "cost", "p50 latency", "tokens"], [
        [cell(s.variant), s.pass_text, total_cost(s.spend), latency(s.p50_latency_ms), f"{s.spend.tokens:,}"]
        for s in cmp.summaries])


def _width(row: list[str]) -> int:
    return sum(map(len, row)) + 3 * len(row) + 2  # "| a | b |" and its newline


def section(run: RunRecord, lines: list[str], limit: int, sampled: dict[str, CaseSamples] | None = None) -> None:
    """Append a comparison per suite that has one, while ``lines`` stay under ``limit`` characters:
    rows past the limit (or past MAX_ROWS) are counted, not shown, and suites that do not fit with
    at least one row are named. ``sampled``: the run's sampled cases, when the caller has them."""
    used = sum(map(len, lines)) + len(lines)
    found = comparisons(run, sampled)
    for n, cmp in enumerate(found):
        head = _head(cmp)
        header = ["case", *(cell(v) for v in cmp.variants)]
        size = sum(map(len, head)) + len(head) + 2 * _width(header) + 60  # the header, its rule, the note
        fitted: list[list[str]] = []
        for r in cmp.rows[:MAX_ROWS]:  # formatted only while they fit: a run may have thousands
            row = [code(r.id), *(_cell(c) for c in r.cells)]
            if used + size + _width(row) > limit:
                break
            fitted.append(row)
            size += _width(row)
        if not fitted:
            rest = found[n:]
            lines += [f"_Models side by side for {len(rest)} more suite(s) in the HTML report: "
                      + ", ".join(code(c.suite) for c in rest[:20]) + (" …" if len(rest) > 20 else "") + "_", ""]
            return
        block = head + table(header, fitted)
        if len(fitted) < len(cmp.rows):
            block.insert(-1, f"\n_… and {len(cmp.rows) - len(fitted)} more cases in the HTML report_")
        lines += block
        used += sum(map(len, block)) + len(block)
