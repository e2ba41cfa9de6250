"""The terminal report of ``harness merge``: the run the shards add up to, told from its records.

``harness run`` prints from the road's CaseResults, which a merge does not have (only the shards'
JSON reports); this module says the same from the records those reports hold: a table per suite,
the failures and why, stale and missing cassettes with the command that records them, the gates,
and the summary line ``harness run`` prints (its counts, pass rate and cost, by the same rules).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..gates import Tolerated
from ..rerecord import rerecord_command
from .common import cost, latency
from .diff_samples import from_baselines
from .ifeval_table import ifeval_scores_of, print_ifeval
from .rate_change import AGAINST_RECORDINGS, changed_samples_text
from .records import CaseRecord, Gate, RunRecord
from .sampled import CaseSamples, sampled_cases
from .summary import summary_line
from .terminal import STALE_HEADING, print_gates, print_missing, print_rates, print_stale_case
from .terminal_rows import LABEL, STYLE, print_estimates, print_flaky, stat_cells, stat_columns
from .terminal_steps import print_trajectory


def _checks(c: CaseRecord) -> str:
    return f"{sum(v.passed for v in c.checks)}/{len(c.checks)}" if c.checks else "-"


def _tokens(c: CaseRecord) -> str:
    used = (c.tokens or 0) + (c.judge.usage.total_tokens if c.judge else 0)
    return str(used) if c.tokens is not None or c.judge else "-"


def _row(c: CaseRecord, name: str) -> list[str]:
    return [f"[{STYLE[c.status]}]{LABEL[c.status]}[/]", escape(name), escape(c.model), _checks(c), _tokens(c),
            cost(c.total_cost_usd) if c.answer is not None else "-", latency(c.latency_ms)]


def _sampled_row(group: CaseSamples) -> list[str]:
    """As terminal_rows.sampled_row: checks, tokens and cost summed over the samples, mean latency, rate."""
    records = group.records
    checks = [v for r in records for v in r.checks]
    used = [r for r in records if (r.answer is not None and r.answer.usage) or r.judge]
    tokens = str(sum((r.tokens or 0) + (r.judge.usage.total_tokens if r.judge else 0) for r in used)) if used else "-"
    costs = [r.total_cost_usd for r in records if r.answer is not None]
    spent = "-" if not costs else "?" if any(c is None for c in costs) else cost(sum(c or 0.0 for c in costs))
    latencies = [r.latency_ms for r in records if r.answer is not None and r.latency_ms is not None]
    return [f"[{STYLE[group.status]}]{LABEL[group.status]}[/]", escape(group.id), escape(group.model),
            f"{sum(v.passed for v in checks)}/{len(checks)}" if checks else "-", tokens, spent,
            latency(sum(latencies) / len(latencies)) if latencies else "-", *stat_cells(group)]


def print_tables(console: Console, run: RunRecord, sampled: Mapping[str, CaseSamples], *,
                 tolerated: Iterable[str] = (), verbose: bool = False, max_rows: int = 200) -> None:
    """A table per suite: a case per row, a sampled case as one row with its rate."""
    quiet = set() if verbose else set(tolerated)
    for path, cases in run.by_suite().items():
        table = Table(title=escape(path), title_justify="left", show_edge=False, pad_edge=False)
        for head in ("status", "case", "model", "checks", "tokens", "cost", "latency"):
            table.add_column(head, justify="right" if head in ("checks", "tokens", "cost", "latency") else "left",
                             no_wrap=head in ("cost", "latency"))  # money is never cut short
        groups = [sampled[c.node_id] for c in cases if c.node_id in sampled]
        for head in stat_columns(groups[0]) if groups else []:
            table.add_column(head, no_wrap=True)
        # One entry per case, a sampled case for its samples; then harness run's rule for what is listed.
        entries: list[tuple[str, CaseRecord | CaseSamples]] = []
        seen: set[str] = set()
        for c in cases:
            group = sampled.get(c.node_id)
            if group is None:
                entries.append((c.status, c))
            elif c.node_id not in seen:
                seen.add(c.node_id)
                entries.append((group.status, group))
        hidden = [x for status, x in entries if status == "failed" and path in quiet]
        listed = [(status, x) for status, x in entries if not (status == "failed" and path in quiet)]
        cut = max_rows if not verbose else len(cases)
        shown = listed if len(entries) <= cut else [e for e in listed if e[0] != "passed"][:cut]
        rows: list[list[str]] = []
        for _, x in shown:
            if isinstance(x, CaseSamples):
                rows.append(_sampled_row(x))
                if verbose:
                    rows += [_row(r, f"  {r.name}") for r in x.records]
            else:
                rows.append(_row(x, x.name))
        for r in rows:
            table.add_row(*r, *[""] * (len(table.columns) - len(r)))
        passing = len(listed) - len(shown)
        console.print(table if rows else f"[italic]{escape(path)}[/]")
        if verbose:  # passing multi-step cases' trajectories; failing ones show theirs with the failure
            for c in cases:
                if c.steps and c.status not in ("failed", "error", "stale"):
                    console.print(f"  [dim]↳[/] {escape(c.key)}", soft_wrap=True, highlight=False)
                    print_trajectory(console, c.steps, c.stopped)
        notes = ([f"{passing} passing cases"] if passing else []) + ([f"{len(hidden)} tolerated failures"] if hidden else [])
        if notes:
            console.print(f"  ({' and '.join(notes)} not listed; -v lists them)")


def print_problems(console: Console, run: RunRecord, sampled: Mapping[str, CaseSamples], *,
                   tolerated: Iterable[str] = (), verbose: bool = False) -> None:
    """Failures and why; stale and missing cassettes with the commands that record them; skips."""
    quiet = set() if verbose else set(tolerated)
    bad: list[CaseRecord | CaseSamples] = []
    seen: set[str] = set()
    for c in run.cases:
        group = sampled.get(c.node_id)
        if group is None:
            if c.failing and not (c.status == "failed" and c.suite_path in quiet):
                bad.append(c)
        elif group.failing and c.node_id not in seen and not (group.status == "failed" and group.suite_path in quiet):
            seen.add(c.node_id)
            bad.append(group)
    if bad:
        console.print("\n[bold red]Failures[/]")
        for x in bad:
            if isinstance(x, CaseSamples):
                console.print(f"[red]✗[/] {escape(x.key)} {escape(x.summary)}", soft_wrap=True)
                for line in x.reasons():
                    console.print(f"    {escape(line)}", soft_wrap=True)
                for r in [r for r in x.records if r.failing][: None if verbose else 3]:
                    _print_failure(console, r, "    ")
            else:
                _print_failure(console, x)
    _print_cassettes(console, run.cases)
    reasons = Counter(c.message or "skipped" for c in run.cases if c.status == "skipped")
    if reasons:
        console.print("\n[bold]Skipped[/]")
        for reason, n in reasons.most_common(10):
            console.print(f"  [dim]-[/] {n} case(s): {escape(reason)}", soft_wrap=True)


def _print_failure(console: Console, c: CaseRecord, indent: str = "") -> None:
    console.print(f"{indent}[red]✗[/] {escape(c.key)}")
    if c.message:
        console.print(f"{indent}    {escape(c.message)}")
    for v in c.failed_checks:
        console.print(f"{indent}    [red]{escape(v.name)}[/]: {escape(v.reason)}")
    if c.steps:
        print_trajectory(console, c.steps, c.stopped, indent=f"{indent}    ")


def print_changes(console: Console, run: RunRecord, sampled: Mapping[str, CaseSamples], *,
                  max_lines: int = 20) -> None:
    """Re-recorded answers that differ from what their cassette held (a sampled case as one entry)."""
    changed = [c for c in run.cases if c.change is not None and c.change.changed]
    if not changed:
        return
    folded = {n for n, s in sampled.items() if len(s.records) > 1}
    groups: dict[str, list[CaseRecord]] = {}
    for c in changed:
        if c.node_id in folded:
            groups.setdefault(c.node_id, []).append(c)
    count = len([c for c in changed if c.node_id not in folded]) + len(groups)
    console.print(f"\n[bold cyan]Changed answers[/] ({count} re-recorded case(s) answer differently)")
    for c in changed:
        assert c.change is not None
        if c.node_id not in folded:
            console.print(f"[cyan]Δ[/] {escape(c.key)}: {escape(c.change.summary)}", soft_wrap=True)
        elif c is groups[c.node_id][0]:
            text = changed_samples_text(len(groups[c.node_id]), len(sampled[c.node_id].records))
            console.print(f"[cyan]Δ[/] {escape(c.node_id)}: {escape(text)}", soft_wrap=True)
            console.print(f"    e.g. {escape(c.name)}: {escape(c.change.summary)}", soft_wrap=True)
        else:
            continue
        lines = c.change.text_diff.splitlines()
        for line in lines[:max_lines]:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            console.print(f"    [{style}]{escape(line)}[/]", soft_wrap=True, highlight=False)
        if len(lines) > max_lines:
            console.print(f"    ... ({len(lines) - max_lines} more lines)")


def print_merged(console: Console, run: RunRecord, gates: Iterable[Gate], tolerated: list[Tolerated],
                 orphan_lines: Iterable[str], *, quiet: bool = False, verbose: bool = False) -> None:
    """Everything ``harness merge`` prints about the joined run, in ``harness run``'s order."""
    sampled = sampled_cases(run)
    paths = [t.path for t in tolerated]
    if not quiet:
        print_tables(console, run, sampled, tolerated=paths, verbose=verbose)
        print_estimates(console, sampled)
        print_flaky(console, sampled)
    print_problems(console, run, sampled, tolerated=paths, verbose=verbose)
    print_ifeval(console, ifeval_scores_of(run.cases))
    rates = from_baselines(run.cases)  # re-recorded samples: one verdict per case, as harness run prints
    if rates is not None:
        print_rates(console, rates, against=AGAINST_RECORDINGS)
    print_changes(console, run, sampled)
    print_gates(console, [g for g in gates if g.name != "failures"], tolerated, verbose=verbose)
    for line in orphan_lines:
        console.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)
    console.print(summary_line(run, run.elapsed_s or 0.0, tolerated=paths, sampled=sampled), highlight=False)


def _print_cassettes(console: Console, cases: Sequence[CaseRecord]) -> None:
    """Stale and missing cassettes as one unsharded run prints them (terminal.print_problems), with
    one command recording them all; the request's diff stays in each shard's own output."""
    stale = [c for c in cases if c.status == "stale"]
    if stale:
        console.print(STALE_HEADING)
        for c in stale:
            print_stale_case(console, c.key, c.message)
        console.print(f"  Re-record them: {escape(rerecord_command(stale))}", soft_wrap=True)
    missing = [c for c in cases if c.status == "missing"]
    if missing:
        print_missing(console, [(c.key, c.message) for c in missing], rerecord_command(missing, "once"))
