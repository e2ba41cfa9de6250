"""A multi-step case's trajectory as reports and diffs read it: plain step records, and text lines.

An Episode's steps hold Requests (with their endpoints) that a saved JSON report does not keep,
yet ``harness diff OLD.json NEW.json`` must show and compare trajectories exactly as a run does.
So the reports, the JSON report's reader and the step-by-step diff (diff_steps.py) all work on
StepRecords: the user turn a step starts, the model's answer with its tool calls, how each call
was answered, and what the step used. They are built from an Episode here, or read back from a
report (report/json_report.py). Nothing here does I/O.

``lines`` is the one plain-text rendering of a trajectory: the terminal, JUnit's system-out and
the text diff of two trajectories all read it, so a step looks the same wherever it is shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .episode import Episode, ToolResult
from .output import Output, ToolCall
from .pricing import usd


@dataclass(frozen=True)
class StepRecord:
    """One model call of a case as the reports show it. ``index`` and ``turn`` are 0-based, as in
    Step; users read them 1-based (``number``)."""

    index: int
    turn: int
    output: Output
    tool_results: tuple[ToolResult, ...] = ()
    cost_usd: float | None = None
    #: The user message this step sends first, when the step starts a turn (the case's own prompt
    #: for step 1); None for a step that only carries tool results back.
    user: str | None = None

    @property
    def number(self) -> int:
        return self.index + 1

    def answered(self) -> list[tuple[ToolCall, ToolResult | None]]:
        """Each tool call with the result sent back for it: by call id, else by position (a
        result without an id answers the call at its place)."""
        by_id = {r.call_id: r for r in self.tool_results if r.call_id}
        out: list[tuple[ToolCall, ToolResult | None]] = []
        for i, call in enumerate(self.output.tool_calls):
            found = by_id.get(call.id) if call.id else None
            if found is None and i < len(self.tool_results) and not self.tool_results[i].call_id:
                found = self.tool_results[i]
            out.append((call, found))
        return out


# ---------------------------------------------------------------- from an episode


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts (images as ``[image]``)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        kind = str(part.get("type", ""))
        if "image" in kind:
            parts.append("[image]")
        elif isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "\n".join(parts)


def user_turn(body: Mapping[str, Any]) -> str | None:
    """The text of the last message of a request when a user sent it: chat ``messages``, or the
    Responses API's ``input`` (a string, or items with a role), whichever the body holds."""
    items = body.get("messages")
    if items is None:
        items = body.get("input")
        if isinstance(items, str):
            return items
    if not isinstance(items, list) or not items or not isinstance(items[-1], Mapping):
        return None
    last = items[-1]
    return _text(last.get("content")) if last.get("role") == "user" else None


def from_episode(episode: Episode) -> tuple[StepRecord, ...]:
    """Every step of an episode as a record; a step that opens a turn carries its user message."""
    out = []
    previous_turn = -1
    for step in episode.steps:
        starts = step.turn != previous_turn
        previous_turn = step.turn
        user = user_turn(step.request.body) if starts else None
        out.append(StepRecord(step.index, step.turn, step.output, tuple(step.tool_results), step.cost_usd, user))
    return tuple(out)


def trajectory(episode: Episode | None) -> tuple[StepRecord, ...]:
    """The steps the reports show: those of a multi-step episode, or the steps an unfinished one
    walked before it turned stale or missing; () for a case of one request, whose reports stay
    exactly what they were."""
    if episode is None or not (episode.multi or episode.extra.get("unfinished")):
        return ()
    return from_episode(episode)


def single(output: Output, cost_usd: float | None = None) -> tuple[StepRecord, ...]:
    """A case of one request as a trajectory of one step (to compare it with a multi-step one)."""
    return (StepRecord(0, 0, output, (), cost_usd),)


# ---------------------------------------------------------------- sums


@dataclass(frozen=True)
class Spend:
    """What steps used together: tokens, cost (None when a step's price is unknown), latency."""

    steps: int
    tokens: int | None
    cost_usd: float | None
    latency_ms: float | None


def spend(steps: Sequence[StepRecord]) -> Spend:
    usages = [s.output.usage for s in steps if s.output.usage is not None]
    latencies = [s.output.latency_ms for s in steps if s.output.latency_ms is not None]
    costs = [s.cost_usd for s in steps]
    return Spend(len(steps), sum(u.total_tokens for u in usages) if usages else None,
                 None if not costs or any(c is None for c in costs) else sum(c or 0.0 for c in costs),
                 sum(latencies) if latencies else None)


