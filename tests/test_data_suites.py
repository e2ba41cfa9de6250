"""A suite whose cases come from a data file, end to end: record against the loopback server, stop
it, replay offline (CLI and pytest door); reordering rows changes nothing, an edited row is stale."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from harness.cli import main as harness_main
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, network_blocked

SUITE = """\
name: capitals
model: gpt-4o
system: Answer with the city's name only.
prompt: "What is the capital of {{ country }}?"
checks:
  - equals: "{{ capital }}"
cases_from:
  file: ../data/capitals.csv
  id: code
  where: {region: europe}
"""

ROWS = [
    "code,country,capital,region",
    "fr,France,Paris,europe",
    "it,Italy,Rome,europe",
    "jp,Japan,Tokyo,asia",
    "de,Germany,Berlin,europe",
]

ANSWERS = {"France": "Paris", "Italy": "Rome", "Germany": "Bonn", "Japan": "Tokyo"}


def _server(fake: FakeOpenAI) -> None:
    for country, city in ANSWERS.items():
        fake.add_rule(Rule(contains=f"capital of {country}", content=city))


def _write(project: Project, rows: list[str]) -> None:
    (project.root / "data").mkdir(exist_ok=True)
    (project.root / "data" / "capitals.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture
def recorded(project: Project, fake: FakeOpenAI) -> Project:
    _write(project, ROWS)
    project.suite("capitals.yaml", SUITE)
    _server(fake)
    result = project.record(fake, "suites")
    assert result.code == 1, result.text  # Germany's recorded answer is wrong
    assert sum("capital of" in r.body.decode() for r in fake.requests) == 3  # asia is filtered out
    fake.stop()
    return project


def test_record_then_replay_offline(recorded: Project) -> None:
    assert [p.name for p in recorded.cassette_files()] == ["de.yaml", "fr.yaml", "it.yaml"]
    cassette = yaml.safe_load((recorded.root / "cassettes" / "capitals" / "it.yaml").read_text())
    assert json.loads(cassette["interactions"][0]["request"]["body"])["messages"][1]["content"] == \
        "What is the capital of Italy?"
    with network_blocked() as attempts:
        result = recorded.run("run", "suites", "--report", "json=run.json")
    assert attempts == [] and result.code == 1, result.text
    report = json.loads((recorded.root / "run.json").read_text())
    assert {c["id"]: c["status"] for c in report["cases"]} == {"fr": "passed", "it": "passed", "de": "failed"}
    assert "Berlin" in result.out and "Bonn" in result.out
    assert CANARY not in recorded.all_files_text()


def test_reordered_rows_replay_and_an_edited_row_is_stale(recorded: Project) -> None:
    _write(recorded, [ROWS[0], ROWS[4], ROWS[3], ROWS[1], ROWS[2]])
    with network_blocked():
        result = recorded.run("run", "suites")
    assert result.code == 1 and "STALE" not in result.out and "MISSING" not in result.out, result.text
    _write(recorded, [ROWS[0], ROWS[1], "it,the Italian Republic,Rome,europe", ROWS[4]])
    with network_blocked():
        result = recorded.run("run", "suites")
    assert result.code == 3, result.text
    assert "suites/capitals.yaml::it" in result.out and "STALE" in result.out
    assert "the Italian Republic" in result.out  # the diff of the request names what changed


def test_rows_without_ids_record_and_replay(project: Project, fake: FakeOpenAI) -> None:
    (project.root / "data").mkdir()
    (project.root / "data" / "q.jsonl").write_text('{"country": "France", "capital": "Paris"}\n'
                                                   '{"country": "Italy", "capital": "Rome"}\n')
    project.suite("q.yaml", SUITE.replace("name: capitals\n", "")
                  .replace("file: ../data/capitals.csv\n  id: code\n  where: {region: europe}", "file: ../data/q.jsonl"))
    _server(fake)
    assert project.record(fake, "suites").code == 0
    fake.stop()
    names = [p.name for p in project.cassette_files()]
    assert len(names) == 2 and all(n.startswith("row-") for n in names)
    with network_blocked():
        assert project.run("run", "suites").code == 0
    # An edited row is another row: its case has no cassette yet.
    (project.root / "data" / "q.jsonl").write_text('{"country": "France", "capital": "Paris"}\n'
                                                   '{"country": "Italy", "capital": "Roma"}\n')
    with network_blocked():
        result = project.run("run", "suites")
    assert result.code == 3 and "MISSING" in result.out and "1 missing" in result.out, result.text


PYPROJECT = "[project]\nname='demo'\n\n[tool.pytest.ini_options]\nharness_suites = ['suites']\n"


def test_the_pytest_door(pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "capitals.csv").write_text("\n".join(ROWS) + "\n")
    (pytester.path / "suites" / "capitals.yaml").write_text(SUITE)
    _server(fake)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url]) == 1
    monkeypatch.delenv("OPENAI_API_KEY")
    fake.stop()
    result = pytester.runpytest("suites", "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["suites/capitals.yaml::fr PASSED*", "suites/capitals.yaml::it PASSED*",
                                 "suites/capitals.yaml::de FAILED*"])
    result.stdout.fnmatch_lines(["*Berlin*Bonn*"])
    assert "Traceback" not in result.stdout.str()
    pytester.runpytest("suites", "-k", "not de").assert_outcomes(passed=2, deselected=1)


def _readme_section() -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return text.split("### Cases from data", 1)[1].split("\n### ", 1)[0]


def test_the_readme_example_works(project: Project, fake: FakeOpenAI) -> None:
    section = _readme_section()
    suite = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    table = re.search(r"```csv\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    commands = re.search(r"```sh\n(.*?)```", section, re.S).group(1).splitlines()  # type: ignore[union-attr]
    (project.root / "data").mkdir()
    (project.root / "data" / "capitals.csv").write_text(table)
    project.suite("capitals.yaml", suite)
    _server(fake)
    record = shlex.split(commands[0].split("#")[0])
    assert record[:3] == ["OPENAI_API_KEY=sk-...", "harness", "run"]
    result = project.run(*record[2:], env={"OPENAI_API_KEY": CANARY, "OPENAI_BASE_URL": fake.base_url})
    assert result.code == 0 and [p.stem for p in project.cassette_files()] == ["fr", "it"], result.text
    fake.stop()
    replay = shlex.split(commands[1].split("#")[0])
    with network_blocked():
        assert project.run(*replay[1:]).code == 0
    # The error the section shows, word for word.
    shown = re.search(r"`(suites/capitals.yaml:4 \[case it\].*?)`", section, re.S).group(1)  # type: ignore[union-attr]
    (project.root / "data" / "capitals.jsonl").write_text('{"code": "fr", "country": "France", "capital": "Paris"}\n'
                                                          '{"code": "it", "capital": "Rome"}\n')
    project.suite("capitals.yaml", suite.replace("capitals.csv", "capitals.jsonl").replace("where: {region: europe}", ""))
    result = project.run("validate", "suites/capitals.yaml")
    assert result.code == 2 and " ".join(shown.split()) in result.err, result.text
