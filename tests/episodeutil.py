"""Multi-step cases for report and diff tests: tool loops and turns driven against the loopback server.

``drive`` walks a planned case the way an episode runs: it builds each step's request with
``build_request`` and the Conversation so far, posts it to the fake server on 127.0.0.1, parses the
answer with ``parse_answer``, answers every tool call from a dict of plain functions, and sends
the next user turn when the model answers in text. ``case_result`` judges the final answer (usage
and latency summed over the steps, as the contract says) and gives the CaseResult a run makes.
Tests then stop the server: every report is built offline from these values.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from harness.apis import parse_answer
from harness.apis.chat import CHAT
from harness.checks.registry import CheckContext, Verdict
from harness.episode import Conversation, Episode, Step, ToolResult
from harness.output import Output
from harness.render import Renderer
from harness.request import build_request
from harness.runner import CaseResult, PlannedCase, collect, plan, select_cases
from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY

Tool = Callable[..., Any]


def planned_cases(*paths: str) -> dict[str, PlannedCase]:
    suites, selected = collect(list(paths) or ["suites"])
    planned, errors = plan(select_cases(suites, selected, None))
    assert not errors, errors
    return {p.case.id: p for p in planned}


def _post(fake: FakeOpenAI, path: str, body: dict[str, Any]) -> Output:
    request = urllib.request.Request(fake.base_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json",
                                              "authorization": f"Bearer {CANARY}"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            status, headers, text = reply.status, dict(reply.headers), reply.read().decode()
    except urllib.error.HTTPError as exc:
        status, headers, text = exc.code, dict(exc.headers), exc.read().decode()
    headers = {k.lower(): v for k, v in headers.items()}
    return parse_answer(CHAT, status, headers, text, latency_ms=(time.perf_counter() - start) * 1000)


def _answer(tools: dict[str, Tool], call_id: str, name: str, arguments: Any) -> ToolResult:
    fn = tools.get(name)
    if fn is None:
        return ToolResult(call_id, name, arguments, "", error=f"no implementation for {name}")
    try:
        value = fn(**(arguments or {}))
    except Exception as exc:  # noqa: BLE001 - an implementation's failure is the step's result
        return ToolResult(call_id, name, arguments, "", error=f"{type(exc).__name__}: {exc}")
    return ToolResult(call_id, name, arguments, value if isinstance(value, str) else json.dumps(value))


def drive(item: PlannedCase, fake: FakeOpenAI, tools: dict[str, Tool], *, turns: Sequence[str] = (),
          max_steps: int = 6) -> Episode:
    """Run the case's tool loop (and its further ``turns``) against the fake server."""
    renderer = Renderer(item.case.suite_path)
    history: list[dict[str, Any]] = []
    steps: list[Step] = []
    turn, pending = 0, list(turns)
    stopped = None
    while True:
        if len(steps) == max_steps:
            stopped = f"max_steps ({max_steps}) reached"
            break
        request = build_request(item.case, renderer, base_url_override=fake.base_url,
                                conversation=Conversation(tuple(history)))
        output = _post(fake, request.path, request.body)
        results = tuple(_answer(tools, c.id, c.name, c.arguments) for c in output.tool_calls)
        cost = item.prices.cost(item.case.model, output.usage) if output.usage else None
        steps.append(Step(len(steps), turn, request, output, results, cost))
        if output.error:
            break
        assistant: dict[str, Any] = {"role": "assistant", "content": output.content}
        if output.tool_calls:
            assistant["tool_calls"] = [{"id": c.id, "type": "function",
                                        "function": {"name": c.name, "arguments": c.raw_arguments}}
                                       for c in output.tool_calls]
        history.append(assistant)
        history += [{"role": "tool", "tool_call_id": r.call_id, "content": r.content or r.error or ""}
                    for r in results]
        if output.tool_calls:
            continue
        if not pending:
            break
        turn += 1
        history.append({"role": "user", "content": pending.pop(0)})
    return Episode(tuple(steps), stopped)


def summed(episode: Episode) -> Output:
    """The final answer as checks and totals see it: usage and latency summed over the steps."""
    return replace(episode.final, usage=episode.usage(), latency_ms=episode.latency_ms())


def judge(item: PlannedCase, episode: Episode) -> tuple[list[Verdict], str]:
    """The case's checks on the episode's final answer: the verdicts and the case's status."""
    ctx = CheckContext(item.case, episode.steps[-1].request, summed(episode), {"pricing": item.prices},
                       episode=episode if episode.multi else None)
    verdicts = [check.run(ctx) for check in item.checks]
    status = "error" if any(v.error for v in verdicts) else "passed" if all(v.passed for v in verdicts) else "failed"
    return verdicts, status


def case_result(item: PlannedCase, episode: Episode, *, baseline: Episode | None = None,
                recorded: bool = False) -> CaseResult:
    """The CaseResult a run gives: checks on the final answer (usage and latency summed), the summed
    cost, the episode when it has several steps; with a ``baseline``, as a re-recording gives it."""
    from harness.diff_steps import diff_episodes

    verdicts, status = judge(item, episode)
    result = CaseResult(item, status, verdicts, summed(episode), cost_usd=episode.cost_usd(), recorded=recorded,
                        episode=episode if episode.multi else None)  # one request: as a run has it
    if baseline is not None:
        result.baseline = summed(baseline)
        result.baseline_episode = baseline if baseline.multi else None
        result.baseline_status = judge(item, baseline)[1]
        result.change = diff_episodes(baseline, episode, item.diff)
    return result
