"""Tool checks (tool-call, no-tool-call, tool-calls-order, finish-reason) and auto conformance."""

from __future__ import annotations

import pytest

from harness.checks.auto import auto_specs
from harness.checks.registry import bind
from harness.errors import UserError
from harness.request import Endpoint, Request
from harness.schemas.strict import closed

from checkutil import SUITE_FILE, bind_check, fails, make_body, make_ctx, passes

WEATHER = {"type": "function", "function": {
    "name": "get_weather",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string"},
                                  "unit": {"enum": ["c", "f"]},
                                  "where": {"type": "object", "properties": {"lat": {"type": "number"}}}},
                   "required": ["city"]}}}
STRICT = {"type": "function", "function": {
    "name": "book", "strict": True,
    "parameters": {"type": "object", "properties": {"date": {"type": "string"}}, "required": ["date"]}}}
BODY = make_body(tools=[WEATHER, STRICT])


def ctx(*calls, answer=None, body=BODY, **kw):
    return make_ctx(answer, body=body, calls=calls, **kw)


ok, bad = passes, fails


# ---------------------------------------------------------------- tool-call

def test_tool_call_name_and_subset():
    c = ctx(("get_weather", {"city": "Paris", "unit": "c"}))
    ok({"tool-call": "get_weather"}, c)
    ok({"tool-call": {"name": "get_weather", "arguments": {"city": "Paris"}}}, c)
    v = bad({"tool-call": {"name": "get_weather", "arguments": {"city": "Rome"}}}, c)
    assert "expected {'city': 'Rome'}, got {'city': 'Paris', 'unit': 'c'}" in v.reason
    v = bad({"tool-call": "book"}, c)
    assert "expected a call to 'book', got ['get_weather']" in v.reason
    v = bad({"tool-call": "get_weather"}, ctx(answer="It is sunny."))
    assert "got no tool call" in v.reason


def test_tool_call_nested_subset_and_exact():
    c = ctx(("get_weather", {"city": "Paris", "where": {"lat": 48.85}}))
    ok({"tool-call": {"name": "get_weather", "arguments": {"where": {"lat": 48.85}}}}, c)
    bad({"tool-call": {"name": "get_weather", "arguments": {"where": {"lat": 1}}}}, c)
    ok({"tool-call": {"name": "get_weather",
                      "arguments-equal": {"city": "Paris", "where": {"lat": 48.85}}}}, c)
    v = bad({"tool-call": {"name": "get_weather", "arguments-equal": {"city": "Paris"}}}, c)
    assert "expected exactly {'city': 'Paris'}" in v.reason


def test_tool_call_any_of_several_calls_and_count():
    c = ctx(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "London"}))
    ok({"tool-call": {"name": "get_weather", "arguments": {"city": "London"}}}, c)
    v = bad({"tool-call": {"name": "get_weather", "arguments": {"city": "Rome"}}}, c)
    assert "none of 2 calls to get_weather fits" in v.reason
    ok({"tool-call": {"name": "get_weather", "count": 2}}, c)
    v = bad({"tool-call": {"name": "get_weather", "count": 1}}, c)
    assert "expected 1 call(s) to 'get_weather', got 2" in v.reason
    ok({"tool-call": {"name": "book", "count": 0}}, c)


def test_tool_call_schemas():
    c = ctx(("get_weather", {"city": "Paris", "unit": "kelvin"}))
    v = bad({"tool-call": "get_weather"}, c)
    assert "break the declared schema: $.unit" in v.reason
    extra = {"type": "object", "properties": {"city": {"enum": ["Rome"]}}}
    v = bad({"tool-call": {"name": "get_weather", "arguments-schema": extra}},
            ctx(("get_weather", {"city": "Paris"})))
    assert "arguments-schema: $.city" in v.reason
    ok({"tool-call": {"name": "get_weather", "arguments-schema": extra}},
       ctx(("get_weather", {"city": "Rome"})))
    v = bad({"tool-call": "get_weather"}, ctx(("get_weather", '{"city": "Par')))
    assert "not valid JSON" in v.reason


def test_tool_call_unicode_arguments():
    c = ctx(("get_weather", {"city": "Zürich 東京"}))
    ok({"tool-call": {"name": "get_weather", "arguments": {"city": "Zürich 東京"}}}, c)


@pytest.mark.parametrize("arg", [
    "", {"arguments": {}}, {"name": "x", "args": {}}, {"name": "x", "arguments": "city"},
    {"name": "x", "count": -1}, {"name": "x", "count": "2"}, {"name": "x", "count": True},
    {"name": "x", "count": 0, "arguments": {"a": 1}}, {"name": "x", "arguments-schema": {"type": 3}},
    {"name": "x", "arguments-equal": [1]},
])
def test_tool_call_bad_arguments(arg):
    with pytest.raises(UserError) as err:
        bind_check({"tool-call": arg}, line=30)
    assert err.value.line == 30 and err.value.file == SUITE_FILE


