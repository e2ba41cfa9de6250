"""OpenAI's strict mode (``strict: true`` on a json_schema response format or on a function tool):
the subset of JSON Schema the API accepts, and what it then guarantees about every answer.

The rules come from OpenAI's Structured Outputs guide, section "Supported schemas"
(platform.openai.com/docs/guides/structured-outputs#supported-schemas), as it reads in 2026:

- the root is an object (``type: object``), and not an ``anyOf``;
- every object sets ``additionalProperties: false``;
- every key of ``properties`` is listed in ``required`` (an optional field is written as nullable,
  ``type: [string, "null"]``);
- keywords outside the subset are refused: composition (``allOf``, ``oneOf``, ``not``), conditionals
  (``if``/``then``/``else``, ``dependentRequired``, ``dependentSchemas``), and ``patternProperties``,
  ``unevaluatedProperties``, ``propertyNames``, ``minProperties``, ``maxProperties``,
  ``unevaluatedItems``, ``contains``, ``minContains``, ``maxContains``, ``uniqueItems``,
  ``prefixItems``; ``anyOf``, ``$ref``/``$defs`` (recursion included), ``enum``, ``const``,
  string ``pattern``/``format``, number bounds and ``minItems``/``maxItems`` are supported;
- limits: at most 5,000 object properties in all, 10 levels of object nesting, 1,000 enum values in
  all, 120,000 characters of property names, definition names, enum and const values together, and
  15,000 characters for the values of one string enum of more than 250 values.

A schema that breaks one is answered with HTTP 400, so harness refuses it before sending. Keywords
not named above are let through: refusing a schema the API would take is worse than letting the API
say no.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from .problem import SchemaProblem

UNSUPPORTED = (
    "allOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "patternProperties", "unevaluatedProperties", "propertyNames", "minProperties", "maxProperties",
    "unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems", "prefixItems",
)
MAX_PROPERTIES = 5_000
MAX_DEPTH = 10
MAX_ENUM_VALUES = 1_000
MAX_STRING_TOTAL = 120_000
LARGE_ENUM = 250
MAX_LARGE_ENUM_CHARS = 15_000

Path = tuple[str | int, ...]


def _is_object(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in schema


def _children(schema: dict[str, Any], path: Path) -> Iterator[tuple[Any, Path]]:
    """(subschema, its path) under the keywords strict mode supports."""
    props = schema.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            yield sub, (*path, "properties", name)
    items = schema.get("items")
    if isinstance(items, dict):
        yield items, (*path, "items")
    options = schema.get("anyOf")
    if isinstance(options, list):
        for i, sub in enumerate(options):
            yield sub, (*path, "anyOf", i)


class _Walk:
    def __init__(self) -> None:
        self.problems: list[SchemaProblem] = []
        self.properties = 0
        self.enum_values = 0
        self.chars = 0
        self.deepest: tuple[int, Path] = (0, ())

    def schema(self, node: Any, path: Path, depth: int) -> None:
        if not isinstance(node, dict):
            return
        for key in UNSUPPORTED:
            if key in node:
                self.problems.append(SchemaProblem((*path, key), f"strict mode does not support {key!r}"))
        if _is_object(node):
            depth += 1
            if depth > self.deepest[0]:
                self.deepest = (depth, path)
            self._object(node, path)
        self._values(node, path)
        for key in ("$defs", "definitions"):
            defs = node.get(key)
            for name, sub in (defs.items() if isinstance(defs, dict) else ()):
                self.chars += len(str(name))
                self.schema(sub, (*path, key, name), 0)  # used through $ref: its depth is unknown
        for sub, where in _children(node, path):
            self.schema(sub, where, depth)

    def _object(self, node: dict[str, Any], path: Path) -> None:
        if node.get("additionalProperties") is not False:
            self.problems.append(SchemaProblem(
                (*path, "additionalProperties") if "additionalProperties" in node else path,
                "strict mode needs additionalProperties: false on every object"))
        given = node.get("properties")
        props: dict[str, Any] = given if isinstance(given, dict) else {}
        self.properties += len(props)
        self.chars += sum(len(str(name)) for name in props)
        listed = node.get("required")
        required: list[Any] = listed if isinstance(listed, list) else []
        missing = [str(name) for name in props if name not in required]
        if missing:
            self.problems.append(SchemaProblem(
                (*path, "required") if "required" in node else path,
                f"strict mode needs every property in required (missing: {', '.join(missing[:5])}"
                + (", ..." if len(missing) > 5 else "") + "); write an optional one as nullable, "
                "e.g. type: [string, 'null']"))

    def _values(self, node: dict[str, Any], path: Path) -> None:
        enum = node.get("enum")
        if isinstance(enum, list):
            self.enum_values += len(enum)
            strings = sum(len(v) for v in enum if isinstance(v, str))
            self.chars += strings
            if len(enum) > LARGE_ENUM and strings > MAX_LARGE_ENUM_CHARS:
                self.problems.append(SchemaProblem(
                    (*path, "enum"), f"strict mode allows at most {MAX_LARGE_ENUM_CHARS:,} characters "
                    f"in an enum of more than {LARGE_ENUM} values (this one has {strings:,})"))
        if isinstance(node.get("const"), str):
            self.chars += len(node["const"])


def strict_problems(schema: Any, limit: int = 3) -> list[SchemaProblem]:
    """The strict-mode rules ``schema`` breaks (at most ``limit``), each at its JSON path."""
    if not isinstance(schema, dict):
        return [SchemaProblem((), "strict mode needs a schema of type object at the root")]
    walk = _Walk()
    if "anyOf" in schema:
        walk.problems.append(SchemaProblem(("anyOf",), "strict mode does not allow anyOf at the root "
                                                       "(the root must be one object)"))
    elif schema.get("type") != "object":
        walk.problems.append(SchemaProblem(("type",) if "type" in schema else (),
                                           "strict mode needs type: object at the root"))
    walk.schema(schema, (), 0)
    if walk.deepest[0] > MAX_DEPTH:
        walk.problems.append(SchemaProblem(walk.deepest[1], f"strict mode allows {MAX_DEPTH} levels "
                                           f"of object nesting; this object is at level {walk.deepest[0]}"))
    totals = ((walk.properties, MAX_PROPERTIES, "object properties in all"),
              (walk.enum_values, MAX_ENUM_VALUES, "enum values in all"),
              (walk.chars, MAX_STRING_TOTAL, "characters of property names, definition names, enum "
                                             "and const values together"))
    for got, most, what in totals:
        if got > most:
            walk.problems.append(SchemaProblem((), f"strict mode allows at most {most:,} {what} "
                                                   f"(this schema has {got:,})"))
    return walk.problems[:limit]


_SUB_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SUB_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then",
            "else", "unevaluatedItems", "unevaluatedProperties", "additionalItems")
_SUB_LISTS = ("prefixItems", "allOf", "anyOf", "oneOf")


def closed(schema: Any) -> Any:
    """A copy of the schema in which every object schema that says nothing about extra properties
    forbids them: what strict mode guarantees of an answer, so an invented property fails the
    automatic checks even when the schema's author left ``additionalProperties`` out."""
    if not isinstance(schema, dict):
        return schema
    out = copy.copy(schema)
    if _is_object(out) and not {"additionalProperties", "patternProperties",
                                "unevaluatedProperties"} & set(out):
        out["additionalProperties"] = False
    for key in _SUB_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {k: closed(v) for k, v in out[key].items()}
    for key in _SUB_ONE:
        if isinstance(out.get(key), dict):
            out[key] = closed(out[key])
    for key in _SUB_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [closed(v) for v in out[key]]
    return out


__all__ = ["UNSUPPORTED", "closed", "strict_problems"]
