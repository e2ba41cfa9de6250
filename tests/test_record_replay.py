"""Record against the loopback server, stop it, replay offline: every record mode, staleness."""

from __future__ import annotations

import pytest

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, network_blocked

CAP = """
    name: cap
    model: gpt-5.1
    temperature: 0.2
    max_tokens: 200
    system: You are a concise tutor.
    checks:
      - contains: Echo
    cases:
      - id: explain
        prompt: "Explain the {{ topic }}."
        vars: {topic: CAP theorem}
      - id: topics
        prompt: "Define {{ topic }}."
        matrix:
          topic: [consistency, availability]
"""


def test_record_once_then_replay_offline(project: Project, fake: FakeOpenAI) -> None:
    project.suite("cap.yaml", CAP)
    rec = project.record(fake, "suites")
    assert rec.code == 0, rec.text
    assert len(fake.requests) == 3
    names = sorted(p.name for p in project.cassette_files())
    assert names == ["explain.yaml", "topics[availability].yaml", "topics[consistency].yaml"]
    fake.stop()
    with network_blocked() as attempts:
        replay = project.run("run", "suites")
    assert attempts == []
    assert replay.code == 0, replay.text
    assert "3 passed" in replay.out
    assert "topics[consistency]" in replay.out


def test_missing_cassette_exits_3_with_record_command(project: Project) -> None:
    project.suite("cap.yaml", CAP)
    result = project.run("run", "suites")
    assert result.code == 3
    assert "3 missing" in result.out
    assert "--record-mode once" in result.out
    assert "suites/cap.yaml::explain" in result.out


def test_stale_after_prompt_edit_shows_diff_and_rerecord_command(project: Project, fake: FakeOpenAI) -> None:
    suite = project.suite("cap.yaml", CAP)
    assert project.record(fake, "suites").code == 0
    suite.write_text(suite.read_text().replace("Explain the {{ topic }}.", "Explain the {{ topic }} briefly."))
    result = project.run("run", "suites")
    assert result.code == 3, result.text
    assert "2 passed, 1 stale in" in result.out
    assert '-        "content": "Explain the CAP theorem.",' in result.out
    assert '+        "content": "Explain the CAP theorem briefly.",' in result.out
    assert "harness run 'suites/cap.yaml::explain' --record-mode new_episodes" in result.out
    # `once` does not touch a stale cassette
    before = len(fake.requests)
    assert project.record(fake, "suites", mode="once").code == 3
    assert len(fake.requests) == before
    # new_episodes re-records exactly the stale case
    result = project.record(fake, "suites", mode="new_episodes")
    assert result.code == 0, result.text
    assert len(fake.requests) == before + 1
    assert "1 recorded" in result.out
    assert project.run("run", "suites").code == 0


def test_case_selection_by_node_id_and_keyword(project: Project, fake: FakeOpenAI) -> None:
    project.suite("cap.yaml", CAP)
    assert project.record(fake, "suites/cap.yaml::explain").code == 0
    assert [p.name for p in project.cassette_files()] == ["explain.yaml"]
    assert project.record(fake, "suites", "-k", "topics and not availability").code == 0
    assert len(project.cassette_files()) == 2
    result = project.run("run", "suites/cap.yaml::topics")
    assert result.code == 3 and "1 passed, 1 missing" in result.out
    bad = project.run("run", "suites/cap.yaml::nope")
    assert bad.code == 2 and "no case 'nope'" in bad.err


def test_all_rerecords_and_identical_answer_leaves_file_untouched(project: Project, fake: FakeOpenAI) -> None:
    project.suite("cap.yaml", CAP)
    assert project.record(fake, "suites").code == 0
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in project.cassette_files()}
    result = project.record(fake, "suites", mode="all")
    assert result.code == 0 and "3 recorded" in result.out
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in project.cassette_files()}
    assert after == before  # same answers: no diff, not even a timestamp or latency change


def test_all_rerecords_a_changed_answer(project: Project, fake: FakeOpenAI) -> None:
    project.suite("cap.yaml", CAP)
    assert project.record(fake, "suites").code == 0
    path = project.root / "cassettes" / "cap" / "explain.yaml"
    fake.add_rule(Rule(contains="Explain the CAP", content="Echo: a new answer\nover two lines"))
    assert project.record(fake, "suites", mode="all").code == 0
    text = path.read_text()
    assert "answer: |-\n      Echo: a new answer\n      over two lines" in text


