"""Cassette lock files while recording: unlocked when a case is done, removed when the run ends."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import harness
from harness import runner
from harness.budget import estimate
from harness.cassettes import Interaction
from harness.cassettes.files import LOCK_PREFIX, CassetteLock, LeftLocks
from harness.decide import Decision
from harness.planning import PlannedCase
from harness.pricing import PriceTable
from harness.runner import CaseResult, collect, plan, select_cases
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project


def _locks(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{LOCK_PREFIX}*"))


def test_a_kept_lock_file_is_unlocked_for_others_and_removed_when_the_run_ends(tmp_path: Path) -> None:
    cassette = tmp_path / "s" / "a.yaml"
    left = LeftLocks()
    mine = CassetteLock(cassette, left=left)
    assert mine.acquire()
    mine.release()
    assert len(_locks(cassette.parent)) == 1  # kept: removing it is left to the end of the run
    other = CassetteLock(cassette)  # another process, or another run in this one
    assert other.acquire()  # unlocked: the next one waiting for this case gets it at once
    left.remove()
    assert len(_locks(cassette.parent)) == 1  # held by the other: it removes it itself
    other.release()
    assert _locks(cassette.parent) == []


def test_a_kept_lock_file_still_excludes_while_held(tmp_path: Path) -> None:
    cassette = tmp_path / "s" / "a.yaml"
    left = LeftLocks()
    first = CassetteLock(cassette, left=left)
    assert first.acquire()
    stop = threading.Event()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(CassetteLock(cassette, stop, left=left).acquire()))
    waiter.start()
    waiter.join(0.2)
    assert got == []  # waiting for the first holder
    stop.set()
    waiter.join(5)
    assert got == [False]
    first.release()
    left.remove()
    assert _locks(cassette.parent) == []


def test_a_recording_run_leaves_no_lock_file_and_replays_offline(project: Project) -> None:
    project.suite("s.yaml", "model: gpt-4o\ncases:\n"
                  + "".join(f"  - id: c{i}\n    prompt: question {i}\n" for i in range(6)))
    with FakeOpenAI() as fake:
        recorded = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                               "--concurrency", "2", env={"OPENAI_API_KEY": "sk-test"})
    assert recorded.code == 0, recorded.text
    folder = project.root / "cassettes" / "s"
    assert sorted(p.name for p in folder.iterdir()) == [f"c{i}.yaml" for i in range(6)]
    replayed = project.run("run", "suites")  # the server is stopped: offline
    assert replayed.code == 0, replayed.text


class _Counting:
    """A progress listener that fails on its third result, as a broken callback would."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def start(self, total: int) -> None:
        pass

    def update(self, result: CaseResult) -> None:
        self.seen.append(result.case.id)
        if len(self.seen) == 3:
            raise RuntimeError("progress listener broke")


def test_a_failing_progress_listener_is_raised_to_the_caller_and_the_run_ends(project: Project) -> None:
    """Results are counted on the recording threads; a failure there still reaches the caller,
    once the cases in flight are done, instead of hanging the run or vanishing in a thread."""
    project.suite("s.yaml", "model: gpt-4o\ncases:\n"
                  + "".join(f"  - id: c{i}\n    prompt: question {i}\n" for i in range(12)))
    listener = _Counting()
    with FakeOpenAI() as fake:
        project.monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        project.monkeypatch.chdir(project.root)
        with pytest.raises(RuntimeError, match="progress listener broke"):
            harness.run("suites", record_mode="once", base_url=fake.base_url, concurrency=2,
                        progress=listener)
        sent = len(fake.requests)
    assert 3 <= len(listener.seen) < 12  # nothing new was started after the failure
    assert sent < 12
    assert not list((project.root / "cassettes").rglob(".harness-*"))  # no lock or temp file left


_TURNS = """\
model: gpt-4o
max_tokens: 1000
cases:
  - id: three
    turns: [I want to visit Lyon., What is there to see?, Book it for May.]
"""


def test_a_case_another_process_recorded_in_part_meanwhile_is_completed_under_the_same_lock(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """While this run waited for a case's lock, another process recorded the case's first step
    only (its budget ran out): this run replays that step and records the rest, under the lock it
    already holds, instead of waiting for it again (which waited until Ctrl-C)."""
    project.suite("s.yaml", _TURNS)
    cassette = project.root / "cassettes" / "s" / "three.yaml"
    planned, _errors = plan(select_cases(*collect(["suites"], lambda _t: None), None))
    first = estimate(planned[0].request, "gpt-4o", PriceTable())
    assert first is not None
    with FakeOpenAI() as fake:
        cut = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                          "--max-cost", repr(first), env={"OPENAI_API_KEY": "sk-test"})
        assert cut.code == 4, cut.text  # the other process: step 1 recorded, then out of budget
        partial = cassette.read_text()
        cassette.unlink()
        real = runner._recheck

        def meanwhile(item: PlannedCase, mode: str, before: list[Interaction] | None) -> Decision:
            cassette.write_text(partial)  # written while this run waited for the lock
            return real(item, mode, before)

        monkeypatch.setattr(runner, "_recheck", meanwhile)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        stop = threading.Event()
        timer = threading.Timer(30, stop.set)  # a second wait for the lock would end only here
        timer.start()
        try:
            result = harness.run("suites", record_mode="once", base_url=fake.base_url, stop=stop)
        finally:
            timer.cancel()
        sent = len(fake.requests)
    assert [c.status for c in result.cases] == ["passed"], [c.message for c in result.cases]
    assert sent == 3  # step 1 once (by the other process), then steps 2 and 3
    assert not list(cassette.parent.glob(".harness-*"))
