"""How the command ends: it skips the interpreter's teardown, but not what an exit owes.

The console script leaves without freeing every value one by one; what a process must still do
at its end is done: the exit status is the run's, everything printed reaches a pipe, and the
atexit callbacks (log handlers, coverage's data, temporary folders) run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from harness.testing.fake_openai import FakeOpenAI

from conftest import Project

# The console script's entry point, with one atexit callback of the kind a tool wrapping the
# command (coverage, a sitecustomize) registers.
ENTRY = textwrap.dedent("""
    import atexit, sys
    from harness.cli import entry
    atexit.register(lambda: sys.stdout.write("atexit callback ran\\n"))
    entry()
""")


def _command(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=project.root, capture_output=True,
                          text=True, check=False)


def test_the_command_ends_with_its_status_its_whole_output_and_the_atexit_callbacks(
        project: Project, fake: FakeOpenAI) -> None:
    cases = "".join(f"  - id: c{i}\n    prompt: \"question {i}\"\n" for i in range(200))
    project.suite("s.yaml", "name: s\nmodel: gpt-4o\nchecks: [{contains: \"Echo\"}]\ncases:\n" + cases)
    project.suite("f.yaml", "name: f\nmodel: gpt-4o\ncases:\n  - id: miss\n    prompt: hi\n"
                            "    checks: [{contains: \"never in an echo\"}]\n")
    assert project.record(fake, "suites").code == 1  # f.yaml fails: its answer is recorded anyway
    fake.stop()

    passed = _command(project, "run", "suites/s.yaml", "--report", "junit=out.xml")
    assert passed.returncode == 0, passed.stderr
    assert "200 passed" in passed.stdout and passed.stdout.endswith("atexit callback ran\n"), passed.stdout
    assert (project.root / "out.xml").read_text().rstrip().endswith("</testsuites>")

    failed = _command(project, "run", "suites/f.yaml")
    assert failed.returncode == 1
    assert "1 failed" in failed.stdout and failed.stdout.endswith("atexit callback ran\n"), failed.stdout

    broken = _command(project, "run", "suites/nowhere.yaml")
    assert broken.returncode == 2 and "Traceback" not in broken.stderr, broken.stderr
    assert broken.stdout.endswith("atexit callback ran\n")


def test_a_profiled_command_still_writes_its_profile(project: Project, fake: FakeOpenAI) -> None:
    """``python -m cProfile -o out -m harness.cli`` writes its results after the program returns:
    under a profiler the command ends the ordinary way, so the profile is there."""
    project.suite("s.yaml", "name: s\nmodel: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n")
    assert project.record(fake, "suites").code == 0
    fake.stop()
    profile = project.root / "run.prof"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "harness.cli", "run",
                           "suites"], cwd=project.root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "1 passed" in done.stdout
    assert profile.stat().st_size > 0
