"""The terminal report: a table per suite, then what failed and why, then one summary line.

rich decides colour by itself (none when stdout is not a terminal, or NO_COLOR is set).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..runner import CaseResult, rerecord_command

_STYLE = {"passed": "green", "failed": "red", "error": "red", "stale": "yellow",
          "missing": "yellow", "skipped": "dim"}
_LABEL = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "stale": "STALE",
          "missing": "MISSING", "skipped": "SKIP"}


def _checks_cell(result: CaseResult) -> str:
    if not result.verdicts:
        return "-"
    ok = sum(v.passed for v in result.verdicts)
    return f"{ok}/{len(result.verdicts)}"


def _latency(result: CaseResult) -> str:
    out = result.output
    if out is None or out.latency_ms is None:
        return "-"
    return f"{out.latency_ms:,.0f} ms"


def print_table(console: Console, results: list[CaseResult], *, max_rows: int = 200) -> None:
    by_suite: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_suite[str(r.case.suite_path)].append(r)
    for path, rows in by_suite.items():
        table = Table(title=f"{escape(path)}", title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("status")
        table.add_column("case")
        table.add_column("model")
        table.add_column("checks", justify="right")
        table.add_column("tokens", justify="right")
        table.add_column("latency", justify="right")
        shown = rows if len(rows) <= max_rows else [r for r in rows if r.status != "passed"][:max_rows]
        for r in shown:
            usage = r.output.usage if r.output else None
            table.add_row(f"[{_STYLE[r.status]}]{_LABEL[r.status]}[/]", escape(r.case.id),
                          escape(r.case.model), _checks_cell(r),
                          str(usage.total_tokens) if usage else "-", _latency(r))
        console.print(table)
        if len(shown) < len(rows):
            console.print(f"  ({len(rows) - len(shown)} passing cases not listed)")


def print_problems(console: Console, results: list[CaseResult], mode: str) -> None:
    bad = [r for r in results if r.status in ("failed", "error")]
    if bad:
        console.print("\n[bold red]Failures[/]")
        for r in bad:
            console.print(f"[red]✗[/] {escape(r.case.node_id)}")
            if r.message:
                console.print(f"    {escape(r.message)}")
            for v in r.verdicts:
                if not v.passed:
                    console.print(f"    [red]{escape(v.name)}[/]: {escape(v.reason)}")
    stale = [r for r in results if r.status == "stale"]
    if stale:
        console.print("\n[bold yellow]Stale cassettes[/] (the request changed; the recording no longer answers it)")
        for r in stale:
            console.print(f"[yellow]~[/] {escape(r.case.node_id)}")
            if r.detail:
                console.print(escape(r.detail), highlight=False, soft_wrap=True)
        console.print(f"  Re-record them: {escape(rerecord_command([r.case for r in stale]))}",
                      soft_wrap=True)
    missing = [r for r in results if r.status == "missing"]
    if missing:
        console.print("\n[bold yellow]Missing cassettes[/] (never recorded; replay needs one per case)")
        for r in missing:
            console.print(f"[yellow]?[/] {escape(r.case.node_id)}: {escape(r.message)}")
        console.print(f"  Record them: {escape(rerecord_command([r.case for r in missing], 'once'))}",
                      soft_wrap=True)


def summary_line(results: Iterable[CaseResult], elapsed: float) -> str:
    counts = Counter(r.status for r in results)
    parts = [f"{counts[s]} {s}" for s in ("passed", "failed", "error", "stale", "missing", "skipped")
             if counts[s]]
    recorded = sum(1 for r in results if r.recorded)
    if recorded:
        parts.append(f"{recorded} recorded")
    return ", ".join(parts or ["no cases"]) + f" in {elapsed:.2f}s"
