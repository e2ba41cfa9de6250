"""The schemas a suite declares to the API — ``response_format`` json_schema and tool ``parameters``,
on the suite or on a case — judged while the suite loads, before any case is planned or sent.

Each must be a valid JSON Schema, and with ``strict: true`` keep strict mode's subset (strict.py):
the API answers a broken one with HTTP 400, after a run has spent time on it. Judging here, where
the YAML still carries its line numbers, lets the error point at the very node that breaks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..yamlio import line_of
from .files import is_file_ref, read_schema_file
from .problem import SchemaProblem, line_at
from .strict import strict_problems
from .valid import meta_problems


@dataclass(frozen=True)
class Declared:
    """One declared schema: what it is for, the node holding it, and where it was written."""

    what: str
    schema: Any
    strict: bool
    case: str | None
    line: int | None
    file: str | None = None  # the schema file it was read from, if any


def _response_format(owner: dict[str, Any], case: str | None, root: Path) -> Iterator[Declared]:
    fmt = owner.get("response_format")
    if not isinstance(fmt, dict):
        return
    if fmt.get("type") == "json_object" and "schema" in fmt:
        yield Declared("response_format schema", fmt["schema"], False, case, line_of(fmt, "schema"))
    spec = fmt.get("json_schema")
    if fmt.get("type") != "json_schema" or not isinstance(spec, dict) or "schema" not in spec:
        return
    strict = spec.get("strict") is True
    schema, file = spec["schema"], None
    if is_file_ref(schema):
        file = schema["file"]
        try:
            spec["schema"] = schema = read_schema_file(file, root)  # sent as the file's schema
        except UserError as exc:
            raise exc.located(line=line_of(spec, "schema"), case=case) from None
    yield Declared("response_format schema", schema, strict, case, line_of(spec, "schema"), file)


def _tools(owner: dict[str, Any], case: str | None) -> Iterator[Declared]:
    tools = owner.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and "parameters" in fn:
            yield Declared(f"tool {fn.get('name')!r} parameters", fn["parameters"],
                           fn.get("strict") is True, case, line_of(fn, "parameters"))


def declared_schemas(doc: dict[str, Any], root: Path) -> Iterator[Declared]:
    """Every schema the suite declares, the suite's own first, then each case's."""
    owners: list[tuple[dict[str, Any], str | None]] = [(doc, None)]
    owners += [(raw, str(raw.get("id"))) for raw in doc.get("cases") or [] if isinstance(raw, dict)]
    for owner, case in owners:
        yield from _response_format(owner, case, root)
        yield from _tools(owner, case)


def _problems(item: Declared) -> list[SchemaProblem]:
    return meta_problems(item.schema, quote=item.file is None) or \
        (strict_problems(item.schema) if item.strict else [])


def check_declared(doc: dict[str, Any], suite_file: Path, *, display: Path) -> None:
    """Raise a UserError at the first broken declared schema: file:line of the node, the case (none
    for a suite-level schema), the JSON path inside the schema and the rule it breaks. A
    ``schema: {file: ...}`` is read (inside the suite's folder) and put in its place."""
    root = Path(os.path.realpath(os.path.dirname(os.path.abspath(suite_file))))
    found: list[tuple[Declared, SchemaProblem]] = []
    for item in declared_schemas(doc, root):
        found += [(item, p) for p in _problems(item)]
    if not found:
        return
    item, problem = found[0]
    source = f" (from {item.file!r})" if item.file else ""
    more = f" ({len(found) - 1} more schema problem(s) in this file)" if len(found) > 1 else ""
    line = item.line if item.file else line_at(item.schema, problem.path) or item.line
    raise UserError(f"{item.what}{source} at {problem.where}: {problem.rule}{more}",
                    file=display, line=line, case=item.case)
