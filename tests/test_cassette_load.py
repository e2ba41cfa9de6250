"""Loading a cassette: each request's key is worked out once and kept, in memory and in the parse
cache, and what rebuilds an interaction (a scrubbed copy, a cache entry) takes its fields only."""

from __future__ import annotations

import json

from harness import cassettes
from harness.redact import Redactor
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project

SUITE = """
    model: gpt-4o
    cases:
      - id: hello
        prompt: Say hello to {{ who }}.
        vars: {who: Ada}
        checks:
          - contains: hello
"""


def _report(project: Project, *env: tuple[str, str]) -> tuple[int, list[dict[str, object]]]:
    result = project.run("run", "suites", "--report", "json=run.json", env=dict(env))
    cases = json.loads((project.root / "run.json").read_text())["cases"]
    return result.code, [{k: v for k, v in c.items() if "ms" not in k and "time" not in k} for c in cases]


def test_a_loaded_cassette_saves_again_unchanged_and_scrubbed(project: Project, fake: FakeOpenAI) -> None:
    project.suite("hello.yaml", SUITE)
    fake.add_rule(Rule(contains="hello", content="hello Ada, your code is s3cret-value"))
    assert project.record(fake, "suites").code == 0
    fake.stop()
    path = project.cassette_files()[0]
    before = path.read_bytes()
    loaded = cassettes.load(path, root=path.parent)
    assert loaded is not None and loaded[0].key  # worked out, and kept on the interaction
    # Same exchange: nothing is written, and the key kept is the one a fresh object works out.
    assert not cassettes.save(path, "suites/hello.yaml::hello", loaded, rerecord="r")
    assert path.read_bytes() == before
    assert cassettes.Interaction(**loaded[0].fields()).key == loaded[0].key
    # A scrubbed copy is rebuilt from the fields (the kept key is not one of them) and hides the value.
    scrubbed = cassettes.scrub_interaction(loaded[0], Redactor({"s3cret-value": "TEST_SECRET"}))
    assert "s3cret-value" not in scrubbed.response_text and scrubbed.key == loaded[0].key
    assert cassettes.save(path, "suites/hello.yaml::hello", [scrubbed], rerecord="r", secrets=Redactor({"s3cret-value": "TEST_SECRET"}))
    assert b"s3cret-value" not in path.read_bytes()


def test_a_warm_replay_answers_as_a_cold_one_and_still_sees_a_changed_request(
        project: Project, fake: FakeOpenAI) -> None:
    project.monkeypatch.delenv("CI", raising=False)  # CI=true reads the cache but writes none
    project.suite("hello.yaml", SUITE)
    fake.add_rule(Rule(contains="hello", content="hello Ada"))
    assert project.record(fake, "suites").code == 0
    fake.stop()
    cold = _report(project, ("HARNESS_NO_CACHE", "1"))
    assert cold[0] == 0
    assert _report(project) == cold  # parses, writes the cache with each request's key
    cache_files = list((project.root / ".harness" / "cache").glob("*.json"))
    assert cache_files
    assert _report(project) == cold  # read from the cache
    # The cached key is the recorded request's: a prompt changed since is stale, warm as cold.
    project.suite("hello.yaml", SUITE.replace("Say hello", "Say hi"))
    warm_stale = project.run("run", "suites")
    cold_stale = project.run("run", "suites", env={"HARNESS_NO_CACHE": "1"})
    assert warm_stale.code == cold_stale.code != 0
    assert "the request changed since it was recorded" in warm_stale.out


def test_a_cache_entry_without_a_key_works_it_out() -> None:
    interaction = cassettes.Interaction(
        method="POST", uri="http://127.0.0.1:1/v1/chat/completions", path="/chat/completions", query={},
        body={"model": "m", "messages": []}, status=200, response_headers={}, response_text="{}")
    again = cassettes.Interaction.from_cache_entry(interaction.fields())
    assert again == interaction and again.key == interaction.key
    cached = cassettes.Interaction.from_cache_entry(interaction.cache_entry())
    assert cached == interaction and cached.key == interaction.key
