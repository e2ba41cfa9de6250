"""Rows of a data file (CSV, JSON Lines, YAML), each with the line it starts on.

A data file is written by hand or exported from a spreadsheet or a database, so every way it can
be malformed is told at its line (and column where one applies): bytes that are not UTF-8, JSON
that does not parse, a row that is not a mapping, a CSV row with more or fewer fields than its
header. Rows are yielded one at a time, so a reader that has what it needs (a ``limit``) stops
without parsing the rest of the file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..yamlio import parse_yaml

#: The file suffixes ``cases_from`` reads, and the format of each.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".yaml": "yaml", ".yml": "yaml"}


@dataclass(frozen=True)
class RawRow:
    """One row as read: its values, and the line of the file it starts on (1-based)."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class Table:
    """A data file's rows (read lazily) and, for CSV, the columns its header names."""

    rows: Iterator[RawRow]
    header: tuple[str, ...] | None = None


def decode(data: bytes, shown: str) -> str:
    """The file's text; a UTF-8 byte-order mark (spreadsheets write one) is dropped. A byte that is
    not UTF-8 is an error at its line and column, never a character guessed at."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UserError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at column {column} (save the "
                        "file as UTF-8)", file=shown, line=line) from None


def read_table(text: str, kind: str, shown: str) -> Table:
    """The rows of ``text``, a file of format ``kind`` (a value of FORMATS)."""
    if kind == "csv":
        return _csv(text, shown)
    if kind == "jsonl":
        return Table(_jsonl(text, shown))
    return Table(_yaml(text, shown))


def _csv(text: str, shown: str) -> Table:
    """CSV with a header row, read by the csv module (quoted fields may span lines). Every value is
    text, as CSV has no types; an empty cell is an empty text."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise UserError(f"CSV error in the header: {exc}", file=shown, line=reader.line_num or 1) from None
    if not header or not any(h.strip() for h in header):
        raise UserError("the CSV file has no header row (the first line names the columns)",
                        file=shown, line=1)
    names = [h.strip() for h in header]
    for index, name in enumerate(names):
        if not name:
            raise UserError(f"the header's column {index + 1} has no name", file=shown, line=1)
        if name in names[:index]:
            raise UserError(f"the header names column {name!r} twice (columns {names.index(name) + 1} "
                            f"and {index + 1})", file=shown, line=1)

    def rows() -> Iterator[RawRow]:
        start = reader.line_num + 1
        while True:
            try:
                fields = next(reader, None)
            except csv.Error as exc:
                raise UserError(f"CSV error: {exc}", file=shown, line=start) from None
            if fields is None:
                return
            if any(fields):  # a blank line, or a row of empty cells a spreadsheet left, is no row
                if len(fields) != len(names):
                    raise UserError(f"this row has {len(fields)} field(s) but the header has "
                                    f"{len(names)} ({', '.join(names)})", file=shown, line=start)
                yield RawRow(start, dict(zip(names, fields, strict=True)))
            start = reader.line_num + 1

    return Table(rows(), tuple(names))


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a request can carry")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity
        raise ValueError(f"{text} is not a finite number")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


#: One decoder for every line (json.loads with options would build a new one per row).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite, object_pairs_hook=_object)


def _jsonl(text: str, shown: str) -> Iterator[RawRow]:
    """One JSON object per line; blank lines are skipped. NaN and infinities are refused (no
    request can carry them), and so is a key written twice in one object (JSON parsers disagree on
    which one wins)."""
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON text may hold U+2028
        if not line.strip():
            continue
        try:
            value = _DECODER.decode(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"bad JSON at column {exc.colno}: {exc.msg} (one JSON object per line)",
                            file=shown, line=number) from None
        except (ValueError, RecursionError) as exc:
            raise UserError(f"bad JSON: {exc}", file=shown, line=number) from None
        if not isinstance(value, dict):
            raise UserError(f"a row must be a JSON object {{\"column\": value, ...}}, not "
                            f"{_kind(value)}", file=shown, line=number)
        yield RawRow(number, value)


def _yaml(text: str, shown: str) -> Iterator[RawRow]:
    """A YAML list of mappings, read by the suite's own YAML loader (lines, no NaN, no alias bomb)."""
    doc = parse_yaml(text, Path(shown))
    if not isinstance(doc, list):
        raise UserError(f"a YAML data file must be a list of mappings (one per row), not {_kind(doc)}",
                        file=shown, line=getattr(doc, "line", None) or 1)
    lines = getattr(doc, "item_lines", [])
    for index, item in enumerate(doc):
        line = lines[index] if index < len(lines) else 1
        if not isinstance(item, dict):
            raise UserError(f"a row must be a mapping {{column: value, ...}}, not {_kind(item)}",
                            file=shown, line=line)
        yield RawRow(line, item)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


__all__ = ["FORMATS", "RawRow", "Table", "decode", "read_table"]
