"""The Markdown report, shaped for a pull-request comment or a GitHub step summary.

A reviewer reads top-down and stops early, so regressions come first, then other failures,
then each changed answer in a collapsible block, then totals and the cost delta. Answers are
untrusted text: table cells are escaped (GitHub renders inline HTML), diffs sit in code fences
longer than any backtick run inside them, and the whole comment stays under GitHub's size limit.
"""

from __future__ import annotations

import html
from collections import Counter

from ..gates import tolerated_failures
from ..trajectory import StepRecord, arguments_text, headline, result_text, spend, spend_text, step_title
from . import markdown_compare
from .common import STATUS_ORDER, cost, cost_delta, counts_line, judge_cost, rate, reasons, total_cost, trim
from .diff_samples import from_baselines
from .markdown_text import cell as _cell
from .markdown_text import code as _code
from .markdown_text import fence as _fence
from .markdown_text import table as _table
from .rate_change import (
    AGAINST_RECORDINGS,
    RateDiff,
    changed_samples_text,
    mean_text,
    method_text,
    p_text,
    rate_text,
    suite_verdict,
)
from .records import CaseRecord, Comparison, RunRecord, Totals
from .sampled import CaseSamples, outcomes, sampled_cases, suite_rate

MAX_CHARS = 60_000  # a GitHub comment holds 65,536
MAX_DETAILS = 40
MAX_DIFF_LINES = 80
MAX_ROWS = 50


def _status(case: CaseRecord) -> str:
    return f"**{case.status}**" if case.failing else case.status


def _why(case: CaseRecord) -> str:
    lines = reasons(case)
    return _cell("; ".join(lines)) if lines else " "


def _case_rows(cases: list[CaseRecord], *, with_base: bool) -> list[str]:
    header = ["case", "model"] + (["was", "now"] if with_base else ["status"]) + ["why"]
    rows = [[_code(c.key), _cell(c.model)]
            + ([_cell(c.baseline_status or ("new" if c.new else "?")), _status(c)] if with_base else [_status(c)])
            + [_why(c)] for c in cases[:MAX_ROWS]]
    return _table(header, rows, max(0, len(cases) - MAX_ROWS))


def _details(case: CaseRecord) -> list[str]:
    change = case.change
    assert change is not None
    diff = change.text_diff.splitlines()
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"... ({len(diff) - MAX_DIFF_LINES} more lines in the HTML report)"]
    now = f"<b>{case.status}</b>" if case.failing else case.status
    verdict = f"{html.escape(case.baseline_status)} → {now}" if case.baseline_status else now
    summary = (f"<code>{html.escape(case.key, quote=False)}</code> · {verdict} · "
               f"{html.escape(trim(change.summary, 200), quote=False)}")
    return ["<details>", f"<summary>{summary}</summary>", "", _fence("\n".join(diff) or "(no text diff)", "diff"),
            "", "</details>", ""]


def _changed_section(changed: list[CaseRecord], lines: list[str], folded: dict[str, int] | None = None) -> None:
    """Each changed answer in a block; a case with several samples (``folded``: node id -> its
    samples) in one, its first changed sample's diff as an example (samples pair up by number only)."""
    if not changed:
        return
    folded = folded or {}
    groups: dict[str, list[CaseRecord]] = {}
    for c in changed:
        if c.node_id in folded:
            groups.setdefault(c.node_id, []).append(c)
    shown = [c for c in changed if c.node_id not in folded or c is groups[c.node_id][0]]
    lines += [f"### Changed answers ({len(shown)})", ""]
    for i, case in enumerate(shown):
        group = groups.get(case.node_id)
        block = _details(case) if group is None else _folded(case, len(group), folded[case.node_id])
        if i >= MAX_DETAILS or sum(map(len, lines)) + sum(map(len, block)) > MAX_CHARS - 6_000:
            rest = shown[i:]
            lines += [f"_… {len(rest)} more changed answer(s): "
                      + ", ".join(_code(c.node_id if c.node_id in groups else c.key) for c in rest[:20])
                      + (" …" if len(rest) > 20 else "") + "_", ""]
            break
        lines += block


def _folded(case: CaseRecord, changed: int, samples: int) -> list[str]:
    block = _details(case)
    block[1] = (f"<summary><code>{html.escape(case.node_id, quote=False)}</code> · "
                f"{html.escape(changed_samples_text(changed, samples), quote=False)} · e.g. "
                f"{block[1].removeprefix('<summary>')}")
    return block


