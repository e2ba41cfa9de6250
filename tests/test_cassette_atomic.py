"""A cassette is replaced whole or not at all: a save that fails half-way keeps the old one.

Re-recording overwrites a cassette that a team reviewed and committed. If the write were done in
place, a full disk, a quota or a crash in the middle would leave half a YAML file: the case would
neither replay nor show what it used to answer. Each test here makes one step of the save fail
and checks the cassette's bytes, that it still replays offline, and that no temp file is left.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import cassettes
from harness.cassettes import files
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project

ONE = "model: gpt-4o\ncases:\n  - id: a\n    prompt: hello there\n"
ROOT = Path(__file__).resolve().parent.parent


def _recorded(project: Project, fake: FakeOpenAI) -> tuple[Path, bytes]:
    project.suite("s.yaml", ONE)
    assert project.record(fake, "suites").code == 0
    [path] = project.cassette_files()
    return path, path.read_bytes()


def _still_replays(project: Project, path: Path, old: bytes) -> None:
    assert path.read_bytes() == old
    assert project.cassette_files() == [path]  # no temp file, no partial copy beside it
    assert project.run("run", "suites").code == 0  # offline: the fake server is stopped by then


# The child fills in a new, much longer answer and saves it under a file-size limit, so the write
# itself fails part-way through (EFBIG, as a full disk or a quota would), whatever way it writes.
_SAVE_UNDER_LIMIT = textwrap.dedent("""
    import json, resource, signal, sys
    from dataclasses import replace
    from pathlib import Path
    from harness import cassettes

    path, limit = Path(sys.argv[1]), int(sys.argv[2])
    [old] = cassettes.load(path, root=path.parent)
    answer = json.loads(old.response_text)
    answer["choices"][0]["message"]["content"] = "a much longer answer. " * 20000
    new = replace(old, response_text=json.dumps(answer))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error from write(), not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        cassettes.save(path, "suites/s.yaml::a", [new], rerecord="harness run")
    except OSError as exc:
        print("save failed:", exc.strerror)
        sys.exit(3)
    print("saved")
""")


@pytest.mark.skipif(sys.platform == "win32", reason="file-size limits are POSIX")
def test_a_write_failing_half_way_leaves_the_old_cassette(project: Project, fake: FakeOpenAI) -> None:
    path, old = _recorded(project, fake)
    fake.stop()
    limit = len(old) + 4096  # room for the old cassette's size, not for the new one (~440 KB)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _SAVE_UNDER_LIMIT, str(path), str(limit)], cwd=project.root,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "File too large" in done.stdout
    _still_replays(project, path, old)


def _with_another_answer(path: Path) -> cassettes.Interaction:
    """The cassette's interaction with a different answer: what a re-recording would save."""
    [interaction] = cassettes.load(path, root=path.parent) or []
    answer = json.loads(interaction.response_text)
    answer["choices"][0]["message"]["content"] = "another answer"
    interaction.response_text = json.dumps(answer)
    return interaction


def test_a_failing_yaml_dump_leaves_the_old_cassette(project: Project, fake: FakeOpenAI,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path, old = _recorded(project, fake)
    fake.stop()
    interaction = _with_another_answer(path)

    def broken_dump(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the YAML emitter failed")

    with monkeypatch.context() as m, pytest.raises(RuntimeError, match="YAML emitter"):
        m.setattr(cassettes.yaml_text, "dump", broken_dump)
        cassettes.save(path, "suites/s.yaml::a", [interaction], rerecord="harness run")
    _still_replays(project, path, old)


def test_a_failing_final_rename_leaves_the_old_cassette(project: Project, fake: FakeOpenAI,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The last step (the rename over the old file) fails: the written temp file goes too."""
    path, old = _recorded(project, fake)
    fake.stop()
    interaction = _with_another_answer(path)

    def refuse(src: object, dst: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m, pytest.raises(OSError, match="No space left"):
        m.setattr(os, "replace", refuse)
        cassettes.save(path, "suites/s.yaml::a", [interaction], rerecord="harness run")
    _still_replays(project, path, old)


def test_a_leftover_temp_file_with_the_next_name_is_left_alone(project: Project, fake: FakeOpenAI,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A temp file's name is this process's pid and a serial number; a file already there under
    that name (a dead process's with the same pid) is neither written into nor removed by the save."""
    path, old = _recorded(project, fake)
    fake.stop()
    interaction = _with_another_answer(path)
    monkeypatch.setattr(files, "_serial", itertools.count(0))
    leftovers = [path.parent / f"{files.temp_prefix()}{n:x}.tmp" for n in range(3)]
    for leftover in leftovers:
        leftover.write_text("someone else's bytes")
    assert cassettes.save(path, "suites/s.yaml::a", [interaction], rerecord="harness run")
    assert path.read_bytes() != old and "another answer" in path.read_text()
    assert [p.read_text() for p in leftovers] == ["someone else's bytes"] * 3
    assert project.cassette_files() == sorted([path, *leftovers])
