"""The terminal report: a table per suite, then what failed and why, then one summary line;
for ``harness diff``, the comparison's view.

Failures that a suite's met ``min_pass_rate`` tolerates (a benchmark such as IFEval) are one line
per suite unless ``verbose``: hundreds of tolerated failures would bury what needs action.

rich writes no escape codes when stdout is not a terminal. NO_COLOR alone would only drop the
colours and keep bold and dim, so ``make_console`` turns styling off entirely when it is set.
Every console is made by ``make_console``, and hides secrets twice: in each string before rich lays
it out (a key wrapped over two lines would otherwise escape a check of the output), and in what
finally reaches the stream.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, cast

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .. import redact
from ..gates import Tolerated
from .common import cost_delta, counts_line, rate, reasons, total_cost
from .rate_change import RateDiff, case_line, changed_samples_text, method_text, suite_line
from .records import CaseRecord, Comparison, Gate
from .sampled import CaseSamples
from .terminal_rows import key as _key
from .terminal_rows import print_estimates, print_flaky  # noqa: F401 - printed by the CLI after the tables
from .terminal_rows import print_failure as _print_failure
from .terminal_rows import print_sampled_failure as _print_sampled_failure
from .terminal_rows import row as _row
from .terminal_rows import sampled_row as _sampled_row
from .terminal_rows import stat_columns as _stat_columns
from .terminal_steps import print_result_trajectory, print_trajectories

if TYPE_CHECKING:  # harness merge prints a merged run's gates and rates without the runner
    from ..runner import CaseResult


class _RedactingConsole(Console):
    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(redact.clean(text), **kwargs)


def make_console(*, stderr: bool = False) -> Console:
    """The console of the CLI: no secret gets through it, and no styling at all when NO_COLOR is
    set (https://no-color.org)."""
    plain = bool(os.environ.get("NO_COLOR"))
    stream = redact.RedactingStream.stderr() if stderr else redact.RedactingStream.stdout()
    return _RedactingConsole(file=cast(IO[str], stream), stderr=stderr, highlight=False,
                             color_system=None if plain else "auto", no_color=plain or None)


def print_errors(console: Console, errors: Sequence[BaseException], limit: int = 50) -> None:
    """User errors, one line each, as ``harness run`` and ``harness merge`` both print them."""
    for err in errors[:limit]:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
    if len(errors) > limit:
        console.print(f"[bold red]... and {len(errors) - limit} more errors[/]")


def _hidden(result: CaseResult, tolerated: set[str]) -> bool:
    return result.status == "failed" and result.case.suite_path.as_posix() in tolerated


def print_table(console: Console, results: list[CaseResult], *, max_rows: int = 200,
                tolerated: Iterable[str] = (), verbose: bool = False,
                sampled: Mapping[str, CaseSamples] | None = None) -> None:
    """A table per suite; tolerated failures (suites in ``tolerated``) only when ``verbose``.
    A sampled case (``sampled``, by node id) is one row with its rate; ``verbose`` lists its
    samples under it."""
    quiet_suites = set() if verbose else set(tolerated)
    sampled = sampled or {}
    if verbose:
        max_rows = len(results)
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
        table.add_column("cost", justify="right", no_wrap=True)  # money is never cut short
        table.add_column("latency", justify="right", no_wrap=True)
        groups: dict[str, list[CaseResult]] = defaultdict(list)
        for r in rows:
            if r.case.node_id in sampled:
                groups[r.case.node_id].append(r)
        stat_heads = _stat_columns(sampled[next(iter(groups))]) if groups else []
        for head in stat_heads:
            table.add_column(head, no_wrap=True)
        # One entry per case: a sampled case stands for its samples, with its own status.
        entries: list[tuple[str, CaseResult | CaseSamples]] = []
        for r in rows:
            node = r.case.node_id
            if node not in groups:
                entries.append((r.status, r))
            elif r is groups[node][0]:
                entries.append((sampled[node].status, sampled[node]))
        hidden = [x for status, x in entries if status == "failed" and path in quiet_suites]
        listed = [(status, x) for status, x in entries if not (status == "failed" and path in quiet_suites)]
        shown = listed if len(entries) <= max_rows else [e for e in listed if e[0] != "passed"][:max_rows]
        for _, x in shown:
            if isinstance(x, CaseSamples):
                table.add_row(*_sampled_row(x, groups[x.node_id]))
                if verbose:
                    for r in groups[x.node_id]:
                        table.add_row(*_row(r, f"  {r.case.name}"), *[""] * len(stat_heads))
            else:
                table.add_row(*_row(x, x.case.name), *[""] * len(stat_heads))
        if shown:
            console.print(table)
        else:
            console.print(f"[italic]{escape(path)}[/]")
        if verbose:
            print_trajectories(console, rows, _key)
        notes = []
        if len(listed) > len(shown):
            notes.append(f"{len(listed) - len(shown)} passing cases")
        if hidden:
            notes.append(f"{len(hidden)} tolerated failures")
        if notes:
            console.print(f"  ({' and '.join(notes)} not listed; -v lists them)")


def print_problems(console: Console, results: list[CaseResult], mode: str, *,
                   tolerated: Iterable[str] = (), verbose: bool = False,
                   sampled: Mapping[str, CaseSamples] | None = None) -> None:
    """Failures and why, stale and missing cassettes, skipped cases; failures in ``tolerated``
    suites only when ``verbose`` (their one-line summary is printed with the gates). A sampled
    case (``sampled``, by node id) is a failure when it fails as a whole, with its samples."""
    from ..runner import rerecord_command  # loaded already (the results came from it); merge never calls this

    quiet_suites = set() if verbose else set(tolerated)
    sampled = sampled or {}
    bad: list[CaseResult | CaseSamples] = []
    seen: set[str] = set()
    for r in results:
        group = sampled.get(r.case.node_id)
        if group is None:
            if r.status in ("failed", "error") and not _hidden(r, quiet_suites):
                bad.append(r)
        elif group.failing and group.node_id not in seen and not (
                group.status == "failed" and group.suite_path in quiet_suites):
            seen.add(group.node_id)
            bad.append(group)
    if bad:
        console.print("\n[bold red]Failures[/]")
        samples_of: dict[str, list[CaseResult]] = defaultdict(list)  # grouped once, not per failing case
        for r in results if seen else ():
            if r.case.node_id in seen:
                samples_of[r.case.node_id].append(r)
        for x in bad:
            if isinstance(x, CaseSamples):
                _print_sampled_failure(console, x, samples_of[x.node_id], verbose=verbose)
            else:
                _print_failure(console, x)
    stale = [r for r in results if r.status == "stale"]
    if stale:
        console.print(STALE_HEADING)
        for r in stale:
            print_stale_case(console, _key(r), r.message)
            if r.detail:
                console.print(escape(r.detail), highlight=False, soft_wrap=True)
            print_result_trajectory(console, r)
        console.print(f"  Re-record them: {escape(rerecord_command([r.case for r in stale]))}",
                      soft_wrap=True)
    missing = [r for r in results if r.status == "missing"]
    if missing:
        print_missing(console, [(_key(r), r.message) for r in missing],
                      rerecord_command([r.case for r in missing], "once"))
    print_skipped(console, results)


STALE_HEADING = "\n[bold yellow]Stale cassettes[/] (the request changed; the recording no longer answers it)"


def print_stale_case(console: Console, key: str, message: str) -> None:
    """One stale case and why, as a run prints it and a merge of shards reprints it."""
    console.print(f"[yellow]~[/] {escape(key)}")
    if message:
        console.print(f"    {escape(message)}", soft_wrap=True)


def print_missing(console: Console, keyed: list[tuple[str, str]], command: str) -> None:
    """Cases without a cassette ((key, message) each) and the one command that records them all."""
    console.print("\n[bold yellow]Missing cassettes[/] (never recorded; replay needs one per case)")
    for key, message in keyed:
        console.print(f"[yellow]?[/] {escape(key)}: {escape(message)}")
    console.print(f"  Record them: {escape(command)}", soft_wrap=True)


def print_skipped(console: Console, results: list[CaseResult], *, limit: int = 10) -> None:
    """Why cases were skipped: those the budget stopped by name, the others one line per distinct
    reason (a stopped run can skip hundreds)."""
    budget = [r for r in results if r.budget_skipped]
    if budget:
        console.print(f"\n[bold yellow]Skipped by budget[/] ({len(budget)}; the run is incomplete)")
        for r in budget[:limit]:
            console.print(f"[yellow]$[/] {escape(_key(r))}: {escape(r.message)}", soft_wrap=True)
        if len(budget) > limit:
            console.print(f"  ... and {len(budget) - limit} more")
    reasons: Counter[str] = Counter(r.message or "skipped" for r in results
                                    if r.status == "skipped" and not r.budget_skipped)
    if not reasons:
        return
    console.print("\n[bold]Skipped[/]")
    for reason, n in reasons.most_common(limit):
        console.print(f"  [dim]-[/] {n} case(s): {escape(reason)}", soft_wrap=True)
    if len(reasons) > limit:
        console.print(f"  ... and {len(reasons) - limit} more reasons")


def print_changes(console: Console, results: list[CaseResult], *, max_lines: int = 20,
                  sampled: Mapping[str, CaseSamples] | None = None) -> None:
    """Re-recorded answers that differ from what their cassette held, with a short diff. A case
    with several samples (``sampled``) is one entry: which old sample a new one replaced is only
    its number, so one diff stands as an example and the rates say whether the case got worse."""
    changed = [r for r in results if r.change is not None and r.change.changed]
    if not changed:
        return
    folded = {n for n, s in (sampled or {}).items() if len(s.records) > 1}
    entries = [r for r in changed if r.case.node_id not in folded]
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in changed:
        if r.case.node_id in folded:
            groups[r.case.node_id].append(r)
    cases = len(entries) + len(groups)
    console.print(f"\n[bold cyan]Changed answers[/] ({cases} re-recorded case(s) answer differently)")
    for r in changed:
        assert r.change is not None
        node = r.case.node_id
        if node not in folded:
            console.print(f"[cyan]Δ[/] {escape(_key(r))}: {escape(r.change.summary)}", soft_wrap=True)
        elif r is groups[node][0]:
            total = len((sampled or {})[node].records)
            console.print(f"[cyan]Δ[/] {escape(node)}: {escape(changed_samples_text(len(groups[node]), total))}",
                          soft_wrap=True)
            console.print(f"    e.g. {escape(r.case.name)}: {escape(r.change.summary)}", soft_wrap=True)
        else:
            continue
        _print_diff(console, r.change.text_diff, max_lines)


def _print_diff(console: Console, diff: str, max_lines: int) -> None:
    lines = diff.splitlines()
    for line in lines[:max_lines]:
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        console.print(f"    [{style}]{escape(line)}[/]", soft_wrap=True, highlight=False)
    if len(lines) > max_lines:
        console.print(f"    ... ({len(lines) - max_lines} more lines)")


def print_gates(console: Console, gates: Iterable[Gate], tolerated: Iterable[Tolerated] = (), *,
                verbose: bool = False) -> None:
    """Each gate in a line; a suite with tolerated failures gets its one summary line instead of
    its min_pass_rate gate's."""
    lines = list(tolerated)
    replaced = {f"{t.suite}: min_pass_rate" for t in lines}
    for g in gates:
        if g.name not in replaced:
            console.print(("[green]gate met:[/] " if g.met else "[red]gate failed:[/] ") + escape(g.text),
                          soft_wrap=True)
    for t in lines:
        console.print(f"[green]gate met:[/] {escape(t.text)}" + ("" if verbose else " (-v lists them)"),
                      soft_wrap=True)


def _rows(console: Console, title: str, cases: list[CaseRecord], style: str, *, limit: int = 50,
          with_reasons: bool = True) -> None:
    if not cases:
        return
    console.print(f"\n[bold {style}]{escape(title)}[/] ({len(cases)})")
    for c in cases[:limit]:
        was = c.baseline_status or ("new" if c.new else "?")
        console.print(f"  [{style}]•[/] {escape(c.key)} [dim]{escape(c.model)}[/] {escape(was)} → {escape(c.status)}",
                      soft_wrap=True)
        for line in reasons(c)[:5] if with_reasons else ():
            console.print(f"      {escape(line)}", soft_wrap=True)
        if c.rerecord:
            console.print(f"      record again: {escape(c.rerecord)}", soft_wrap=True)
    if len(cases) > limit:
        console.print(f"  ... and {len(cases) - limit} more")


_VERDICT_STYLE = {"regressed": ("red", "✗"), "improved": ("green", "✓"), "no significant change": ("dim", "·")}


def print_rates(console: Console, diff: RateDiff, *, limit: int = 50, against: str = "") -> None:
    """The cases compared as rates over their samples: verdict and p-value each, the suites' mean
    rates, the flaky ones, and how the numbers were made. ``against`` names the base when it is
    not a diff's (a re-recording run compares with what the cassettes held)."""
    console.print(f"\n[bold]Sampled cases[/]{escape(against)} ({len(diff.cases)}: {len(diff.regressed)} regressed, "
                  f"{len(diff.improved)} improved, {len(diff.flaky)} flaky)")
    console.print(f"  [dim]{escape(method_text(diff))}[/]", soft_wrap=True)
    shown = diff.ordered()
    for c in shown[:limit]:
        style, mark = _VERDICT_STYLE[c.verdict]
        console.print(f"  [{style}]{mark}[/] {escape(case_line(c, diff))}", soft_wrap=True)
    if len(shown) > limit:
        console.print(f"  ... and {len(shown) - limit} more with no significant change")
    for s in diff.suites:
        style, mark = _VERDICT_STYLE[s.verdict]
        console.print(f"  [{style}]{mark} suite[/] {escape(suite_line(s))}", soft_wrap=True)
    if diff.flaky:
        names = ", ".join(c.node_id for c in diff.flaky[:limit])
        more = f" and {len(diff.flaky) - limit} more" if len(diff.flaky) > limit else ""
        console.print(f"  [yellow]flaky[/] (samples disagree): {escape(names)}{more}", soft_wrap=True)


def comparison_counts(cmp: Comparison) -> str:
    """``1 regressed, 0 fixed, 2 changed, 1 added, 0 removed``; sampled cases count by their verdicts."""
    return (f"{len(cmp.regressed_keys)} regressed, {len(cmp.fixed_keys)} fixed, {len(cmp.changed)} changed, "
            f"{len(cmp.added)} added, {len(cmp.removed)} removed")


def _print_changed(console: Console, cmp: Comparison, max_diff_lines: int) -> None:
    """Changed answers; a case compared as rates is one entry (which base sample a head sample
    stands against is only its number), with one diff as an example."""
    rated = {c.node_id: c for c in cmp.samples.ordered()} if cmp.samples is not None else {}
    groups: dict[str, list[CaseRecord]] = defaultdict(list)
    for c in cmp.changed:
        if c.node_id in rated:
            groups[c.node_id].append(c)
    entries = [c for c in cmp.changed if c.node_id not in rated or c is groups[c.node_id][0]]
    count = f"{len(entries)} case(s) answer differently" if rated else str(len(entries))
    console.print(f"\n[bold cyan]Changed answers[/] ({count})")
    for c in entries[:50]:
        assert c.change is not None
        if c.node_id in rated:
            text = changed_samples_text(len(groups[c.node_id]), rated[c.node_id].head.n, against="the base's")
            console.print(f"[cyan]Δ[/] {escape(c.node_id)}: {escape(text)}", soft_wrap=True)
            console.print(f"    e.g. {escape(c.name)}: {escape(c.change.summary)}", soft_wrap=True)
        else:
            console.print(f"[cyan]Δ[/] {escape(c.key)}: {escape(c.change.summary)}", soft_wrap=True)
        _print_diff(console, c.change.text_diff, max_diff_lines)
    if len(entries) > 50:
        console.print(f"  ... and {len(entries) - 50} more")


def print_comparison(console: Console, cmp: Comparison, *, max_diff_lines: int = 20) -> None:
    """``harness diff``: regressions first, then fixes, changed answers, added and removed, totals."""
    base, head = cmp.base_totals, cmp.head_totals
    console.print(f"[bold]harness diff[/] {escape(cmp.base_label)} → {escape(cmp.head_label)}")
    for note in cmp.notes:
        console.print(f"  [yellow]note:[/] {escape(note)}", soft_wrap=True)
    if cmp.samples is not None:
        print_rates(console, cmp.samples)
    _rows(console, "Regressions (newly failing)", cmp.regressed, "red")
    _rows(console, "Fixed (newly passing)", cmp.fixed, "green", with_reasons=False)
    _rows(console, "Other status changes", cmp.status_changed, "yellow")
    if cmp.changed:
        _print_changed(console, cmp, max_diff_lines)
    _rows(console, "Added", cmp.added, "blue", with_reasons=False)
    if cmp.removed:
        console.print(f"\n[bold magenta]Removed[/] ({len(cmp.removed)})")
        for c in cmp.removed[:50]:
            console.print(f"  [magenta]•[/] {escape(c.key)} [dim]{escape(c.model)}[/] (was {escape(c.status)})")
    table = Table(title="Totals", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("", cmp.base_label, cmp.head_label, "Δ"):
        table.add_column(escape(col), justify="right" if col else "left")
    table.add_row("cases", str(base.cases), str(head.cases), f"{head.cases - base.cases:+d}")
    table.add_row("results", escape(counts_line(base)), escape(counts_line(head)), "")
    table.add_row("pass rate", rate(base.pass_rate), rate(head.pass_rate),
                  f"{(head.pass_rate or 0) - (base.pass_rate or 0):+.1%}")
    table.add_row("cost", escape(total_cost(base)), escape(total_cost(head)),
                  escape(cost_delta(head.cost_usd - base.cost_usd)))
    table.add_row("tokens", f"{base.tokens:,}", f"{head.tokens:,}", f"{head.tokens - base.tokens:+,}")
    console.print()
    console.print(table)
    console.print(comparison_counts(cmp), highlight=False)
