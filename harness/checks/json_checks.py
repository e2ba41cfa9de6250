"""JSON checks: the content parses, and conforms to a JSON Schema (2020-12 by default)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from .registry import CheckContext, Result, check, trim

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


def parse_json_text(text: str, *, allow_fence: bool) -> tuple[Any, str | None]:
    """Parse JSON, optionally from inside a single markdown code fence."""
    if allow_fence:
        m = _FENCE.match(text)
        if m:
            text = m.group(1)
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"not valid JSON ({exc}): {trim(text, 80)!r}"


def schema_errors(instance: Any, schema: dict[str, Any], limit: int = 3) -> list[str]:
    """Human-readable validation errors, each with the JSON path that broke."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = cls(schema)
    out = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append(f"{path}: {trim(err.message, 160)}")
        if len(out) >= limit:
            break
    return out


def check_schema_valid(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise ValueError("a JSON Schema must be a mapping")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
    return schema


@check("is-json", arg=None)
def is_json(arg: Any, ctx: CheckContext) -> Result:
    """The content is valid JSON (``{fence: true}`` accepts a markdown code fence)."""
    fence = bool(arg.get("fence")) if isinstance(arg, dict) else False
    value, err = parse_json_text(ctx.output.text, allow_fence=fence)
    if err:
        return Result(False, err)
    return Result(True, f"valid JSON {type(value).__name__}")


def _schema_arg(arg: Any) -> dict[str, Any]:
    if isinstance(arg, dict) and "schema" in arg and not {"type", "properties", "$ref"} & set(arg):
        return {"schema": check_schema_valid(arg["schema"]), "fence": bool(arg.get("fence", False))}
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
