"""JSON checks: the content parses, conforms to a JSON Schema (2020-12 by default), or holds a value
at a path.

Schema validation is shared with the tool and auto checks (``schema_errors``), so every violation
everywhere is reported the same way: the JSON path that broke, then what was wrong there.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import jsonschema

from ..schemas.files import read_schema_file
from ..schemas.problem import json_path_text
from ..schemas.valid import check_schema_valid
from .group import binding_spec
from .registry import CheckContext, Result, check, trim
from .text import quote, regex_arg

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_+-]*[ \t]*\n(.*?)\n?```\s*$", re.DOTALL)


def parse_json_text(text: str, *, allow_fence: bool) -> tuple[Any, str | None]:
    """Parse JSON; with ``allow_fence`` the whole answer may be one markdown code fence."""
    if allow_fence:
        m = _FENCE.match(text)
        if m:
            text = m.group(1)
    if not text.strip():
        return None, "not valid JSON: the content is empty"
    try:
        return json.loads(text), None
    except ValueError as exc:
        hint = " (a markdown code fence? use fence: true)" if text.lstrip().startswith("```") else ""
        return None, f"not valid JSON ({exc}){hint}: {quote(text, 80)}"


@functools.lru_cache(maxsize=256)
def _compiled(schema_text: str) -> Any:
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def _validator(schema: dict[str, Any]) -> Any:
    """Validators are cached by the schema's canonical text: one per schema, not one per case."""
    return _compiled(json.dumps(schema, sort_keys=True))


def _extra_keys(err: Any) -> list[str]:
    props = err.schema.get("properties") or {}
    patterns = list(err.schema.get("patternProperties") or {})
    return [k for k in err.instance if k not in props
            and not any(re.search(p, k) for p in patterns)]


def schema_errors(instance: Any, schema: dict[str, Any], limit: int = 3) -> list[str]:
    """Human-readable validation errors, each naming the JSON path that broke.

    An invented property is reported at its own path (``$.unit: not allowed``), not at its parent's,
    and a missing one at the path where it should have been: that is the path a reader looks for.
    """
    out: list[str] = []
    errors = sorted(_validator(schema).iter_errors(instance),
                    key=lambda e: [str(p) for p in e.absolute_path])
    for err in errors:
        path = list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict) \
                and err.validator_value is False:
            extra = _extra_keys(err)
            out.extend(f"{json_path_text(path + [k])}: unknown property (not in the schema)"
                       for k in extra)
            if not extra:
                out.append(f"{json_path_text(path)}: {trim(err.message, 160)}")
        elif err.validator == "required" and isinstance(err.instance, dict):
            missing = [k for k in err.validator_value if k not in err.instance]
            out.extend(f"{json_path_text(path + [k])}: required property is missing" for k in missing)
        else:
            out.append(f"{json_path_text(path)}: {trim(err.message, 160)}")
        if len(out) >= limit:
            break
    return out[:limit]


def _fence_flag(arg: dict[str, Any]) -> bool:
    fence = arg.get("fence", False)
    if not isinstance(fence, bool):
        raise ValueError(f"fence must be true or false, got {fence!r}")
    return fence


def _is_json_arg(arg: Any) -> dict[str, Any]:
    if arg is None or arg is True:
        return {"fence": False}
    if isinstance(arg, dict) and set(arg) <= {"fence"}:
        return {"fence": _fence_flag(arg)}
    raise ValueError("is-json takes no argument, or {fence: true}")


@check("is-json", arg=None, validate=_is_json_arg)
def is_json(arg: dict[str, Any], ctx: CheckContext) -> Result:
    """The content is valid JSON (``{fence: true}`` accepts a markdown code fence)."""
    value, err = parse_json_text(ctx.output.text, allow_fence=arg["fence"])
    if err:
        return Result(False, err)
    return Result(True, f"valid JSON {type(value).__name__}")


def load_schema_file(name: Any) -> dict[str, Any]:
    """A .json or .yaml schema file inside the suite's folder (schemas/files.py), judged as a schema."""
    spec = binding_spec()
    base = Path(spec.file).parent if spec is not None and spec.file else Path.cwd()
    return check_schema_valid(read_schema_file(name, Path(os.path.realpath(base))), file=name)


def _schema_arg(arg: Any) -> dict[str, Any]:
    if isinstance(arg, dict) and ("schema" in arg or "file" in arg) \
            and set(arg) <= {"schema", "file", "fence"}:
        if ("schema" in arg) == ("file" in arg):
            raise ValueError("give either schema or file, not both")
        schema = load_schema_file(arg["file"]) if "file" in arg else check_schema_valid(arg["schema"])
        return {"schema": schema, "fence": _fence_flag(arg)}
    return {"schema": check_schema_valid(arg), "fence": False}


@check("json-schema", validate=_schema_arg)
def json_schema(arg: dict[str, Any], ctx: CheckContext) -> Result:
    """The content parses as JSON and validates against the schema."""
    value, err = parse_json_text(ctx.output.text, allow_fence=arg["fence"])
    if err:
        return Result(False, err)
    errors = schema_errors(value, arg["schema"])
    if errors:
        return Result(False, "schema violation: " + "; ".join(errors))
    return Result(True, "content validates against the schema")


# ---------------------------------------------------------------- json-path
#
# The path language is written here rather than taken from jsonpath-ng: the checks need four
# forms ($, .key, [index], [*]) and, above all, a reason that says where a lookup stopped
# ("$.languages has 2 items, no [5]"), which a general engine does not report. ~50 lines beat a
# dependency with its own grammar, error types and (different) semantics for the same syntax.

