"""Automatic conformance checks: what the request itself promised, the answer must keep.

A request that declares a response schema or tools already states the contract; writing it again
as a check would only let the two drift apart. So the runner appends these checks to every case
whose ``auto_checks`` is on, and they read the contract from the request body at run time. They pass
trivially when there is nothing to check: demanding a call or an answer is the job of ``tool-call``
and the text checks, not of conformance.

On a case of several model calls the tool calls of every step are checked (each against its own
step's request), and the response schema on the answer to each user turn (for a tool loop, the
final answer): the steps before it answered with tool calls, not with the structured output.
"""

from __future__ import annotations

from typing import Any

from ..episode import Step
from ..output import Output
from ..request import Request
from ..schemas.strict import closed
from ..suite import CheckSpec
from .json_checks import parse_json_text, schema_errors
from .registry import CheckContext, Result, check, trim
from .text import quote
from .tools import call_sites


def response_schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema a request's ``response_format`` demands: OpenAI's ``json_schema`` form, or
    llama.cpp's ``{type: json_object, schema: {...}}``, or the Responses API's ``text.format``
    (a baseline rebuilt from a Responses cassette); None when there is none."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        fmt = _responses_format(body)
        return fmt.get("schema") if fmt and isinstance(fmt.get("schema"), dict) else None
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
    if not isinstance(fmt, dict):
        flat = _responses_format(body)
        return flat is not None and flat.get("type") == "json_schema" and flat.get("strict") is True
    inner = fmt.get("json_schema") if fmt.get("type") == "json_schema" else None
    return isinstance(inner, dict) and inner.get("strict") is True


def _responses_format(body: dict[str, Any]) -> dict[str, Any] | None:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    return fmt if isinstance(fmt, dict) else None


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
    under ``strict: true`` objects are closed, as the API guarantees (schemas/strict.py). On a
    conversation, the answer to every user turn it looks at is checked (the final one included)."""
    answers = _turn_answers(ctx.steps)
    if len(answers) <= 1:
        return _conforms(ctx.request, ctx.output)
    verdicts = [(f"turn {step.turn + 1}", _conforms(step.request, step.output)) for step in answers]
    failed = [f"{turn}: {res.reason}" for turn, res in verdicts if not res.passed]
    if failed:
        return Result(False, "; ".join(failed))
    return Result(True, "; ".join(f"{turn}: {res.reason}" for turn, res in verdicts))


def _turn_answers(steps: tuple[Step, ...]) -> list[Step]:
    """The last step of each user turn: the answers to the turns, in order (earlier steps of a
    turn answered with tool calls, not with the structured output)."""
    last: dict[int, Step] = {}
    for step in steps:
        last[step.turn] = step
    return list(last.values())


def _conforms(request: Request, output: Output) -> Result:
    schema = response_schema_of(request.body)
    if schema is None:
        return Result(True, "the request declares no response schema")
    if output.content is None:
        refusal = output.extra.get("refusal")
        why = f"the model refused: {trim(refusal, 80)}" if refusal else "no content"
        return Result(True, f"nothing to check ({why})")
    value, err = parse_json_text(output.content, allow_fence=False)
    cut = " (finish_reason=length: the answer was cut off)" if output.finish_reason == "length" else ""
    if err:
        return Result(False, f"response_format: {err}{cut}")
    errors = schema_errors(value, closed(schema) if response_is_strict(request.body) else schema)
    if errors:
        return Result(False, "breaks the response_format schema: " + "; ".join(errors) + cut)
    return Result(True, "content validates against the response_format schema")


# ---------------------------------------------------------------- tools

@check("tool-schema", arg=False)
def tool_schema(arg: Any, ctx: CheckContext) -> Result:
    """Every tool call names a declared tool, and its arguments parse and validate against that
    tool's ``parameters`` (closed for ``strict: true`` tools: see tools.declared_tools). On a case of
    several model calls that is every call of every step, against its own step's declared tools."""
    sites = call_sites(ctx)
    if not sites:
        return Result(True, "nothing to check (no tool call)")
    problems = []
    for site in sites:
        call, declared = site.call, site.declared
        at = f"{site.at}: " if site.named else ""
        if call.name not in declared:
            problems.append(f"{at}{call.name!r} is not a declared tool (declared: {trim(list(declared), 80)})")
            continue
        args, err = call.parsed
        if err:
            problems.append(f"{at}{call.name}: {err}: {quote(call.raw_arguments, 80)}")
            continue
        errors = schema_errors(args, declared[call.name].schema)
        if errors:
            problems.append(f"{at}{call.name}: " + "; ".join(errors))
    if problems:
        return Result(False, "; ".join(problems[:3])
                      + (f"; and {len(problems) - 3} more" if len(problems) > 3 else ""))
    steps = len({site.step for site in sites})
    over = f" in {steps} steps" if sites[0].named and steps > 1 else ""
    return Result(True, f"{len(sites)} tool call(s){over} conform to their declared schemas")