# ---------------------------------------------------------------- no-tool-call / order / finish

def test_no_tool_call():
    ok("no-tool-call", ctx(answer="Hi"))
    v = bad("no-tool-call", ctx(("book", {"date": "x"})))
    assert "expected no tool call, got ['book']" in v.reason
    ok({"no-tool-call": {"name": "book"}}, ctx(("get_weather", {"city": "x"})))
    ok({"no-tool-call": "book"}, ctx())
    v = bad({"no-tool-call": {"name": "book"}}, ctx(("book", {"date": "x"})))
    assert "expected no call to 'book'" in v.reason
    for arg in ({"name": ""}, {"tool": "x"}, 3, [1]):
        with pytest.raises(UserError):
            bind_check({"no-tool-call": arg})


def test_tool_calls_order():
    c = ctx(("search", {}), ("get_weather", {"city": "a"}), ("book", {"date": "d"}))
    ok({"tool-calls-order": ["search", "book"]}, c)
    ok({"tool-calls-order": {"names": ["search", "get_weather", "book"], "exact": True}}, c)
    v = bad({"tool-calls-order": {"names": ["search", "book"], "exact": True}}, c)
    assert "exactly in order" in v.reason
    v = bad({"tool-calls-order": ["book", "search"]}, c)
    assert "expected calls in order ['book', 'search'], got ['search', 'get_weather', 'book']" in v.reason
    bad({"tool-calls-order": ["search"]}, ctx())
    ok({"tool-calls-order": ["a", "a"]}, ctx(("a", {}), ("b", {}), ("a", {})))
    bad({"tool-calls-order": ["a", "a"]}, ctx(("a", {}), ("b", {})))
    for arg in ([], "search", [1], {"names": ["a"], "exact": "yes"}):
        with pytest.raises(UserError):
            bind_check({"tool-calls-order": arg})


def test_finish_reason():
    ok({"finish-reason": "stop"}, make_ctx("x"))
    ok({"finish-reason": "tool_calls"}, ctx(("book", {"date": "d"})))
    ok({"finish-reason": ["stop", "length"]}, make_ctx("x", finish_reason="length"))
    v = bad({"finish-reason": "stop"}, make_ctx("x", finish_reason="length"))
    assert v.reason == "expected finish_reason stop, got length"
    bad({"finish-reason": "stop"}, make_ctx("x", finish_reason=None))
    ok({"not-finish-reason": "content_filter"}, make_ctx("x"))
    for arg in ("done", ["stop", "eos"], 1, []):
        with pytest.raises(UserError, match="finish"):
            bind_check({"finish-reason": arg})


# ---------------------------------------------------------------- auto conformance

ENDPOINT = Endpoint("openai", "https://api.openai.com/v1", None, None, None, "OPENAI_API_KEY")
CITY = {"type": "object", "properties": {"city": {"type": "string"}, "pop": {"type": "integer"}},
        "required": ["city", "pop"], "additionalProperties": False}
JSON_SCHEMA_BODY = make_body(response_format={"type": "json_schema",
                                              "json_schema": {"name": "c", "strict": True, "schema": CITY}})


def run_auto(body, answer=None, calls=(), **kw):
    request = Request("POST", "/chat/completions", (), body, ENDPOINT)
    specs = auto_specs(request, file=SUITE_FILE, line=5)
    c = make_ctx(answer, body=body, calls=calls, **kw)
    return [bind(s).run(c) for s in specs]


def test_auto_specs_selection():
    req = lambda body: Request("POST", "/chat/completions", (), body, ENDPOINT)  # noqa: E731
    assert auto_specs(req(make_body()), file="s.yaml", line=1) == []
    names = [s.name for s in auto_specs(req({**JSON_SCHEMA_BODY, "tools": [WEATHER]}), file="s.yaml", line=3)]
    assert names == ["response-schema", "tool-schema"]
    specs = auto_specs(req(make_body(response_format={"type": "json_object"})), file="s.yaml", line=1)
    assert specs == []
    llama = make_body(response_format={"type": "json_object", "schema": CITY})
    spec, = auto_specs(req(llama), file="s.yaml", line=8)
    assert (spec.name, spec.arg, spec.file, spec.line) == ("response-schema", None, "s.yaml", 8)


def test_response_schema():
    v, = run_auto(JSON_SCHEMA_BODY, '{"city": "Oslo", "pop": 700000}')
    assert v.passed and v.name == "response-schema"
    v, = run_auto(JSON_SCHEMA_BODY, '{"city": "Oslo", "pop": "many", "mayor": "x"}')
    assert not v.passed and "$.mayor: unknown property" in v.reason and "$.pop" in v.reason
    v, = run_auto(JSON_SCHEMA_BODY, '```json\n{"city": "Oslo", "pop": 1}\n```')
    assert not v.passed and "not valid JSON" in v.reason  # strict: no fences
    v, = run_auto(JSON_SCHEMA_BODY, '{"city": "Os', finish_reason="length")
    assert not v.passed and "cut off" in v.reason
    v, = run_auto(JSON_SCHEMA_BODY, None)
    assert v.passed and "nothing to check" in v.reason
    v, = run_auto(JSON_SCHEMA_BODY, None, extra={"refusal": "I can't help with that."})
    assert v.passed and "refused" in v.reason
    v, = run_auto(JSON_SCHEMA_BODY, "")
    assert not v.passed