def spend_text(used: Spend) -> str:
    """``412 tokens · $0.000312 · 1,234 ms`` (unknown parts left out, an unknown cost as ``$?``)."""
    parts = [] if used.tokens is None else [f"{used.tokens:,} tokens"]
    parts.append("$?" if used.cost_usd is None else usd(used.cost_usd))
    if used.latency_ms is not None:
        parts.append(f"{used.latency_ms:,.0f} ms")
    return " · ".join(parts)


def headline(steps: Sequence[StepRecord], stopped: str | None = None) -> str:
    """``3 steps · 2 turns · 412 tokens · $0.000312 · 1,234 ms``: the trajectory in one line."""
    turns = len({s.turn for s in steps})
    parts = [f"{len(steps)} step{'s' if len(steps) != 1 else ''}"] + ([f"{turns} turns"] if turns > 1 else [])
    if stopped:
        parts.append(f"stopped: {stopped}")
    return " · ".join(parts + [spend_text(spend(steps))])


def step_title(step: StepRecord, *, turns: bool, stats: bool = True) -> str:
    """``step 2 · turn 2 · 120 tokens · $0.0001 · 400 ms``; the turn only where a turn starts
    and the case has several."""
    parts = [f"step {step.number}"]
    if turns and step.user is not None:
        parts.append(f"turn {step.turn + 1}")
    if stats:
        parts.append(spend_text(spend([step])))
    return " · ".join(parts)


# ---------------------------------------------------------------- as text


def arguments_text(call: ToolCall) -> str:
    """A call's arguments as compact JSON in the model's own key order; the raw text when it is not
    JSON (that is what the model sent)."""
    value, problem = call.parsed
    if problem is not None:
        return call.raw_arguments
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def result_text(result: ToolResult | None) -> str:
    if result is None:
        return "(not answered)"
    return f"error: {result.error}" if result.error else result.content


def _one_line(text: str, limit: int | None) -> str:
    if limit is None:
        return text
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _block(label: str, text: str, limit: int | None, indent: str) -> list[str]:
    """``label: text`` on one line (trimmed to ``limit``), or, untrimmed, its further lines indented."""
    first, *rest = _one_line(text, limit).splitlines() or [""]
    return [f"{indent}{label}{first}", *(f"{indent}    {line}" for line in rest)]


def step_lines(step: StepRecord, *, final: bool, turns: bool, limit: int | None = 160,
               stats: bool = True, indent: str = "  ") -> list[str]:
    """One step: its title, the user turn it starts, its error, its text, each tool call with its
    result. ``limit`` trims each text to one line of that many characters, a call and its result
    sharing one; None keeps every text whole, a result on the lines under its call."""
    out = [step_title(step, turns=turns, stats=stats)]
    if step.user is not None:
        out += _block("user: ", step.user, limit, indent)
    output = step.output
    if output.error:
        out += _block("error: ", output.error, limit, indent)
    if output.content:
        out += _block("answer: " if final else "assistant: ", output.content, limit, indent)
    refusal = output.extra.get("refusal")
    if refusal:
        out += _block("refusal: ", str(refusal), limit, indent)
    for call, result in step.answered():
        called = f"{call.name}({_one_line(arguments_text(call), limit)})"
        if limit is not None:  # compact: the call and its result on one line
            out.append(f"{indent}{called} → {_one_line(result_text(result), limit)}")
        else:
            out += _block("", called, None, indent)
            out += _block("→ ", result_text(result), None, indent + "  ")
    if final and not output.content and not output.tool_calls and not output.error:
        out.append(f"{indent}answer: (empty)")
    return out


def lines(steps: Sequence[StepRecord], stopped: str | None = None, *, limit: int | None = 160,
          stats: bool = True, indent: str = "  ") -> list[str]:
    """The trajectory as plain text, one step after the other; the last step's text is the
    final answer. ``stats=False`` leaves out tokens, cost and latency, which differ between any
    two recordings, so a diff of two trajectories shows only what was said and done."""
    turns = len({s.turn for s in steps}) > 1
    out: list[str] = []
    for i, step in enumerate(steps):
        out += step_lines(step, final=i == len(steps) - 1, turns=turns, limit=limit, stats=stats, indent=indent)
    if stopped:
        out.append(f"stopped: {stopped}")
    return out


def as_text(steps: Sequence[StepRecord], stopped: str | None = None) -> str:
    """The whole trajectory, untrimmed, under its headline: for JUnit's system-out and the like."""
    return "\n".join([f"trajectory: {headline(steps, stopped)}", *lines(steps, limit=None)])
