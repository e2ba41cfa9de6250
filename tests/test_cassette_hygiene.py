"""What a cassette holds: readable text, nothing volatile, no secret ever; written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import httpx2
import openai
import pytest
import vcr
import yaml

from harness import cassettes
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import AZURE_CANARY, CANARY, Project, network_blocked

SUITE = """
    model: gpt-4o
    cases:
      - id: hello
        system: You are terse.
        prompt: Say hello to {{ who }}.
        vars: {who: Ada}
        checks:
          - contains: hello
"""

AZURE = """
    provider:
      type: azure
      deployment: prod-gpt4o
      api_version: "2024-10-21"
    model: gpt-4o
    cases:
      - id: hello
        prompt: Say hello.
"""


def _scan_for(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n}" for n in needles if n.encode() in data]
    return hits


def test_canary_key_never_reaches_disk_openai_path(project: Project, fake: FakeOpenAI,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-canary-0011223344")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-canary-5566778899")
    project.suite("hello.yaml", SUITE)  # a key in a prompt is refused (tests/test_secrets.py)
    fake.add_rule(Rule(contains="hello", content=f"hello Ada, your key is {CANARY}, org-canary-0011223344"))
    result = project.record(fake, "suites")
    assert result.code == 0, result.text
    sent = fake.requests[-1].headers
    assert sent["authorization"] == f"Bearer {CANARY}"  # the key really was used...
    hits = _scan_for(project.root / "cassettes", [CANARY, "org-canary-0011223344", "proj-canary-5566778899"])
    assert hits == []  # ...and is nowhere on disk, not even where the answer echoed it
    assert CANARY not in result.text
    text = project.cassette_files()[0].read_text()
    assert "<redacted>" in text


def test_canary_key_never_reaches_disk_azure_path(project: Project) -> None:
    project.suite("az.yaml", AZURE)
    with FakeOpenAI(require_key=AZURE_CANARY) as server:
        result = project.run("run", "suites", "--record-mode", "once",
                             env={"AZURE_OPENAI_API_KEY": AZURE_CANARY,
                                  "AZURE_OPENAI_ENDPOINT": server.azure_endpoint})
        assert result.code == 0, result.text
        request = server.requests[-1]
    assert request.headers["api-key"] == AZURE_CANARY
    assert request.path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert _scan_for(project.root, [AZURE_CANARY]) == []
    with network_blocked() as attempts:
        replay = project.run("run", "suites")  # no endpoint, no key: replay needs neither
    assert replay.code == 0 and attempts == []


def test_cassette_is_readable_and_holds_nothing_volatile(project: Project, fake: FakeOpenAI) -> None:
    project.suite("hello.yaml", SUITE)
    fake.add_rule(Rule(contains="hello", content="hello Ada!\nNice to meet you.\n\n- one\n- two"))
    assert project.record(fake, "suites").code == 0
    path = project.cassette_files()[0]
    text = path.read_text()
    lowered = text.lower()
    for volatile in ("date:", "x-request-id", "set-cookie", "openai-processing-ms", "user-agent",
                     "x-stainless", "authorization", "openai-organization", "x-ratelimit",
                     "content-encoding", "!!binary"):
        assert volatile not in lowered, volatile
    # the answer is multi-line text in the review block, the prompt is readable too
    assert "answer: |-\n      hello Ada!\n      Nice to meet you.\n\n      - one\n      - two" in text
    assert "- system: You are terse.\n    - user: Say hello to Ada." in text
    data = yaml.safe_load(text)
    assert data["version"] == 1
    interaction = data["interactions"][0]
    assert interaction["request"]["headers"] == {"content-type": ["application/json"]}
    assert set(interaction["response"]["headers"]) == {"content-type"}


def test_vcrpy_replays_a_harness_cassette_through_the_sdk(project: Project, fake: FakeOpenAI) -> None:
    project.suite("hello.yaml", SUITE)
    fake.add_rule(Rule(contains="hello", content="hello from the cassette"))
    assert project.record(fake, "suites").code == 0
    path = project.cassette_files()[0]
    fake.stop()
    client = openai.OpenAI(api_key="anything", base_url="http://127.0.0.1:9/v1", max_retries=0,
                           http_client=httpx2.Client())
    with network_blocked() as attempts:
        with vcr.use_cassette(str(path), record_mode="none", match_on=["method", "path", "body"]):
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "system", "content": "You are terse."},
                                          {"role": "user", "content": "Say hello to Ada."}])
    assert attempts == []
    assert reply.choices[0].message.content == "hello from the cassette"
    # a different body does not match: vcrpy refuses rather than answering wrongly
    with vcr.use_cassette(str(path), record_mode="none", match_on=["method", "path", "body"]):
        with pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "other"}])


def test_write_is_atomic_when_the_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "c" / "case.yaml"
    cassettes.atomic_write(target, "version: 1\ninteractions: []\n")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        cassettes.atomic_write(target, "x" * 100_000)
    assert target.read_text() == "version: 1\ninteractions: []\n"  # the old file is intact
    assert [p.name for p in target.parent.iterdir()] == ["case.yaml"]  # no temp file left behind


def test_unreadable_cassette_is_a_clear_error(project: Project, fake: FakeOpenAI) -> None:
    project.suite("hello.yaml", SUITE)
    assert project.record(fake, "suites").code == 0
    path = project.cassette_files()[0]
    path.write_text("interactions: [ {request: }")
    result = project.run("run", "suites")
    assert result.code == 1
    assert "unreadable cassette" in result.out and "Traceback" not in result.text


def test_parse_cache_notices_a_hand_edited_cassette(project: Project, fake: FakeOpenAI) -> None:
    project.monkeypatch.delenv("CI", raising=False)  # CI=true reads the cache but writes none
    project.suite("hello.yaml", SUITE)
    fake.add_rule(Rule(contains="hello", content="hello Ada"))
    assert project.record(fake, "suites").code == 0
    assert project.run("run", "suites").code == 0  # parses, fills .harness/cache
    assert list((project.root / ".harness" / "cache").glob("*.json"))
    path = project.cassette_files()[0]
    path.write_text(path.read_text().replace('"content": "hello Ada"', '"content": "bye Ada"'))
    result = project.run("run", "suites")
    assert result.code == 1 and "'hello' not found in 'bye Ada'" in result.out