def test_response_schema_llama_cpp_style():
    body = make_body(response_format={"type": "json_object", "schema": CITY})
    v, = run_auto(body, '{"city": "Oslo", "pop": 1}')
    assert v.passed
    v, = run_auto(body, '{"city": "Oslo"}')
    assert not v.passed and "$.pop: required property is missing" in v.reason


def test_tool_schema():
    body = make_body(tools=[WEATHER, STRICT])
    v, = run_auto(body, calls=[("get_weather", {"city": "Paris"}), ("book", {"date": "today"})])
    assert v.passed and "2 tool call(s)" in v.reason
    v, = run_auto(body, "just text")
    assert v.passed and "nothing to check" in v.reason
    v, = run_auto(body, calls=[("get_wether", {"city": "Paris"})])
    assert not v.passed and "'get_wether' is not a declared tool" in v.reason
    v, = run_auto(body, calls=[("get_weather", {"city": "Paris", "unit": "kelvin"})])
    assert not v.passed and "get_weather: $.unit" in v.reason
    v, = run_auto(body, calls=[("get_weather", "{city: Paris}")])
    assert not v.passed and "not valid JSON" in v.reason


def test_tool_schema_strict_reports_invented_parameters():
    body = make_body(tools=[WEATHER, STRICT])
    # not strict: an extra parameter is allowed by JSON Schema's default
    v, = run_auto(body, calls=[("get_weather", {"city": "Paris", "units": "c"})])
    assert v.passed
    # strict: true without additionalProperties -> the invented parameter is named
    v, = run_auto(body, calls=[("book", {"date": "today", "time": "9am"})])
    assert not v.passed and "book: $.time: unknown property" in v.reason


def test_tool_call_and_tool_schema_read_the_declared_tools_alike():
    """One reading of the request's tools: a strict tool refuses invented parameters in both
    checks, and a malformed entry is skipped by both instead of crashing one of them."""
    call = ("book", {"date": "today", "time": "9am"})
    v = bad({"tool-call": "book"}, ctx(call))
    assert "break the declared schema: $.time: unknown property" in v.reason
    v, = run_auto(BODY, calls=[call])
    assert not v.passed and "$.time: unknown property" in v.reason
    odd = make_body(tools=[{"type": "function", "function": "book"}, STRICT])
    ok({"tool-call": "book"}, ctx(("book", {"date": "today"}), body=odd))
    v, = run_auto(odd, calls=[("book", {"date": "today"})])
    assert v.passed


def test_closed_schema_walks_subschemas_only():
    schema = {"type": "object", "properties": {
        "properties": {"type": "object", "properties": {"x": {"type": "string"}}},
        "list": {"type": "array", "items": {"type": "object", "properties": {"y": {}}}},
        "open": {"type": "object", "properties": {}, "additionalProperties": True}},
        "$defs": {"d": {"type": "object", "properties": {"z": {}}}}}
    out = closed(schema)
    assert out["additionalProperties"] is False
    assert out["properties"]["properties"]["additionalProperties"] is False
    assert "additionalProperties" not in out["properties"]  # the map of properties is not a schema
    assert out["properties"]["list"]["items"]["additionalProperties"] is False
    assert out["properties"]["open"]["additionalProperties"] is True
    assert out["$defs"]["d"]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the request's schema is not modified


def test_auto_checks_take_no_argument():
    with pytest.raises(UserError, match="takes no argument"):
        bind_check({"tool-schema": {"x": 1}})


def test_strict_response_format_answers_are_closed_objects():
    """strict: true guarantees closed objects, so an extra property fails even where the schema
    leaves additionalProperties out; without strict the schema is applied as written."""
    open_city = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    strict = make_body(response_format={"type": "json_schema",
                                        "json_schema": {"name": "c", "strict": True, "schema": open_city}})
    v, = run_auto(strict, '{"city": "Oslo", "mayor": "x"}')
    assert not v.passed and "$.mayor: unknown property" in v.reason
    loose = make_body(response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": open_city}})
    v, = run_auto(loose, '{"city": "Oslo", "mayor": "x"}')
    assert v.passed


def test_tool_call_check_closes_strict_tools_too():
    v = fails({"tool-call": "book"}, ctx(("book", {"date": "today", "time": "9am"})))
    assert "$.time: unknown property" in v.reason
    passes({"tool-call": "get_weather"}, ctx(("get_weather", {"city": "P", "units": "c"})))
