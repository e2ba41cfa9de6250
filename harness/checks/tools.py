"""Function-calling checks: which tool was called, and whether its arguments fit its schema."""

from __future__ import annotations

from typing import Any

from .json_checks import schema_errors
from .registry import CheckContext, Result, check, trim


def declared_tools(ctx: CheckContext) -> dict[str, dict[str, Any]]:
    """Tool name -> parameters schema, as the request declared them."""
    out = {}
    for tool in ctx.request.body.get("tools") or []:
        fn = tool.get("function") or {}
        out[str(fn.get("name"))] = fn.get("parameters") or {"type": "object"}
    return out


def _tool_arg(arg: Any) -> dict[str, Any]:
    if isinstance(arg, str):
        return {"name": arg}
    if isinstance(arg, dict) and isinstance(arg.get("name"), str):
        unknown = set(arg) - {"name", "arguments"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)} (use name, arguments)")
        return dict(arg)
    raise ValueError("expected a tool name, or {name: ..., arguments: {...}}")


@check("tool-call", validate=_tool_arg)
def tool_call(arg: dict[str, Any], ctx: CheckContext) -> Result:
    """A call to the named tool, with arguments valid against its declared parameters schema and
    containing the expected ``arguments`` (a subset match)."""
    calls = [c for c in ctx.output.tool_calls if c.name == arg["name"]]
    if not calls:
        got = [c.name for c in ctx.output.tool_calls] or "no tool call"
        return Result(False, f"expected a call to {arg['name']!r}, got {got}")
    call = calls[0]
    args, err = call.parsed
    if err:
        return Result(False, f"{call.name}: {err}")
    schema = declared_tools(ctx).get(call.name)
    if schema is not None:
        errors = schema_errors(args, schema)
        if errors:
            return Result(False, f"{call.name} arguments break its schema: " + "; ".join(errors))
    expected = arg.get("arguments") or {}
    missing = {k: v for k, v in expected.items() if not isinstance(args, dict) or args.get(k) != v}
    if missing:
        return Result(False, f"{call.name} arguments: expected {trim(missing)}, got {trim(args)}")
    return Result(True, f"called {call.name}({trim(args, 80)})")
