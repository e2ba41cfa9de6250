"""Answer the model's tool calls with the case's own tools: a function, or scripted results.

A ToolBox is made when a case is planned (its functions loaded, its scripted results rendered with
the case's variables), so a missing module or a template error is reported before anything is sent.
Answering a call never raises: whatever goes wrong (a tool the case cannot answer, arguments that
are not JSON, a function that raises or returns what JSON cannot carry, no scripted result for the
arguments) is a ToolResult with ``error`` set, and the episode stops there with an error naming the
step, the tool and the cause. Sending the model a made-up error text instead would test a
conversation the suite never wrote.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..episode import ToolResult
from ..errors import UserError
from ..output import ToolCall
from ..render import Renderer
from ..suite import Case
from .impl import load_impl
from .spec import Scripted, ToolSpec


@dataclass(frozen=True)
class Answering:
    """One tool ready to answer: its function, or its scripted results with rendered texts."""

    spec: ToolSpec
    fn: Callable[..., Any] | None
    results: tuple[Scripted, ...]


def as_text(value: Any) -> str:
    """A tool result as the model gets it: a text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def same(want: Any, got: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1 (Python's ``==`` says it is)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    if isinstance(want, dict):
        return isinstance(got, dict) and want.keys() == got.keys() and all(same(v, got[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and all(map(same, want, got))
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return want == got
    return type(want) is type(got) and want == got


class ToolBox:
    """The tools of one case that answer themselves, by name."""

    def __init__(self, tools: Mapping[str, Answering]) -> None:
        self.tools = dict(tools)

    @classmethod
    def plan(cls, case: Case, specs: tuple[ToolSpec, ...], renderer: Renderer,
             variables: dict[str, Any]) -> ToolBox:
        """Load every ``impl`` and render every scripted text; a UserError at the tool's line."""
        tools = {}
        for spec in specs:
            try:
                fn = load_impl(spec.impl, case.suite_path) if spec.impl is not None else None
            except UserError as exc:
                raise exc.located(file=case.suite_path, line=spec.line, case=case.id) from None
            results = tuple(
                Scripted(entry.arguments, renderer.render_string(
                    entry.result, variables, line=entry.line, case=case.id,
                    what=f"scripted result of tool {spec.name}") if isinstance(entry.result, str)
                    else entry.result, entry.line)
                for entry in spec.results)
            tools[spec.name] = Answering(spec, fn, results)
        return cls(tools)

    def answer(self, call: ToolCall) -> ToolResult:
        arguments, bad_json = call.parsed
        tool = self.tools.get(call.name)

        def failed(why: str) -> ToolResult:
            return ToolResult(call.id, call.name, arguments, "", error=why)

        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return failed(f"the model called {call.name!r}, which has no impl: or results: to answer it "
                          f"(tools that answer: {known})")
        if bad_json is not None:
            return failed(f"the model called {call.name!r} with {call.raw_arguments[:120]!r}: {bad_json}")
        if tool.fn is not None:
            return self._call(tool, call, arguments)
        return self._scripted(tool, call, arguments)

    @staticmethod
    def _call(tool: Answering, call: ToolCall, arguments: Any) -> ToolResult:
        target = tool.spec.impl
        if not isinstance(arguments, dict):
            return ToolResult(call.id, call.name, arguments, "", error=(
                f"the model called {call.name!r} with arguments that are not a JSON object "
                f"({call.raw_arguments[:120]!r}); {target} takes keyword arguments"))
        assert tool.fn is not None
        try:
            value = tool.fn(**arguments)
        except Exception as exc:  # noqa: BLE001 - the tool's own failure, reported for its case
            return ToolResult(call.id, call.name, arguments, "", error=(
                f"{target} raised {type(exc).__name__}: {exc} (called with {as_text(arguments)[:200]})"))
        try:
            return ToolResult(call.id, call.name, arguments, as_text(value))
        except (TypeError, ValueError) as exc:
            return ToolResult(call.id, call.name, arguments, "", error=(
                f"{target} returned a {type(value).__name__}, which is neither text nor JSON ({exc})"))

    @staticmethod
    def _scripted(tool: Answering, call: ToolCall, arguments: Any) -> ToolResult:
        given = arguments if isinstance(arguments, dict) else {}
        default = None
        for entry in tool.results:
            if entry.arguments is None:
                default = default or entry
            elif all(k in given and same(v, given[k]) for k, v in entry.arguments.items()):
                return ToolResult(call.id, call.name, arguments, as_text(entry.result))
        if default is not None:
            return ToolResult(call.id, call.name, arguments, as_text(default.result))
        return ToolResult(call.id, call.name, arguments, "", error=(
            f"no scripted result of {call.name!r} matches its arguments {as_text(arguments)[:200]} "
            f"(add an entry without 'arguments' as the default; results at line {tool.spec.line})"))
