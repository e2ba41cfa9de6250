"""The CI switch: with CI=true a skip fails the run, so a missing install step cannot hide."""

from __future__ import annotations

import pytest

SOURCE = """
import pytest

def test_runs():
    pass

@pytest.mark.skipif(True, reason="chromium is not installed")
def test_needs_chromium():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""

MODULE_SKIP = """
import pytest
pytest.skip("reference data not found", allow_module_level=True)

def test_never():
    pass
"""


@pytest.mark.parametrize("ci", ["true", ""])
def test_a_skip_fails_only_under_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_one=SOURCE)
    result = pytester.runpytest("-p", "ci_strict", "-rfs")
    if ci:
        # a skipif acts while setting up the test: it is reported as an error there
        result.assert_outcomes(passed=1, errors=1, xfailed=1)
        assert result.ret != 0
        result.stdout.fnmatch_lines(["*skipped under CI=true*chromium is not installed*"])
    else:
        result.assert_outcomes(passed=1, skipped=1, xfailed=1)


def test_a_module_level_skip_fails_under_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_data=MODULE_SKIP)
    result = pytester.runpytest("-p", "ci_strict")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*skipped under CI=true*reference data not found*"])
