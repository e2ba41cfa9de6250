"""A spending plan (plan_run.py) as the terminal shows it, and as JSON for a CI comment
(``harness.plan/1``, documented in docs/report-json.md).

A model without a price is never shown as $0: its calls are left out of the sums, the sums are
marked as partial (``+?``; ``cost_usd: null`` in JSON, beside the priced part) and the model is named.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import __version__
from ..estimate import DEFAULT_ANSWER_TOKENS
from ..plan_run import CasePlan, Costs, SpendPlan, Tally
from ..pricing import usd
from ..prompt_cache import MIN_TOKENS, STEP_TOKENS

PLAN_SCHEMA = "harness.plan/1"
#: Actions listed case by case (besides cases that would be sent): what a user must act on.
_NOTABLE = ("stale", "missing", "refused", "error")


def _money(value: float, tally: Tally) -> str:
    """A sum of priced calls; ``+?`` when calls of unpriced models are left out of it."""
    if tally.unpriced_calls and tally.unpriced_calls == tally.calls:
        return "unknown"
    return usd(value) + (" +?" if tally.unpriced_calls else "")


def _steps(case: CasePlan) -> str:
    if not case.calls:
        return f"{case.step}+?"
    first, last = case.calls[0].step, case.calls[-1].step
    shown = str(first) if first == last else f"{first}-{last}"
    return shown + ("+?" if case.unknown_steps else "")


def _output(case: CasePlan) -> str:
    total = sum(c.estimate.output_tokens for c in case.calls)
    bases = sorted({c.estimate.output_basis for c in case.calls})
    return f"{total:,} {'/'.join(bases)}" if case.calls else "?"


def _case_cost(case: CasePlan) -> str:
    if not case.calls:
        return "?"
    if not case.priced:
        return f"no price ({escape(case.case.model)})"
    return usd(sum(c.costs.standard for c in case.calls if c.costs is not None))


def print_plan(console: Console, plan: SpendPlan, command: str, *, verbose: bool = False, max_rows: int = 50) -> None:
    """Per suite: the cases that would be sent (and those a user must act on, with why); then the
    totals, what the figures assume, and the command that records."""
    total = plan.tally
    console.print(f"plan for --record-mode {plan.record_mode}: {total.sent} of {total.cases} case(s) would be "
                  "sent (nothing is sent now)", highlight=False)
    for suite in plan.suites:
        listed = [c for c in suite.cases if c.action == "send" or c.action in _NOTABLE]
        if not listed:
            continue
        table = Table(title=escape(suite.path), title_justify="left", show_edge=False, pad_edge=False)
        for head in ("case", "why", "steps", "input", "cached", "output", "cost"):
            table.add_column(head, justify="right" if head in ("input", "cached", "cost") else "left",
                             no_wrap=head != "case")
        shown = listed if verbose or len(listed) <= max_rows else listed[:max_rows]
        for c in shown:
            if c.action == "send":
                table.add_row(escape(c.case.name), c.reason, _steps(c),
                              f"{sum(x.estimate.input_tokens for x in c.calls):,}",
                              f"{sum(x.estimate.cached_tokens for x in c.calls):,}", _output(c), _case_cost(c))
            else:
                table.add_row(escape(c.case.name), f"[yellow]{c.action}[/]", str(c.step), "", "", "", "not sent")
        console.print(table)
        if len(shown) < len(listed):
            console.print(f"  ... and {len(listed) - len(shown)} more (-v lists them all)", highlight=False)
        for c in shown:
            if c.action in ("refused", "error") and c.message:
                console.print(f"  [red]{escape(c.case.name)}[/]: {escape(c.message)}", highlight=False, soft_wrap=True)
    if total.sent:
        _print_totals(console, plan)
        _print_notes(console, plan)
    if plan.adaptive_more:
        console.print(f"adaptive samples: up to {plan.adaptive_more} more sample(s) while a pass rate is "
                      "unclear, not in the sums", highlight=False, soft_wrap=True)
    stale = total.actions.get("stale", 0)
    if stale and plan.record_mode == "once":
        console.print(f"{stale} stale case(s) are not sent by --record-mode once: --record-mode new_episodes "
                      "re-records them", highlight=False, soft_wrap=True)
    if total.sent or plan.adaptive_more:
        console.print(f"command: {escape(command)}", highlight=False, soft_wrap=True)
    else:
        console.print("nothing to send: every selected case replays or is left as it is", highlight=False)


def _print_totals(console: Console, plan: SpendPlan) -> None:
    """Two lines per suite (tokens, then money), and the same for the total."""
    rows = [(s.path, s.tally) for s in plan.suites if s.tally.sent]
    if len(plan.suites) > 1:
        rows.append(("total", plan.tally))
    for name, t in rows:
        c = t.costs
        console.print(f"[bold]{escape(name)}[/]: {t.sent} of {t.cases} case(s) sent, {t.calls:,} call(s): "
                      f"{t.input_tokens:,} input tokens ({t.cached_tokens:,} cached), {t.output_tokens:,} output",
                      highlight=False, soft_wrap=True)
        console.print(f"  standard {_money(c.standard, t)} · with cache {_money(c.cached, t)} · batch "
                      f"{_money(c.batch, t)} · batch with cache {_money(c.batch_cached, t)} · at most "
                      f"{_money(c.at_most, t)}", highlight=False, soft_wrap=True)


def _print_notes(console: Console, plan: SpendPlan) -> None:
    t = plan.tally
    say = console.print
    tokenizer = plan.encoding + ("" if plan.exact else " (a stand-in: the model's own tokenizer is not "
                                 "available offline)")
    say(f"input tokens counted with {tokenizer}; output: max_tokens when the request sets it, else the "
        f"recorded answer's length, else assumed {DEFAULT_ANSWER_TOKENS:,} tokens"
        + (f" ({t.assumed} call(s))" if t.assumed else ""), highlight=False, soft_wrap=True)
    say(f"with cache: OpenAI caches a prompt prefix of at least {MIN_TOKENS:,} tokens that an earlier call "
        f"repeated, in steps of {STEP_TOKENS} (a best case: calls sent at the same time miss it); "
        "batch: the Batch API's prices (--batch; cases of several steps are sent live); at most: every "
        "answer as long as allowed, what --max-cost reserves", highlight=False, soft_wrap=True)
    if t.unpriced:
        say(f"[yellow]no price for {escape(', '.join(t.unpriced))} ({t.unpriced_calls} call(s)): not in the "
            "sums (+?); set pricing: in the suite or harness.yaml[/]", highlight=False, soft_wrap=True)
    if t.unknown_steps:
        say(f"[yellow]{t.unknown_steps} case(s) of several steps (turns, tool loops) are estimated for their "
            "first step only: the next ones depend on answers not recorded yet (+? steps)[/]",
            highlight=False, soft_wrap=True)
    if t.judged:
        say(f"{t.judged} case(s) have rubric checks: their judge calls are sent too and are not in the sums",
            highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- JSON

def _costs(c: Costs) -> dict[str, float]:
    return {"standard": round(c.standard, 8), "cached": round(c.cached, 8), "batch": round(c.batch, 8),
            "batch_cached": round(c.batch_cached, 8), "at_most": round(c.at_most, 8)}


def _tally(t: Tally) -> dict[str, Any]:
    return {"cases": t.cases, "sent": t.sent, "calls": t.calls, "actions": t.actions, "reasons": t.reasons,
            "tokens": {"input": t.input_tokens, "cached_input": t.cached_tokens, "output": t.output_tokens},
            "cost_usd": None if t.unpriced_calls else _costs(t.costs), "priced_cost_usd": _costs(t.costs),
            "unpriced_models": list(t.unpriced), "unpriced_calls": t.unpriced_calls,
            "unknown_steps": t.unknown_steps, "judged": t.judged, "assumed_outputs": t.assumed,
            "complete": t.complete}


def _case(c: CasePlan) -> dict[str, Any]:
    return {"node_id": c.case.node_id, "id": c.case.id, "name": c.case.name, "sample": c.case.sample,
            "model": c.case.model, "api": c.case.api, "action": c.action, "reason": c.reason or None,
            "step": c.step, "message": c.message, "unknown_steps": c.unknown_steps, "judged": c.judged,
            "calls": [{"step": x.step, "input_tokens": x.estimate.input_tokens,
                       "cached_input_tokens": x.estimate.cached_tokens, "output_tokens": x.estimate.output_tokens,
                       "output_basis": x.estimate.output_basis, "output_ceiling": x.estimate.output_ceiling,
                       "cost_usd": _costs(x.costs) if x.costs is not None else None} for x in c.calls]}


def plan_document(plan: SpendPlan, command: str) -> dict[str, Any]:
    return {
        "schema": PLAN_SCHEMA, "harness_version": __version__, "record_mode": plan.record_mode,
        "command": command if plan.tally.sent or plan.adaptive_more else None,
        "tokenizer": {"encoding": plan.encoding, "exact": plan.exact},
        "assumptions": {"default_output_tokens": DEFAULT_ANSWER_TOKENS,
                        "cache": {"min_tokens": MIN_TOKENS, "step_tokens": STEP_TOKENS}},
        "summary": _tally(plan.tally) | {"adaptive_more": plan.adaptive_more},
        "suites": [{"name": s.name, "path": s.path, "adaptive_more": s.adaptive_more, **_tally(s.tally),
                    "cases": [_case(c) for c in s.cases]} for s in plan.suites],
    }
