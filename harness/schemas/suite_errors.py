"""A suite that breaks harness/suite.schema.json, told in the suite's terms: the key, its line, the
case, and for a message the shapes a message may take (a bare "not valid under oneOf" names the
rule but not what to write instead)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from ..errors import UserError
from ..yamlio import line_of

MESSAGE_SHAPES = ("a message is {role, content} (content a text or a list of parts), {role, file}, "
                  "{role: assistant, tool_calls: [{id, type: function, function: {name, arguments}}]} "
                  "(content null or absent), or {role: tool, tool_call_id, content}")

SAMPLES_SHAPES = ("samples is a whole number from 1 to 100, auto, or {min, max} (1 to 1,000; adaptive: "
                  "more samples only while the pass rate is unclear; optional alpha)")


@lru_cache(maxsize=1)
def suite_schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package (editors can point at the same file)."""
    import json

    text = resources.files("harness").joinpath("suite.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = suite_schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


#: Keywords a case rule may hold for a case to be judged key by key (CaseRule): the others (allOf,
#: if/then, patternProperties, ...) relate several keys, and the case's whole rule judges then.
_KEY_BY_KEY = frozenset({"type", "required", "additionalProperties", "properties", "description",
                         "title", "$comment"})


@dataclass(frozen=True)
class CaseRule:
    """A case rule of ``type: object``, ``required``, ``additionalProperties: false`` and
    ``properties``, judged as those keywords mean: a mapping with every required key, no other
    key than the properties, and each value valid against its property's rule. Judging the values
    directly skips the walk over every property the rule lists (about 40) once per case, which is
    two thirds of the cost of validating thousands of cases."""

    required: tuple[str, ...]
    properties: dict[str, jsonschema.protocols.Validator]

    def is_valid(self, item: Any) -> bool:
        if not isinstance(item, dict) or not all(key in item for key in self.required):
            return False
        rules = self.properties
        return all(key in rules and rules[key].is_valid(value) for key, value in item.items())


@lru_cache(maxsize=1)
def _split_validators() -> tuple[jsonschema.protocols.Validator,
                                 jsonschema.protocols.Validator | CaseRule] | None:
    """The suite schema in two parts with the same meaning: the document without its case items,
    and one case item (``$defs/case``). Validating each case against the second directly skips
    resolving ``items: {$ref}`` once per case. None if the schema's cases are no longer written
    that way (the whole schema is used then)."""
    schema = suite_schema()
    cases = schema["properties"]["cases"]
    if cases.get("items") != {"$ref": "#/$defs/case"}:
        return None
    top = {**schema, "properties": {**schema["properties"],
                                    "cases": {k: v for k, v in cases.items() if k != "items"}}}
    cls = jsonschema.validators.validator_for(schema)
    # evolve keeps the whole schema's resolver: a case's own $refs (#/$defs/..., #/properties/...)
    # resolve against the whole schema, as they do when reached through items.
    rule = schema["$defs"]["case"]
    case: jsonschema.protocols.Validator | CaseRule = _validator().evolve(schema=rule)
    if (set(rule) <= _KEY_BY_KEY and rule.get("type") == "object"
            and rule.get("additionalProperties") is False and isinstance(rule.get("properties"), dict)):
        case = CaseRule(tuple(rule.get("required", ())),
                        {key: _validator().evolve(schema=sub) for key, sub in rule["properties"].items()})
    return cls(top), case


def is_valid_suite(doc: Any, owns: Callable[[str], bool] | None = None) -> bool:
    """Whether ``doc`` is valid against the suite schema (the same verdict as the whole schema).

    ``owns`` (a shard's: does it run the case of this id?) limits the check to the cases it owns,
    and to every item without a string id, which no shard could tell apart; the rest of the suite
    is checked whole. Each case is owned by one shard, so every broken case fails some shard."""
    split = _split_validators()
    if split is None:
        return bool(_validator().is_valid(doc))
    top, case = split
    cases = doc.get("cases") if isinstance(doc, dict) else None
    if owns is not None and isinstance(cases, list):
        cases = [item for item in cases
                 if not isinstance(item, dict) or not isinstance(item.get("id"), str) or owns(item["id"])]
    return top.is_valid(doc) and all(case.is_valid(item) for item in cases or ())


def _node_at(doc: Any, path: list[Any]) -> tuple[Any, Any]:
    parent, key = doc, None
    node = doc
    for step in path:
        parent, key = node, step
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
    return parent, key


def _message_at(doc: Any, path: list[Any]) -> tuple[list[Any], Any] | None:
    """The message an error path points into (its path and value), if any."""
    for i in range(len(path) - 1):
        if path[i] == "messages" and isinstance(path[i + 1], int):
            prefix = path[: i + 2]
            node = doc
            for step in prefix:
                node = node[step]
            return prefix, node
    return None


def message_problem(msg: Any) -> str:
    """What is wrong with one message's shape, in a sentence."""
    if not isinstance(msg, dict):
        return "a message must be a mapping"
    role = msg.get("role")
    if "content" in msg and "file" in msg:
        return "give content or file, not both"
    if "tool_calls" in msg and role != "assistant":
        return f"only an assistant message carries tool_calls, not a {role} message"
    if role == "tool" and "tool_call_id" not in msg:
        return "a tool message needs tool_call_id (the id of the call it answers)"
    if "tool_calls" not in msg and msg.get("content") is None and "file" not in msg:
        extra = " or tool_calls" if role == "assistant" else ""
        return f"a {role} message needs content (a text or a list of parts) or file{extra}"
    if not isinstance(msg.get("content"), (str, list, type(None))):
        return "content must be a text, a list of parts, or null (only beside tool_calls)"
    return "this message has no shape harness knows"


def _readable(err: jsonschema.ValidationError, doc: Any) -> str:
    path = list(err.absolute_path)
    at = _message_at(doc, path)
    if at is not None and err.validator in ("oneOf", "anyOf", "allOf", "not", "if", "then", "else",
                                            "const", "required"):
        prefix, msg = at
        if path == prefix or (err.validator != "required" and path[len(prefix):] in (["role"], ["content"])):
            return f"{message_problem(msg)}; {MESSAGE_SHAPES}"
    if not path and err.validator == "anyOf":
        return "a suite lists its cases under 'cases:', or reads them from data files with 'cases_from:'"
    if path and path[-1] == "samples" and err.validator == "oneOf":
        return f"{err.instance!r} is not a number of samples; {SAMPLES_SHAPES}"
    if len(path) >= 3 and path[-1] in ("step", "turn") and "checks" in path and err.validator in ("oneOf", "minimum"):
        return (f"{path[-1]}: {err.instance!r} names no {path[-1]}; write a whole number >= 1 (steps and "
                "turns count from 1) or last")
    if path and path[-1] == "impl" and err.validator == "pattern":
        return (f"impl {err.instance!r} is not module:function; write the name of a module file beside the "
                "suite and a function in it, e.g. impl: tools_impl:get_weather for tools_impl.py")
    return err.message


def schema_error(doc: Any, file: Path, owns: Callable[[str], bool] | None = None) -> None:
    """Raise a UserError for the most relevant way ``doc`` breaks the suite schema, if it does.
    A valid suite (nearly every one) is told so by the quick check (of a shard's own cases only,
    with ``owns``); only a broken one is walked whole, to pick the error a user is shown."""
    if is_valid_suite(doc, owns):
        return
    errors = sorted(_validator().iter_errors(doc), key=lambda e: (len(e.absolute_path), e.message))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    parent, key = _node_at(doc, list(err.absolute_path))
    line = line_of(parent, key) if key is not None else line_of(doc)
    where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
    case = None
    path = list(err.absolute_path)
    if len(path) >= 2 and path[0] == "cases" and isinstance(doc.get("cases"), list):
        raw = doc["cases"][path[1]]
        case = raw.get("id") if isinstance(raw, dict) else None
    message = _readable(err, doc)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = err.schema.get("properties", {})
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            line = line_of(err.instance, extra[0]) or line
            close = difflib.get_close_matches(str(extra[0]), list(allowed), n=1)
            if close:
                message = f"{message}; did you mean {close[0]!r}?"
    if err.validator == "additionalProperties":
        message = f"{message}; allowed keys are listed in harness/suite.schema.json"
    raise UserError(f"invalid suite at {where}: {message}", file=file, line=line, case=case)
