"""Cassettes recorded by vcrpy (or pytest-recording) replay in harness, and pytest-recording's
record mode name ``rewrite`` works as ``all``.

Each recording is made in the test by vcrpy itself, through the openai SDK, against the loopback
server; the server is stopped before harness reads it, so a replay that touched the network fails.
"""

from __future__ import annotations

import httpx2
import openai
import pytest

from harness import api
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import AZURE_CANARY, CANARY, Project, network_blocked
from vcrpyutil import SUITE, record, sdk_client


@pytest.mark.parametrize("decode", [False, True], ids=["gzip-binary", "decoded"])
def test_a_vcrpy_cassette_replays_in_harness(project: Project, fake: FakeOpenAI, decode: bool) -> None:
    project.suite("geo.yaml", """
        model: gpt-4o
        cases:
          - id: capital
            prompt: What is the capital of France?
            temperature: 0
            checks:
              - contains: Paris
    """)
    fake.add_rule(Rule(contains="capital of France", content="Paris is the capital."))
    recorded = project.root / "cassettes" / "geo" / "capital.yaml"
    recorded.parent.mkdir(parents=True)
    record(recorded, lambda: sdk_client(fake).chat.completions.create(
        model="gpt-4o", temperature=0, messages=[{"role": "user", "content": "What is the capital of France?"}]),
        decode_compressed_response=decode)
    fake.stop()
    text = recorded.read_text()
    assert "/v1/chat/completions" in text and f"Bearer {CANARY}" in text  # vcrpy's own file, as it writes it
    assert ("!!binary" in text) is not decode
    with network_blocked() as attempts:
        result = project.run("run", "suites", "--report", "json=run.json")
    assert attempts == []
    assert result.code == 0, result.text
    assert "PASS" in result.out and "STALE" not in result.out
    assert CANARY not in project.all_files_text().replace(text, "")  # nothing harness wrote holds the key


def test_an_azure_vcrpy_cassette_replays_in_harness(project: Project) -> None:
    project.suite("az.yaml", """
        provider: {type: azure, deployment: prod-gpt4o, api_version: "2024-10-21"}
        model: gpt-4o
        cases:
          - id: hello
            prompt: Say hello.
            checks:
              - contains: hello
    """)
    recorded = project.root / "cassettes" / "az" / "hello.yaml"
    recorded.parent.mkdir(parents=True)
    with FakeOpenAI(require_key=AZURE_CANARY) as server:
        server.add_rule(Rule(contains="hello", content="hello from Azure"))
        client = openai.AzureOpenAI(api_key=AZURE_CANARY, api_version="2024-10-21",
                                    azure_endpoint=server.azure_endpoint, azure_deployment="prod-gpt4o",
                                    max_retries=0, http_client=httpx2.Client())
        record(recorded, lambda: client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Say hello."}]))
    assert "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21" in recorded.read_text()
    with network_blocked() as attempts:
        result = project.run("run", "suites")
    assert attempts == [] and result.code == 0, result.text


def test_a_vcrpy_cassette_for_another_request_is_stale_not_matched(project: Project, fake: FakeOpenAI) -> None:
    project.suite("geo.yaml", """
        model: gpt-4o
        cases:
          - id: capital
            prompt: What is the capital of Spain?
    """)
    fake.add_rule(Rule(contains="capital", content="Paris."))
    recorded = project.root / "cassettes" / "geo" / "capital.yaml"
    recorded.parent.mkdir(parents=True)
    record(recorded, lambda: sdk_client(fake).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "What is the capital of France?"}]))
    fake.stop()
    result = project.run("run", "suites")
    assert result.code == 3
    assert "STALE" in result.out
    # the path prefix is no difference: only the prompt is named as what changed
    assert "Spain" in result.out and "/v1" not in result.out


def test_record_mode_rewrite_is_all_in_the_cli_and_the_api(project: Project, fake: FakeOpenAI) -> None:
    project.suite("mixed.yaml", SUITE)
    for answer in ("first", "second", "third"):
        fake.add_rule(Rule(contains="capital", content=f"Paris, {answer} answer.", times=1))
    cassette = project.root / "cassettes" / "mixed" / "capital.yaml"
    assert project.record(fake, "suites", "-k", "capital").code == 0
    assert project.record(fake, "suites", "-k", "capital").code == 0  # once: kept as it is
    assert "first answer" in cassette.read_text()
    result = project.record(fake, "suites", "-k", "capital", mode="rewrite")
    assert result.code == 0, result.text
    assert "second answer" in cassette.read_text()
    project.monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    through_api = api.run(["suites"], record_mode="rewrite", keyword="capital", base_url=fake.base_url)
    assert through_api.exit_code == 0
    assert "third answer" in cassette.read_text()


def test_record_mode_rewrite_is_all_in_pytest(pytester: pytest.Pytester, fake: FakeOpenAI,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject="[project]\nname='demo'\n\n[tool.pytest.ini_options]\n"
                                         "harness_suites = ['suites']\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "geo.yaml").write_text(
        "model: gpt-4o\ncases:\n  - id: capital\n    prompt: What is the capital of France?\n")
    for answer in ("first", "second"):
        fake.add_rule(Rule(contains="capital", content=f"Paris, {answer} answer.", times=1))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    pytester.runpytest("suites", "--record-mode", "once", "--harness-base-url", fake.base_url).assert_outcomes(passed=1)
    result = pytester.runpytest("suites", "--record-mode", "rewrite", "--harness-base-url", fake.base_url)
    result.assert_outcomes(passed=1)
    assert "second answer" in (pytester.path / "cassettes" / "geo" / "capital.yaml").read_text()
