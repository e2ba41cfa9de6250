"""A model-graded check end to end: the judge's exchange is recorded into the case's cassette,
replays offline, and a changed rubric makes the case stale like a changed prompt."""

from __future__ import annotations

import json

import yaml

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project, network_blocked

SUITE = """
    model: gpt-4o
    cases:
      - id: capital
        prompt: What is the capital of France?
        checks:
          - rubric: {rubric: "The answer names Paris.", model: gpt-4o-judge, threshold: 0.7}
"""


def _verdict(verdict: str, score: float) -> str:
    return json.dumps({"verdict": verdict, "score": score, "reason": f"judged {verdict}"})


def test_judge_is_recorded_replayed_and_goes_stale(project: Project, fake: FakeOpenAI) -> None:
    project.suite("r.yaml", SUITE)
    fake.add_rule(Rule(contains="capital of France", model="gpt-4o", content="Paris."))
    fake.add_rule(Rule(model="gpt-4o-judge", content=_verdict("pass", 0.9)))
    assert project.record(fake, "suites").code == 0
    cassette = yaml.safe_load(project.cassette_files()[0].read_text())
    roles = [i["harness"].get("role") for i in cassette["interactions"]]
    assert roles == [None, "judge"]  # the case's exchange, then the judge's, in one file
    judge_body = json.loads(cassette["interactions"][1]["request"]["body"])
    assert judge_body["model"] == "gpt-4o-judge"
    assert "The answer names Paris." in json.dumps(judge_body)
    fake.stop()
    with network_blocked() as attempts:
        replay = project.run("run", "suites")
    assert replay.code == 0 and attempts == [], replay.text
    suite = project.root / "suites" / "r.yaml"
    suite.write_text(suite.read_text().replace("names Paris.", "names Paris and nothing else."))
    stale = project.run("run", "suites")
    assert stale.code == 3
    assert "STALE" in stale.out or "Stale" in stale.out
    assert "nothing else" in stale.out  # the diff shows the changed rubric


def test_low_score_fails_and_unparseable_judge_is_an_error(project: Project, fake: FakeOpenAI) -> None:
    project.suite("r.yaml", SUITE)
    fake.add_rule(Rule(contains="capital of France", model="gpt-4o", content="Lyon."))
    fake.add_rule(Rule(model="gpt-4o-judge", content=_verdict("fail", 0.1), times=1))
    fake.add_rule(Rule(model="gpt-4o-judge", content="I think it is fine"))
    first = project.record(fake, "suites")
    assert first.code == 1 and "judged fail" in first.out
    second = project.record(fake, "suites", mode="all")
    assert second.code == 1
    assert "check error" in second.out  # not JSON: an error verdict, never a pass
