"""Function-calling checks: which tools were called, how often, in which order, with which arguments,
and why the answer stopped.

A model may call the same tool several times in one answer (parallel calls); ``tool-call`` passes
when ANY call to the tool meets the expectations, because "it looked up London" should not depend
on whether London came first.
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
    (the suite schema refuses them; a cassette's body is not trusted)."""
    out: dict[str, DeclaredTool] = {}
    for tool in body.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and fn.get("name"):
            given = fn.get("parameters")
            params: dict[str, Any] = given if isinstance(given, dict) else {"type": "object"}
            out[str(fn["name"])] = DeclaredTool(str(fn["name"]), params, fn.get("strict") is True)
    return out


def _names(calls: tuple[ToolCall, ...]) -> list[str] | str:
    return [c.name for c in calls] or "no tool call"


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
    ``arguments-schema``, and exactly ``count`` calls to that tool."""
    name = arg["name"]
    calls = [c for c in ctx.output.tool_calls if c.name == name]
    if "count" in arg and len(calls) != arg["count"]:
        return Result(False, f"expected {arg['count']} call(s) to {name!r}, got {len(calls)} "
                             f"(calls: {_names(ctx.output.tool_calls)})")
    if arg.get("count") == 0:
        return Result(True, f"no call to {name!r}, as expected")
    if not calls:
        return Result(False, f"expected a call to {name!r}, got {_names(ctx.output.tool_calls)}")
    declared = declared_tools(ctx.request.body)
    problems = []
    for call in calls:
        problem = _call_problem(call, arg, declared)
        if problem is None:
            return Result(True, f"called {name}({trim(call.raw_arguments, 80)})"
                                + (f" x{len(calls)}" if len(calls) > 1 else ""))
        problems.append(problem)
    if len(problems) == 1:
        return Result(False, f"{name}: {problems[0]}")
    listed = "; ".join(f"call {i}: {p}" for i, p in enumerate(problems[:3], 1))
    return Result(False, f"none of {len(calls)} calls to {name} fits: {listed}")


def _no_tool_arg(arg: Any) -> str | None:
    if arg is None or arg is True:
        return None
    if isinstance(arg, str) and arg:
        return arg
    if isinstance(arg, dict) and set(arg) == {"name"} and isinstance(arg["name"], str) and arg["name"]:
        return arg["name"]
    raise ValueError("no-tool-call takes no argument (no call at all), or {name: tool}")


@check("no-tool-call", arg=None, validate=_no_tool_arg)
def no_tool_call(arg: str | None, ctx: CheckContext) -> Result:
    """No tool was called at all, or (with a name) that tool was not called."""
    calls = ctx.output.tool_calls
    if arg is None:
        if calls:
            return Result(False, f"expected no tool call, got {_names(calls)}")
        return Result(True, "no tool call")
    hits = [c for c in calls if c.name == arg]
    if hits:
        return Result(False, f"expected no call to {arg!r}, got {len(hits)}: "
                             f"{trim([c.raw_arguments for c in hits], 100)}")
    return Result(True, f"{arg!r} not called (calls: {_names(calls)})")


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
    """The tools were called in this order; other calls may come between them unless ``exact``."""
    got = [c.name for c in ctx.output.tool_calls]
    wanted = arg["names"]
    ok = got == wanted if arg["exact"] else _is_subsequence(wanted, got)
    if ok:
        return Result(True, f"calls in order: {got}")
    how = "exactly " if arg["exact"] else ""
    return Result(False, f"expected calls {how}in order {wanted}, got {got or 'no tool call'}")


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
