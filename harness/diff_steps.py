"""How a re-recorded (or a pull request's) trajectory differs from its baseline, step by step.

A tool loop that now asks for Lyon instead of Paris gives a different final answer, but the final
answer alone hides why. So two trajectories are walked side by side: for each step the tool calls
(names, then arguments structurally with deepdiff, honouring the suite's ``diff:`` options as
answers do), the results sent back, errors and finish reasons; then the number of steps; then the
final answers, as ``answer_diff`` compares answers. The outcome is an ordinary Change, so every
report shows it as it shows a changed answer: ``step 2: get_weather arguments changed (city:
"Paris" → "Lyon")``, a unified diff of the two trajectories as text, and the findings per step in
``details`` (docs/report-json.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .diff import Change, DiffOptions, answer_diff, as_json, similarity, text_diff, value_changes
from .episode import Episode
from .output import Output, ToolCall
from .trajectory import StepRecord, from_episode, lines, result_text, single

#: The most important kind of difference names the Change (its ``kind``).
_ORDER = ("status", "steps", "tool_calls", "tool_results", "json", "text")
_SHOWN = 4  # aspects named in a summary; the rest are counted
_PATH_PART = re.compile(r"\['((?:[^'\\]|\\.)*)'\]|\[\"((?:[^\"\\]|\\.)*)\"\]|\[(\d+)\]")


@dataclass
class _Aspect:
    step: int | None  # 1-based; None for the final answer of trajectories of different lengths
    kind: str
    summary: str
    changes: list[dict[str, Any]] = field(default_factory=list)


def _path(path: str) -> str:
    """deepdiff's ``root['items'][0]['id']`` as a reader writes it: ``items[0].id``."""
    out = ""
    for single_quoted, double_quoted, index in _PATH_PART.findall(path):
        out += f"[{index}]" if index else ("." if out else "") + (single_quoted or double_quoted)
    return out or path


