"""``python:`` checks: import at bind time, every return shape, and the errors a user can make.

The functions live in tests/fixtures/checks/checkfixture_funcs.py, beside the (notional) suite file
that checkutil gives every CheckSpec, so they import the way a suite's own module would.
"""

from __future__ import annotations

import pytest

from harness.checks.custom import to_result
from harness.checks.registry import CheckError, Result
from harness.errors import UserError

from checkutil import SUITE_FILE, bind_check, make_ctx, run_check

MOD = "checkfixture_funcs"


def verdict(target, answer="", **arg):
    spec = {"python": {"function": f"{MOD}:{target}", **arg}} if arg else {"python": f"{MOD}:{target}"}
    return run_check(spec, make_ctx(answer))


def test_bool():
    assert verdict("says_hello", "Hello there").passed
    v = verdict("says_hello", "Bye")
    assert not v.passed and not v.error and "returned False" in v.reason


def test_score_threshold_and_args():
    v = verdict("score_len", "12345")  # 5 / 10
    assert v.passed and v.score == 0.5 and "score 0.5 >= threshold 0.5" in v.reason
    v = verdict("score_len", "12345", threshold=0.8)
    assert not v.passed and "score 0.5 < threshold 0.8" in v.reason
    v = verdict("score_len", "12345", args={"target": 5})
    assert v.passed and v.score == 1.0


def test_tuple_dict_result():
    v = verdict("with_reason", "ok")
    assert v.passed and v.reason == "looked for ok in 2 chars"
    assert not verdict("with_reason", "no").passed
    v = verdict("as_dict", "yes")
    assert v.passed and v.score == 1.0 and v.reason == "said yes"
    assert not verdict("as_dict", "no").passed
    v = verdict("dict_score_only")
    assert v.passed and v.reason == "fairly good" and v.score == 0.7
    assert not verdict("dict_score_only", threshold=0.9).passed
    v = verdict("as_result")
    assert v.passed and v.reason == "custom result" and v.score == 0.9


def test_the_case_is_passed_in():
    assert verdict("needs_case", "case-1!").passed
    assert verdict("needs_case", "case-1!", args={"suffix": "!"}).passed
    assert not verdict("needs_case", "case-1", args={"suffix": "!"}).passed


def test_negation():
    v = run_check({"not-python": f"{MOD}:says_hello"}, make_ctx("bye"))
    assert v.passed


@pytest.mark.parametrize("target, message", [
    ("returns_none", "returned NoneType None; expected a bool"),
    ("returns_bad_score", "returned the score 1.5; a score must be a number in 0..1"),
    ("raises", "checkfixture_funcs:raises raised RuntimeError: boom"),
])
def test_bad_returns_are_error_verdicts(target, message):
    v = verdict(target, "x")
    assert v.error and not v.passed
    assert message in v.reason


def test_to_result_shapes():
    assert to_result(True, target="t", threshold=0.5).passed
    assert to_result((0.9, "good"), target="t", threshold=0.5) == Result(True, "good", score=0.9)
    assert to_result({"passed": False}, target="t", threshold=0.5).passed is False
    for value in ({"reason": "x"}, {"pass": "yes"}, float("nan"), -0.1, [True], "pass",
                  {"score": 2}):
        with pytest.raises(CheckError):
            to_result(value, target="t", threshold=0.5)


@pytest.mark.parametrize("arg, message", [
    ("checkfixture_funcs", "expected 'package.module:function'"),
    ("checkfixture_funcs.says_hello", "expected 'package.module:function'"),
    ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
    ("checkfixture_broken:f", "cannot import 'checkfixture_broken'"),
    ("checkfixture_funcs:nope", "has no attribute 'nope'"),
    ("checkfixture_funcs:NOT_CALLABLE", "is not a function (found int 42)"),
    ({"function": f"{MOD}:says_hello", "threshold": 2}, "threshold must be a number in 0..1"),
    ({"function": f"{MOD}:says_hello", "args": [1]}, "args must be a mapping"),
    ({"function": f"{MOD}:says_hello", "arg": {}}, "unknown keys ['arg']"),
    ({"fn": f"{MOD}:says_hello"}, "expected 'package.module:function'"),
])
def test_bind_errors_name_the_check_and_target(arg, message):
    with pytest.raises(UserError) as err:
        bind_check({"python": arg}, line=14)
    assert message in str(err.value)
    assert err.value.file == SUITE_FILE and err.value.line == 14
    if isinstance(arg, str) and ":" in arg:
        assert "check 'python'" in str(err.value) and repr(arg) in str(err.value)
