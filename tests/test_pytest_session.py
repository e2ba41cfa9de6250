"""A case under pytest's runtest protocol: every phase's hooks run and are reported as for any test,
Python tests around cases keep their fixtures, and a session of cases leaves the process's garbage
collector and anyio's modules as it found them."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from harness.testing.fake_openai import FakeOpenAI

from conftest import record_for_pytester

SUITE = """\
model: gpt-4o
cases:
  - id: greet
    prompt: Say hello to Ada.
    checks:
      - contains: "Echo: Say hello"
  - id: wrong
    prompt: Say goodbye.
    checks:
      - contains: "bonjour"
  - id: later
    prompt: Not yet.
    skip: not recorded yet
"""

# Writes every report pytest hands the reporters (node, phase, outcome), and each phase hook the
# cases went through, to phases.json when the session ends.
CONFTEST = """
import json
import logging

import pytest

SEEN = []


def pytest_runtest_setup(item):
    SEEN.append([item.name, "setup hook"])


def pytest_runtest_teardown(item):
    SEEN.append([item.name, "teardown hook"])


def pytest_runtest_logreport(report):
    SEEN.append([report.nodeid.rpartition("::")[2], report.when, report.outcome])


def pytest_sessionfinish(session):
    with open("phases.json", "w") as fh:
        json.dump(SEEN, fh)
"""

# A Python test module beside the suites: a module-scoped fixture that logs its set-up and
# teardown, so the order shows whether pytest's set-up state stayed right around the cases.
TESTS = """
import pytest


def note(text):
    with open("order.log", "a") as fh:
        fh.write(text + "\\n")


@pytest.fixture(scope="module")
def resource():
    note("up {name}")
    yield
    note("down {name}")


def test_one(resource):
    pass


def test_two(resource):
    pass
"""
NOTE_CALLS = """

def pytest_runtest_call(item):
    with open("order.log", "a") as fh:
        fh.write(f"call {item.name}\\n")
"""


@pytest.fixture
def recorded(pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return record_for_pytester(pytester, fake, monkeypatch, SUITE, code=1)


def test_a_case_runs_every_phase_and_junit_gets_each_outcome(recorded: pytest.Pytester) -> None:
    recorded.makeconftest(CONFTEST)
    result = recorded.runpytest("suites", "--junitxml=out.xml", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    seen = json.loads((recorded.path / "phases.json").read_text())
    assert seen == [
        ["greet", "setup hook"], ["greet", "setup", "passed"], ["greet", "call", "passed"], ["greet", "teardown hook"],
        ["greet", "teardown", "passed"],
        ["wrong", "setup hook"], ["wrong", "setup", "passed"], ["wrong", "call", "failed"], ["wrong", "teardown hook"],
        ["wrong", "teardown", "passed"],
        # a skipped setup (pytest's skipping plugin, before other setup hooks) is reported as
        # pytest reports it, and its case never calls
        ["later", "setup", "skipped"], ["later", "teardown hook"],
        ["later", "teardown", "passed"],
    ]
    cases = {c.get("name"): c for c in ET.parse(recorded.path / "out.xml").iter("testcase")}
    assert set(cases) == {"greet", "wrong", "later"}
    assert cases["greet"].find("failure") is None and cases["greet"].find("skipped") is None
    failure = cases["wrong"].find("failure")
    assert failure is not None and "bonjour" in (failure.get("message", "") + (failure.text or ""))
    skipped = cases["later"].find("skipped")
    assert skipped is not None and "not recorded yet" in skipped.get("message", "")


def test_python_tests_around_cases_keep_their_fixtures_and_reports(recorded: pytest.Pytester) -> None:
    """Cases between two test modules: each module's fixture is set up and torn down once, in order,
    and the Python tests still get all three of pytest's reports."""
    recorded.makeconftest(CONFTEST + NOTE_CALLS)
    recorded.makepyfile(test_a=TESTS.format(name="a"), test_b=TESTS.format(name="b"))
    result = recorded.runpytest("test_a.py", "suites", "test_b.py", "-p", "no:randomly")
    result.assert_outcomes(passed=5, failed=1, skipped=1)
    assert (recorded.path / "order.log").read_text().splitlines() == [
        "up a", "call test_one", "call test_two", "down a", "call greet", "call wrong",
        "up b", "call test_one", "call test_two", "down b"]
    seen = json.loads((recorded.path / "phases.json").read_text())
    reports = [entry for entry in seen if len(entry) == 3]
    assert [r for r in reports if r[0] == "test_one"] == [
        ["test_one", "setup", "passed"], ["test_one", "call", "passed"], ["test_one", "teardown", "passed"],
    ] * 2


