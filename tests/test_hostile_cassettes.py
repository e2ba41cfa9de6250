"""Hostile cassettes and answers: each fails its own case with one clear line, never the run.

A broken cassette, a folder where a cassette should be, an answer cut short by the server: the case
is an error naming the cassette, the other cases still run, the reports are still written, and a
broken answer never becomes a cassette.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cassettes import files
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, RunResult

TWO = """
    model: gpt-4o
    cases:
      - id: a
        prompt: hello a
        checks:
          - contains: hello
      - id: b
        prompt: hello b
        checks:
          - contains: hello
"""


def _cases(report: Path) -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(report.read_text())["cases"]}


def _went_on(project: Project, result: RunResult, broken: str = "a") -> dict:
    """The broken case is an error, the other one passed, and the JSON report was written."""
    assert "Traceback" not in result.text
    assert result.code == 1, result.text
    cases = _cases(project.root / "run.json")
    assert cases["b"]["status"] == "passed"
    assert cases[broken]["status"] == "error"
    return cases[broken]


def _recorded(project: Project, fake: FakeOpenAI) -> Path:
    project.suite("s.yaml", TWO)
    assert project.record(fake, "suites").code == 0
    return project.root / "cassettes" / "s" / "a.yaml"


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _not_utf8(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"hello a", b"hello \xff\xfe"))


def _dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _usage_many(path: Path) -> None:
    text = path.read_text()
    start = text.index('"prompt_tokens": ') + len('"prompt_tokens": ')
    end = text.index(",", start)
    path.write_text(text[:start] + '"many"' + text[end:])


def _no_choices(path: Path) -> None:
    text = path.read_text()
    start = text.index('"choices": [')
    end = text.index('"usage"', start)
    path.write_text(text[:start] + '"choices": [],\n        ' + text[end:])


def _latency_in_words(path: Path) -> None:
    """Breaks the cassette after its interaction's API path (/v1/chat/completions) was read."""
    text = path.read_text()
    start = text.index("latency_ms: ") + len("latency_ms: ")
    path.write_text(text[:start] + "soon" + text[text.index("\n", start):])


def _not_yaml(path: Path) -> None:
    path.write_text(path.read_text() + "\n  - request: {method: [\n")


@pytest.mark.parametrize(("spoil", "says"), [
    (_directory, "not a regular file"),
    (_not_utf8, "not valid UTF-8"),
    (_dev_zero, "the cassette is a symlink leading outside"),
    (_usage_many, "usage.prompt_tokens is 'many', not a token count"),
    (_no_choices, "the server's answer was incomplete: no choices"),
    (_latency_in_words, "unreadable cassette (TypeError: harness.latency_ms is not a number)"),
    (_not_yaml, "unreadable cassette ("),
], ids=["directory", "invalid-utf8", "dev-zero", "usage-not-a-number", "no-choices", "latency-in-words",
        "not-yaml"])
def test_a_broken_cassette_fails_only_its_case(project: Project, fake: FakeOpenAI, spoil, says: str) -> None:
    path = _recorded(project, fake)
    spoil(path)
    started = time.monotonic()
    result = project.run("run", "suites", "--report", "json=run.json")
    assert time.monotonic() - started < 10  # /dev/zero is not read forever
    case = _went_on(project, result)
    assert "cassettes/s/a.yaml" in case["message"] and says in case["message"], case["message"]
    assert "/v1/chat/completions" not in case["message"]  # the file, not the API path it names
    assert says in result.out


