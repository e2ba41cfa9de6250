"""JSON checks: is-json, json-schema (inline, $ref/$defs, fences, schema files) and json-path."""

from __future__ import annotations

import json
import time

import pytest

from harness.checks.json_checks import json_equal, parse_path, resolve_path
from harness.errors import UserError

from checkutil import SUITE_FILE, bind_check, fails, make_ctx, passes

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name"], "additionalProperties": False}


def ok(spec, answer, **kw):
    return passes(spec, make_ctx(answer, **kw))


def bad(spec, answer, **kw):
    return fails(spec, make_ctx(answer, **kw))


# ---------------------------------------------------------------- is-json

def test_is_json():
    ok("is-json", '{"a": [1, 2]}')
    ok("is-json", "  [1, 2]\n")
    ok("is-json", '"just a string"')
    v = bad("is-json", "{'a': 1}")
    assert v.reason.startswith("not valid JSON")
    v = bad("is-json", "")
    assert "empty" in v.reason
    bad("is-json", None)  # tool-call-only answer: no content


def test_is_json_fences():
    fenced = '```json\n{"a": 1}\n```'
    v = bad("is-json", fenced)
    assert "use fence: true" in v.reason
    ok({"is-json": {"fence": True}}, fenced)
    ok({"is-json": {"fence": True}}, '\n```\n{"a": 1}\n```\n')
    ok({"is-json": {"fence": True}}, '{"a": 1}')  # a fence is allowed, not required
    bad({"is-json": {"fence": True}}, 'Sure!\n```json\n{"a": 1}\n```')
    ok({"not-is-json": None}, "plain words")


@pytest.mark.parametrize("arg", [{"fence": "yes"}, {"fenced": True}, "x", 3])
def test_is_json_bad_arguments(arg):
    with pytest.raises(UserError):
        bind_check({"is-json": arg})


def test_is_json_unicode_and_huge():
    ok("is-json", json.dumps({"名前": "東京", "emoji": "🎉"}, ensure_ascii=False))
    big = json.dumps({"items": [{"id": i, "text": "x" * 80} for i in range(10_000)]})
    assert len(big) > 900_000
    start = time.perf_counter()
    ok("is-json", big)
    ok({"json-path": {"path": "$.items[9999].id", "equals": 9999}}, big)
    item = {"type": "object", "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
            "required": ["id"], "additionalProperties": False}
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": item}}}
    ok({"json-schema": schema}, big)
    v = bad({"json-schema": schema}, big.replace('"id": 5,', '"id": "5",', 1))
    assert v.reason == "schema violation: $.items[5].id: '5' is not of type 'integer'"
    # A guard against a pathological path (quadratic: minutes), not a speed target: bench/ measures
    # speed, and a tight bound here would flake on a loaded machine.
    assert time.perf_counter() - start < 30.0


# ---------------------------------------------------------------- json-schema

def test_json_schema_inline():
    ok({"json-schema": PERSON}, '{"name": "Ada", "age": 36}')
    v = bad({"json-schema": PERSON}, '{"name": "Ada", "age": "36"}')
    assert "$.age: '36' is not of type 'integer'" in v.reason
    v = bad({"json-schema": PERSON}, '{"age": 36}')
    assert "$.name: required property is missing" in v.reason
    v = bad({"json-schema": PERSON}, '{"name": "Ada", "nick": "A"}')
    assert "$.nick: unknown property" in v.reason
    v = bad({"json-schema": PERSON}, "not json")
    assert v.reason.startswith("not valid JSON")


def test_json_schema_ref_defs_and_draft():
    schema = {"$defs": {"lang": {"type": "object", "properties": {"name": {"type": "string"}},
                                 "required": ["name"]}},
              "type": "object",
              "properties": {"languages": {"type": "array", "items": {"$ref": "#/$defs/lang"}}}}
    ok({"json-schema": schema}, '{"languages": [{"name": "Python"}]}')
    v = bad({"json-schema": schema}, '{"languages": [{"name": "Python"}, {"nom": "Rust"}]}')
    assert "$.languages[1].name: required property is missing" in v.reason
    # 2020-12 by default: prefixItems is understood
    tup = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    bad({"json-schema": tup}, '[1, "a"]')
    # an explicit older $schema is honoured (draft-07 ignores prefixItems)
    ok({"json-schema": {**tup, "$schema": "http://json-schema.org/draft-07/schema#"}}, '[1, "a"]')


def test_json_schema_fence_and_unicode_paths():
    arg = {"schema": PERSON, "fence": True}
    ok({"json-schema": arg}, '```json\n{"name": "Zoë"}\n```')
    bad({"json-schema": PERSON}, '```json\n{"name": "Zoë"}\n```')
    odd = {"type": "object", "properties": {"a b": {"type": "integer"}}}
    v = bad({"json-schema": odd}, '{"a b": "x"}')
    assert '$["a b"]' in v.reason


def test_json_schema_file_relative_to_suite():
    ok({"json-schema": {"file": "person.schema.json"}}, '{"name": "Ada", "address": {"city": "X"}}')
    v = bad({"json-schema": {"file": "person.schema.json"}}, '{"name": "Ada", "address": {}}')
    assert "$.address.city: required property is missing" in v.reason
    ok({"json-schema": {"file": "person.schema.yaml", "fence": True}}, '```\n{"name": "A"}\n```')