_STEP = re.compile(r"""\.(?P<dotstar>\*)|\.(?P<key>[^.\[\]]+)|\[(?P<index>-?\d+)\]|\[(?P<star>\*)\]"""
                   r"""|\[(?P<q>["'])(?P<qkey>(?:\\.|(?!(?P=q)).)*)(?P=q)\]""")


def parse_path(text: Any) -> tuple[tuple[str, Any], ...]:
    """``$.a.b[0][*]['odd key']`` -> (("key","a"), ("key","b"), ("index",0), ("star",None), ...).

    Syntax: ``$`` is the root; ``.name`` or ``['name']`` a key; ``[N]`` an index (negative from the
    end); ``[*]`` or ``.*`` every item or value. Anything else is a load-time error.
    """
    if not isinstance(text, str) or not text.startswith("$"):
        raise ValueError(f"a path starts with $, e.g. $.items[0].name; got {text!r}")
    steps, pos = [], 1
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise ValueError(f"bad path {text!r} at {text[pos:]!r} (use .key, ['key'], [N], [*])")
        if m.group("key") is not None:
            steps.append(("key", m.group("key")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("star") or m.group("dotstar"):
            steps.append(("star", None))
        else:
            steps.append(("key", re.sub(r"\\(.)", r"\1", m.group("qkey"))))
        pos = m.end()
    return tuple(steps)


def resolve_path(value: Any, steps: tuple[tuple[str, Any], ...]) -> tuple[list[Any], str | None]:
    """Every value the path reaches, or (``[]``, where and why the lookup stopped)."""
    current: list[tuple[str, Any]] = [("$", value)]
    for kind, arg in steps:
        nxt: list[tuple[str, Any]] = []
        why = None
        for where, node in current:
            if kind == "star":
                if isinstance(node, list):
                    nxt.extend((f"{where}[{i}]", v) for i, v in enumerate(node))
                elif isinstance(node, dict):
                    nxt.extend((json_path_text([k]).replace("$", where, 1), v) for k, v in node.items())
                else:
                    why = f"{where} is {_kind(node)}, not a list or object"
            elif kind == "index":
                if not isinstance(node, list):
                    why = f"{where} is {_kind(node)}, not a list"
                elif -len(node) <= arg < len(node):
                    nxt.append((f"{where}[{arg}]", node[arg]))
                else:
                    why = f"{where} has {len(node)} items, no [{arg}]"
            elif not isinstance(node, dict):
                why = f"{where} is {_kind(node)}, not an object"
            elif arg in node:
                nxt.append((json_path_text([arg]).replace("$", where, 1), node[arg]))
            else:
                why = f"{where} has no key {arg!r} (keys: {trim(list(node), 60)})"
        if not nxt:
            return [], why or f"{current[0][0] if current else '$'} is empty"
        current = nxt
    return [v for _, v in current], None


def _kind(node: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(node), "a number")


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 and "1" != 1 (Python's == says True == 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


_PATH_KEYS = {"path", "equals", "contains", "matches", "exists", "fence"}


def _json_path_arg(arg: Any) -> dict[str, Any]:
    if not isinstance(arg, dict) or "path" not in arg:
        raise ValueError("expected {path: $.a.b, equals|contains|matches|exists: ...}")
    unknown = set(arg) - _PATH_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (use {', '.join(sorted(_PATH_KEYS))})")
    out = dict(arg, steps=parse_path(arg["path"]), fence=_fence_flag(arg))
    if "exists" in arg and not isinstance(arg["exists"], bool):
        raise ValueError("exists must be true or false")
    if arg.get("exists") is False and set(arg) & {"equals", "contains", "matches"}:
        raise ValueError("exists: false cannot be combined with equals, contains or matches")
    if "matches" in arg:
        out["matches"] = regex_arg(arg["matches"])  # the same pattern syntax as the regex check
    return out


def _contains_value(node: Any, expected: Any) -> bool:
    if isinstance(node, str):
        return isinstance(expected, str) and expected in node
    if isinstance(node, list):
        return any(json_equal(item, expected) for item in node)
    if isinstance(node, dict):
        return expected in node
    return False


@check("json-path", validate=_json_path_arg)
def json_path(arg: dict[str, Any], ctx: CheckContext) -> Result:
    """The value at a path of the JSON content exists / equals / contains / matches.

    With a wildcard the path reaches several values: ``equals`` and ``contains`` then apply to the
    list of them, ``matches`` to each of them.
    """
    doc, err = parse_json_text(ctx.output.text, allow_fence=arg["fence"])
    if err:
        return Result(False, err)
    path = arg["path"]
    values, why = resolve_path(doc, arg["steps"])
    if why is not None:
        if arg.get("exists") is False:
            return Result(True, f"{path} does not exist ({why})")
        return Result(False, f"{path} not found: {why}")
    if arg.get("exists") is False:
        found = values[0] if len(values) == 1 else values
        return Result(False, f"expected {path} not to exist, got {trim(found, 80)}")
    many = any(kind == "star" for kind, _ in arg["steps"])
    got = values if many else values[0]
    problems = []
    if "equals" in arg and not json_equal(got, arg["equals"]):
        problems.append(f"expected {trim(arg['equals'], 80)}, got {trim(got, 80)}")
    if "contains" in arg and not _contains_value(got, arg["contains"]):
        problems.append(f"expected to contain {trim(arg['contains'], 80)}, got {trim(got, 80)}")
    if "matches" in arg:
        pattern = arg["matches"]
        for v in values:
            if not isinstance(v, str):
                problems.append(f"{trim(v, 60)} is {_kind(v)}, not a string to match")
                break
            if not pattern.search(v):
                problems.append(f"/{trim(pattern.pattern, 60)}/ did not match {quote(v, 80)}")
                break
    if problems:
        return Result(False, f"{path}: " + "; ".join(problems))
    return Result(True, f"{path} = {trim(got, 80)}")