def test_a_cassette_folder_that_is_a_file_fails_its_cases(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", TWO)
    project.suite("other.yaml", "model: gpt-4o\ncases:\n  - id: b\n    prompt: hello b\n")
    (project.root / "cassettes" / "s").write_text("not a folder\n")
    for mode in ("none", "once"):
        args = ["suites", "--report", "json=run.json"]
        result = project.record(fake, *args, mode=mode) if mode != "none" else project.run("run", *args)
        assert "Traceback" not in result.text, result.text
        report = json.loads((project.root / "run.json").read_text())["cases"]
        mine = [c for c in report if c["suite"] == "s"]
        assert [c["status"] for c in mine] == ["error", "error"], mine
        assert all("cassettes/s/a.yaml" in c["message"] or "cassettes/s/b.yaml" in c["message"] for c in mine)
        assert "not a folder" in mine[0]["message"] or "Not a directory" in mine[0]["message"]
    assert [c["status"] for c in report if c["suite"] == "other"] == ["passed"]
    assert (project.root / "cassettes" / "s").read_text() == "not a folder\n"


def test_a_read_only_cassette_folder_while_recording(project: Project, fake: FakeOpenAI,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project.suite("s.yaml", TWO)
    project.suite("other.yaml", "model: gpt-4o\ncases:\n  - id: b\n    prompt: hello b\n")
    folder = project.root / "cassettes" / "s"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
    else:  # root writes anywhere: refuse creating files there as a read-only folder would
        real_open = os.open

        def refusing_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
            if flags & os.O_CREAT and Path(os.fsdecode(path)).parent == folder:
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
    try:
        result = project.record(fake, "suites", "--report", "json=run.json")
    finally:
        folder.chmod(0o755)
    assert "Traceback" not in result.text and result.code == 1, result.text
    report = json.loads((project.root / "run.json").read_text())["cases"]
    mine = [c for c in report if c["suite"] == "s"]
    assert [c["status"] for c in mine] == ["error", "error"]
    assert "cassettes/s/a.yaml" in mine[0]["message"] and "Permission denied" in mine[0]["message"]
    assert [c["status"] for c in report if c["suite"] == "other"] == ["passed"]
    assert list(folder.iterdir()) == []
    assert len(fake.requests) == 1  # nothing was sent for answers that could not be kept


STREAMED = """
    model: gpt-4o
    stream: true
    cases:
      - id: a
        prompt: hello a
      - id: b
        prompt: hello b
"""


@pytest.mark.parametrize(("suite", "defect", "says"), [
    (STREAMED, "cut_stream", "the event stream ended before its last event"),
    (TWO, "no_choices", "no choices"),
], ids=["cut-stream", "no-choices"])
def test_an_incomplete_answer_is_an_error_and_no_cassette(project: Project, fake: FakeOpenAI,
                                                          suite: str, defect: str, says: str) -> None:
    project.suite("s.yaml", suite)
    fake.add_rule(Rule(contains="hello a", defect=defect))
    result = project.record(fake, "suites", "--report", "json=run.json")
    case = _went_on(project, result)
    assert f"the server's answer was incomplete: {says}" in case["message"], case["message"]
    assert "no cassette written" in case["message"]
    assert [p.name for p in project.cassette_files()] == ["b.yaml"]


def test_an_incomplete_answer_from_a_batch_is_an_error_and_no_cassette(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", TWO)
    fake.add_rule(Rule(contains="hello a", defect="no_choices"))
    result = project.run("run", "suites", "--record-mode", "once", "--batch", "--batch-poll", "0.01",
                         "--base-url", fake.base_url, "--report", "json=run.json", env={"OPENAI_API_KEY": CANARY})
    case = _went_on(project, result)
    assert "the server's answer was incomplete: no choices" in case["message"], case["message"]
    assert [p.name for p in project.cassette_files()] == ["b.yaml"]


def test_replaying_a_cut_stream_is_an_error(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", STREAMED)
    assert project.record(fake, "suites").code == 0
    path = project.root / "cassettes" / "s" / "a.yaml"
    text = path.read_text()
    third = text.index("data:", text.index("data:", text.index("data:") + 1) + 1)
    path.write_text(text[:third] + text[text.index("version: 1"):])  # no finish_reason, no [DONE]
    assert "[DONE]" not in path.read_text() and '"finish_reason": "stop"' not in path.read_text()
    result = project.run("run", "suites", "--report", "json=run.json")
    case = _went_on(project, result)
    assert "cassettes/s/a.yaml" in case["message"]
    assert "the server's answer was incomplete" in case["message"]


def test_the_parse_cache_notices_a_same_size_edit_with_the_old_mtime(project: Project, fake: FakeOpenAI) -> None:
    project.monkeypatch.delenv("CI", raising=False)  # CI=true reads the cache but writes none
    project.suite("s.yaml", TWO)
    fake.add_rule(Rule(contains="hello a", content="hello Ada"))
    assert project.record(fake, "suites").code == 0
    assert project.run("run", "suites").code == 0  # fills .harness/cache
    assert list((project.root / ".harness" / "cache").glob("*.json"))
    path = project.root / "cassettes" / "s" / "a.yaml"
    before = path.stat()
    path.write_text(path.read_text().replace('"content": "hello Ada"', '"content": "jello Ada"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    result = project.run("run", "suites")
    assert result.code == 1 and "'hello' not found in 'jello Ada'" in result.out


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_sweep_removes_only_harness_leftovers(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", TWO)
    folder = project.root / "cassettes" / "s"
    folder.mkdir()
    old = time.time() - 3600
    foreign = folder / ".notes.yaml.tmp"  # another program's temp file, however old
    foreign.write_text("mine")
    os.utime(foreign, (old, old))
    dead = files.temp_name(pid=_dead_pid())
    (folder / dead).write_text("half a cassette")
    alive = files.temp_name(pid=os.getppid())  # a writer still running: its write may be in progress
    (folder / alive).write_text("a write in progress")
    (folder / f"{files.LOCK_PREFIX}0123456789abcdef").write_text("")  # a killed run's lock, held by nobody
    assert project.record(fake, "suites").code == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([".notes.yaml.tmp", alive, "a.yaml", "b.yaml"])
    os.utime(folder / alive, (old, old))  # the same writer's file, hours later: a leftover after all
    files.forget_sweeps()  # as a new process would
    assert project.record(fake, "suites", mode="all").code == 0
    assert sorted(p.name for p in folder.iterdir()) == [".notes.yaml.tmp", "a.yaml", "b.yaml"]


def _many(n: int) -> str:
    return "model: gpt-4o\ncases:\n" + "".join(f"  - id: c{i:02d}\n    prompt: question {i}\n" for i in range(n))


def _harness(project: Project, url: str) -> subprocess.Popen[str]:
    env = dict(os.environ, OPENAI_API_KEY=CANARY)
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "suites", "-q", "--record-mode",
                             "once", "--base-url", url, "--concurrency", "3"], cwd=project.root, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _pytest(project: Project, url: str) -> subprocess.Popen[str]:
    env = dict(os.environ, OPENAI_API_KEY=CANARY)
    return subprocess.Popen([sys.executable, "-m", "pytest", "suites", "-q", "-n", "2", "-p", "no:cacheprovider",
                             "-o", "harness_suites=suites", "--record-mode", "once", "--harness-base-url", url], cwd=project.root, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("first", [_harness, _pytest], ids=["harness", "pytest-xdist"])
def test_two_processes_recording_one_suite_send_each_case_once(project: Project, first) -> None:
    project.suite("s.yaml", _many(12))
    with FakeOpenAI(latency=0.4) as server:
        procs = [first(project, server.base_url)]
        deadline = time.monotonic() + 30
        while not server.requests and procs[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        procs.append(_harness(project, server.base_url))  # starts while the first one records
        outs = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        prompts = sorted(r.json["messages"][-1]["content"] for r in server.requests)
    assert prompts == sorted(f"question {i}" for i in range(12))  # each case requested once
    assert len(project.cassette_files()) == 12
    assert not [p for p in (project.root / "cassettes").rglob(".*")]  # no lock or temp file left
