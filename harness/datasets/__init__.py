"""Cases from data: ``cases_from:`` turns each row of a CSV, JSON Lines or YAML file into a case.

An evaluation set is usually a table (an input and the expected answer, per row) kept beside the
suite, not a hand-written list of cases. A suite names its data files; each row kept by the
source's ``where`` filter and ``limit`` becomes one case with the suite's prompt and checks and the
row as its variables. This module reads the sources and gives each row its id; suite.py expands
the rows like any case (models, apis, samples, matrix).

A row's id must stay the same from run to run, because it names the row's cassette: it is the
row's ``id`` column (or the column the source names), made a valid case id; without one, a hash
of the row's content, so reordering rows keeps every id (and editing a row gives it a new one).
Data files are read through safe_files, from inside the project only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..safe_files import project_root, read_bytes
from ..suite_paths import display_path
from ..yamlio import line_of
from .formats import FORMATS, RawRow, Table, decode, read_table

#: Data files are read whole; this is ample for 100,000 rows of a few hundred characters each.
DATA_LIMIT = 64 * 1024 * 1024
#: The longest case id a suite may write (suite.schema.json); longer ids from data are cut.
MAX_ID = 80
_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")
_EDGES = re.compile(r"^[._-]+|_+$")  # an id starts with a letter or digit
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Filter:
    """``where: {column: value}`` (or a list of values, any of which matches), compared as text."""

    column: str
    texts: frozenset[str]
    line: int | None


@dataclass(frozen=True)
class DataSource:
    """One ``cases_from`` entry as written in the suite."""

    file: str  # relative to the suite's folder
    line: int | None  # where the suite names it
    id_column: str | None = None  # None: the row's ``id`` when it has one, else a content hash
    where: tuple[Filter, ...] = ()
    limit: int | None = None


@dataclass(frozen=True)
class Row:
    """A row that becomes a case: its id, its values (the case's variables) and where it is."""

    id: str
    vars: dict[str, Any]
    file: str  # the data file, as shown in messages
    line: int
    hashed: bool = False  # named by its content (it has no id column)

    @property
    def origin(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Dataset:
    """The rows one source gives, in file order."""

    source: DataSource
    rows: tuple[Row, ...]


def data_sources(doc: dict[str, Any]) -> tuple[DataSource, ...]:
    """The suite's ``cases_from`` (a path, a mapping, or a list of them; checked by the schema)."""
    raw = doc.get("cases_from")
    if raw is None:
        return ()
    entries = raw if isinstance(raw, list) else [raw]
    out = []
    for index, entry in enumerate(entries):
        line = line_of(raw, index) if isinstance(raw, list) else line_of(doc, "cases_from")
        if isinstance(entry, str):
            out.append(DataSource(entry, line))
            continue
        where = entry.get("where") or {}
        filters = tuple(Filter(str(column), frozenset(_text(v) for v in (want if isinstance(want, list) else [want])),
                               line_of(where, column) or line)
                        for column, want in where.items())
        out.append(DataSource(str(entry["file"]), line_of(entry, "file") or line, entry.get("id"),
                              filters, entry.get("limit")))
    return tuple(out)


def load_datasets(doc: dict[str, Any], path: Path, display: Path) -> tuple[Dataset, ...]:
    """Read every source of the suite at ``path`` (shown as ``display``); a row id given twice, in
    one file or two, is an error naming both rows."""
    seen: dict[str, str] = {}
    out = []
    for source in data_sources(doc):
        dataset = _load(source, path, display)
        for row in dataset.rows:
            first = seen.setdefault(row.id, row.origin)
            if first != row.origin:
                raise _duplicate(row, first)
        out.append(dataset)
    return tuple(out)


def _duplicate(row: Row, first: str) -> UserError:
    if row.hashed:
        why = (f"this row is the same as {first} (a row without an id column is named by its content): "
               "remove one, or give the rows an id column")
    else:
        why = f"duplicate case id {row.id!r} (also at {first}; ids are made of letters, digits, '.', '_', '-')"
    return UserError(why, file=row.file, line=row.line, case=row.id)


def _load(source: DataSource, path: Path, display: Path) -> Dataset:
    kind = FORMATS.get(Path(source.file).suffix.lower())
    if kind is None:
        raise UserError(f"cases_from: {source.file!r} is not a data file harness reads (.csv, .jsonl, "
                        ".yaml or .yml)", file=display, line=source.line)
    root = project_root(path)
    target = path.parent / source.file
    shown = display_path(target).as_posix()
    try:
        data = read_bytes(target, shown=source.file, what="data file", root=root,
                          where=f"the project ({root})", limit=DATA_LIMIT)
    except UserError as exc:
        raise exc.located(file=display, line=source.line) from None
    table = read_table(decode(data, shown), kind, shown)
    if table.header is not None:
        _check_header(table.header, source, shown, display)
    rows = tuple(_rows(table, source, shown, display))
    if not rows:  # a typo in a filter's value would otherwise pass as a suite of nothing
        what = "no row matches its where:" if source.where else "it has no rows"
        raise UserError(f"cases_from: {shown} gives no case: {what}", file=display, line=source.line)
    return Dataset(source, rows)


def _check_header(header: tuple[str, ...], source: DataSource, shown: str, display: Path) -> None:
    """A CSV file names its columns up front: a filter or id column it lacks is an error at once."""
    columns = ", ".join(header)
    for flt in source.where:
        if flt.column not in header:
            raise UserError(f"cases_from where: {shown} has no column {flt.column!r} (its header has: "
                            f"{columns})", file=display, line=flt.line)
    if source.id_column is not None and source.id_column not in header:
        raise UserError(f"cases_from id: {shown} has no column {source.id_column!r} (its header has: "
                        f"{columns})", file=display, line=source.line)


def _rows(table: Table, source: DataSource, shown: str, display: Path) -> Iterator[Row]:
    """The rows the source keeps, with their ids; reading stops at ``limit``."""
    kept = 0
    columns: set[str] = set()
    for raw in table.rows:
        if source.where:
            columns.update(raw.values)
            if not all(f.column in raw.values and _text(raw.values[f.column]) in f.texts for f in source.where):
                continue
        kept += 1
        row_id = _row_id(raw, source, shown)
        yield Row(row_id or _hashed(raw.values), raw.values, shown, raw.line, hashed=row_id is None)
        if kept == source.limit:
            return  # every filter column was in the rows kept: nothing to check further
    for flt in source.where:
        if flt.column not in columns:
            raise UserError(f"cases_from where: no row of {shown} has a column {flt.column!r} "
                            f"(columns: {', '.join(sorted(columns)) or 'none'})", file=display, line=flt.line)


def _hashed(values: dict[str, Any]) -> str:
    """The id of a row without an id column: 48 bits of a hash of its canonical JSON (keys
    sorted), so neither the order of rows nor of columns changes it (two distinct rows share one
    with a chance of about 1 in 50,000 in a file of 100,000 rows)."""
    canonical = _CANONICAL.encode(values)
    return "row-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _row_id(raw: RawRow, source: DataSource, shown: str) -> str | None:
    """The row's id from its id column; None when it has none and none was named."""
    column = source.id_column or "id"
    if column not in raw.values:
        if source.id_column is not None:
            raise UserError(f"this row has no {column!r} (the id column cases_from names)",
                            file=shown, line=raw.line)
        return None
    value = raw.values[column]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UserError(f"column {column!r} holds {json.dumps(value, default=str)[:40]}; an id is a text "
                        "or a number", file=shown, line=raw.line)
    text = _EDGES.sub("", _NOT_ID.sub("_", str(value)))[:MAX_ID]
    if not text:
        raise UserError(f"column {column!r} is empty or has no letter or digit; every row needs an id",
                        file=shown, line=raw.line)
    return text


def _text(value: Any) -> str:
    """A value as a filter compares it: texts as they are (CSV has only texts), numbers, booleans
    and null as JSON writes them (``1``, ``true``, ``null``)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


__all__ = ["DATA_LIMIT", "DataSource", "Dataset", "Filter", "Row", "data_sources", "load_datasets"]
