"""A cold replay's helper process (harness/cassettes/prefetch.py): it gives the run exactly what the run would
read itself, sends nothing for a file the run must report, never outlives the run, and a replay
with it prints and reports what a replay without it does, broken cassettes included.

The helper forks, so everything that forks runs in a fresh single-threaded interpreter: a pytest
worker has threads of its own, and the helper is (rightly) never forked beside other threads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from harness.cassettes import prefetch
from harness.testing.fake_openai import FakeOpenAI

from conftest import OPTED_IN_PYPROJECT, Project

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
                                reason="the helper is forked only on Linux with two or more CPUs")

COUNT = prefetch.MIN_CASES + 20

SUITE = "name: many\nmodel: gpt-4o\nprompt: Say hi to the reviewer.\nchecks:\n  - contains: Echo\ncases:\n" + \
    "".join(f"  - id: c{i:03d}\n" for i in range(COUNT))


def _recorded(project: Project, fake: FakeOpenAI) -> Path:
    """The suite of COUNT cases with the same request, each with a copy of the one recorded cassette."""
    project.suite("many.yaml", SUITE)
    assert project.record(fake, "suites/many.yaml::c000", "-q").code == 0
    fake.stop()
    folder = project.root / "cassettes" / "many"
    first = (folder / "c000.yaml").read_bytes()
    for i in range(1, COUNT):
        (folder / f"c{i:03d}.yaml").write_bytes(first)
    return folder


def _env(*, helper: bool = True) -> dict[str, str]:
    """A command's environment as a CI job's (CI=true: no parse cache, so the helper's case), without
    keys or pytest's own variables; ``helper=False`` turns the helper off."""
    env = {k: v for k, v in os.environ.items()
           if "KEY" not in k and not k.startswith("PYTEST_") and k != "HARNESS_NO_PREFETCH"}
    env.update(CI="true", COLUMNS="200")
    if not helper:
        env["HARNESS_NO_PREFETCH"] = "1"
    return env


def _break(folder: Path) -> None:
    """Cassettes a replay must report, each naming its file: not YAML, not UTF-8, gone, a folder,
    a symlink leading out of the cassette folder."""
    (folder / "c401.yaml").write_text("interactions: [unclosed\n")
    (folder / "c402.yaml").write_bytes(b"\xff\xfe not utf-8")
    (folder / "c403.yaml").unlink()
    (folder / "c404.yaml").unlink()
    (folder / "c404.yaml").mkdir()
    outside = folder.parent.parent / "outside.yaml"
    outside.write_bytes((folder / "c000.yaml").read_bytes())
    (folder / "c405.yaml").unlink()
    (folder / "c405.yaml").symlink_to(outside)


HELPER_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from harness import cassettes
    from harness.cassettes import prefetch
    folder, count = Path(sys.argv[1]), int(sys.argv[2])
    root = folder.parent
    jobs = [(folder / f"c{i:03d}.yaml", root) for i in range(count)]
    helper = prefetch.Prefetch.start(jobs)
    assert helper is not None, "the helper was not started"
    pid = helper._pid
    assert helper.join(60), "the helper did not finish"
    out = {"served": [], "not_served": [], "different": []}
    for i, (path, root) in enumerate(jobs):
        taken = helper.take(path)
        try:
            mine = ("ok", cassettes.load(path, root=root))
        except Exception as exc:
            mine = ("error", str(exc))
        if taken is None:
            out["not_served"].append(i)
        else:
            out["served"].append(i)
            if ("ok", taken[0]) != mine:
                out["different"].append(i)
    out["not_in_jobs"] = helper.take(folder / "elsewhere.yaml") is None
    out["count"] = helper.served
    helper.close()
    try:
        os.kill(pid, 0)
        out["reaped"] = False
    except ProcessLookupError:
        out["reaped"] = True
    print(json.dumps(out))
""")


def test_the_helper_gives_what_load_gives_and_nothing_for_a_file_the_run_must_report(
        project: Project, fake: FakeOpenAI) -> None:
    folder = _recorded(project, fake)
    _break(folder)
    env = _env()
    done = subprocess.run([sys.executable, "-c", HELPER_SCRIPT, str(folder), str(COUNT)], cwd=project.root,
                          check=False, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # Every readable cassette came from the helper and equals what load() returns here; the gone one
    # is served as "no cassette" (None), as load() says; the unreadable ones are left to the run.
    assert out["not_served"] == [401, 402, 404, 405]
    assert len(out["served"]) == COUNT - 4 and 403 in out["served"]
    assert out["different"] == []
    assert out["count"] == COUNT - 4
    assert out["not_in_jobs"] is True
    assert out["reaped"] is True


def _replay(root: Path, *, helper: bool) -> tuple[int, str, dict[str, object]]:
    env = _env(helper=helper)
    report = root / ("with.json" if helper else "without.json")
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "suites", "--report", f"json={report}"],
                          cwd=root, check=False, capture_output=True, text=True, env=env, timeout=300)
    shown = re.sub(r"in \d+\.\d+s", "in _s", done.stdout + done.stderr)
    shown = shown.replace(str(report.name), "REPORT.json")
    data = json.loads(report.read_text())
    cases = {c["id"]: (c["status"], c.get("message"), (c.get("answer") or {}).get("text")) for c in data["cases"]}
    return done.returncode, shown, cases


def test_a_replay_with_the_helper_prints_and_reports_what_one_without_it_does(
        project: Project, fake: FakeOpenAI) -> None:
    folder = _recorded(project, fake)
    _break(folder)
    (folder / "c399.yaml").write_text((folder / "c000.yaml").read_text().replace("Echo", "Hello"))
    with_code, with_text, with_cases = _replay(project.root, helper=True)
    without_code, without_text, without_cases = _replay(project.root, helper=False)
    assert with_code == without_code == 3  # a missing cassette (c403) decides the status
    assert with_text == without_text
    assert with_cases == without_cases
    assert with_cases["c399"][0] == "failed"  # its answer lost "Echo"
    assert "c404.yaml" in with_text and "not a regular file" in with_text


def test_no_helper_for_few_cases_a_warm_run_or_when_turned_off(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(prefetch.CACHE, "active", lambda: False)
    monkeypatch.delenv("HARNESS_NO_PREFETCH", raising=False)
    monkeypatch.setattr(prefetch, "_single_threaded", lambda: True)  # a pytest worker has threads
    monkeypatch.setattr(prefetch, "CPU_MAX", tmp_path / "missing")
    assert prefetch.wanted(prefetch.MIN_CASES)
    assert not prefetch.wanted(prefetch.MIN_CASES - 1)
    monkeypatch.setenv("HARNESS_NO_PREFETCH", "1")
    assert not prefetch.wanted(10_000)
    monkeypatch.delenv("HARNESS_NO_PREFETCH")
    monkeypatch.setattr(prefetch.CACHE, "active", lambda: True)  # a warm run reads its cache
    assert not prefetch.wanted(10_000)


def test_no_helper_in_a_container_limited_to_one_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(prefetch.CACHE, "active", lambda: False)
    monkeypatch.setattr(prefetch, "_single_threaded", lambda: True)
    monkeypatch.delenv("HARNESS_NO_PREFETCH", raising=False)
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(prefetch, "CPU_MAX", quota)
    quota.write_text("100000 100000\n")  # one CPU's worth of time, whatever the affinity says
    assert not prefetch.wanted(10_000)
    quota.write_text("200000 100000\n")
    assert prefetch.wanted(10_000)
    quota.write_text("max 100000\n")
    assert prefetch.wanted(10_000)


def test_no_helper_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch.CACHE, "active", lambda: False)
    monkeypatch.delenv("HARNESS_NO_PREFETCH", raising=False)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not prefetch.wanted(10_000)
        assert prefetch.Prefetch.start([(Path("x.yaml"), None)] * 10_000) is None
    finally:
        release.set()
        other.join()


def _door(root: Path, *, helper: bool) -> tuple[int, str]:
    env = _env(helper=helper)
    done = subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "-rA"],
                          check=False, cwd=root, capture_output=True, text=True, env=env, timeout=300)
    return done.returncode, re.sub(r"in \d+\.\d+s", "in _s", done.stdout)


def test_the_pytest_door_with_the_helper_gives_what_it_gives_without(project: Project, fake: FakeOpenAI) -> None:
    folder = _recorded(project, fake)
    _break(folder)
    (folder / "c399.yaml").write_text((folder / "c000.yaml").read_text().replace("Echo", "Hello"))
    (project.root / "pyproject.toml").write_text(OPTED_IN_PYPROJECT)
    with_code, with_text = _door(project.root, helper=True)
    without_code, without_text = _door(project.root, helper=False)
    assert with_code == without_code == 1
    assert with_text == without_text
    assert f"{COUNT - 6} passed" in with_text  # c399 fails, c401-c405 cannot be replayed
    assert "many.yaml::c404" in with_text and "not a regular file" in with_text


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie nobody reaped yet counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def test_the_helper_ends_when_the_run_is_killed(project: Project, fake: FakeOpenAI) -> None:
    """A run killed before it could stop its helper (SIGKILL, a CI job cancelled) leaves no process
    behind, even one waiting for the run to catch up."""
    folder = _recorded(project, fake)
    script = textwrap.dedent("""
        import os, sys, time
        from pathlib import Path
        from harness.cassettes import prefetch
        folder, count = Path(sys.argv[1]), int(sys.argv[2])
        jobs = [(folder / f"c{i % count:03d}.yaml", folder.parent) for i in range(3000)]
        helper = prefetch.Prefetch.start(jobs)
        print(helper._pid, flush=True)
        # The run reads what the helper sends but takes nothing: the helper goes as far ahead as it
        # may, then waits for the run to move on.
        assert not helper.join(1.0)
        os._exit(0)  # no close(): as if killed
    """)
    env = _env()
    done = subprocess.run([sys.executable, "-c", script, str(folder), str(COUNT)], check=False,
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[0])
    for _ in range(200):
        if _gone(pid):
            break
        time.sleep(0.05)
    assert _gone(pid)


def test_harness_diff_with_the_helper_gives_what_it_gives_without(project: Project, fake: FakeOpenAI) -> None:
    """`harness diff --base REF` replays two trees; with helpers (one per tree) its comparison is the
    one made without them."""
    from test_diff_git import git

    folder = _recorded(project, fake)
    git(project.root, "init", "-q")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "base")
    (folder / "c399.yaml").write_text((folder / "c000.yaml").read_text().replace("Echo", "Hello"))
    (folder / "c010.yaml").unlink()
    outputs = []
    for helper in (True, False):
        done = subprocess.run([sys.executable, "-m", "harness.cli", "diff", "--base", "HEAD", "suites"],
                              check=False, cwd=project.root, capture_output=True, text=True,
                              env=_env(helper=helper), timeout=300)
        outputs.append((done.returncode, re.sub(r"\d+\.\d+ ?s\b", "_s", done.stdout + done.stderr)))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] != 0 and "c399" in outputs[0][1] and "c010" in outputs[0][1]
