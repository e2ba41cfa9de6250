"""``rubric``: the judge request it builds, and every kind of judge reply (valid, invalid, errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.checks.registry import NeedsRecording
from harness.checks.rubric import VERDICT_SCHEMA, Rubric, judge_body
from harness.errors import UserError
from harness.output import Output

from checkutil import bind_check, make_body, make_ctx, run_check

RUBRIC = "The answer names Paris as the capital of France."


class FakeJudge:
    """Records the bodies it is asked, and answers with a prepared Output."""

    def __init__(self, reply: Output | Exception) -> None:
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> Output:
        self.bodies.append(body)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


def verdict_output(verdict="pass", score=1.0, reason="Names Paris.") -> Output:
    return Output(content=json.dumps({"verdict": verdict, "score": score, "reason": reason}),
                  finish_reason="stop", model="gpt-5.1")


def grade(reply, answer="The capital is Paris.", spec: Any = RUBRIC, body=None, **kw):
    judge = FakeJudge(reply)
    ctx = make_ctx(answer, body=body, services={"judge": judge}, **kw)
    return run_check({"rubric": spec}, ctx), judge


def test_pass_and_fail():
    v, _judge = grade(verdict_output())
    assert v.passed and not v.error and v.reason == "Names Paris." and v.score == 1.0
    assert v.details == {"judge_model": "gpt-5.1", "verdict": "pass", "score": 1.0}
    v, _ = grade(verdict_output("fail", 0.0, "Says Lyon."), answer="Lyon")
    assert not v.passed and not v.error and v.reason == "Says Lyon."


def test_threshold():
    v, _ = grade(verdict_output("pass", 0.6), spec={"rubric": RUBRIC, "threshold": 0.7})
    assert not v.passed and "score 0.6 < threshold 0.7" in v.reason
    v, _ = grade(verdict_output("pass", 0.7), spec={"rubric": RUBRIC, "threshold": 0.7})
    assert v.passed
    v, _ = grade(verdict_output("fail", 0.9), spec={"rubric": RUBRIC, "threshold": 0.1})
    assert not v.passed  # the verdict must say pass too


def test_judge_request_body():
    body = make_body(messages=[{"role": "system", "content": "sys"},
                               {"role": "user", "content": "What is the capital of France?"},
                               {"role": "assistant", "content": "Paris?"},
                               {"role": "user", "content": [
                                   {"type": "text", "text": "Sure? 🇫🇷"},
                                   {"type": "image_url", "image_url": {"url": "u"}}]}])
    _, judge = grade(verdict_output(), spec={"rubric": RUBRIC, "model": "judge-x"}, body=body)
    sent, = judge.bodies
    assert sent["model"] == "judge-x" and sent["temperature"] == 0
    assert sent["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "verdict", "strict": True, "schema": VERDICT_SCHEMA}}
    system, user = sent["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert RUBRIC in user["content"] and "Sure? 🇫🇷\n[image_url]" in user["content"]
    assert "What is the capital" not in user["content"]  # only the last user message
    assert "<answer>\nThe capital is Paris.\n</answer>" in user["content"]


def test_judge_body_is_deterministic_and_follows_the_rubric():
    out = Output(content="Paris")
    a = judge_body(Rubric(RUBRIC), make_body(), out)
    assert json.dumps(a, sort_keys=True) == json.dumps(judge_body(Rubric(RUBRIC), make_body(), out),
                                                       sort_keys=True)
    assert judge_body(Rubric(RUBRIC + "!"), make_body(), out) != a
    assert judge_body(Rubric(RUBRIC, threshold=0.9), make_body(), out) == a  # threshold is local


def test_tool_calls_and_empty_answers_are_shown_to_the_judge():
    _, judge = grade(verdict_output(), answer=None, calls=[("get_weather", {"city": "Paris"})])
    assert 'Tool calls: get_weather({"city": "Paris"})' in judge.bodies[0]["messages"][1]["content"]
    _, judge = grade(verdict_output(), answer="")
    assert "<answer>\n\n</answer>" in judge.bodies[0]["messages"][1]["content"]


@pytest.mark.parametrize("reply, message", [
    (Output(content="PASS, looks good"), "not JSON"),
    (Output(content='```json\n{"verdict": "pass", "score": 1, "reason": "x"}\n```'), "not JSON"),
    (Output(content='{"verdict": "maybe", "score": 1, "reason": "x"}'), "breaks the verdict schema"),
    (Output(content='{"verdict": "pass", "score": "1", "reason": "x"}'), "breaks the verdict schema"),
    (Output(content='{"verdict": "pass", "reason": "x"}'), "breaks the verdict schema"),
    (Output(content='{"verdict": "pass", "score": 1, "reason": "x", "extra": 1}'),
     "breaks the verdict schema"),
    (Output(content='[1]'), "breaks the verdict schema"),
    (Output(content='{"verdict": "pass", "score": 7, "reason": "x"}'), "outside 0..1"),
    (Output(content='{"verdict": "pass", "score": NaN, "reason": "x"}'), "outside 0..1"),
    (Output(content=None, status=500, error="HTTP 500: server exploded"), "judge request failed: HTTP 500"),
    (Output(content=None, extra={"refusal": "no"}), "no content (refusal: no)"),
    ("not an output", "returned str, not an Output"),
])
def test_unusable_judge_replies_are_errors_never_passes(reply, message):
    v, _ = grade(reply)
    assert v.error and not v.passed
    assert message in v.reason


def test_no_judge_service_is_an_error():
    v = run_check({"rubric": RUBRIC}, make_ctx("Paris"))
    assert v.error and "no judge service" in v.reason


def test_needs_recording_propagates():
    with pytest.raises(NeedsRecording):
        grade(NeedsRecording("stale", "the rubric changed"))


def test_negated_rubric():
    v, _ = grade(verdict_output("fail", 0.0, "No."), spec=RUBRIC)
    assert not v.passed
    judge = FakeJudge(verdict_output("fail", 0.0, "No."))
    v = run_check({"not-rubric": RUBRIC}, make_ctx("x", services={"judge": judge}))
    assert v.passed and v.score == 1.0


@pytest.mark.parametrize("arg", [
    "", "   ", 3, {"model": "x"}, {"rubric": RUBRIC, "threshold": 1.5}, {"rubric": RUBRIC, "model": ""},
    {"rubric": RUBRIC, "judge": "x"}, {"rubric": RUBRIC, "threshold": True},
])
def test_bad_arguments(arg):
    with pytest.raises(UserError):
        bind_check({"rubric": arg})