def _step_items(step: StepRecord, *, final: bool, turns: bool) -> list[str]:
    """One step as a numbered item: the user turn it starts, each tool call with its arguments and
    result, its answer (every text escaped and trimmed like a table cell)."""
    out = [f"{step.number}. **{_cell(step_title(step, turns=turns, stats=False))}** · {_cell(spend_text(spend([step])))}"]
    if step.user is not None:
        out.append(f"   - user: {_cell(step.user, 300)}")
    if step.output.error:
        out.append(f"   - error: {_cell(step.output.error, 300)}")
    for call, result in step.answered():
        out.append(f"   - {_code(call.name)} {_code(trim(arguments_text(call), 200))} → {_cell(result_text(result), 200)}")
    if step.output.content:
        out.append(f"   - {'answer' if final else 'assistant'}: {_cell(step.output.content, 600)}")
    return out


def _trajectories(cases: list[CaseRecord], lines: list[str]) -> None:
    """Each multi-step case's trajectory in a collapsed block, failing cases first, within the
    comment's size limit (the HTML and JSON reports have them all, untrimmed)."""
    multi = sorted((c for c in cases if c.steps), key=lambda c: not c.failing)
    if not multi:
        return
    lines += [f"### Trajectories ({len(multi)})", ""]
    for i, case in enumerate(multi):
        turns = len({s.turn for s in case.steps}) > 1
        now = f"<b>{case.status}</b>" if case.failing else case.status
        block = ["<details>", f"<summary><code>{html.escape(case.key, quote=False)}</code> · {now} · "
                 f"{html.escape(headline(case.steps, case.stopped), quote=False)}</summary>", ""]
        for n, step in enumerate(case.steps):
            block += _step_items(step, final=n == len(case.steps) - 1, turns=turns)
        block += ["", "</details>", ""]
        if i >= MAX_DETAILS or sum(map(len, lines)) + sum(map(len, block)) > MAX_CHARS - 4_000:
            lines += [f"_… {len(multi) - i} more trajectories in the HTML and JSON reports_", ""]
            break
        lines += block


def _gates(run: RunRecord, lines: list[str]) -> None:
    if run.gates:
        lines += ["### Gates", ""] + [f"- {'✅' if g.met else '❌'} {_cell(g.text, 400)}" for g in run.gates] + [""]


def _suites_table(run: RunRecord, lines: list[str]) -> None:
    rows = []
    sampled = sampled_cases(run)
    for label, cases in run.groups():
        t = RunRecord(tuple(cases)).totals
        measured = suite_rate((c.node_id, c.status) for c in cases) if any(
            c.node_id in sampled for c in cases) else None
        shown = f"{rate(measured.rate)} (mean of case rates)" if measured else rate(t.pass_rate)
        rows.append([_cell(label), str(t.cases), str(t.counts["passed"]),
                     str(t.counts["failed"] + t.counts["error"]), shown, total_cost(t), f"{t.tokens:,}"])
    if rows:
        lines += ["### Suites", ""] + _table(["suite", "cases", "passed", "failed", "pass rate", "cost", "tokens"], rows)


def _stale(run: RunRecord, lines: list[str]) -> None:
    stale = [c for c in run.cases if c.status in ("stale", "missing")]
    if stale:
        lines += [f"### Stale or missing cassettes ({len(stale)})", ""]
        lines += [f"- {_code(c.key)}: {_cell(c.message)} — record again: {_code(c.rerecord)}" for c in stale[:MAX_ROWS]]
        lines += [f"- … and {len(stale) - MAX_ROWS} more" if len(stale) > MAX_ROWS else "", ""]


def _spend(t: Totals) -> str:
    judge = f" (judge {judge_cost(t)}, {t.judge_calls} call(s))" if t.judge_calls else ""
    return f"cost **{total_cost(t)}**{judge} · {t.tokens:,} tokens"


def _sampled_section(sampled: dict[str, CaseSamples], lines: list[str]) -> None:
    """Each sampled case in a row (failing first), then the flaky ones by name."""
    if not sampled:
        return
    rank = {"failed": 0, "error": 0, "stale": 1, "missing": 1}
    rows = [[_code(s.key), _cell(s.model), f"**{s.status}**" if s.failing else s.status, _cell(s.summary),
             _cell(s.estimates), "yes" if s.flaky else "", _cell("; ".join(g.text for g in s.gates) or "none: every sample must pass")]
            for s in sorted(sampled.values(), key=lambda s: rank.get(s.status, 2))[:MAX_ROWS]]
    lines += [f"### Cases with samples ({len(sampled)})", ""]
    lines += _table(["case", "model", "status", "samples", "pass@k · pass^k", "flaky", "gate"], rows,
                    max(0, len(sampled) - MAX_ROWS))
    flaky = [s for s in sampled.values() if s.flaky]
    if flaky:
        lines += [f"### Flaky cases ({len(flaky)}: their samples disagree)", ""]
        lines += [f"- {_code(s.key)}: {_cell(s.summary)}" for s in flaky[:MAX_ROWS]]
        lines += [f"- … and {len(flaky) - MAX_ROWS} more"] if len(flaky) > MAX_ROWS else []
        lines.append("")


