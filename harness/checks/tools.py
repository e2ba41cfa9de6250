"""Function-calling checks: which tools were called, how often, in which order, with which arguments,
and why the answer stopped.

A model may call the same tool several times in one answer (parallel calls); ``tool-call`` passes
when ANY call to the tool meets the expectations, because "it looked up London" should not depend
on whether London came first.

On a case of several model calls (a tool loop, turns) the tool checks judge the trajectory: every
call of every step the check looks at (all of them, unless it is aimed with ``step:``/``turn:``), in
order, each validated against the tools its own step's request declared. Their reasons then name
the step of each call; on a case of one request they read as they always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..output import ToolCall
from ..schemas.strict import closed
from .json_checks import check_schema_valid, json_equal, schema_errors
from .registry import CheckContext, Result, check, trim
from .text import quote


@dataclass(frozen=True)
class DeclaredTool:
    """A function tool as the request declared it."""

    name: str
    parameters: dict[str, Any]  # {"type": "object"} when the request gives none
    strict: bool

    @property
    def schema(self) -> dict[str, Any]:
        """What a call's arguments must meet: the parameters, closed to extra ones when strict."""
        return closed(self.parameters) if self.strict else self.parameters


def declared_tools(body: dict[str, Any]) -> dict[str, DeclaredTool]:
    """Function name -> the tool, from a request body's ``tools``; malformed entries are skipped
    (the suite schema refuses them; a cassette's body is not trusted). Both shapes are read: chat's
    ``{type: function, function: {...}}`` and the Responses API's flat one, which a baseline
    rebuilt from a Responses cassette carries."""
    out: dict[str, DeclaredTool] = {}
    for tool in body.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if fn is None and isinstance(tool, dict) and tool.get("type") == "function":
            fn = tool
        if isinstance(fn, dict) and fn.get("name"):
            given = fn.get("parameters")
            params: dict[str, Any] = given if isinstance(given, dict) else {"type": "object"}
            out[str(fn["name"])] = DeclaredTool(str(fn["name"]), params, fn.get("strict") is True)
    return out


@dataclass(frozen=True)
class CallSite:
    """One tool call where it was made: its step (1-based), the tools that step's request declared,
    and whether reasons name the step (only when the check looks at several steps)."""

    call: ToolCall
    step: int
    declared: dict[str, DeclaredTool]
    named: bool

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def at(self) -> str:
        """The call's step for a reason, "" when the check looks at one step."""
        return f"step {self.step}" if self.named else ""


def call_sites(ctx: CheckContext) -> list[CallSite]:
    """Every tool call the check looks at, in order: each step's calls (the trajectory), or the one
    answer's calls for a case of one request."""
    steps = ctx.steps
    if not steps:
        declared = declared_tools(ctx.request.body)
        return [CallSite(call, 1, declared, False) for call in ctx.output.tool_calls]
    named = len(steps) > 1
    sites: list[CallSite] = []
    for step in steps:
        declared = declared_tools(step.request.body)
        sites.extend(CallSite(call, step.index + 1, declared, named) for call in step.output.tool_calls)
    return sites


def _names(sites: list[CallSite]) -> list[str] | str:
    """The calls' names for a reason (with their steps when there are several)."""
    if not sites:
        return "no tool call"
    if not sites[0].named:
        return [s.name for s in sites]
    return trim(", ".join(f"{s.name} ({s.at})" for s in sites), 160)


