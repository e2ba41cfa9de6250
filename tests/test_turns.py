"""Multi-turn conversations: each turn is sent after the previous answer; record, stop the server,
replay offline; an edited turn is STALE at its step; a recording cut short is completed by once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from harness.budget import estimate
from harness.pricing import PriceTable
from harness.runner import collect, plan, select_cases
from harness.testing.fake_answers import Rule
from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project, network_blocked

CHAT = """
    model: gpt-4o
    cases:
      - id: three
        system: You are a travel agent.
        turns:
          - I want to visit {{ city }}.
          - {file: second.txt}
          - Book it for {{ month }}.
        vars: {city: Lyon, month: May}
        checks:
          - contains: "Echo: Book it for May."
      - id: follow-up
        prompt: Name a fruit.
        turns: [And a vegetable?]
        checks:
          - contains: vegetable
"""

ROOT = Path(__file__).resolve().parents[1]


def _chat_project(project: Project, suite: str = CHAT) -> Path:
    (project.root / "suites" / "second.txt").write_text("What is there to see in {{ city }}?")
    return project.suite("chat.yaml", suite)


def _bodies(fake: FakeOpenAI, marker: str) -> list[dict]:
    return [json.loads(r.body) for r in fake.requests if marker in r.body.decode()]


def _steps(project: Project, case: str) -> list[dict]:
    return yaml.safe_load((project.root / "cassettes" / "chat" / f"{case}.yaml").read_text())["interactions"]


def test_turns_are_sent_one_after_each_answer_and_replay_offline(project: Project, fake: FakeOpenAI) -> None:
    _chat_project(project)
    result = project.record(fake, "suites")
    assert result.code == 0, result.text
    sent = _bodies(fake, "travel agent")
    assert [[(m["role"], m["content"]) for m in b["messages"]] for b in sent] == [
        [("system", "You are a travel agent."), ("user", "I want to visit Lyon.")],
        [("system", "You are a travel agent."), ("user", "I want to visit Lyon."),
         ("assistant", "Echo: I want to visit Lyon."), ("user", "What is there to see in Lyon?")],
        [("system", "You are a travel agent."), ("user", "I want to visit Lyon."),
         ("assistant", "Echo: I want to visit Lyon."), ("user", "What is there to see in Lyon?"),
         ("assistant", "Echo: What is there to see in Lyon?"), ("user", "Book it for May.")],
    ]
    follow = _bodies(fake, "Name a fruit")
    assert [m["content"] for m in follow[1]["messages"]] == ["Name a fruit.", "Echo: Name a fruit.",
                                                             "And a vegetable?"]
    assert [(s["harness"]["step"], s["harness"]["turn"]) for s in _steps(project, "three")] == [(1, 1), (2, 2),
                                                                                                (3, 3)]
    fake.stop()
    with network_blocked() as attempts:
        replay = project.run("run", "suites", "--report", "json=run.json")
    assert attempts == [] and replay.code == 0, replay.text
    report = json.loads((project.root / "run.json").read_text())
    assert report["schema"] == "harness.run/1"
    assert [c["status"] for c in report["cases"]] == ["passed", "passed"]


def test_an_edited_turn_is_stale_at_its_step(project: Project, fake: FakeOpenAI) -> None:
    suite = _chat_project(project)
    assert project.record(fake, "suites").code == 0
    suite.write_text(suite.read_text().replace("I want to visit {{ city }}.", "I want to visit {{ city }} soon."))
    result = project.run("run", "suites")
    assert result.code == 3, result.text
    assert "1 passed, 1 stale" in result.out
    assert "the request of step 1 changed since it was recorded" in result.out  # turn 1 joins step 1
    assert '-        "content": "I want to visit Lyon."' in result.out
    assert '+        "content": "I want to visit Lyon soon."' in result.out
    assert "harness run 'suites/chat.yaml::three' --record-mode new_episodes" in result.out
    # turn 2, then the last turn: stale at steps 2 and 3; once leaves a stale cassette alone
    suite.write_text(suite.read_text().replace(" soon.", "."))
    suite.write_text(suite.read_text().replace("{file: second.txt}", "What should I eat there?"))
    result = project.run("run", "suites")
    assert result.code == 3 and "the request of step 2 changed since it was recorded" in result.out
    assert '-        "content": "What is there to see in Lyon?"' in result.out
    assert '+        "content": "What should I eat there?"' in result.out
    suite.write_text(suite.read_text().replace("What should I eat there?", "{file: second.txt}"))
    suite.write_text(suite.read_text().replace("Book it for {{ month }}.", "Book it for June."))
    before = len(fake.requests)
    result = project.record(fake, "suites")
    assert result.code == 3 and "the request of step 3 changed since it was recorded" in result.out
    assert len(fake.requests) == before
    result = project.record(fake, "suites", mode="new_episodes")
    assert result.code == 1, result.text  # the check wants May
    assert len(fake.requests) == before + 1


def test_turns_after_a_tool_loop_count_their_steps(project: Project, fake: FakeOpenAI) -> None:
    (project.root / "suites" / "tools_impl.py").write_text("def get_time(city):\n    return '10:00 in ' + city\n")
    suite = project.suite("chat.yaml", """
        model: gpt-4o
        tools:
          - type: function
            impl: tools_impl:get_time
            function:
              name: get_time
              parameters: {type: object, properties: {city: {type: string}}, required: [city]}
        cases:
          - id: agent
            prompt: What time is it in Lima?
            turns: [Thanks!]
            checks:
              - contains: "You're welcome"
    """)
    fake.add_rule(Rule(contains="Thank", content="You're welcome"))
    assert project.record(fake, "suites").code == 0
    steps = _steps(project, "agent")
    assert [(s["harness"]["step"], s["harness"]["turn"]) for s in steps] == [(1, 1), (2, 1), (3, 2)]
    assert steps[1]["harness"]["answer"] == "Based on the tool results: 10:00 in Lima"
    suite.write_text(suite.read_text().replace("turns: [Thanks!]", "turns: [Thank you!]"))
    result = project.run("run", "suites")
    assert result.code == 3 and "the request of step 3 changed since it was recorded" in result.out


def test_a_recording_cut_short_by_the_budget_is_completed_by_once(project: Project, fake: FakeOpenAI) -> None:
    _chat_project(project, CHAT.replace("    model: gpt-4o\n", "    model: gpt-4o\n    max_tokens: 1000\n"))
    suites, selected = collect(["suites/chat.yaml::three"], lambda _t: None)
    planned, _errors = plan(select_cases(suites, selected, None))
    first = estimate(planned[0].request, "gpt-4o", PriceTable())
    assert first is not None
    result = project.record(fake, "suites/chat.yaml::three", "--max-cost", repr(first))
    assert result.code == 4, result.text
    out = " ".join(result.out.split())
    assert "skipped by budget: step 2 not sent, --max-cost" in out
    assert "the 1 answer(s) received are kept in its cassette" in out
    assert len(_steps(project, "three")) == 1
    replay = project.run("run", "suites/chat.yaml::three")
    assert replay.code == 3 and "the cassette holds 1 step(s) of this case; step 2 was never recorded" in replay.out
    assert "--record-mode once" in replay.out
    before = len(fake.requests)
    result = project.record(fake, "suites/chat.yaml::three")
    assert result.code == 0, result.text
    assert len(fake.requests) == before + 2  # steps 2 and 3 only
    assert len(_steps(project, "three")) == 3


def test_batch_records_episodes_live_and_the_others_through_the_batch(project: Project, fake: FakeOpenAI) -> None:
    _chat_project(project, CHAT + """
      - id: single
        prompt: just one question
    """)
    result = project.run("run", "suites", "--record-mode", "once", "--batch", "--batch-poll", "0.01",
                         "--base-url", fake.base_url, env={"OPENAI_API_KEY": CANARY})
    assert result.code == 0, result.text
    assert result.err.count("2 case(s) with turns or tools that answer themselves are recorded live") == 1
    assert "submitted batch" in result.err and "(1/1 done" in result.err
    assert sum(r.path == "/v1/chat/completions" for r in fake.requests) == 5  # 3 + 2 steps, live
    single = yaml.safe_load((project.root / "cassettes" / "chat" / "single.yaml").read_text())
    assert single["interactions"][0]["harness"]["batch"] is True
    fake.stop()
    assert project.run("run", "suites").code == 0


def test_a_single_request_suite_records_the_same_bytes_as_before(project: Project) -> None:
    """The shipped weather_tool cassettes, recorded afresh from the same scripted answers, are the
    same files but for the server's port and the timings."""
    shutil.copy(ROOT / "suites" / "weather_tool.yaml", project.root / "suites")
    rules = [Rule.from_mapping(r) for r in yaml.safe_load((ROOT / "scripts" / "example_answers.yaml").read_text())]
    with FakeOpenAI(rules=rules) as server:
        result = project.run("run", "suites", "--record-mode", "once",
                             env={"OPENAI_API_KEY": "fake-recording-key", "OPENAI_BASE_URL": server.base_url})
    assert result.code == 0, result.text

    def normal(text: str) -> str:
        import re

        text = re.sub(r"http://127\.0\.0\.1:\d+/", "http://HOST/", text)
        return re.sub(r"(latency_ms|ttft_ms): \d+", r"\1: N", text)

    shipped = sorted((ROOT / "cassettes" / "weather_tool").iterdir())
    assert [p.name for p in shipped] == [p.name for p in project.cassette_files()]
    for old, new in zip(shipped, project.cassette_files(), strict=True):
        assert normal(new.read_text()) == normal(old.read_text()), new.name


def test_turn_and_scripted_result_templates_are_checked_when_planning(project: Project) -> None:
    project.suite("chat.yaml", """
        model: gpt-4o
        cases:
          - id: only-turns
            turns: [Hello, "And {{ nope }}?"]
          - id: scripted
            prompt: Weather?
            tools:
              - type: function
                results:
                  - result: "{{ forecast }}"
                function: {name: get_weather, parameters: {type: object}}
    """)
    result = project.run("validate", "suites")
    assert result.code == 2, result.text
    assert "suites/chat.yaml:4 [case only-turns]: undefined variable in user message: 'nope' is undefined" in result.err
    assert ("suites/chat.yaml:10 [case scripted]: undefined variable in scripted result of tool get_weather: "
            "'forecast' is undefined") in result.err
    project.suite("chat.yaml", """
        model: gpt-4o
        cases:
          - id: only-turns
            turns: [Hello, And you?]
    """)
    assert project.run("validate", "suites").code == 0