def render_run(run: RunRecord) -> str:
    t = run.totals
    sampled = sampled_cases(run)
    pending = any(c.status in ("stale", "missing") for c in run.cases)
    ok = not pending and (all(g.met for g in run.gates) if run.gates else not any(c.failing for c in run.cases))
    measured = suite_rate((c.node_id, c.status) for c in run.cases) if sampled else None
    shown = f"{rate(measured.rate)}** (mean of case rates)" if measured else f"{rate(t.pass_rate)}**"
    counted = counts_line(t)
    if sampled:  # cases, a sampled one by its own status; then its samples
        units = Counter(u.status for u in outcomes(run, sampled))
        counted = ", ".join(f"{units[s]} {s}" for s in ("passed", *STATUS_ORDER[:4], "skipped") if units[s]) + f" ({len(run.cases)} samples)"
    lines = [f"## {'✅' if ok else '❌'} harness: {counted}", "",
             f"Pass rate **{shown} · {_spend(t)}"
             + (f" · {run.elapsed_s:.1f}s" if run.elapsed_s else ""), ""]
    # A case with several samples regresses by its rates (as in a diff), never sample by sample.
    folded = {node: len(s.records) for node, s in sampled.items() if len(s.records) > 1}
    rates = from_baselines(run.cases)
    if rates is not None:
        _rates_section(rates, lines, AGAINST_RECORDINGS)
    regressed = [c for c in run.cases if c.regressed and c.node_id not in folded]
    if regressed:
        lines += [f"### Regressions ({len(regressed)})", ""] + _case_rows(regressed, with_base=True)
    # Failures a met min_pass_rate tolerates (under --fail-on failed) fold away below the others.
    tolerant = {s.path: s for s in tolerated_failures(run)} if any(g.name == "failures" for g in run.gates) else {}
    # A sampled case's samples are judged together, in their own section.
    failures = [c for c in run.cases if c.failing and not c.regressed and c.node_id not in sampled
                and not (c.status == "failed" and c.suite_path in tolerant)]
    if failures:
        lines += [f"### Failures ({len(failures)})", ""] + _case_rows(failures, with_base=False)
    _sampled_section(sampled, lines)
    tolerated_rows: dict[str, list[CaseRecord]] = {}  # grouped once, not looked for once per suite
    for c in run.cases:
        if c.suite_path in tolerant and c.status == "failed" and not c.regressed and c.node_id not in sampled:
            tolerated_rows.setdefault(c.suite_path, []).append(c)
    for path, tol in tolerant.items():
        cases = tolerated_rows.get(path, [])
        lines += ["<details>", f"<summary>{html.escape(tol.text)}</summary>", ""]
        lines += _case_rows(cases, with_base=False) + ["</details>", ""]
    skipped = [c for c in run.cases if c.budget_skipped]
    if skipped:
        lines += [f"### Skipped by budget ({len(skipped)}; the run is incomplete)", ""]
        lines += _case_rows(skipped, with_base=False)
    _stale(run, lines)
    changed = [c for c in run.cases if c.changed]
    _changed_section(changed, lines, folded)
    _trajectories(list(run.cases), lines)
    markdown_compare.section(run, lines, MAX_CHARS - 4_000, sampled)
    base_cost = sum(c.baseline_cost_usd or 0.0 for c in run.cases if c.baseline is not None)
    head_cost = sum(c.cost_usd or 0.0 for c in run.cases if c.baseline is not None)
    if any(c.baseline is not None for c in run.cases):
        lines += [f"Re-recorded cases cost {cost(base_cost)} → {cost(head_cost)} "
                  f"({cost_delta(head_cost - base_cost)}).", ""]
    _gates(run, lines)
    _suites_table(run, lines)
    return "\n".join(lines).rstrip() + "\n"


