"""The files a promptfoo config names (``file://prompts/x.txt``, ``tests.csv``, globs), read
relative to the config's folder and only inside its project, as harness reads what a suite names.

YAML is read with harness's own loader (yamlio), which keeps line numbers, so a problem in a test
file is reported at its line; CSV rows keep theirs too.
"""

from __future__ import annotations

import csv
import glob
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import safe_files
from ...errors import UserError
from ...yamlio import line_of, load_yaml

FILE = "file://"
TEXT_SUFFIXES = (".txt", ".md", ".j2", ".njk", ".nunjucks", ".prompt", ".jinja", ".html", ".xml", "")
SCRIPT_SUFFIXES = (".js", ".cjs", ".mjs", ".ts", ".py", ".rb")


@dataclass(frozen=True)
class Source:
    """Where a value was written, for the report: a file (relative to the config's folder)."""

    base: Path  # the config's folder: file references are relative to it
    root: Path  # the project: nothing outside it is read
    shown: str  # the file as the report names it

    def at(self, container: Any = None, key: Any = None) -> str:
        line = line_of(container, key) if container is not None else None
        return f"{self.shown}:{line}" if line else self.shown

    def for_file(self, path: Path) -> Source:
        return Source(self.base, self.root, _shown(path, self.base))


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def is_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FILE)


def ref_path(value: str) -> tuple[str, str | None]:
    """``file://a/b.py:fn`` -> ("a/b.py", "fn"); the function part only after a script suffix."""
    text = value[len(FILE):] if value.startswith(FILE) else value
    head, sep, tail = text.rpartition(":")
    if sep and any(head.endswith(s) for s in SCRIPT_SUFFIXES) and tail.isidentifier():
        return head, tail
    return text, None


def resolve(source: Source, name: str) -> list[Path]:
    """The files ``name`` (relative to the config, maybe a glob) names, sorted; a UserError when
    one is missing or lies outside the project."""
    pattern = source.base / name
    paths = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True)) if glob.has_magic(name) \
        else [pattern]
    if not paths or not all(p.is_file() for p in paths):
        raise UserError(f"no such file {name!r}", file=source.shown)
    for path in paths:
        if not safe_files.is_inside(path, source.root):
            raise UserError(f"{name!r} is outside the project ({source.root}); nothing outside it is read",
                            file=source.shown)
    return paths


def read_text(source: Source, path: Path) -> str:
    return safe_files.read_text(path, shown=_shown(path, source.base), root=source.root)


def read_data(source: Source, path: Path) -> Any:
    """A .yaml/.yml (with lines), .json or .jsonl file's value."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return load_yaml(path)
    text = read_text(source, path)
    try:
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except ValueError as exc:
        raise UserError(f"not valid JSON: {exc}", file=_shown(path, source.base)) from None


@dataclass(frozen=True)
class Row:
    line: int
    cells: dict[str, str]


def read_csv(source: Source, path: Path) -> list[Row]:
    """Rows of a CSV file (header first) with the line each starts on; a tab-separated file by
    its .tsv suffix."""
    text = read_text(source, path)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter="\t" if path.suffix == ".tsv" else ",")
    rows = []
    start = 2
    for cells in reader:
        rows.append(Row(start, {str(k).strip(): v or "" for k, v in cells.items() if k is not None}))
        start = reader.line_num + 1
    return rows


def comma_values(text: str) -> list[str]:
    """promptfoo's comma-separated values (``a, "b, c"``): CSV quoting, items trimmed."""
    return [item.strip() for item in next(csv.reader([text], skipinitialspace=True), []) if item.strip()]
