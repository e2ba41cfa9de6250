"""`harness import vcrpy` splits a multi-request vcrpy / pytest-recording cassette into per-case
cassettes, matched by the request itself.

Each recording is made in the test by vcrpy itself, through the openai SDK, against the loopback
server; the server is stopped before harness reads it, so a replay that touched the network fails.
"""

from __future__ import annotations

import httpx2
import openai
import yaml

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, network_blocked
from vcrpyutil import SUITE, record, sdk_client


def _three_requests(fake: FakeOpenAI) -> None:
    fake.add_rule(Rule(contains="capital of France", content="Paris is the capital."))
    fake.add_rule(Rule(contains="poem", content="Waves roll in,\nwaves roll out."))
    fake.add_rule(Rule(contains="unrelated", content="something else"))
    client = sdk_client(fake)
    client.chat.completions.create(model="gpt-4o", temperature=0,
                                   messages=[{"role": "user", "content": "What is the capital of France?"}])
    client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "system", "content": "You write short poems."},
        {"role": "user", "content": "A poem about the sea."}])
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "An unrelated question."}])


def test_import_splits_a_three_request_cassette_per_case(project: Project, fake: FakeOpenAI) -> None:
    project.suite("mixed.yaml", SUITE)
    source = project.root / "recorded.yaml"
    record(source, lambda: _three_requests(fake))
    fake.stop()
    assert len(yaml.safe_load(source.read_text())["interactions"]) == 3

    result = project.run("import", "vcrpy", "recorded.yaml", "--suite", "suites")
    assert result.code == 1, result.text  # one interaction matched no case: said, and not hidden
    assert "interaction 1 -> suites/mixed.yaml::capital: wrote" in result.out
    assert "interaction 2 -> suites/mixed.yaml::poem: wrote" in result.out
    assert "interaction 3 (POST /chat/completions 'An unrelated question.'): not imported, no case " \
           "sends this request" in result.out
    assert "1 case(s) left without a cassette: suites/mixed.yaml::never-recorded" in result.out
    written = project.cassette_files()
    assert [p.name for p in written] == ["capital.yaml", "poem.yaml"]
    for path in written:
        doc = yaml.safe_load(path.read_text())
        assert len(doc["interactions"]) == 1
        assert doc["interactions"][0]["harness"]["path"] == "/chat/completions"
    assert "Waves roll in" in (project.root / "cassettes" / "mixed" / "poem.yaml").read_text()
    everything_written = "\n".join(p.read_text() for p in written)
    assert CANARY not in everything_written and "authorization" not in everything_written.lower()
    assert "!!binary" not in everything_written  # gzip decoded: the answer reads in a diff

    with network_blocked() as attempts:
        replay = project.run("run", "suites", "-k", "capital or poem")
    assert attempts == [] and replay.code == 0, replay.text
    assert "2 passed" in replay.out


def test_import_never_overwrites_without_force(project: Project, fake: FakeOpenAI) -> None:
    project.suite("mixed.yaml", SUITE)
    source = project.root / "recorded.yaml"
    record(source, lambda: _three_requests(fake))
    fake.stop()
    assert project.run("import", "vcrpy", "recorded.yaml").code == 1
    capital = project.root / "cassettes" / "mixed" / "capital.yaml"
    capital.write_text(capital.read_text().replace("Paris is the capital.", "Edited by hand."))
    again = project.run("import", "vcrpy", "recorded.yaml")
    assert "suites/mixed.yaml::capital: kept (exists; --force overwrites)" in again.out
    assert "Edited by hand." in capital.read_text()
    forced = project.run("import", "vcrpy", "recorded.yaml", "--force")
    assert "suites/mixed.yaml::capital: wrote" in forced.out
    assert "Edited by hand." not in capital.read_text()


def test_repeated_requests_fill_a_cases_samples_in_order(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", """
        model: gpt-4o
        cases:
          - id: coin
            prompt: Flip a coin.
            samples: 2
    """)
    fake.add_rule(Rule(contains="coin", content="heads"))
    source = project.root / "recorded.yaml"

    def flips() -> None:
        for _ in range(3):
            sdk_client(fake).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Flip a coin."}])

    record(source, flips)
    fake.stop()
    result = project.run("import", "vcrpy", "recorded.yaml")
    assert "interaction 1 -> suites/s.yaml::coin: wrote" in result.out
    assert "interaction 2 -> suites/s.yaml::coin#1: wrote" in result.out
    assert "interaction 3 (POST /chat/completions 'Flip a coin.'): not imported, a case with this request " \
           "already took an earlier interaction" in result.out
    assert [p.name for p in project.cassette_files()] == ["coin#1.yaml", "coin.yaml"]


def test_a_key_in_the_recorded_url_is_neither_matched_nor_kept(project: Project, fake: FakeOpenAI) -> None:
    """A gateway reached with ``?api-key=...``: the query is transport, as harness's own base URL
    query is (request.py), so the case matches and the key never reaches the cassette written."""
    project.suite("mixed.yaml", SUITE)
    gateway = openai.OpenAI(api_key="unused", base_url=fake.base_url, max_retries=0,
                            http_client=httpx2.Client(), default_query={"api-key": CANARY})
    fake.add_rule(Rule(contains="capital", content="Paris."))
    source = project.root / "recorded.yaml"
    record(source, lambda: gateway.chat.completions.create(
        model="gpt-4o", temperature=0, messages=[{"role": "user", "content": "What is the capital of France?"}]),
        filter_headers=["authorization"])
    fake.stop()
    assert f"api-key={CANARY}" in source.read_text()
    result = project.run("import", "vcrpy", "recorded.yaml", "-k", "capital")
    assert result.code == 0, result.text
    assert CANARY not in project.cassette_files()[0].read_text()


def test_an_unreadable_cassette_is_a_user_error(project: Project) -> None:
    project.suite("mixed.yaml", SUITE)
    (project.root / "broken.yaml").write_text("interactions: [ {request: ")
    result = project.run("import", "vcrpy", "broken.yaml")
    assert result.code == 2
    assert "broken.yaml" in result.err and "unreadable cassette" in result.err and "Traceback" not in result.text
    missing = project.run("import", "vcrpy", "nowhere.yaml")
    assert missing.code == 2 and "nowhere.yaml: no such cassette" in missing.err
