"""Where a suite's files are: its display path, its name, its cassette folder (never outside the
project), and which cassettes its folder already holds. Kept apart from suite.py, which parses and
expands; these are the path rules every suite shares.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .cassettes.names import fitted
from .errors import UserError
from .project import project_of
from .safe_files import is_inside, project_root
from .yamlio import line_of


def default_cassette_root(suite_path: Path) -> Path:
    """The project file's ``cassettes:`` when it sets one; else the nearest existing ``cassettes/``
    folder beside the suite or one of its parents up to the project root
    (safe_files.project_root); else ``cassettes/`` at the project root."""
    project = project_of(suite_path)
    if project.cassettes is not None:
        return project.cassettes
    root = project.root
    for parent in Path(os.path.abspath(suite_path)).parents:
        if (parent / "cassettes").is_dir() or parent == root:
            return (parent / "cassettes").resolve()
    return (root / "cassettes").resolve()


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # the schema's pattern for `name:`


def suite_name_of(doc: dict[str, Any], path: Path, display: Path) -> str:
    """``name:``, else the file name; it names a folder under cassettes/, so it must never be
    '.', '..' or anything the schema would refuse as a ``name:``."""
    if doc.get("name"):
        return str(doc["name"])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem)
    if not _NAME.match(name):
        raise UserError(f"the file name {path.name!r} gives no valid suite name (letters, digits, "
                        "'.', '_', '-', starting with a letter or digit): rename the file or set "
                        "'name:'", file=display, line=1)
    return name


def cassette_root_of(doc: dict[str, Any], path: Path, display: Path, name: str) -> Path:
    """Where this suite's cassettes go: never outside the project (symlinks followed)."""
    project = project_root(path)
    if "cassette_dir" in doc:
        written = str(doc["cassette_dir"])
        if os.path.isabs(written):
            raise UserError(f"cassette_dir {written!r} must be a path relative to the suite file",
                            file=display, line=line_of(doc, "cassette_dir"))
        root = (path.parent / written).resolve()
        line = line_of(doc, "cassette_dir")
    else:
        root, line, written = default_cassette_root(path), 1, "cassettes"
    if not is_inside(root / fitted(name), project):
        raise UserError(f"cassette folder {written!r} is outside the project ({project}); "
                        "cassettes are written only inside it (symlinks are followed)",
                        file=display, line=line)
    return root


def display_path(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def recorded_files(folder: Path) -> frozenset[str]:
    """The cassette file names in a suite's folder: an adaptive case's extra samples are the
    ones that were recorded, so replay takes exactly those."""
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset()
