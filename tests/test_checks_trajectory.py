"""Checks over a case of several model calls: ``step:`` / ``turn:`` on any check, tool checks over the
whole trajectory, ``steps:``, and the automatic schema checks on every step.

Episodes are built the way the runner builds them: each step's request comes from
``build_request`` with the conversation so far (contract of harness/episode.py), each answer is a
chat completion parsed by ``parse_answer``, and the checks are the ones ``plan_case`` binds from a
suite file, run on the context the runner sets (final answer with usage and latency summed over the
steps, the last step's request, the episode). The last test drives a real loop against the loopback
fake server, stops it, and judges offline.
"""

from __future__ import annotations

import json
import textwrap
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.apis import parse_answer
from harness.apis.chat import CHAT
from harness.checks.registry import CheckContext, Verdict
from harness.episode import Conversation, Episode, Step, ToolResult
from harness.output import Output
from harness.render import Renderer
from harness.request import build_request
from harness.runner import plan_case
from harness.suite import Case, load_suite
from harness.testing.fake_answers import Rule
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project

TOOLS = """
tools:
  - type: function
    function:
      name: get_weather
      parameters:
        type: object
        properties: {city: {type: string}, unit: {enum: [c, f]}}
        required: [city]
  - type: function
    function:
      name: get_time
      parameters: {type: object, properties: {city: {type: string}}, required: [city]}
"""

Call = tuple[str, Any]  # (tool name, arguments: a mapping, or raw text)


