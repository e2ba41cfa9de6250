"""Budgets, price overrides and samples, through the CLI against the loopback server."""

from __future__ import annotations

import json

import pytest
import yaml

from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project


def _suite(n: int, model: str = "gpt-4o", extra: str = "") -> str:
    cases = "".join(f"  - id: c{i}\n    prompt: question {i}\n" for i in range(n))
    return f"model: {model}\nmax_tokens: 1000\n{extra}cases:\n{cases}"


def test_max_cost_stops_starting_requests(project: Project, fake: FakeOpenAI) -> None:
    # $1 per token makes every answer cost dollars: the budget runs out after a few cases
    pricing = "max_tokens: 5\npricing:\n  gpt-4o: {input: 1000000, output: 1000000}\n"
    project.suite("s.yaml", _suite(10, extra=pricing).replace("max_tokens: 1000\n", ""))
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                         "--max-cost", "40", "--concurrency", "1", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 4, result.text  # a budget stop is an incomplete run, never a green one
    sent = len(fake.requests)
    assert 1 <= sent < 10
    assert len(project.cassette_files()) == sent
    assert f"{10 - sent} skipped ({10 - sent} by budget)" in result.out
    assert "Skipped by budget" in result.out and "--max-cost $40.00" in result.out
    spent = 0
    for path in project.cassette_files():
        body = json.loads(yaml.safe_load(path.read_text())["interactions"][0]["response"]["body"]["string"])
        spent += body["usage"]["total_tokens"]
    assert spent <= 40  # what was spent stayed inside the budget


def test_max_cost_refuses_a_model_without_a_price(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", _suite(2, model="mystery-model"))
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                         "--max-cost", "1", env={"OPENAI_API_KEY": CANARY})
    assert len(fake.requests) == 0
    assert "its price is unknown" in result.out


@pytest.mark.parametrize("where", ["suite", "config"])
def test_price_overrides_change_the_reported_cost(project: Project, fake: FakeOpenAI, where: str) -> None:
    pricing = "pricing:\n  gpt-4o: {input: 1000000, output: 1000000}\n"  # $1 per token: easy to read
    if where == "suite":
        project.suite("s.yaml", _suite(1, extra=pricing))
    else:
        project.suite("s.yaml", _suite(1))
        (project.root / "harness.yaml").write_text(pricing)
    assert project.record(fake, "suites").code == 0
    result = project.run("run", "suites")
    usage_total = 0
    import yaml

    body = yaml.safe_load(project.cassette_files()[0].read_text())["interactions"][0]["response"]["body"]["string"]
    import json

    usage_total = json.loads(body)["usage"]["total_tokens"]
    assert f"${usage_total:,.2f}" in result.out or f"${usage_total}" in result.out, result.out


def test_bad_pricing_is_a_user_error(project: Project) -> None:
    project.suite("s.yaml", _suite(1, extra="pricing:\n  gpt-4o: {input: cheap}\n"))
    result = project.run("run", "suites")
    assert result.code == 2 and "pricing" in result.err and "suites/s.yaml" in result.err


def test_samples_get_one_cassette_each(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", "model: gpt-4o\nsamples: 3\ncases:\n  - id: a\n    prompt: hi\n")
    result = project.record(fake, "suites")
    assert result.code == 0, result.text
    assert sorted(p.name for p in project.cassette_files()) == ["a#1.yaml", "a#2.yaml", "a.yaml"]
    assert len(fake.requests) == 3
    assert project.run("run", "suites").code == 0
