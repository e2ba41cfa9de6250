"""The runtest protocol of a prompt case: pytest's three phases and their hooks, one report fewer.

pytest runs an item in three phases (setup, call, teardown). Each phase runs its hook, wrapped by
every plugin (capture, logging, skipping, unraisable and thread exceptions), and then makes a
report that every reporting plugin handles. On a replayed case the reports were most of that
cost, and one of them tells nobody anything: a passed setup report, which no reporter shows,
counts or writes (the terminal, JUnit XML, --lf, --sw and -x look at failed or skipped setups,
at calls, and at teardowns, where JUnit XML closes a test case).

So a case's protocol is pytest's, hook for hook (``pytest_runtest_setup``, ``_call``, ``_teardown``
with everything that wraps them; ``pytest_runtest_makereport``, ``_logreport``,
``pytest_exception_interact``), except that a setup that passes makes no report. A setup that fails
or skips (``skip:`` in the suite, a mark another plugin added) is reported as pytest reports it.
With ``--setup-only``, ``--setup-show`` or ``--setup-plan``, pytest's own protocol runs the case.
"""

from __future__ import annotations

import bdb
import sys
from typing import Literal

import pytest


def _reraised(config: pytest.Config) -> tuple[type[BaseException], ...]:
    """What pytest lets out of a phase instead of reporting it (its runner's rule)."""
    if config.getoption("usepdb", False):
        return (pytest.exit.Exception,)
    return (pytest.exit.Exception, KeyboardInterrupt)


def _interactive(call: pytest.CallInfo[None], report: pytest.TestReport) -> bool:
    """Whether ``--pdb`` and plugins like it are handed the exception (pytest's runner's rule)."""
    if call.excinfo is None or hasattr(report, "wasxfail"):
        return False
    unittest = sys.modules.get("unittest")
    quiet: tuple[type[BaseException], ...] = (pytest.skip.Exception, bdb.BdbQuit)
    if unittest is not None:
        quiet += (unittest.SkipTest,)
    return not isinstance(call.excinfo.value, quiet)


def _report(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    ihook = item.ihook
    report: pytest.TestReport = ihook.pytest_runtest_makereport(item=item, call=call)
    ihook.pytest_runtest_logreport(report=report)
    if _interactive(call, report):
        ihook.pytest_exception_interact(node=item, call=call, report=report)
    return report


def _phase(item: pytest.Item, when: Literal["setup", "call", "teardown"],
           nextitem: pytest.Item | None = None) -> pytest.CallInfo[None]:
    ihook = item.ihook
    if when == "setup":
        return pytest.CallInfo.from_call(lambda: ihook.pytest_runtest_setup(item=item), when=when,
                                         reraise=_reraised(item.config))
    if when == "call":
        return pytest.CallInfo.from_call(lambda: ihook.pytest_runtest_call(item=item), when=when,
                                         reraise=_reraised(item.config))
    return pytest.CallInfo.from_call(lambda: ihook.pytest_runtest_teardown(item=item, nextitem=nextitem),
                                     when=when, reraise=_reraised(item.config))


def run_case(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Run ``item`` (True), or None where pytest's own protocol must (the setup display options)."""
    option = item.config.option
    if getattr(option, "setuponly", False) or getattr(option, "setupshow", False) \
            or getattr(option, "setupplan", False):
        return None
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    setup = _phase(item, "setup")
    if setup.excinfo is not None:
        _report(item, setup)
    else:
        _report(item, _phase(item, "call"))
    # As pytest does: when the session is about to stop, everything is torn down now.
    if item.session.shouldfail or item.session.shouldstop:
        nextitem = None
    _report(item, _phase(item, "teardown", nextitem))
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
