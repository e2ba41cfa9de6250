"""answer_diff: JSON and tool arguments compared structurally, prose as text, exclusions honoured."""

from __future__ import annotations

import json

import pytest

from harness.diff import DiffOptions, answer_diff, change_from_json, change_to_json, similarity
from harness.errors import UserError
from harness.output import Output, ToolCall


def _json(value: object) -> Output:
    return Output(json.dumps(value))


def test_identical_answers_are_unchanged() -> None:
    change = answer_diff(Output("same words"), Output("same words"))
    assert not change.changed and change.kind == "unchanged" and change.similarity == 1.0


def test_prose_gets_a_unified_diff_and_a_similarity() -> None:
    change = answer_diff(Output("The sea is calm.\nBirds fly."), Output("The sea is rough.\nBirds fly."))
    assert change.changed and change.kind == "text"
    assert "-The sea is calm." in change.text_diff and "+The sea is rough." in change.text_diff
    assert " Birds fly." in change.text_diff
    assert 0.6 < change.similarity < 1.0
    assert "similarity" in change.summary


def test_json_is_compared_by_value_not_by_text() -> None:
    same = answer_diff(Output('{"a": 1, "b": [1, 2]}'), Output('{\n  "b": [1, 2],\n  "a": 1\n}'))
    assert not same.changed
    change = answer_diff(_json({"a": 1, "b": [1, 2]}), _json({"a": 2, "b": [1, 2], "c": True}))
    assert change.changed and change.kind == "json"
    items = {i["path"]: i for i in change.details["json"]}
    assert items["root['a']"] == {"path": "root['a']", "change": "changed", "old": 1, "new": 2}
    assert items["root['c']"]["change"] == "added"
    assert "root['a']: 1 → 2" in change.summary


def test_excluded_paths_only_count_as_unchanged() -> None:
    options = DiffOptions.from_mapping({"exclude_paths": ["$.id", "$.items[*].ts", "root['meta']"]})
    old = _json({"id": 1, "meta": {"t": 1}, "items": [{"ts": 1, "v": "x"}, {"ts": 2, "v": "y"}]})
    new = _json({"id": 2, "meta": {"t": 9}, "items": [{"ts": 5, "v": "x"}, {"ts": 6, "v": "y"}]})
    change = answer_diff(old, new, options)
    assert not change.changed and change.kind == "unchanged"
    assert change.details["ignored"] == 4 and "excluded" in change.summary
    # a change beside the excluded ones still shows
    newer = _json({"id": 2, "meta": {}, "items": [{"ts": 5, "v": "x"}, {"ts": 6, "v": "z"}]})
    change = answer_diff(old, newer, options)
    assert change.changed and [i["path"] for i in change.details["json"]] == ["root['items'][1]['v']"]


def test_ignore_order_and_numeric_tolerance() -> None:
    old, new = _json({"tags": ["a", "b"], "x": 1.0}), _json({"tags": ["b", "a"], "x": 1.0004})
    assert answer_diff(old, new).changed
    assert not answer_diff(old, new, DiffOptions(ignore_order=True, math_epsilon=0.001)).changed
    assert not answer_diff(_json({"x": 3.14159}), _json({"x": 3.14161}), DiffOptions(significant_digits=3)).changed


def test_tool_call_arguments_are_compared_as_json() -> None:
    old = Output(None, (ToolCall("get_weather", '{"city": "Paris", "unit": "c"}'),))
    same = Output(None, (ToolCall("get_weather", '{"unit":"c","city":"Paris"}', id="other-id"),))
    assert not answer_diff(old, same).changed
    new = Output(None, (ToolCall("get_weather", '{"city": "Lyon", "unit": "c"}'),))
    change = answer_diff(old, new)
    assert change.changed and change.kind == "tool_calls"
    assert change.details["tool_calls"][0]["path"] == "get_weather#0 root['city']"
    assert '-      "city": "Paris",' in change.text_diff
    assert not answer_diff(old, new, DiffOptions.from_mapping({"exclude_paths": ["city"]})).changed
    renamed = answer_diff(old, Output(None, (ToolCall("get_time", "{}"),)))
    assert renamed.changed and "['get_weather'] → ['get_time']" in renamed.summary


def test_errors_and_finish_reasons_are_changes() -> None:
    change = answer_diff(Output(None, status=500, error="HTTP 500: boom"), Output("fine"))
    assert change.changed and change.kind == "status" and "HTTP 500: boom → HTTP 200" in change.summary
    cut = answer_diff(Output("abc", finish_reason="stop"), Output("abc", finish_reason="length"))
    assert cut.changed and "finish_reason stop → length" in cut.summary


def test_huge_texts_use_the_quick_estimate() -> None:
    a = "lorem ipsum dolor sit amet\n" * 4000
    b = a.replace("dolor", "color", 10)
    ratio = similarity(a, b)
    assert 0.9 < ratio < 1.0
    assert similarity("a" * 30_000, "b" * 30_000) == 0.0


def test_change_round_trips_through_json() -> None:
    change = answer_diff(_json({"a": 1}), _json({"a": 2}))
    assert change_from_json(json.loads(json.dumps(change_to_json(change)))) == change


@pytest.mark.parametrize(("mapping", "message"), [
    ({"ignore_ordr": True}, "unknown keys ['ignore_ordr']"),
    ({"ignore_order": "yes"}, "expected true or false"),
    ({"exclude_paths": ["$.a[x"]}, "cannot read '$.a[x'"),
    ({"exclude_paths": ["$"]}, "names the whole answer"),
    ({"math_epsilon": -1}, "math_epsilon: expected a number >= 0"),
    ({"significant_digits": 1.5}, "significant_digits: expected an integer"),
])
def test_bad_diff_options_are_user_errors(mapping: dict, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("$", r"\$")):
        DiffOptions.from_mapping(mapping, file="suites/x.yaml")


def test_path_forms_translate_to_deepdiff() -> None:
    options = DiffOptions.from_mapping({"exclude_paths": ["$.a.b[0]", "a.c", "$['odd key'].x", "root['r'][1]"]})
    kwargs = options.deepdiff_kwargs()
    assert kwargs["exclude_paths"] == ["root['a']['b'][0]", "root['a']['c']", "root['odd key']['x']", "root['r'][1]"]
    assert options.exclude_paths == ("$.a.b[0]", "a.c", "$['odd key'].x", "root['r'][1]")
