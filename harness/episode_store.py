"""An episode as its cassette keeps it, and as a result reports it.

Saving: each model call of a multi-step episode is one interaction of the case's cassette, in
order, marked with its step and turn (1-based, as users count them) so the file reads as the
conversation it records. A case of one request is not marked, which keeps its cassette
byte-identical to one written before episodes existed.

Reading back: when a case is re-recorded, the trajectory its old cassette held is rebuilt from the
recorded exchanges themselves (requests, answers, and the tool results the next request carried),
not by running the tools again, which may have changed: that is the baseline a diff compares with.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import cassettes
from .cassettes import Interaction
from .diff import Change, DiffOptions
from .diff_steps import case_change
from .episode import Episode, Step, ToolResult
from .exchange import replay_output
from .output import Output
from .pricing import PriceTable
from .request import Endpoint, Request
from .trajectory import trajectory

_MARKS = ("step", "turn")


def marked(interactions: list[Interaction], steps: list[Step]) -> list[Interaction]:
    """The interactions to save, each carrying its step and turn when there are several."""
    several = len(interactions) > 1
    if not several and not any(mark in i.extra for i in interactions for mark in _MARKS):
        return list(interactions)  # one unmarked step, as replay finds it: nothing to copy
    out = []
    for interaction, step in zip(interactions, steps, strict=True):
        extra = {k: v for k, v in interaction.extra.items() if k not in _MARKS}
        if several:
            extra.update(step=step.index + 1, turn=step.turn + 1)
        out.append(replace(interaction, extra=extra))
    return out


def summed(episode: Episode) -> Output:
    """The final answer with tokens and latency added up over the steps: what un-targeted checks,
    the cost and the reports' totals count for the whole case."""
    return replace(episode.final, usage=episode.usage(), latency_ms=episode.latency_ms())


def recorded_episode(stored: list[Interaction] | None, endpoint: Endpoint, model: str,
                     prices: PriceTable) -> Episode | None:
    """The trajectory a cassette holds (its judge exchanges left out); None when it holds none."""
    mains = cassettes.steps_of(stored)
    steps = []
    for index, interaction in enumerate(mains):
        output = replay_output(interaction)
        following = mains[index + 1].body if index + 1 < len(mains) else None
        cost = prices.cost(model, output.usage, batch=bool(interaction.extra.get("batch"))) \
            if output.usage else None
        request = Request(interaction.method, interaction.path, tuple(sorted(interaction.query.items())),
                          interaction.body, endpoint)
        turn = interaction.extra.get("turn")
        steps.append(Step(index, int(turn) - 1 if isinstance(turn, int) else 0, request, output,
                          _results_sent(following, output), cost))
    return Episode(tuple(steps)) if steps else None


def _results_sent(body: Any, output: Output) -> tuple[ToolResult, ...]:
    """The results of ``output``'s tool calls, as the next request sent them: ``tool`` messages
    (chat) or ``function_call_output`` items (Responses API)."""
    calls = {c.id: c for c in output.tool_calls}
    if not calls or not isinstance(body, dict):
        return ()
    found: dict[str, str] = {}
    for item in [*(body.get("messages") or []), *(body.get("input") or [] if isinstance(body.get("input"), list) else [])]:
        if not isinstance(item, dict):
            continue
        if item.get("role") == "tool" and item.get("tool_call_id") in calls:
            found[str(item["tool_call_id"])] = str(item.get("content", ""))
        elif item.get("type") == "function_call_output" and item.get("call_id") in calls:
            found[str(item["call_id"])] = str(item.get("output", ""))
    return tuple(ToolResult(call_id, calls[call_id].name, calls[call_id].arguments, content)
                 for call_id, content in found.items())


def episode_change(baseline: Output | None, output: Output, baseline_episode: Episode | None,
                   episode: Episode | None, options: DiffOptions) -> Change | None:
    """How a re-recorded case's answer changed: step by step when either side is a multi-step
    trajectory, else the final answers compared as always (a case of one request keeps exactly
    the Change it had)."""
    if baseline is None:
        return None
    return case_change(baseline, output, options, baseline_steps=trajectory(baseline_episode),
                       current_steps=trajectory(episode))