def _value(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(items: list[dict[str, Any]], limit: int = 3) -> str:
    parts = []
    for item in items[:limit]:
        where = _path(item["path"])
        if item["change"] in ("changed", "type changed"):
            parts.append(f"{where}: {_value(item.get('old'))} → {_value(item.get('new'))}")
        else:
            parts.append(f"{where} {item['change']}")
    more = f"; +{len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(parts) + more


def _arguments(call: ToolCall) -> Any:
    return call.arguments if call.parsed[1] is None else call.raw_arguments


class _Walk:
    """The comparison of two trajectories, aspect by aspect, in step order."""

    def __init__(self, options: DiffOptions) -> None:
        self.options = options
        self.aspects: list[_Aspect] = []
        self.ignored = 0

    def add(self, step: int | None, kind: str, summary: str, changes: list[dict[str, Any]] | None = None) -> None:
        self.aspects.append(_Aspect(step, kind, summary, changes or []))

    def values(self, old: Any, new: Any) -> list[dict[str, Any]]:
        """deepdiff's findings; differences only at excluded paths are counted as ignored."""
        found = value_changes(old, new, self.options)
        if not found and old != new:
            self.ignored += len(value_changes(old, new, self.options, with_exclusions=False))
        return found

    def status(self, n: int, old: Output, new: Output) -> None:
        if (old.error, old.status) != (new.error, new.status):
            was, now = old.error or f"HTTP {old.status}", new.error or f"HTTP {new.status}"
            self.add(n, "status", f"step {n}: {was} → {now}", [{"old": was, "new": now}])
        elif old.finish_reason != new.finish_reason and bool(old.tool_calls) == bool(new.tool_calls):
            # (stop ↔ tool_calls along with the calls themselves is said by the calls' change)
            self.add(n, "status", f"step {n}: finish_reason {old.finish_reason} → {new.finish_reason}",
                     [{"old": old.finish_reason, "new": new.finish_reason}])

    def calls(self, n: int, old: StepRecord, new: StepRecord) -> None:
        """Tool calls by name, then each call's arguments, then the result sent back for it."""
        a, b = old.answered(), new.answered()
        if self.options.ignore_order:
            a.sort(key=lambda pair: (pair[0].name, _value(_arguments(pair[0]), 10**9)))
            b.sort(key=lambda pair: (pair[0].name, _value(_arguments(pair[0]), 10**9)))
        names_a, names_b = [c.name for c, _ in a], [c.name for c, _ in b]
        if names_a != names_b:
            self.add(n, "tool_calls", f"step {n}: tool calls {names_a or '[]'} → {names_b or '[]'}",
                     [{"path": "names", "change": "changed", "old": names_a, "new": names_b}])
            return
        for i, ((call_a, result_a), (call_b, result_b)) in enumerate(zip(a, b, strict=True)):
            label = call_a.name if names_a.count(call_a.name) == 1 else f"{call_a.name}#{i + 1}"
            found = self.values(_arguments(call_a), _arguments(call_b))
            if found:
                self.add(n, "tool_calls", f"step {n}: {label} arguments changed ({_describe(found)})", found)
            self.result(n, label, result_text(result_a), result_text(result_b))

    def result(self, n: int, label: str, old: str, new: str) -> None:
        if old == new:
            return
        ja, jb = as_json(old), as_json(new)
        if ja is not None and jb is not None:
            found = self.values(ja, jb)
            if found:
                self.add(n, "tool_results", f"step {n}: {label} result changed ({_describe(found)})", found)
            return
        self.add(n, "tool_results", f"step {n}: {label} result changed (similarity {similarity(old, new):.0%})",
                 [{"old": old, "new": new}])

    def content(self, where: str, step: int | None, old: Output, new: Output) -> None:
        """The text of an answer, as ``answer_diff`` compares it (JSON structurally, prose by text)."""
        change = answer_diff(Output(content=old.content), Output(content=new.content), self.options)
        self.ignored += int(change.details.get("ignored", 0))
        if change.changed:
            self.add(step, change.kind, f"{where}: {change.summary}", list(change.details.get("json", [])))


def diff_steps(baseline: Sequence[StepRecord], current: Sequence[StepRecord],
               options: DiffOptions | None = None) -> Change:
    """``current``'s trajectory against ``baseline``'s, step by step (see the module's docstring).
    Steps pair up by number; the final answers (the last step of each) are compared even when the
    trajectories differ in length. Tokens, cost and latency are not compared, as for answers."""
    options = options or DiffOptions()
    walk = _Walk(options)
    paired = min(len(baseline), len(current))
    for i in range(paired):
        old, new, n = baseline[i], current[i], i + 1
        walk.status(n, old.output, new.output)
        walk.calls(n, old, new)
        if i < len(baseline) - 1 and i < len(current) - 1:
            walk.content(f"step {n}", n, old.output, new.output)
    if len(baseline) != len(current):
        walk.add(paired + 1, "steps", f"{len(baseline)} steps → {len(current)}",
                 [{"old": len(baseline), "new": len(current)}])
    if baseline and current:
        same_length = len(baseline) == len(current)
        where = f"step {len(current)} (final answer)" if same_length else "final answer"
        walk.content(where, len(current) if same_length else None, baseline[-1].output, current[-1].output)
    old_text = "\n".join(lines(baseline, limit=None, stats=False))
    new_text = "\n".join(lines(current, limit=None, stats=False))
    details: dict[str, Any] = {}
    if walk.ignored:
        details["ignored"] = walk.ignored
    if not walk.aspects:
        summary = f"unchanged (only excluded paths differ: {walk.ignored})" if walk.ignored else "unchanged"
        return Change(False, "unchanged", summary, similarity=1.0, details=details)
    numbered = [a.step for a in walk.aspects if a.step is not None]
    details["first_step"] = min(numbered) if numbered else len(current)
    details["steps"] = [{"step": a.step, "kind": a.kind, "summary": a.summary, "changes": a.changes}
                        for a in walk.aspects]
    if len(baseline) != len(current):
        details["step_count"] = {"old": len(baseline), "new": len(current)}
    shown = [a.summary for a in walk.aspects[:_SHOWN]]
    more = len(walk.aspects) - _SHOWN
    kind = min((a.kind for a in walk.aspects), key=_ORDER.index)
    return Change(True, kind, "; ".join(shown) + (f"; +{more} more" if more > 0 else ""),
                  text_diff=text_diff(old_text, new_text), similarity=similarity(old_text, new_text),
                  details=details)


def diff_episodes(baseline: Episode, current: Episode, options: DiffOptions | None = None) -> Change:
    """Two episodes of one case (the cassette's before re-recording, and this run's), step by step."""
    return diff_steps(from_episode(baseline), from_episode(current), options)


def case_change(baseline: Output, current: Output, options: DiffOptions | None = None, *,
                baseline_steps: Sequence[StepRecord] = (), current_steps: Sequence[StepRecord] = (),
                baseline_cost: float | None = None, current_cost: float | None = None) -> Change:
    """A case's Change against its baseline: step by step when either side is a multi-step
    trajectory (a side of one request is then a trajectory of one step), else ``answer_diff`` as
    always, so a case of one request keeps exactly the Change it had."""
    if not baseline_steps and not current_steps:
        return answer_diff(baseline, current, options)
    return diff_steps(baseline_steps or single(baseline, baseline_cost),
                      current_steps or single(current, current_cost), options)