def completion(content: str | None = None, *calls: Call, prompt: int = 20, completion: int = 5,
               finish: str | None = None) -> str:
    """A chat.completion as the API sends it."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if calls:
        message["tool_calls"] = [
            {"id": f"call_{name}_{i}", "type": "function",
             "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
            for i, (name, args) in enumerate(calls)]
    return json.dumps({
        "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1700000000,
        "model": "gpt-5.1-2025-11-13", "system_fingerprint": "fp_0123",
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": finish or ("tool_calls" if calls else "stop")}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}})


def parsed(text: str, latency_ms: float = 100.0) -> Output:
    return parse_answer(CHAT, 200, {"content-type": "application/json"}, text, latency_ms=latency_ms)


class Walk:
    """Builds an episode step by step as the runner does: request from the conversation so far,
    answer parsed, tool calls answered, next user turn appended."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.renderer = Renderer(case.suite_path)
        self.history: list[dict[str, Any]] = []
        self.steps: list[Step] = []
        self.turn = 0

    def request(self) -> Any:
        return build_request(self.case, self.renderer, conversation=Conversation(tuple(self.history)))

    def step(self, output: Output, request: Any = None) -> Walk:
        request = request if request is not None else self.request()
        results = tuple(ToolResult(c.id, c.name, c.arguments, f"{c.name}: 18 C, sunny")
                        for c in output.tool_calls)
        self.steps.append(Step(len(self.steps), self.turn, request, output, results))
        said: dict[str, Any] = {"role": "assistant", "content": output.content}
        if output.tool_calls:
            said["tool_calls"] = [{"id": c.id, "type": "function",
                                   "function": {"name": c.name, "arguments": c.raw_arguments}}
                                  for c in output.tool_calls]
        self.history.append(said)
        self.history.extend({"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results)
        return self

    def answer(self, text: str, latency_ms: float = 100.0) -> Walk:
        return self.step(parsed(text, latency_ms))

    def user(self, text: str) -> Walk:
        self.turn += 1
        self.history.append({"role": "user", "content": text})
        return self

    def episode(self, stopped: str | None = None) -> Episode:
        return Episode(tuple(self.steps), stopped=stopped)


def load_case(project: Project, checks: str, *, head: str = TOOLS, prompt: str = "Weather in Paris?") -> Case:
    text = f"model: gpt-5.1\n{textwrap.dedent(head)}\ncases:\n  - id: trip\n    prompt: {prompt!r}\n" \
           "    checks:\n" + textwrap.indent(textwrap.dedent(checks).strip(), " " * 6) + "\n"
    path = project.suite("trip.yaml", text)
    return load_suite(Path("suites") / path.name).cases[0]


def judge(case: Case, episode: Episode | None, single: Output | None = None) -> list[Verdict]:
    """Every check of the case, automatic ones included, on the context the runner sets."""
    planned = plan_case(case)
    if episode is None:
        assert single is not None
        ctx = CheckContext(case, planned.request, single)
    else:
        final = replace(episode.final, usage=episode.usage(), latency_ms=episode.latency_ms())
        ctx = CheckContext(case, episode.steps[-1].request, final, episode=episode)
    return [bound.run(ctx) for bound in planned.checks]


def by_name(verdicts: list[Verdict], name: str) -> list[Verdict]:
    return [v for v in verdicts if v.name == name]


def weather_loop(case: Case) -> Episode:
    """Step 1 asks for the weather, step 2 for the time, step 3 answers."""
    return (Walk(case)
            .answer(completion(None, ("get_weather", {"city": "Paris", "unit": "c"}), prompt=50, completion=10))
            .answer(completion(None, ("get_time", {"city": "Paris"}), prompt=80, completion=12))
            .answer(completion("Paris: 18 C and sunny, it is 14:00.", prompt=120, completion=20))
            .episode())


# ---------------------------------------------------------------- step: and turn:


def test_text_checks_see_the_final_answer_unless_aimed_at_a_step_or_turn(project: Project) -> None:
    case = load_case(project, """
        - contains: "Sunny in Paris"
          turn: 1
        - contains: "Bring a coat"
        - contains: "Bring a coat"
          turn: last
        - equals: "Sunny in Paris."
          step: 1
        - not-contains: "coat"
          step: 1
        - contains: "Sunny"
        """, head="")
    episode = (Walk(case).answer(completion("Sunny in Paris."))
               .user("And tomorrow?").answer(completion("Rain. Bring a coat.")).episode())
    on_turn1, final, last, step1, negated, untargeted = judge(case, episode)
    assert on_turn1.passed and on_turn1.reason == "turn 1: found 'Sunny in Paris'"
    assert final.passed and last.passed and last.reason.startswith("turn 2: ")
    assert step1.passed and step1.reason == "step 1: answer equals the expected text"
    assert negated.passed
    assert not untargeted.passed and "'Sunny' not found in 'Rain. Bring a coat.'" in untargeted.reason


def test_a_turn_is_answered_by_its_last_step_and_budgets_count_the_whole_turn(project: Project) -> None:
    case = load_case(project, """
        - contains: "18 C"
          turn: 1
        - tokens: {completion: {max: 20}}
          turn: 1
        - tokens: {completion: {max: 20}}
          step: 2
        - latency: {max_ms: 250}
          turn: 1
        - tokens: {completion: {max: 30}}
        - finish-reason: tool_calls
          step: 1
        """)
    episode = (Walk(case)
               .answer(completion(None, ("get_weather", {"city": "Paris"}), completion=8), latency_ms=150)
               .answer(completion("18 C and sunny.", completion=15), latency_ms=150)
               .user("Thanks!").answer(completion("You're welcome.", completion=6), latency_ms=50)
               .episode())
    answer, turn_tokens, step_tokens, turn_latency, all_tokens, finish, *auto = judge(case, episode)
    assert answer.passed, answer.reason
    assert not turn_tokens.passed and turn_tokens.reason == "turn 1: completion tokens 23 > max 20"
    assert step_tokens.passed and step_tokens.reason == "step 2: completion tokens 15 within bounds"
    assert not turn_latency.passed and turn_latency.reason == "turn 1: latency 300 ms > max 250 ms"
    assert all_tokens.passed and all_tokens.reason == "completion tokens 29 within bounds"
    assert finish.passed and finish.reason == "step 1: finish_reason tool_calls"
    assert [v.name for v in auto] == ["tool-schema"] and auto[0].passed


def test_a_step_or_turn_past_the_end_fails_saying_how_far_the_case_got(project: Project) -> None:
    case = load_case(project, """
        - contains: x
          step: 5
        - not-contains: x
          step: 5
        - tool-call: get_weather
          turn: 2
        - steps: 3
        """)
    episode = weather_loop(case)
    stopped = Episode(episode.steps, stopped="max_steps 3 reached: the model still called get_time")
    five, negated, turn2, steps, _auto = judge(case, stopped)
    assert not five.passed and not five.error
    assert five.reason == ("no step 5: the case made 3 model calls (it stopped early: max_steps 3 reached: "
                           "the model still called get_time)")
    assert not negated.passed and negated.reason == five.reason  # nothing to judge: negation cannot pass it
    assert not turn2.passed and turn2.reason.startswith("no turn 2: the case made 1 user turn (it stopped")
    assert steps.passed and steps.reason == "3 model calls"


def test_on_a_single_request_case_step_1_and_turn_1_are_that_request(project: Project) -> None:
    case = load_case(project, """
        - contains: Paris
          step: 1
        - contains: Paris
          turn: last
        - contains: Paris
          step: 2
        - contains: Paris
          turn: 3
        - steps: 1
        - steps: {min: 2}
        - no-tool-call: {after: 1}
        """, head="")
    output = parsed(completion("Paris is sunny."))
    step1, last, step2, turn3, one, two, after = judge(case, None, output)
    assert step1.passed and step1.reason == "step 1: found 'Paris'"
    assert last.passed and last.reason == "turn 1: found 'Paris'"
    assert not step2.passed and step2.reason == "no step 2: the case made 1 model call"
    assert not turn3.passed and turn3.reason == "no turn 3: the case made 1 user turn"
    assert one.passed and one.reason == "1 model call"
    assert not two.passed and two.reason == "1 model call < min 2"
    assert after.passed and after.reason == "no tool call after step 1"


# ---------------------------------------------------------------- tool checks over the trajectory


def test_tool_call_looks_at_every_step_and_names_the_step(project: Project) -> None:
    case = load_case(project, """
        - tool-call: {name: get_time, arguments: {city: Paris}}
        - tool-call: {name: get_weather, count: 1}
        - tool-call: {name: get_weather, arguments: {city: Rome}}
        - tool-call: get_weather
          step: 2
        - tool-call: get_time
          step: 2
        - tool-call: book
        """)
    found, count, rome, not_at_2, at_2, book, _auto = judge(case, weather_loop(case))
    assert found.passed and found.reason == 'step 2 called get_time({"city": "Paris"})'
    assert count.passed
    assert not rome.passed
    assert rome.reason == "step 1: get_weather: arguments: expected {'city': 'Rome'}, got {'city': 'Paris', 'unit': 'c'}"
    assert not not_at_2.passed and not_at_2.reason == "step 2: expected a call to 'get_weather', got ['get_time']"
    assert at_2.passed and at_2.reason == 'step 2: called get_time({"city": "Paris"})'
    assert not book.passed
    assert book.reason == "expected a call to 'book', got get_weather (step 1), get_time (step 2)"


def test_tool_call_validates_each_call_against_the_tools_of_its_own_step(project: Project) -> None:
    case = load_case(project, """
        - tool-call: get_weather
        - tool-call: {name: get_weather, count: 2}
        """)
    walk = Walk(case)
    walk.answer(completion(None, ("get_weather", {"city": "Paris", "unit": "kelvin"})))
    # A step whose request declares no tools: its call is judged against nothing declared.
    plain = walk.request()
    plain = replace(plain, body={k: v for k, v in plain.body.items() if k != "tools"})
    walk.step(parsed(completion(None, ("get_weather", {"city": "Paris", "unit": "kelvin"}))), plain)
    walk.answer(completion("Done."))
    weather, twice, tool_schema = judge(case, walk.episode())
    assert weather.passed and weather.reason == 'step 2 called get_weather({"city": "Paris", "unit": "kelvin"}) x2'
    assert twice.passed
    assert not tool_schema.passed
    assert tool_schema.reason == ("step 1: get_weather: $.unit: 'kelvin' is not one of ['c', 'f']; "
                                  "step 2: 'get_weather' is not a declared tool (declared: [])")


def test_tool_call_failing_in_every_step_lists_the_calls_with_their_steps(project: Project) -> None:
    case = load_case(project, "- tool-call: {name: get_weather, arguments: {city: Rome}}")
    episode = (Walk(case)
               .answer(completion(None, ("get_weather", {"city": "Paris"})))
               .answer(completion(None, ("get_weather", '{"city": "Lyo')))
               .answer(completion("No idea.")).episode())
    verdict, _auto = judge(case, episode)
    assert not verdict.passed
    assert verdict.reason.startswith("none of 2 calls to get_weather fits: call 1 (step 1): arguments: expected "
                                     "{'city': 'Rome'}, got {'city': 'Paris'}; call 2 (step 2): arguments are "
                                     "not valid JSON")


def test_no_tool_call_over_the_trajectory_and_after_a_step(project: Project) -> None:
    case = load_case(project, """
        - no-tool-call
        - no-tool-call: {after: 2}
        - no-tool-call: {after: 1}
        - no-tool-call: {name: get_time, after: 1}
        - no-tool-call: book
        - no-tool-call: get_weather
        - no-tool-call:
          turn: 1
        """)
    episode = weather_loop(case)
    (none, after2, after1, named_after, book, weather, turn1, _auto) = judge(case, episode)
    assert not none.passed and none.reason == "expected no tool call, got get_weather (step 1), get_time (step 2)"
    assert after2.passed
    assert after2.reason == "no tool call after step 2 (calls: get_weather (step 1), get_time (step 2))"
    assert not after1.passed and after1.reason == "expected no tool call after step 1, got get_time (step 2)"
    assert not named_after.passed
    assert named_after.reason == ("expected no call to 'get_time' after step 1, got 1: "
                                  'step 2 called get_time with {"city": "Paris"}')
    assert book.passed
    assert not weather.passed and weather.reason.startswith("expected no call to 'get_weather', got 1: step 1 called")
    assert not turn1.passed and turn1.reason.startswith("turn 1: expected no tool call, got get_weather (step 1)")


def test_tool_calls_order_runs_over_the_steps(project: Project) -> None:
    case = load_case(project, """
        - tool-calls-order: [get_weather, get_time]
        - tool-calls-order: {names: [get_weather, get_time], exact: true}
        - tool-calls-order: [get_time, get_weather]
        - tool-calls-order: [get_time]
          step: 1
        """)
    in_order, exact, wrong, step1, _auto = judge(case, weather_loop(case))
    assert in_order.passed and in_order.reason == "calls in order: get_weather (step 1), get_time (step 2)"
    assert exact.passed
    assert not wrong.passed
    assert wrong.reason == ("expected calls in order ['get_time', 'get_weather'], got get_weather (step 1), "
                            "get_time (step 2)")
    assert not step1.passed and step1.reason == "step 1: expected calls in order ['get_time'], got ['get_weather']"


def test_parallel_calls_in_one_step_keep_their_order_in_the_trajectory(project: Project) -> None:
    case = load_case(project, "- tool-calls-order: {names: [get_weather, get_time, get_weather], exact: true}")
    episode = (Walk(case)
               .answer(completion(None, ("get_weather", {"city": "Paris"}), ("get_time", {"city": "Paris"})))
               .answer(completion(None, ("get_weather", {"city": "Lyon"})))
               .answer(completion("Both sunny.")).episode())
    order, tool_schema = judge(case, episode)
    assert order.passed, order.reason
    assert tool_schema.passed and tool_schema.reason == "3 tool call(s) in 2 steps conform to their declared schemas"


# ---------------------------------------------------------------- steps:


def test_steps_counts_model_calls_and_says_when_the_loop_stopped(project: Project) -> None:
    case = load_case(project, """
        - steps: 3
        - steps: 2
        - steps: {max: 2}
        - steps: {min: 1, max: 4}
        - steps: 2
          turn: 1
        """)
    episode = Episode(weather_loop(case).steps, stopped="max_steps 3 reached")
    exact, two, most, between, turn1, _auto = judge(case, episode)
    assert exact.passed and exact.reason == "3 model calls"
    assert not two.passed and two.reason == "expected exactly 2 model call(s), got 3 (the loop stopped: max_steps 3 reached)"
    assert not most.passed and most.reason == "3 model calls > max 2 (the loop stopped: max_steps 3 reached)"
    assert between.passed and between.reason == "3 model calls (min 1, max 4)"
    assert not turn1.passed and turn1.reason.startswith("turn 1: expected exactly 2 model call(s), got 3")


# ---------------------------------------------------------------- automatic checks


def test_auto_tool_schema_checks_every_step_and_response_schema_every_turns_answer(project: Project) -> None:
    head = TOOLS + """
response_format:
  type: json_schema
  json_schema:
    name: forecast
    strict: true
    schema:
      type: object
      properties: {city: {type: string}, celsius: {type: number}}
      required: [city, celsius]
      additionalProperties: false
"""
    case = load_case(project, "- steps: {max: 5}", head=head)
    good = (Walk(case)
            .answer(completion(None, ("get_weather", {"city": "Paris"})))
            .answer(completion('{"city": "Paris", "celsius": 18}'))
            .user("And Lyon?")
            .answer(completion(None, ("get_weather", {"city": "Lyon", "unit": "kelvin"})))
            .answer(completion('{"city": "Lyon", "celsius": "warm"}')).episode())
    _steps, response, tools = judge(case, good)
    assert [response.name, tools.name] == ["response-schema", "tool-schema"]
    assert not response.passed
    assert response.reason == "turn 2: breaks the response_format schema: $.celsius: 'warm' is not of type 'number'"
    assert not tools.passed and tools.reason == "step 3: get_weather: $.unit: 'kelvin' is not one of ['c', 'f']"
    # A tool loop of one turn: the schema is checked on its final answer only.
    loop = (Walk(case)
            .answer(completion(None, ("get_weather", {"city": "Paris"})))
            .answer(completion('{"city": "Paris", "celsius": 18}')).episode())
    _steps, response, tools = judge(case, loop)
    assert response.passed and response.reason == "content validates against the response_format schema"
    assert tools.passed and tools.reason == "1 tool call(s) conform to their declared schemas"


# ---------------------------------------------------------------- groups


def test_group_items_may_aim_at_steps(project: Project) -> None:
    case = load_case(project, """
        - any-of:
            - {tool-call: get_time, step: 1}
            - {tool-call: get_time, step: 2}
        - all-of:
            - {tool-call: get_weather, step: 1}
            - {contains: "14:00"}
            - {steps: 3}
          turn: 1
        """)
    either, both, _auto = judge(case, weather_loop(case))
    assert either.passed
    assert "[FAIL] tool-call: step 1: expected a call to 'get_time', got ['get_weather']" in either.reason
    assert "[pass] tool-call: step 2: called get_time" in either.reason
    assert both.passed and both.reason.startswith("turn 1: all 3 passed: [pass] tool-call: step 1: called")


# ---------------------------------------------------------------- suite errors


@pytest.mark.parametrize(("item", "line", "message"), [
    ("- contains: x\n        step: 0", 7, "step: 0 names no step; write a whole number >= 1"),
    ("- contains: x\n        turn: first", 7, "turn: 'first' names no turn"),
    ("- contains: x\n        step: 1\n        turn: 1", 6, "check 'contains': a check takes step: or turn:, not both"),
    ("- steps: 0", 6, "bad argument for check 'steps': a case makes at least one model call, got steps: 0"),
    ("- steps: {most: 3}", 6, "bad argument for check 'steps': expected a whole number of model calls"),
    ("- no-tool-call: {after: 0}", 6, "after must be a step number >= 1"),
    ("- any-of: [{contains: x, step: 0}, {contains: y}]", 6, "any-of item 1: step: must be a whole number >= 1"),
    ("- any-of: [{contains: x, step: 1, turn: 1}]", 6, "any-of item 1: a check takes step: or turn:, not both"),
])
def test_bad_targets_and_arguments_are_user_errors_at_their_line(project: Project, item: str, line: int,
                                                                 message: str) -> None:
    project.suite("bad.yaml", f"model: gpt-5.1\ncases:\n  - id: a\n    prompt: hi\n    checks:\n      {item}\n")
    result = project.run("validate", "suites/bad.yaml")
    assert result.code == 2, result.text
    assert f"suites/bad.yaml:{line} [case a]: " in result.err
    assert message in result.err
    assert "Traceback" not in result.text


def test_suite_level_checks_may_aim_too(project: Project) -> None:
    project.suite("ok.yaml", """
        model: gpt-5.1
        checks:
          - contains: Paris
            turn: 1
        cases:
          - id: a
            prompt: Hi
        """)
    case = load_suite(Path("suites/ok.yaml")).cases[0]
    assert case.checks[0].target is not None and case.checks[0].target.unit == "turn"
    assert project.run("validate", "suites/ok.yaml").code == 0


# ---------------------------------------------------------------- end to end with the loopback server


def _post(fake: FakeOpenAI, body: dict[str, Any]) -> Output:
    data = json.dumps(body).encode()
    request = urllib.request.Request(fake.base_url + "/chat/completions", data=data,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:  # loopback only
        return parse_answer(CHAT, reply.status, dict(reply.headers), reply.read().decode())


def test_a_recorded_two_turn_tool_loop_is_judged_offline(project: Project) -> None:
    case = load_case(project, """
        - tool-call: {name: get_weather, arguments: {city: Paris}}
          turn: 1
        - tool-call: {name: get_time, arguments: {city: Paris}}
          turn: 2
        - tool-calls-order: {names: [get_weather, get_time], exact: true}
        - no-tool-call: {after: 3}
        - contains: "Based on the tool results"
          turn: 1
        - steps: 4
        - steps: 2
          turn: 2
        """)
    fake = FakeOpenAI(rules=[
        Rule(contains="Weather in Paris", tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}],
             times=1),
        Rule(contains="time is it", tool_calls=[{"name": "get_time", "arguments": {"city": "Paris"}}], times=1),
    ]).start()
    try:
        walk = Walk(case)
        walk.step(_post(fake, walk.request().body))  # get_weather
        walk.step(_post(fake, walk.request().body))  # answers from the tool result
        walk.user("What time is it there?")
        walk.step(_post(fake, walk.request().body))  # get_time
        walk.step(_post(fake, walk.request().body))  # answers
    finally:
        fake.stop()
    episode = walk.episode()
    assert [len(s.output.tool_calls) for s in episode.steps] == [1, 0, 1, 0]
    verdicts = judge(case, episode)
    assert all(v.passed and not v.error for v in verdicts), [(v.name, v.reason) for v in verdicts if not v.passed]
    assert by_name(verdicts, "tool-call")[1].reason == 'turn 2: step 3 called get_time({"city": "Paris"})'
    assert by_name(verdicts, "tool-schema")[0].reason == "2 tool call(s) in 2 steps conform to their declared schemas"