def test_exitfirst_and_pdb_hooks_see_a_failing_case(recorded: pytest.Pytester) -> None:
    recorded.makeconftest(CONFTEST + """

def pytest_exception_interact(node, call, report):
    SEEN.append([node.name, "interact", report.when])
""")
    result = recorded.runpytest("suites", "-x", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    seen = json.loads((recorded.path / "phases.json").read_text())
    assert ["wrong", "interact", "call"] in seen
    assert not any(entry[0] == "later" for entry in seen)  # -x stopped the session before it


def test_a_session_of_cases_leaves_the_garbage_collector_as_it_found_it(recorded: pytest.Pytester) -> None:
    """Cases are collected and run with the command's collector thresholds and freeze what
    collection built; an in-process caller gets its collector back as it was."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    recorded.makeconftest("""
import gc

def pytest_collection_modifyitems(items):
    with open("collecting.txt", "a") as fh:
        fh.write(f"{gc.get_threshold()[0]}\\n")

def pytest_runtest_call(item):
    with open("during.txt", "a") as fh:
        fh.write(f"{gc.get_freeze_count() > 0} {gc.get_threshold()[0]}\\n")
""")
    result = recorded.runpytest_inprocess("suites")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
    # while the suites loaded and the cases ran, the thresholds were the command's; while the
    # cases ran, collection's objects were frozen
    assert (recorded.path / "collecting.txt").read_text().splitlines() == ["200000"]
    assert set((recorded.path / "during.txt").read_text().splitlines()) == {"True 200000"}
    # a session with a Python test among the cases runs them with the default thresholds
    recorded.makepyfile(test_plain="def test_plain():\n    pass\n")
    (recorded.path / "during.txt").unlink()
    recorded.runpytest_inprocess("suites", "test_plain.py").assert_outcomes(passed=2, failed=1, skipped=1)
    assert set((recorded.path / "during.txt").read_text().splitlines()) == {f"True {threshold[0]}"}
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
    # a session that names no suite and opts none in collects as pytest always does
    (recorded.path / "pyproject.toml").write_text("")
    (recorded.path / "collecting.txt").unlink()
    recorded.runpytest_inprocess("test_plain.py").assert_outcomes(passed=1)
    assert (recorded.path / "collecting.txt").read_text().splitlines() == [str(threshold[0])]
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


def test_a_finalizer_error_in_garbage_is_still_reported(recorded: pytest.Pytester) -> None:
    """The collector's freeze at the end of a session of cases comes after a collection made while
    pytest still listens for finalizer errors: a cycle left by a test is collected and its error
    reported, as in any pytest session."""
    recorded.makepyfile(test_cycle="""
import gc


class Boom:
    def __del__(self):
        raise ValueError("finalizer boom")


def test_leaves_a_cycle():
    # No automatic collection from here on: only the collections at the session's end, around
    # harness's freeze, can find the cycle (one made by allocation would report it earlier,
    # in the warnings summary, whatever the freeze does).
    gc.disable()
    boom = Boom()
    boom.self = boom
""")
    result = recorded.runpytest_subprocess("suites", "test_cycle.py")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    # pytest's last collection, after the summary, reports it on stderr
    assert "PytestUnraisableExceptionWarning" in result.stderr.str()
    assert "ValueError: finalizer boom" in result.stderr.str()


# Counts the collector's full passes from the end of collection to the end of the session (after
# every other plugin's sessionfinish), into full.txt.
COUNT_FULL = """
import gc

import pytest

FULL = []


def _seen(phase, info):
    if phase == "start" and info["generation"] == 2:
        FULL.append(1)


def pytest_collection_finish(session):
    gc.callbacks.append(_seen)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    gc.callbacks.remove(_seen)
    with open("full.txt", "w") as fh:
        fh.write(str(len(FULL)))
"""


def test_a_session_of_cases_only_makes_no_last_collection(recorded: pytest.Pytester) -> None:
    """Cases alone end as the command ends, without a full pass of the collector; among other
    tests, the session still makes one while pytest listens for finalizer errors (the test
    above)."""
    recorded.makeconftest(COUNT_FULL)
    recorded.runpytest_inprocess("suites").assert_outcomes(passed=1, failed=1, skipped=1)
    assert (recorded.path / "full.txt").read_text() == "0"
    recorded.makepyfile(test_plain="def test_plain():\n    pass\n")
    recorded.runpytest_inprocess("suites", "test_plain.py").assert_outcomes(passed=2, failed=1, skipped=1)
    assert int((recorded.path / "full.txt").read_text()) >= 1


# pytest as its console script runs it, with one atexit callback registered before pytest loads
# any plugin, so it runs after theirs: it notes whether the collector still had objects frozen.
EXIT_PROBE = """
import atexit, gc, sys
import pytest

def probe():
    with open("exit.txt", "w") as fh:
        fh.write(str(gc.get_freeze_count() > 0))

atexit.register(probe)
sys.exit(pytest.console_main())
"""


def _probed(project: pytest.Pytester, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", EXIT_PROBE, "-p", "no:randomly", *args], cwd=project.path,
                          capture_output=True, text=True, check=False, timeout=120)


def test_a_process_of_cases_exits_without_the_collector_walking_what_is_left(recorded: pytest.Pytester) -> None:
    """A pytest process whose session ran cases ends as the command does: its exit status, its
    whole summary and every atexit callback, but what is left stays frozen, so the interpreter's
    teardown does not pass the collector over it. A process whose session ran no case, or ran
    other tests beside the cases (their finalizers are theirs to rely on), ends as pytest always
    does."""
    cases = _probed(recorded, "suites")
    assert cases.returncode == 1, cases.stderr
    assert "1 failed, 1 passed, 1 skipped" in cases.stdout.splitlines()[-1]
    assert (recorded.path / "exit.txt").read_text() == "True"
    recorded.makepyfile(test_plain="def test_plain():\n    pass\n")
    plain = _probed(recorded, "test_plain.py")
    assert plain.returncode == 0 and "1 passed" in plain.stdout.splitlines()[-1], plain.stdout
    assert (recorded.path / "exit.txt").read_text() == "False"
    mixed = _probed(recorded, "suites", "test_plain.py")
    assert mixed.returncode == 1 and "1 failed, 2 passed, 1 skipped" in mixed.stdout.splitlines()[-1], mixed.stdout
    assert (recorded.path / "exit.txt").read_text() == "False"


def _loads_before(first: str, then: str) -> bool:
    """Whether pytest loads the plugin of distribution ``first`` before that of ``then``."""
    import importlib.metadata

    order = [d.metadata["Name"] for d in importlib.metadata.distributions()
             if any(ep.group == "pytest11" for ep in d.entry_points)]
    return first in order and then in order and order.index(first) < order.index(then)


def test_anyio_library_is_not_rewritten_and_a_second_session_does_not_warn(pytester: pytest.Pytester) -> None:
    """anyio's plugin module is rewritten as pytest wants; its library (the asyncio backend the
    plugin imports as it loads) is loaded from bytecode; an in-process session after the first
    finds nothing to warn about."""
    if not _loads_before("prompt-harness", "anyio"):
        pytest.skip("this environment lists anyio's pytest plugin before harness's")
    pytester.makeconftest("""
import sys

def pytest_configure(config):
    with open("loaders.txt", "w") as fh:
        for name in ("anyio", "anyio.pytest_plugin", "anyio._backends._asyncio"):
            fh.write(f"{name} {type(sys.modules[name].__loader__).__name__}\\n")
""")
    pytester.makepyfile(test_one="def test_one():\n    assert 1\n")
    pytester.runpytest_subprocess("-W", "error::pytest.PytestAssertRewriteWarning").assert_outcomes(passed=1)
    assert (pytester.path / "loaders.txt").read_text().splitlines() == [
        "anyio AssertionRewritingHook", "anyio.pytest_plugin AssertionRewritingHook",
        "anyio._backends._asyncio SourceFileLoader"]
    inner = pytester.runpytest_inprocess()
    inner.assert_outcomes(passed=1)
    assert "cannot be rewritten" not in inner.stdout.str()