@pytest.mark.parametrize("arg, message", [
    ({"file": "missing.json"}, "schema file 'missing.json' not found"),
    ({"file": "broken.schema.json"}, "does not parse"),
    ({"file": "person.schema.json", "schema": PERSON}, "either schema or file"),
    ({"type": "objekt"}, "invalid JSON Schema"),
    ("string", "must be a mapping"),
    ({"schema": PERSON, "fence": "yes"}, "fence must be true or false"),
])
def test_json_schema_bad_arguments(arg, message):
    with pytest.raises(UserError) as err:
        bind_check({"json-schema": arg}, line=9)
    assert message in str(err.value)
    assert err.value.file == SUITE_FILE and err.value.line == 9


def test_json_schema_file_inside_group_resolves_from_the_suite():
    ok({"all-of": [{"json-schema": {"file": "person.schema.json"}}]}, '{"name": "Ada"}')
    with pytest.raises(UserError) as err:
        bind_check({"any-of": [{"json-schema": {"file": "nope.json"}}]}, line=4)
    assert "any-of item 1" in str(err.value) and err.value.line == 4


# ---------------------------------------------------------------- json-path

DOC = json.dumps({"languages": [{"name": "Python", "year": 1991, "typed": False},
                                {"name": "Rust", "year": 2015, "typed": True}],
                  "meta": {"count": 2, "source": "wikipedia", "odd key": "yes"}, "tags": ["a", "b"]})


def test_json_path_equals():
    ok({"json-path": {"path": "$.languages[0].name", "equals": "Python"}}, DOC)
    ok({"json-path": {"path": "$.languages[-1].year", "equals": 2015}}, DOC)
    ok({"json-path": {"path": "$.meta.count", "equals": 2.0}}, DOC)  # 2 == 2.0 in JSON
    ok({"json-path": {"path": "$.meta['odd key']", "equals": "yes"}}, DOC)
    ok({"json-path": {"path": "$.languages[*].name", "equals": ["Python", "Rust"]}}, DOC)
    ok({"json-path": {"path": "$.meta.*", "contains": "wikipedia"}}, DOC)
    v = bad({"json-path": {"path": "$.languages[0].name", "equals": "Rust"}}, DOC)
    assert v.reason == "$.languages[0].name: expected Rust, got Python"
    v = bad({"json-path": {"path": "$.languages[0].typed", "equals": 0}}, DOC)  # false != 0
    assert "expected 0, got False" in v.reason


def test_json_path_contains_matches_exists():
    ok({"json-path": {"path": "$.meta.source", "contains": "wiki"}}, DOC)
    ok({"json-path": {"path": "$.tags", "contains": "b"}}, DOC)
    ok({"json-path": {"path": "$.meta", "contains": "count"}}, DOC)
    bad({"json-path": {"path": "$.tags", "contains": "c"}}, DOC)
    ok({"json-path": {"path": "$.languages[*].name", "matches": "^[A-Z][a-z]+$"}}, DOC)
    v = bad({"json-path": {"path": "$.languages[*].name", "matches": "^P"}}, DOC)
    assert "did not match 'Rust'" in v.reason
    v = bad({"json-path": {"path": "$.meta.count", "matches": "2"}}, DOC)
    assert "not a string" in v.reason
    ok({"json-path": {"path": "$.languages[1]"}}, DOC)  # exists by default
    ok({"json-path": {"path": "$.meta.missing", "exists": False}}, DOC)
    v = bad({"json-path": {"path": "$.meta.count", "exists": False}}, DOC)
    assert "expected $.meta.count not to exist" in v.reason


def test_json_path_failures_say_where_the_lookup_stopped():
    v = bad({"json-path": {"path": "$.languages[5].name", "equals": "Go"}}, DOC)
    assert "$.languages has 2 items, no [5]" in v.reason
    v = bad({"json-path": {"path": "$.meta.author"}}, DOC)
    assert "$.meta has no key 'author'" in v.reason
    v = bad({"json-path": {"path": "$.tags.first"}}, DOC)
    assert "$.tags is a list, not an object" in v.reason
    v = bad({"json-path": {"path": "$.tags[0]", "equals": "a"}}, "not json")
    assert "not valid JSON" in v.reason
    ok({"json-path": {"path": "$.a", "equals": 1, "fence": True}}, '```json\n{"a": 1}\n```')


@pytest.mark.parametrize("arg", [
    {"path": "languages[0]"}, {"path": "$..name"}, {"path": "$.a[?(@.x)]"}, {"equals": 1},
    {"path": "$.a", "equal": 1}, {"path": "$.a", "matches": "("}, {"path": "$.a", "exists": "no"},
    {"path": "$.a", "exists": False, "equals": 1}, "$.a",
])
def test_json_path_bad_arguments(arg):
    with pytest.raises(UserError):
        bind_check({"json-path": arg})


def test_path_parser_and_json_equal():
    assert parse_path("$") == ()
    assert parse_path("$.a[0][*].b['c.d'][\"e\"].*") == (
        ("key", "a"), ("index", 0), ("star", None), ("key", "b"), ("key", "c.d"), ("key", "e"),
        ("star", None))
    assert resolve_path({"a": []}, parse_path("$.a[*]")) == ([], "$.a is empty")
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(True, 1) and not json_equal("1", 1) and not json_equal(None, 0)
