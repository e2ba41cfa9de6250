"""Automatic conformance checks: what the request itself promised, the answer must keep.

A request that declares a response schema or tools already states the contract; writing it again
as a check would only let the two drift apart. So the runner appends these checks to every case
whose ``auto_checks`` is on, and they read the contract from the request body at run time. They pass
trivially when there is nothing to check: demanding a call or an answer is the job of ``tool-call``
and the text checks, not of conformance.
"""

from __future__ import annotations

from typing import Any

from ..request import Request
from ..schemas.strict import closed
from ..suite import CheckSpec
from .json_checks import parse_json_text, schema_errors
from .registry import CheckContext, Result, check, trim
from .text import quote
from .tools import declared_tools


def response_schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema a request's ``response_format`` demands: OpenAI's ``json_schema`` form, or
    llama.cpp's ``{type: json_object, schema: {...}}``; None when there is none."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        inner = fmt.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, dict) else None
        return schema if isinstance(schema, dict) else None
    if fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    return None


def response_is_strict(body: dict[str, Any]) -> bool:
    """``strict: true`` on a json_schema response format: the API then returns closed objects."""
    fmt = body.get("response_format")
    inner = fmt.get("json_schema") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None
    return isinstance(inner, dict) and inner.get("strict") is True


def auto_specs(request: Request, *, file: str, line: int | None) -> list[CheckSpec]:
    """The conformance checks a request calls for, located at the case (file, line)."""
    specs = []
    if response_schema_of(request.body) is not None:
        specs.append(CheckSpec(name="response-schema", arg=None, file=file, line=line))
    if request.body.get("tools"):
        specs.append(CheckSpec(name="tool-schema", arg=None, file=file, line=line))
    return specs


@check("response-schema", arg=False)
def response_schema(arg: Any, ctx: CheckContext) -> Result:
    """The content is strict JSON (no code fence) valid against the request's own response schema;
    under ``strict: true`` objects are closed, as the API guarantees (schemas/strict.py)."""
    schema = response_schema_of(ctx.request.body)
    if schema is None:
        return Result(True, "the request declares no response schema")
    if ctx.output.content is None:
        refusal = ctx.output.extra.get("refusal")
        why = f"the model refused: {trim(refusal, 80)}" if refusal else "no content"
        return Result(True, f"nothing to check ({why})")
    value, err = parse_json_text(ctx.output.content, allow_fence=False)
    cut = " (finish_reason=length: the answer was cut off)" if ctx.output.finish_reason == "length" else ""
    if err:
        return Result(False, f"response_format: {err}{cut}")
    errors = schema_errors(value, closed(schema) if response_is_strict(ctx.request.body) else schema)
    if errors:
        return Result(False, "breaks the response_format schema: " + "; ".join(errors) + cut)
    return Result(True, "content validates against the response_format schema")


# ---------------------------------------------------------------- tools

@check("tool-schema", arg=False)
def tool_schema(arg: Any, ctx: CheckContext) -> Result:
    """Every tool call names a declared tool, and its arguments parse and validate against that
    tool's ``parameters`` (closed for ``strict: true`` tools: see tools.declared_tools)."""
    calls = ctx.output.tool_calls
    if not calls:
        return Result(True, "nothing to check (no tool call)")
    declared = declared_tools(ctx.request.body)
    problems = []
    for call in calls:
        if call.name not in declared:
            problems.append(f"{call.name!r} is not a declared tool (declared: {trim(list(declared), 80)})")
            continue
        args, err = call.parsed
        if err:
            problems.append(f"{call.name}: {err}: {quote(call.raw_arguments, 80)}")
            continue
        errors = schema_errors(args, declared[call.name].schema)
        if errors:
            problems.append(f"{call.name}: " + "; ".join(errors))
    if problems:
        return Result(False, "; ".join(problems[:3])
                      + (f"; and {len(problems) - 3} more" if len(problems) > 3 else ""))
    return Result(True, f"{len(calls)} tool call(s) conform to their declared schemas")
