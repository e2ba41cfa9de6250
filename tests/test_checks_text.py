"""Text and grouping checks, on passing and failing answers, through bind + run like a suite."""

from __future__ import annotations

import time

import pytest

from harness.errors import UserError

from checkutil import SUITE_FILE, bind_check, fails, make_ctx, passes, run_check

FENCED = "Here you go:\n```python\nprint('hi')\n```\n"
HUGE = ("lorem ipsum dolor sit amet. " * 40_000)[:1_000_000] + " NEEDLE"


def ok(spec, answer, **kw):
    return passes(spec, make_ctx(answer, **kw))


def bad(spec, answer, **kw):
    return fails(spec, make_ctx(answer, **kw))


# ---------------------------------------------------------------- equals / contains

def test_equals():
    ok({"equals": "Paris"}, "  Paris\n")
    v = bad({"equals": "Paris"}, "paris")
    assert "expected 'Paris', got 'paris'" in v.reason
    ok({"equals": ""}, "")
    ok({"equals": 42}, "42")


def test_contains_and_negation():
    ok({"contains": "Paris"}, "It is Paris.")
    v = bad({"contains": "Paris"}, "It is Lyon.")
    assert "'Paris' not found in 'It is Lyon.'" in v.reason
    bad({"contains": "Paris"}, "")
    ok({"not-contains": "Lyon"}, "It is Paris.")
    v = bad({"not-contains": "Paris"}, "It is Paris.")
    assert v.name == "not-contains" and v.reason.startswith("expected not:")


def test_icontains_unicode_casefold():
    ok({"icontains": "STRASSE"}, "Die Straße ist lang")
    ok({"icontains": "ÉCOLE"}, "une école")
    v = bad({"icontains": "x"}, "abc")
    assert "(ignoring case)" in v.reason
    bad({"contains": "ÉCOLE"}, "une école")


def test_contains_any_all():
    ok({"contains-any": ["a", "zzz"]}, "a b c")
    v = bad({"contains-any": ["x", "y"]}, "a b c")
    assert "none of ['x', 'y']" in v.reason
    ok({"contains-all": ["a", "c"]}, "a b c")
    v = bad({"contains-all": ["a", "x", "y"]}, "a b c")
    assert "missing ['x', 'y']" in v.reason and "1 of 3" in v.reason
    ok({"icontains-any": ["PARIS"]}, "paris")
    ok({"icontains-all": ["ΣΊΣΥΦΟΣ", "b"]}, "σίσυφος B")
    bad({"icontains-all": ["paris", "rome"]}, "PARIS")
    ok({"not-contains-any": ["x", "y"]}, "abc")


def test_code_fences_are_just_text():
    ok({"contains": "print('hi')"}, FENCED)
    ok({"starts-with": "Here"}, FENCED)
    ok({"ends-with": "```"}, FENCED)
    ok({"regex": r"```python\n.*\n```"}, FENCED)


# ---------------------------------------------------------------- starts / ends / regex

def test_starts_ends_with():
    ok({"starts-with": "Yes"}, "\n  Yes, indeed.")
    v = bad({"starts-with": "Yes"}, "No, never.")
    assert "expected to start with 'Yes', got 'No, never.'" in v.reason
    ok({"ends-with": "indeed."}, "Yes, indeed.\n")
    v = bad({"ends-with": "!"}, "Yes.")
    assert "expected to end with '!'" in v.reason
    bad({"starts-with": "a"}, "")
    bad({"ends-with": "a"}, "")


def test_regex_and_flags():
    ok({"regex": r"\d{3}-\d{4}"}, "call 555-1234")
    v = bad({"regex": r"^\d+$"}, "abc")
    assert "/^\\d+$/ did not match 'abc'" in v.reason
    bad({"regex": "hello"}, "HELLO")
    ok({"regex": {"pattern": "hello", "flags": "i"}}, "HELLO")
    ok({"regex": {"pattern": "^b", "flags": "m"}}, "a\nb")
    ok({"regex": {"pattern": "a.b", "flags": "s"}}, "a\nb")
    ok({"not-regex": r"\bforbidden\b"}, "all fine")
    v = bad({"not-regex": r"\bforbidden\b"}, "this is forbidden")
    assert v.name == "not-regex"
    ok({"regex": "^$"}, "")
    ok({"regex": "日本"}, "日本語")


# ---------------------------------------------------------------- length

def test_length_units():
    text = "One sentence here. Another one!\n\nSecond paragraph? Yes.\nA line without stop"
    ok({"length": {"words": {"min": 5, "max": 20}}}, text)
    ok({"length": {"sentences": {"min": 5, "max": 5}}}, text)
    ok({"length": {"lines": {"max": 4, "min": 4}}}, text)
    ok({"length": {"paragraphs": {"min": 2, "max": 2}}}, text)
    ok({"length": {"chars": {"max": 200}, "words": {"max": 50}}}, text)
    v = bad({"length": {"words": {"max": 3}}}, text)
    assert "words: 12 > max 3" in v.reason
    v = bad({"length": {"chars": {"min": 5}}}, "abc")
    assert "chars: 3 < min 5" in v.reason