def is_subset(expected: Any, got: Any) -> bool:
    """Mappings match recursively on the expected keys only; everything else must be equal."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(k in got and is_subset(v, got[k]) for k, v in expected.items())
    return json_equal(expected, got)


_TOOL_KEYS = {"name", "arguments", "arguments-equal", "arguments-schema", "count"}


def _tool_arg(arg: Any) -> dict[str, Any]:
    if isinstance(arg, str) and arg:
        return {"name": arg}
    if not isinstance(arg, dict) or not isinstance(arg.get("name"), str) or not arg["name"]:
        raise ValueError("expected a tool name, or {name: ..., arguments: {...}, count: N, "
                         "arguments-equal: {...}, arguments-schema: {...}}")
    unknown = set(arg) - _TOOL_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (use {', '.join(sorted(_TOOL_KEYS))})")
    out = dict(arg)
    for key in ("arguments", "arguments-equal"):
        if key in out and not isinstance(out[key], dict):
            raise ValueError(f"{key} must be a mapping of argument names to values")
    if "arguments-schema" in out:
        out["arguments-schema"] = check_schema_valid(out["arguments-schema"])
    if "count" in out:
        count = out["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a whole number >= 0, got {count!r}")
        if count == 0 and set(out) & {"arguments", "arguments-equal", "arguments-schema"}:
            raise ValueError("count: 0 means no call, so there are no arguments to check")
    return out


def _call_problem(call: ToolCall, arg: dict[str, Any], declared: dict[str, DeclaredTool]) -> str | None:
    """Why this one call does not meet the expectations, or None when it does."""
    args, err = call.parsed
    if err:
        return f"{err}: {quote(call.raw_arguments, 80)}"
    tool = declared.get(call.name)
    if tool is not None:
        errors = schema_errors(args, tool.schema)
        if errors:
            return "arguments break the declared schema: " + "; ".join(errors)
    if "arguments-schema" in arg:
        errors = schema_errors(args, arg["arguments-schema"])
        if errors:
            return "arguments break arguments-schema: " + "; ".join(errors)
    if "arguments" in arg and not is_subset(arg["arguments"], args):
        wrong = {k: v for k, v in arg["arguments"].items()
                 if not isinstance(args, dict) or k not in args or not is_subset(v, args[k])}
        return f"arguments: expected {trim(wrong, 80)}, got {trim(args, 80)}"
    if "arguments-equal" in arg and not json_equal(arg["arguments-equal"], args):
        return f"arguments: expected exactly {trim(arg['arguments-equal'], 80)}, got {trim(args, 80)}"
    return None


@check("tool-call", validate=_tool_arg)
def tool_call(arg: dict[str, Any], ctx: CheckContext) -> Result:
    """A call to the named tool, with arguments valid against its declared parameters schema, and
    optionally: containing ``arguments`` (subset), equal to ``arguments-equal``, valid against
    ``arguments-schema``, and exactly ``count`` calls to that tool (over the steps it looks at)."""
    name = arg["name"]
    every = call_sites(ctx)
    sites = [s for s in every if s.name == name]
    if "count" in arg and len(sites) != arg["count"]:
        return Result(False, f"expected {arg['count']} call(s) to {name!r}, got {len(sites)} "
                             f"(calls: {_names(every)})")
    if arg.get("count") == 0:
        return Result(True, f"no call to {name!r}, as expected")
    if not sites:
        return Result(False, f"expected a call to {name!r}, got {_names(every)}")
    problems = []
    for site in sites:
        problem = _call_problem(site.call, arg, site.declared)
        if problem is None:
            made = f"{site.at} called " if site.named else "called "
            return Result(True, f"{made}{name}({trim(site.call.raw_arguments, 80)})"
                                + (f" x{len(sites)}" if len(sites) > 1 else ""))
        problems.append((site, problem))
    if len(problems) == 1:
        site, problem = problems[0]
        return Result(False, f"{site.at}: {name}: {problem}" if site.named else f"{name}: {problem}")
    listed = "; ".join(f"call {i}{f' ({site.at})' if site.named else ''}: {problem}"
                       for i, (site, problem) in enumerate(problems[:3], 1))
    return Result(False, f"none of {len(sites)} calls to {name} fits: {listed}")


@dataclass(frozen=True)
class _NoCall:
    name: str | None  # None: no tool at all
    after: int  # only steps after this one count (0: every step)


def _no_tool_arg(arg: Any) -> _NoCall:
    if arg is None or arg is True:
        return _NoCall(None, 0)
    if isinstance(arg, str) and arg:
        return _NoCall(arg, 0)
    if isinstance(arg, dict) and arg and set(arg) <= {"name", "after"}:
        name = arg.get("name")
        if name is not None and not (isinstance(name, str) and name):
            raise ValueError(f"name must be a tool name, got {name!r}")
        after = arg.get("after", 0)
        if "after" in arg and (isinstance(after, bool) or not isinstance(after, int) or after < 1):
            raise ValueError(f"after must be a step number >= 1 (steps count from 1), got {after!r}")
        return _NoCall(name, after)
    raise ValueError("no-tool-call takes no argument (no call at all), or {name: tool}, "
                     "{after: N} (no call after step N), or both")


@check("no-tool-call", arg=None, validate=_no_tool_arg)
def no_tool_call(arg: _NoCall, ctx: CheckContext) -> Result:
    """No tool was called at all, or (with ``name``) that tool was not called; with ``after: N``
    only calls made after step N count (the loop ended its tool use by then)."""
    every = call_sites(ctx)
    sites = [s for s in every if s.step > arg.after]
    later = f" after step {arg.after}" if arg.after else ""
    if arg.name is None:
        if sites:
            return Result(False, f"expected no tool call{later}, got {_names(sites)}")
        return Result(True, f"no tool call{later}" + (f" (calls: {_names(every)})" if every else ""))
    hits = [s for s in sites if s.name == arg.name]
    if hits:
        if hits[0].named or arg.after:
            made = "; ".join(f"step {s.step} called {s.name} with {trim(s.call.raw_arguments, 80)}"
                             for s in hits[:3])
            return Result(False, f"expected no call to {arg.name!r}{later}, got {len(hits)}: {made}")
        return Result(False, f"expected no call to {arg.name!r}, got {len(hits)}: "
                             f"{trim([s.call.raw_arguments for s in hits], 100)}")
    return Result(True, f"{arg.name!r} not called{later} (calls: {_names(every)})")


def _order_arg(arg: Any) -> dict[str, Any]:
    names, exact = arg, False
    if isinstance(arg, dict) and "names" in arg and set(arg) <= {"names", "exact"}:
        names, exact = arg["names"], arg.get("exact", False)
        if not isinstance(exact, bool):
            raise ValueError("exact must be true or false")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("expected a list of tool names, or {names: [...], exact: true}")
    return {"names": list(names), "exact": exact}


def _is_subsequence(wanted: list[str], got: list[str]) -> bool:
    it = iter(got)
    return all(any(name == g for g in it) for name in wanted)


@check("tool-calls-order", validate=_order_arg)
def tool_calls_order(arg: dict[str, Any], ctx: CheckContext) -> Result:
    """The tools were called in this order (over every step it looks at); other calls may come
    between them unless ``exact``."""
    sites = call_sites(ctx)
    got = [s.name for s in sites]
    wanted = arg["names"]
    ok = got == wanted if arg["exact"] else _is_subsequence(wanted, got)
    shown = _names(sites) if sites and sites[0].named else got or "no tool call"
    if ok:
        return Result(True, f"calls in order: {shown}")
    how = "exactly " if arg["exact"] else ""
    return Result(False, f"expected calls {how}in order {wanted}, got {shown}")


FINISH_REASONS = ("stop", "tool_calls", "length", "content_filter", "function_call")


def _finish_arg(arg: Any) -> tuple[str, ...]:
    values = arg if isinstance(arg, list) else [arg]
    if not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"expected one of {', '.join(FINISH_REASONS)} (or a list of them)")
    bad = [v for v in values if v not in FINISH_REASONS]
    if bad:
        raise ValueError(f"unknown finish reason {bad[0]!r} (use {', '.join(FINISH_REASONS)})")
    return tuple(values)


@check("finish-reason", validate=_finish_arg)
def finish_reason(arg: tuple[str, ...], ctx: CheckContext) -> Result:
    """The answer stopped for this reason (one of a list)."""
    got = ctx.output.finish_reason
    wanted = arg[0] if len(arg) == 1 else list(arg)
    if got in arg:
        return Result(True, f"finish_reason {got}")
    return Result(False, f"expected finish_reason {wanted}, got {got or 'none'}")
