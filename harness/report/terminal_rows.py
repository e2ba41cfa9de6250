"""A case result as the terminal shows it: its row's cells, its failure lines; a sampled case as one
row, its failure with its failing samples, and the flaky list.

Apart from terminal.py so that the per-case formatting, which sampled cases double, stays one
small room; terminal.py lays the rows out in tables and sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..pricing import PriceTable
from .common import cost
from .sampled import CaseSamples, pct
from .terminal_steps import print_result_trajectory

if TYPE_CHECKING:  # annotations only: harness merge prints records without the runner
    from ..runner import CaseResult

STYLE = {"passed": "green", "failed": "red", "error": "red", "stale": "yellow",
         "missing": "yellow", "skipped": "dim"}
LABEL = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "stale": "STALE",
         "missing": "MISSING", "skipped": "SKIP"}


def checks_cell(result: CaseResult) -> str:
    if not result.verdicts:
        return "-"
    ok = sum(v.passed for v in result.verdicts)
    return f"{ok}/{len(result.verdicts)}"


def answer_cost(result: CaseResult) -> float | None:
    """The answer's cost (its judge calls apart: ``judge_cost``)."""
    if result.cost_usd is not None:
        return result.cost_usd
    out = result.output
    prices = getattr(result.planned, "prices", None) or PriceTable()
    return prices.cost(result.case.model, out.usage) if out is not None and out.usage else None


def judge_cost(result: CaseResult) -> float | None:
    return result.judge.cost_usd if result.judge is not None else 0.0


def case_cost(result: CaseResult) -> float | None:
    """What the case cost in all: its answer plus its rubric judge calls."""
    answer, judge = answer_cost(result), judge_cost(result)
    return None if answer is None or judge is None else answer + judge


def key(result: CaseResult) -> str:
    """``suite::id``, with the sample suffix every report uses (``id#1``)."""
    return f"{result.case.suite_path.as_posix()}::{result.case.name}"


def latency(result: CaseResult) -> str:
    out = result.output
    if out is None or out.latency_ms is None:
        return "-"
    return f"{out.latency_ms:,.0f} ms"


def tokens(rows: list[CaseResult]) -> str:
    used = [r for r in rows if (r.output is not None and r.output.usage) or r.judge]
    if not used:
        return "-"
    return str(sum((r.output.usage.total_tokens if r.output and r.output.usage else 0)
                   + (r.judge.usage.total_tokens if r.judge else 0) for r in used))


def row(r: CaseResult, name: str) -> list[str]:
    return [f"[{STYLE[r.status]}]{LABEL[r.status]}[/]", escape(name), escape(r.case.model), checks_cell(r),
            tokens([r]), cost(case_cost(r)) if r.output is not None else "-", latency(r)]


def sampled_row(group: CaseSamples, rows: list[CaseResult]) -> list[str]:
    """A sampled case in one row: its status, its samples' checks, tokens and cost summed, the mean
    latency, and its rate (the last column)."""
    verdicts = [v for r in rows for v in r.verdicts]
    checks = f"{sum(v.passed for v in verdicts)}/{len(verdicts)}" if verdicts else "-"
    costs = [case_cost(r) for r in rows if r.output is not None]
    spent = "-" if not costs else "?" if any(c is None for c in costs) else cost(sum(c or 0.0 for c in costs))
    latencies = [r.output.latency_ms for r in rows if r.output is not None and r.output.latency_ms is not None]
    mean_latency = f"{sum(latencies) / len(latencies):,.0f} ms" if latencies else "-"
    return [f"[{STYLE[group.status]}]{LABEL[group.status]}[/]", escape(group.id), escape(group.model), checks,
            tokens(rows), spent, mean_latency, *stat_cells(group)]


def stat_columns(group: CaseSamples) -> list[str]:
    """The sampled suite's extra column: the rate with its interval (pass@k / pass^k get a table of
    their own, print_estimates), so a CI log 80 characters wide still shows one line per case."""
    return [f"rate ({group.rate.confidence:.0%} CI)"]


def stat_cells(group: CaseSamples) -> list[str]:
    """``7/10 70% (40–89%)``, and ``≈`` when the samples disagree (the flaky list says more)."""
    r = group.rate
    if not r.n:
        return [f"0/{len(group.records)} judged"]
    return [f"{r.passed}/{r.n} {pct(r.rate)} ({pct(r.low).rstrip('%')}–{pct(r.high)})" + (" ≈" if group.flaky else "")]


def print_estimates(console: Console, sampled: Mapping[str, CaseSamples], *, limit: int = 200) -> None:
    """pass@k and pass^k for the k the suites ask for (``pass_k``), one row per sampled case."""
    asked = [s for s in sampled.values() if s.pass_at_k or s.pass_hat_k]
    if not asked:
        return
    heads = list(dict.fromkeys([*(f"pass@{k}" for s in asked for k, _ in s.pass_at_k),
                                *(f"pass^{k}" for s in asked for k, _ in s.pass_hat_k)]))
    table = Table(title="pass@k (one of k passes) and pass^k (all k pass), estimated from the samples",
                  title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("case")
    for head in heads:
        table.add_column(head, justify="right")
    for s in asked[:limit]:
        values = {f"pass@{k}": v for k, v in s.pass_at_k} | {f"pass^{k}": v for k, v in s.pass_hat_k}
        table.add_row(escape(s.key), *("-" if values.get(h) is None else pct(values[h] or 0.0) for h in heads))
    console.print(table)
    if len(asked) > limit:
        console.print(f"  ... and {len(asked) - limit} more (the JSON report has them all)")


def print_flaky(console: Console, sampled: Mapping[str, CaseSamples], *, limit: int = 50) -> None:
    """Cases whose samples disagree, after the tables: the cases to look at before trusting a gate."""
    flaky = [s for s in sampled.values() if s.flaky]
    if not flaky:
        return
    console.print(f"\n[bold magenta]Flaky cases[/] ({len(flaky)}; their samples disagree)")
    for s in flaky[:limit]:
        console.print(f"[magenta]≈[/] {escape(s.key)} [dim]{escape(s.model)}[/] {escape(s.summary)}",
                      soft_wrap=True)
    if len(flaky) > limit:
        console.print(f"  ... and {len(flaky) - limit} more")


def print_failure(console: Console, r: CaseResult, indent: str = "") -> None:
    console.print(f"{indent}[red]✗[/] {escape(key(r))}")
    if r.message:
        console.print(f"{indent}    {escape(r.message)}")
    for v in r.verdicts:
        if not v.passed:
            console.print(f"{indent}    [red]{escape(v.name)}[/]: {escape(v.reason)}")
    print_result_trajectory(console, r, indent=f"{indent}    ")


def print_sampled_failure(console: Console, group: CaseSamples, rows: list[CaseResult], *,
                          verbose: bool, limit: int = 3) -> None:
    """A sampled case that failed as a whole: why (its gate), then its failing samples."""
    console.print(f"[red]✗[/] {escape(group.key)} {escape(group.summary)}", soft_wrap=True)
    for line in group.reasons():
        console.print(f"    {escape(line)}", soft_wrap=True)
    failing = [r for r in rows if r.status in ("failed", "error")]
    for r in failing if verbose else failing[:limit]:
        print_failure(console, r, "    ")
    if not verbose and len(failing) > limit:
        console.print(f"    ... and {len(failing) - limit} more failing samples (-v lists them)")