def test_length_edge_cases():
    for unit in ("chars", "words", "sentences", "lines", "paragraphs"):
        ok({"length": {unit: {"max": 0}}}, "   ")
        bad({"length": {unit: {"min": 1}}}, "")
    ok({"length": {"chars": {"max": 3, "min": 3}}}, "日本語")  # code points, not bytes
    ok({"length": {"min": 1, "max": 5}}, "abc")  # bare bounds count characters
    ok({"length": {"sentences": {"max": 1}}}, "π is 3.14 roughly")
    ok({"length": {"sentences": {"min": 2}}}, "中文。句子！")


@pytest.mark.parametrize("arg", [
    {}, {"words": 5}, {"tokens": {"max": 1}}, {"words": {"max": -1}}, {"words": {"min": 5, "max": 2}},
    {"words": {"maximum": 3}}, {"words": {"max": 1.5}}, {"words": {"max": True}}, "10",
])
def test_length_bad_arguments(arg):
    with pytest.raises(UserError) as err:
        bind_check({"length": arg}, line=12)
    assert err.value.file == SUITE_FILE and err.value.line == 12


@pytest.mark.parametrize("spec", [
    {"contains": None}, {"contains": ""}, {"contains": ["a"]}, {"contains-any": []},
    {"contains-any": "a"}, {"contains-all": ["a", ""]}, {"icontains-any": [None]},
    {"starts-with": {"x": 1}}, {"regex": "("}, {"regex": {"pattern": "a", "flags": "q"}},
    {"regex": {"pattern": "a", "flag": "i"}}, {"equals": [1]}, {"contians": "x"},
])
def test_text_bad_arguments(spec):
    with pytest.raises(UserError) as err:
        bind_check(spec, line=3)
    assert err.value.line == 3 and err.value.file == SUITE_FILE


def test_unknown_check_suggests():
    with pytest.raises(UserError, match="did you mean contains"):
        bind_check({"contians": "x"})


# ---------------------------------------------------------------- huge answers

@pytest.mark.parametrize("spec", [
    {"contains": "NEEDLE"}, {"icontains": "needle"}, {"contains-all": ["lorem", "NEEDLE"]},
    {"icontains-any": ["zzz", "needle"]}, {"ends-with": "NEEDLE"}, {"starts-with": "lorem"},
    {"regex": r"NEEDLE$"}, {"length": {"words": {"min": 100_000}, "sentences": {"min": 1000},
                                       "paragraphs": {"max": 1}, "lines": {"max": 1}}},
    {"not-contains": "absent"},
])
def test_huge_answer_is_fast(spec):
    ctx = make_ctx(HUGE)
    start = time.perf_counter()
    v = run_check(spec, ctx)
    assert v.passed, v.reason
    assert time.perf_counter() - start < 20.0  # a linear scan takes milliseconds; quadratic, minutes
    assert len(v.reason) < 400  # reasons are trimmed, never the whole answer


def test_huge_answer_failure_reason_is_trimmed():
    v = run_check({"contains": "absent"}, make_ctx(HUGE))
    assert not v.passed and len(v.reason) < 300 and "…" in v.reason


# ---------------------------------------------------------------- groups

def test_all_of():
    ok({"all-of": ["is-json", {"contains": "a"}]}, '{"a": 1}')
    v = bad({"all-of": [{"contains": "a"}, {"contains": "z"}, {"regex": "^{"}]}, '{"a": 1}')
    assert v.reason.startswith("1 of 3 failed")
    assert "[pass] contains" in v.reason and "[FAIL] contains: 'z' not found" in v.reason
    assert [c["passed"] for c in v.details["checks"]] == [True, False, True]


def test_any_of_and_nesting():
    ok({"any-of": [{"contains": "x"}, {"contains": "a"}]}, "a")
    v = bad({"any-of": [{"contains": "x"}, {"not-contains": "a"}]}, "a")
    assert v.reason.startswith("none of 2 passed") and "[FAIL] not-contains" in v.reason
    nested = {"any-of": [{"all-of": [{"contains": "a"}, {"contains": "b"}]}, {"equals": "c"}]}
    ok(nested, "a b")
    ok(nested, "c")
    bad(nested, "a")
    ok({"not-all-of": [{"contains": "a"}, {"contains": "b"}]}, "a")


def test_group_errors_are_error_verdicts():
    # tokens without usage cannot judge: all-of with no failure -> error; any-of with a pass -> pass
    ctx = make_ctx("a")
    v = run_check({"all-of": [{"contains": "a"}, {"tokens": {"total": {"max": 5}}}]}, ctx)
    assert v.error and "could not judge" in v.reason
    v = run_check({"any-of": [{"contains": "a"}, {"tokens": {"total": {"max": 5}}}]}, ctx)
    assert v.passed and not v.error
    v = run_check({"all-of": [{"contains": "z"}, {"tokens": {"total": {"max": 5}}}]}, ctx)
    assert not v.passed and not v.error  # a real failure decides


@pytest.mark.parametrize("arg, message", [
    ([], "non-empty list"),
    ("contains", "non-empty list"),
    ([{"contains": "a", "regex": "b"}], "one-key mapping"),
    ([{"contians": "a"}], "all-of item 1: unknown check 'contians'"),
    ([{"contains": "a"}, {"regex": "("}], "all-of item 2: bad argument for check 'regex'"),
    ([{"any-of": [{"length": {"words": 5}}]}], "all-of item 1: any-of item 1: bad argument"),
])
def test_group_bad_arguments_located(arg, message):
    with pytest.raises(UserError) as err:
        bind_check({"all-of": arg}, line=21)
    assert message in str(err.value)
    assert err.value.file == SUITE_FILE and err.value.line == 21