def test_concurrent_recording_keeps_each_answer_with_its_case(project: Project) -> None:
    cases = "\n".join(f"  - id: c{i:02d}\n    prompt: question number {i}" for i in range(24))
    project.suite("many.yaml", f"model: gpt-4o\ncases:\n{cases}\n")
    with FakeOpenAI(require_key=CANARY, latency=0.05) as server:
        result = project.record(server, "suites", "--concurrency", "12")
    assert result.code == 0, result.text
    for i in range(24):
        text = (project.root / "cassettes" / "many" / f"c{i:02d}.yaml").read_text()
        assert f"answer: 'Echo: question number {i}'" in text


def test_server_error_is_reported_and_writes_no_cassette(project: Project, fake: FakeOpenAI) -> None:
    project.suite("cap.yaml", CAP)
    fake.add_rule(Rule(contains="CAP", status=500))
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                         "--max-retries", "0", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 1
    assert "HTTP 500" in result.out and "no cassette written" in result.out
    assert not (project.root / "cassettes" / "cap" / "explain.yaml").exists()
    assert (project.root / "cassettes" / "cap" / "topics[consistency].yaml").exists()


def test_rate_limit_is_retried_then_recorded(project: Project, fake: FakeOpenAI) -> None:
    project.suite("cap.yaml", CAP)
    fake.add_rule(Rule(contains="CAP", status=429, retry_after=0.1, times=1))
    result = project.record(fake, "suites/cap.yaml::explain")
    assert result.code == 0, result.text
    assert sum(1 for r in fake.requests if "CAP" in r.body.decode()) == 2
    text = (project.root / "cassettes" / "cap" / "explain.yaml").read_text()
    assert "code: 200" in text and "429" not in text


@pytest.mark.parametrize("stream", [False, True])
def test_streaming_and_tool_calls_replay_the_same(project: Project, fake: FakeOpenAI, stream: bool) -> None:
    project.suite("tools.yaml", f"""
        model: gpt-4o
        stream: {str(stream).lower()}
        tools:
          - type: function
            function:
              name: get_weather
              parameters:
                type: object
                properties: {{location: {{type: string}}}}
                required: [location]
        cases:
          - id: weather
            prompt: Weather in Paris?
            checks:
              - tool-call: get_weather
          - id: text
            tool_choice: none
            prompt: Just say hi
            checks:
              - contains: "Echo: Just say hi"
    """)
    fake.add_rule(Rule(contains="Paris", tool_calls=[{"name": "get_weather", "arguments": {"location": "Paris"}}]))
    assert project.record(fake, "suites").code == 0
    fake.stop()
    result = project.run("run", "suites")
    assert result.code == 0, result.text
    text = (project.root / "cassettes" / "tools" / "weather.yaml").read_text()
    assert "get_weather:\n        location: Paris" in text
    if stream:
        assert "text/event-stream" in text and "data: [DONE]" in text
        assert '"include_usage": true' in text


def test_case_prompt_keeps_the_suite_system_message(project: Project) -> None:
    from harness.render import Renderer
    from harness.request import build_request
    from harness.suite import load_suite

    path = project.suite("s.yaml", """
        model: gpt-4o
        system: Be brief.
        messages:
          - {role: user, content: earlier question}
          - {role: assistant, content: earlier answer}
        prompt: suite question
        cases:
          - id: own-prompt
            prompt: case question
          - id: own-messages
            messages:
              - {role: user, content: only this}
          - id: own-system
            system: Be verbose.
    """)
    bodies = {c.id: build_request(c, Renderer(c.suite_path)).body["messages"] for c in load_suite(path).cases}
    assert [m["content"] for m in bodies["own-prompt"]] == ["Be brief.", "earlier question", "earlier answer",
                                                           "case question"]
    assert [m["content"] for m in bodies["own-messages"]] == ["Be brief.", "only this"]
    assert [m["content"] for m in bodies["own-system"]] == ["Be verbose.", "earlier question", "earlier answer",
                                                           "suite question"]
