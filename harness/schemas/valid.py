"""Is it a JSON Schema at all? Judged by the schema's own draft's meta-schema (2020-12 unless its
``$schema`` names another), the same draft the checks validate answers with.

This is the one place every declared schema is judged: response formats, tool parameters, the
schemas of ``json-schema`` and ``tool-call`` checks, and schema files.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from ..errors import UserError
from .problem import SchemaProblem, json_path_text, line_at

_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")


def validator_class(schema: dict[str, Any]) -> Any:
    """The validator for the schema's draft; 2020-12 when it names none."""
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


def _rule(err: jsonschema.ValidationError, *, quote: bool) -> str:
    path = list(err.absolute_path)
    key = next((p for p in reversed(path) if isinstance(p, str)), None)
    if not quote:  # a schema file's content is not shown: only where it breaks, and which rule
        return f"breaks {err.validator!r}"
    if key == "type":
        return f"{err.instance!r} is not a JSON Schema type (use {', '.join(_TYPES)}, or a list of them)"
    message = err.message if len(err.message) <= 160 else err.message[:159] + "…"
    return f"not a valid JSON Schema: {message}"


def meta_problems(schema: Any, *, quote: bool = True, limit: int = 3) -> list[SchemaProblem]:
    """Where ``schema`` breaks its meta-schema (at most ``limit`` places, the most specific first).
    With ``quote`` false, messages never show the schema's own values."""
    if not isinstance(schema, dict):
        return [SchemaProblem((), "a JSON Schema must be a mapping")]
    cls = validator_class(schema)
    out: list[SchemaProblem] = []
    for err in sorted(cls(cls.META_SCHEMA).iter_errors(schema),
                      key=lambda e: [str(p) for p in e.absolute_path]):
        best = jsonschema.exceptions.best_match([err]) or err
        if best.absolute_path and isinstance(best.absolute_path[-1], int) \
                and len(best.absolute_path) > len(err.absolute_path):
            best = err  # ['string', 'foo'] as a whole, not its second item
        out.append(SchemaProblem(tuple(best.absolute_path), _rule(best, quote=quote)))
        if len(out) >= limit:
            break
    return out


def check_schema_valid(schema: Any, *, file: str | None = None) -> dict[str, Any]:
    """``schema`` when it is a valid JSON Schema, else a UserError naming the JSON path that breaks
    and, for a schema written in the suite, the line of that node. For a schema ``file`` the message
    names the file and the path only: a message quoting the schema could show what the file holds."""
    problems = meta_problems(schema, quote=file is None, limit=1)
    if not problems:
        return schema
    first = problems[0]
    if file:
        raise UserError(f"schema file {file!r} is not a valid JSON Schema: {first.where} {first.rule}")
    raise UserError(f"invalid JSON Schema at {first.where}: {first.rule}",
                    line=line_at(schema, first.path))


__all__ = ["check_schema_valid", "json_path_text", "meta_problems", "validator_class"]
