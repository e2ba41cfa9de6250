"""Recording through the Batch API: one upload, one batch, one cassette per case; resumable."""

from __future__ import annotations

import threading

import yaml

from harness.batch import STATE_DIR, run_batch
from harness.runner import collect, plan, select_cases
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, network_blocked

SUITE = """
    model: gpt-4o
    cases:
      - id: one
        prompt: first question
      - id: two
        prompt: second question
        checks:
          - contains: "Echo: second"
      - id: three
        prompt: third question
"""


def _chat_calls(server: FakeOpenAI) -> int:
    return sum(1 for r in server.requests if r.path.endswith("/chat/completions"))


def test_batch_records_one_cassette_per_case(project: Project, fake: FakeOpenAI) -> None:
    project.suite("b.yaml", SUITE)
    result = project.run("run", "suites", "--record-mode", "once", "--batch", "--batch-poll", "0.01",
                         "--base-url", fake.base_url, env={"OPENAI_API_KEY": CANARY})
    assert result.code == 0, result.text
    assert "submitted batch" in result.err and "completed (3/3 done, 0 failed)" in result.err
    assert _chat_calls(fake) == 0  # nothing went through the chat endpoint one by one
    assert [r.path for r in fake.requests if r.method == "POST"] == ["/v1/files", "/v1/batches"]
    files = project.cassette_files()
    assert [p.name for p in files] == ["one.yaml", "three.yaml", "two.yaml"]
    two = yaml.safe_load((project.root / "cassettes" / "b" / "two.yaml").read_text())
    assert two["interactions"][0]["harness"]["batch"] is True
    assert two["interactions"][0]["harness"]["answer"] == "Echo: second question"
    assert not (project.root / STATE_DIR).exists() or not list((project.root / STATE_DIR).iterdir())
    fake.stop()
    with network_blocked() as attempts:
        replay = project.run("run", "suites")
    assert replay.code == 0 and attempts == []


def test_batch_cassette_equals_a_direct_recording(project: Project, fake: FakeOpenAI) -> None:
    project.suite("b.yaml", SUITE)
    assert project.record(fake, "suites").code == 0
    direct = yaml.safe_load((project.root / "cassettes" / "b" / "one.yaml").read_text())["interactions"][0]
    for p in project.cassette_files():
        p.unlink()
    assert project.run("run", "suites", "--record-mode", "once", "--batch", "--batch-poll", "0.01",
                       "--base-url", fake.base_url, env={"OPENAI_API_KEY": CANARY}).code == 0
    batched = yaml.safe_load((project.root / "cassettes" / "b" / "one.yaml").read_text())["interactions"][0]
    assert batched["request"]["body"] == direct["request"]["body"]
    assert batched["harness"]["answer"] == direct["harness"]["answer"]
    assert batched["harness"]["prompt"] == direct["harness"]["prompt"]


def test_interrupted_batch_is_resumed_not_resubmitted(project: Project, fake: FakeOpenAI,
                                                     monkeypatch) -> None:
    project.suite("b.yaml", SUITE)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    suites, selected = collect(["suites"])
    planned, _errors = plan(select_cases(suites, selected, None), base_url=fake.base_url)
    requests = [p.request for p in planned]
    stop = threading.Event()
    said: list[str] = []

    def say(text: str) -> None:
        said.append(text)
        if text.startswith("submitted batch"):
            stop.set()  # as if Ctrl-C arrived right after submitting

    assert run_batch(requests, poll_interval=0.01, stop=stop, say=say) is None
    assert any("keeps running" in s for s in said)
    assert len(list((project.root / STATE_DIR).iterdir())) == 1
    said.clear()
    outcomes = run_batch(requests, poll_interval=0.01, stop=threading.Event(), say=said.append)
    assert outcomes is not None and len(outcomes) == 3
    assert said[0].startswith("resuming batch")
    assert [o.output.content for o in outcomes] == ["Echo: first question", "Echo: second question",
                                                    "Echo: third question"]
    assert sum(1 for r in fake.requests if r.path == "/v1/batches" and r.method == "POST") == 1
    assert list((project.root / STATE_DIR).iterdir()) == []


def test_failed_batch_lines_are_errors_without_cassettes(project: Project, fake: FakeOpenAI) -> None:
    project.suite("b.yaml", SUITE)
    fake.add_rule(Rule(contains="third", status=500))
    result = project.run("run", "suites", "--record-mode", "once", "--batch", "--batch-poll", "0.01",
                         "--base-url", fake.base_url, env={"OPENAI_API_KEY": CANARY})
    assert result.code == 1
    assert "batch line failed: HTTP 500" in result.out
    assert sorted(p.name for p in project.cassette_files()) == ["one.yaml", "two.yaml"]


def test_batch_needs_a_recording_mode(project: Project) -> None:
    project.suite("b.yaml", SUITE)
    result = project.run("run", "suites", "--batch")
    assert result.code == 2 and "--batch records pending cases" in result.err