def _rates_section(diff: RateDiff, lines: list[str], against: str = "") -> None:
    """Cases compared as pass rates over their samples: a row each, regressions first; then suites."""
    lines += [f"### Sampled cases{against} ({len(diff.cases)}: {len(diff.regressed)} regressed, {len(diff.improved)} "
              f"improved, {len(diff.flaky)} flaky)", "", f"_{_cell(method_text(diff), 600)}_", ""]
    shown = diff.ordered()
    rows = [[_code(c.node_id), _cell(rate_text(c.base)), _cell(rate_text(c.head)), p_text(c.p),
             f"**{c.verdict}**" if c.verdict == "regressed" else c.verdict, "flaky" if c.flaky else " "]
            for c in shown[:MAX_ROWS]]
    lines += _table(["case", "base", "head", "p (adjusted)", "verdict", "samples"], rows,
                    max(0, len(shown) - MAX_ROWS))
    rows = [[_cell(s.name), mean_text(s.change.base_mean), mean_text(s.change.head_mean), str(s.change.cases),
             p_text(s.p), f"**{suite_verdict(s)}**" if s.verdict == "regressed" else suite_verdict(s)]
            for s in diff.suites]
    lines += _table(["suite", "base mean rate", "head mean rate", "sampled cases", "p", "verdict"], rows)
    if diff.flaky:
        lines += ["Flaky (samples disagree): " + ", ".join(_code(c.node_id) for c in diff.flaky[:MAX_ROWS])
                  + (" …" if len(diff.flaky) > MAX_ROWS else ""), ""]


def render_diff(cmp: Comparison) -> str:
    base, head = cmp.base_totals, cmp.head_totals
    regressed, fixed, changed = cmp.regressed, cmp.fixed, cmp.changed
    bad = bool(cmp.regressed_keys) or any(not g.met for g in cmp.head.gates)
    title = f"## {'❌' if bad else '✅'} harness diff: {_code(cmp.base_label)} → {_code(cmp.head_label)}"
    lines = [title, "",
             f"**{len(cmp.regressed_keys)} regressed**, {len(cmp.fixed_keys)} fixed, {len(changed)} changed answer(s), "
             f"{len(cmp.added)} added, {len(cmp.removed)} removed · cost {total_cost(base)} → {total_cost(head)} "
             + (f"(judge {judge_cost(base)} → {judge_cost(head)}) " if base.judge_calls or head.judge_calls else "")
             + f"(**{cost_delta(head.cost_usd - base.cost_usd)}**) · tokens {base.tokens:,} → {head.tokens:,} "
             f"({head.tokens - base.tokens:+,})", ""]
    lines += [f"> {_cell(n, 300)}" for n in cmp.notes] + ([""] if cmp.notes else [])
    if cmp.samples is not None:
        _rates_section(cmp.samples, lines)
    if regressed:
        lines += [f"### Regressions: newly failing ({len(regressed)})", ""] + _case_rows(regressed, with_base=True)
    if fixed:
        lines += [f"### Fixed: newly passing ({len(fixed)})", ""] + _case_rows(fixed, with_base=True)
    moved = cmp.status_changed
    if moved:
        lines += [f"### Other status changes ({len(moved)})", ""] + _case_rows(moved, with_base=True)
    _stale(cmp.head, lines)
    _changed_section(changed, lines)
    _trajectories([c for c in cmp.head.cases if c.failing or c.changed or c.new], lines)
    if cmp.added:
        lines += [f"### Added ({len(cmp.added)})", ""] + _case_rows(cmp.added, with_base=False)
    if cmp.removed:
        lines += [f"### Removed ({len(cmp.removed)})", ""]
        lines += _table(["case", "model", "status at base"],
                        [[_code(c.key), _cell(c.model), _status(c)] for c in cmp.removed[:MAX_ROWS]],
                        max(0, len(cmp.removed) - MAX_ROWS))
    markdown_compare.section(cmp.head, lines, MAX_CHARS - 4_000)
    lines += ["### Totals", ""]
    lines += _table(["", _cell(cmp.base_label), _cell(cmp.head_label), "Δ"], [
        ["cases", str(base.cases), str(head.cases), f"{head.cases - base.cases:+d}"],
        ["passed", str(base.counts["passed"]), str(head.counts["passed"]),
         f"{head.counts['passed'] - base.counts['passed']:+d}"],
        ["pass rate", rate(base.pass_rate), rate(head.pass_rate),
         f"{(head.pass_rate or 0) - (base.pass_rate or 0):+.1%}"],
        ["cost", total_cost(base), total_cost(head), cost_delta(head.cost_usd - base.cost_usd)],
        *([["of which judge", judge_cost(base), judge_cost(head),
            cost_delta(head.judge_cost_usd - base.judge_cost_usd)]] if base.judge_calls or head.judge_calls else []),
        ["tokens", f"{base.tokens:,}", f"{head.tokens:,}", f"{head.tokens - base.tokens:+,}"]])
    _gates(cmp.head, lines)
    _suites_table(cmp.head, lines)
    return "\n".join(lines).rstrip() + "\n"


def render(run: RunRecord, comparison: Comparison | None = None) -> str:
    return render_diff(comparison) if comparison is not None else render_run(run)
