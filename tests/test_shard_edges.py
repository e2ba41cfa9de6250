"""Sharded runs at their edges, as a CI matrix meets them: shards made from other data or templates,
a selection of nothing, sampled and multi-model cases, shards that hold no case, reports of
another version. The merge gives what one unsharded job gives, or refuses with exit 2 naming the
file; it never joins what is not one run."""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import EXIT_NO_CASES, EXIT_OK, EXIT_USER_ERROR
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project, network_blocked
from test_shards import CHAT, sharded, without_timings

DATA_SUITE = """
name: rows
model: gpt-4o
messages:
  - {role: user, file: ask.j2}
checks: [{contains: good}]
cases_from: {file: ../data/rows.csv, id: key}
"""
ROWS = "key,topic\n" + "".join(f"r{i},good topic {i}\n" for i in range(12))


def merge(project: Project, *paths: str) -> tuple[int, str]:
    result = project.run("merge", *paths)
    assert "Traceback" not in result.text
    return result.code, " ".join(result.text.split())


def shards(count: int = 4, prefix: str = "shard") -> list[str]:
    return [f"out/{prefix}-{k}.json" for k in range(1, count + 1)]


def test_shards_made_from_other_data_or_templates_are_not_merged(project: Project, fake: FakeOpenAI) -> None:
    data = project.root / "data" / "rows.csv"
    data.parent.mkdir()
    data.write_text(ROWS)
    template = project.root / "suites" / "ask.j2"
    project.suite("rows.yaml", DATA_SUITE)
    template.write_text("Tell me about {{ topic }}.")
    assert project.record(fake, "suites").code == EXIT_OK
    fake.stop()
    with network_blocked():
        assert sharded(project) == [EXIT_OK] * 4
    code, _ = merge(project, *shards())
    assert code == EXIT_OK
    doc = json.loads((project.root / "out" / "shard-1.json").read_text())
    assert {f["path"] for f in doc["shard"]["files"]} >= {"data/rows.csv", "suites/ask.j2", "suites/rows.yaml"}
    assert not any(f["path"].startswith("cassettes/") for f in doc["shard"]["files"])

    # one machine checked out other data: a row's text changed, no case id did
    data.write_text(ROWS.replace("good topic 3", "good topic three"))
    with network_blocked():
        project.run("run", "suites", "--shard", "3/4", "--report", "json=out/other-data.json")
    code, text = merge(project, *shards()[:2], "out/other-data.json", shards()[3])
    assert code == EXIT_USER_ERROR and "out/other-data.json" in text and "data/rows.csv" in text, text
    data.write_text(ROWS)

    # another machine had another wording of the prompt template
    template.write_text("Tell me all about {{ topic }}.")
    with network_blocked():
        project.run("run", "suites", "--shard", "2/4", "--report", "json=out/other-template.json")
    code, text = merge(project, shards()[0], "out/other-template.json", *shards()[2:])
    assert code == EXIT_USER_ERROR and "out/other-template.json" in text and "suites/ask.j2" in text, text


def test_a_selection_of_nothing_merges_to_what_one_job_gives(project: Project, fake: FakeOpenAI) -> None:
    project.suite("chat.yaml", CHAT)
    assert project.record(fake, "suites").code == EXIT_OK
    fake.stop()
    with network_blocked():
        whole = project.run("run", "suites", "-k", "nothing-has-this-name")
        codes = sharded(project, 4, "-k", "nothing-has-this-name")
        picked = project.run("run", "suites", "-k", "greet", "--shard", "1/4", "--report", "json=out/greet.json")
    assert whole.code == EXIT_NO_CASES and codes == [EXIT_NO_CASES] * 4
    merged = project.run("merge", *shards())
    assert merged.code == EXIT_NO_CASES, merged.text
    assert merged.err == whole.err and "no case id matches -k 'nothing-has-this-name'" in merged.err
    assert picked.code == EXIT_OK  # a shard holding none of a selection of something passes
    code, text = merge(project, "out/greet.json", *shards()[1:])  # a shard of another selection: not one run
    assert code == EXIT_USER_ERROR and "selected other cases" in text, text
