"""Rubric judges are spent for their case: their calls count in its cost (shown apart), the
--max-cost budget covers them, and a changed rubric is diffed against its own recorded exchange."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project

# $1 per token for every model: a cost in dollars equals a count of tokens, easy to check.
SUITE = """
    model: gpt-4o
    pricing:
      gpt-4o: {input: 1000000, output: 1000000}
      judge-a: {input: 1000000, output: 1000000}
      judge-b: {input: 1000000, output: 1000000}
    cases:
      - id: capital
        prompt: What is the capital of France?
        checks:
          - rubric: {rubric: "The answer names Paris.", model: judge-a}
          - rubric: {rubric: "The answer is one short sentence.", model: judge-b}
"""


def _verdict(verdict: str = "pass", score: float = 0.9) -> str:
    return json.dumps({"verdict": verdict, "score": score, "reason": f"judged {verdict}"})


def _serve(fake: FakeOpenAI) -> None:
    fake.add_rule(Rule(contains="capital of France", model="gpt-4o", content="Paris."))
    fake.add_rule(Rule(model="judge-a", content=_verdict()))
    fake.add_rule(Rule(model="judge-b", content=_verdict()))


def _tokens_by_model(cassette: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in yaml.safe_load(cassette.read_text())["interactions"]:
        model = json.loads(it["request"]["body"])["model"]
        usage = json.loads(it["response"]["body"]["string"])["usage"]
        out[model] = out.get(model, 0) + usage["total_tokens"]
    return out


def test_judge_calls_count_in_the_case_cost_shown_apart(project: Project, fake: FakeOpenAI) -> None:
    project.suite("r.yaml", SUITE)
    _serve(fake)
    assert project.record(fake, "suites").code == 0
    tokens = _tokens_by_model(project.cassette_files()[0])
    model_usd, judge_usd = tokens["gpt-4o"], tokens["judge-a"] + tokens["judge-b"]
    assert judge_usd > 0
    result = project.run("run", "suites", "--report", "json=run.json", "--report", "markdown=run.md",
                         "--report", "html=run.html")
    assert result.code == 0, result.text
    doc = json.loads((project.root / "run.json").read_text())
    case = doc["cases"][0]
    assert case["model_cost_usd"] == model_usd
    assert case["judge"]["calls"] == 2 and case["judge"]["cost_usd"] == judge_usd
    assert case["judge"]["usage"]["total_tokens"] == judge_usd
    assert case["cost_usd"] == model_usd + judge_usd  # the case's cost: model + judge
    summary = doc["summary"]
    assert summary["cost_usd"] == model_usd + judge_usd and summary["judge"]["cost_usd"] == judge_usd
    assert summary["tokens"] == model_usd + judge_usd and summary["judge"]["calls"] == 2
    total, judge = f"${model_usd + judge_usd:,.2f}", f"${judge_usd:,.2f}"
    assert f"cost {total}, of which judge {judge} (2 calls)" in result.out
    assert f"cost **{total}** (judge {judge}, 2 call(s))" in (project.root / "run.md").read_text()
    html = (project.root / "run.html").read_text()
    assert f"<b>{judge}</b><span>of the cost: rubric judges (2 calls" in html


def test_max_cost_budgets_the_judge_requests_too(project: Project, fake: FakeOpenAI) -> None:
    # The answer fits the budget; the judges' requests (their prompts hold instructions, rubric,
    # question and answer, and may answer up to max tokens) do not: none is sent.
    project.suite("r.yaml", SUITE.replace("    model: gpt-4o\n", "    model: gpt-4o\n    max_tokens: 5\n", 1))
    _serve(fake)
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                         "--max-cost", "100", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 4, result.text
    models = [r.json["model"] for r in fake.requests]
    assert models == ["gpt-4o"]  # the judge was never sent
    assert "Skipped by budget" in result.out and "judge request" in result.out
    # The paid-for answer is kept; the judge exchange is recorded later, within a budget.
    assert len(project.cassette_files()) == 1
    again = project.run("run", "suites", "--record-mode", "new_episodes", "--base-url", fake.base_url,
                        env={"OPENAI_API_KEY": CANARY})
    assert again.code == 0, again.text


def test_a_changed_rubric_is_diffed_against_its_own_judge_exchange(project: Project, fake: FakeOpenAI) -> None:
    suite = project.suite("r.yaml", SUITE)
    _serve(fake)
    assert project.record(fake, "suites").code == 0
    fake.stop()
    suite.write_text(suite.read_text().replace("one short sentence.", "a single word."))
    stale = project.run("run", "suites")
    assert stale.code == 3, stale.text
    assert "the rubric changed ('The answer is one short sentence.' → 'The answer is a single word.')" in stale.out
    diff = stale.out[stale.out.index("Stale cassettes"):]
    assert "judge-a" not in diff  # not paired with the other rubric's exchange: no model change
    assert "judge model changed" not in diff
    assert '-        "content": "<rubric>\\nThe answer is one short sentence.' in diff
