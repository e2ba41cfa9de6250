"""Build a CheckContext from a request body and an answer, and run a check as a suite would.

``run_check`` goes through ``registry.bind`` and ``BoundCheck.run``, so argument validation,
``not-`` negation and error verdicts behave exactly as in a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.checks.registry import BoundCheck, CheckContext, Verdict, bind
from harness.output import Output, ToolCall, Usage
from harness.request import Endpoint, Request
from harness.suite import Case, CheckSpec, Provider

SUITE_FILE = str(Path(__file__).resolve().parent / "fixtures" / "checks" / "suite.yaml")
MODEL = "gpt-5.1"


def make_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "Hello?"}]}
    body.update(extra)
    return body


def tool_calls(*calls: tuple[str, Any]) -> tuple[ToolCall, ...]:
    """(name, arguments) pairs; a dict is serialised as JSON, a string kept raw."""
    return tuple(ToolCall(name=name, raw_arguments=args if isinstance(args, str) else json.dumps(args),
                          id=f"call_{i}") for i, (name, args) in enumerate(calls))


def make_output(answer: str | None = "", *, calls: Iterable[tuple[str, Any]] = (),
                **fields: Any) -> Output:
    usage = fields.pop("usage", None)
    if isinstance(usage, dict):
        usage = Usage.from_json(usage)
    fields.setdefault("finish_reason", "tool_calls" if calls else "stop")
    return Output(content=answer, tool_calls=tool_calls(*calls), usage=usage, **fields)


def make_ctx(answer: str | None = "", *, body: dict[str, Any] | None = None,
             calls: Iterable[tuple[str, Any]] = (), services: dict[str, Any] | None = None,
             output: Output | None = None, **fields: Any) -> CheckContext:
    """A context for one answer; ``fields`` go to Output (usage, latency_ms, model, error, ...)."""
    body = body if body is not None else make_body()
    endpoint = Endpoint("openai", "https://api.openai.com/v1", None, None, None, "OPENAI_API_KEY")
    request = Request("POST", "/chat/completions", (), body, endpoint)
    case = Case(suite_name="checks", suite_path=Path(SUITE_FILE), cassette_root=Path("cassettes"),
                id="case-1", base_id="case-1", line=1, model=str(body.get("model", MODEL)),
                provider=Provider(), messages=(), params={}, vars={}, checks=())
    out = output if output is not None else make_output(answer, calls=calls, **fields)
    return CheckContext(case=case, request=request, output=out, services=dict(services or {}))


def spec_of(spec: str | dict[str, Any], *, file: str = SUITE_FILE, line: int | None = 7) -> CheckSpec:
    if isinstance(spec, str):
        return CheckSpec(name=spec, arg=None, file=file, line=line)
    (name, arg), = spec.items()
    return CheckSpec(name=name, arg=arg, file=file, line=line)


def bind_check(spec: str | dict[str, Any], **where: Any) -> BoundCheck:
    return bind(spec_of(spec, **where))


def run_check(spec: str | dict[str, Any], ctx: CheckContext, **where: Any) -> Verdict:
    return bind_check(spec, **where).run(ctx)


def passes(spec: Any, ctx: CheckContext) -> Verdict:
    """Run a check that must pass (and not error); the verdict is returned for more asserts."""
    verdict = run_check(spec, ctx)
    assert verdict.passed and not verdict.error, verdict.reason
    return verdict


def fails(spec: Any, ctx: CheckContext) -> Verdict:
    """Run a check that must fail with a reason (not an error verdict)."""
    verdict = run_check(spec, ctx)
    assert not verdict.passed and not verdict.error, verdict.reason
    return verdict
