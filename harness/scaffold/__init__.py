"""What ``harness init`` writes: a project that replays offline the moment it exists.

The files are package data beside this module, written as they are (the workflow gets the version
of harness that wrote it, so CI replays with the same rules). The example's cassette was recorded
against the loopback fake server by scripts/record_scaffold.py, never written by hand: the test
suite records it again and compares, so it always has the format this version writes.

An existing file is never overwritten unless asked (``force``), and the .gitignore is only ever
appended to, line by line, never with a line it already has: a project's own settings matter more
than a template.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .. import __version__
from ..errors import HarnessError, UserError
from ..project import PROJECT_FILE, load_project

#: (package file, where it goes in the project)
FILES = (
    ("harness.yaml", PROJECT_FILE),
    ("example.yaml", "suites/example.yaml"),
    ("example_capital.yaml", "cassettes/example/capital.yaml"),
    ("workflow.yml", ".github/workflows/harness.yml"),
)
GITIGNORE = ".gitignore"
_VERSION = "@HARNESS_VERSION@"


@dataclass(frozen=True)
class Placed:
    """One file of the scaffold and what became of it."""

    path: str  # relative to the project folder
    action: str  # created | overwritten | kept | unchanged | appended | skipped
    note: str = ""


def template(name: str) -> str:
    """A scaffold file's text, as it is written into a project."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return text.replace(_VERSION, __version__)


def write_project(folder: Path, *, force: bool = False) -> list[Placed]:
    """Write the scaffold into ``folder`` (created if missing); what happened to each file."""
    if os.path.lexists(folder) and not folder.is_dir():
        raise UserError(f"{folder} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {folder}: {exc.strerror}") from None
    placed = []
    settings = _settings_file(folder)
    for source, target in FILES:
        if target == PROJECT_FILE and settings is not None and settings.name != PROJECT_FILE:
            placed.append(Placed(target, "skipped", f"the project's settings are in {settings.name} "
                                                    "[tool.harness]; add suites, cassettes and pytest there"))
            continue
        placed.append(_place(folder, target, template(source), force=force))
    placed.append(_gitignore(folder))
    return placed


def _settings_file(folder: Path) -> Path | None:
    try:
        return load_project(folder).file
    except HarnessError:
        return None  # a broken project file is kept as it is (and reported by the first run)


def _place(folder: Path, target: str, text: str, *, force: bool) -> Placed:
    path = folder / target
    try:
        if os.path.lexists(path):
            if not force:
                return Placed(target, "kept", "exists")
            if path.is_dir() and not path.is_symlink():
                raise UserError(f"{path} is a folder; not overwritten")
            if not path.is_symlink() and path.read_text(encoding="utf-8", errors="replace") == text:
                return Placed(target, "unchanged")
            _replace(path, text)  # replaces a symlink itself, never the file it points to
            return Placed(target, "overwritten")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return Placed(target, "created")


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".harness-tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _same(line: str) -> str:
    """``/.harness``, ``.harness/`` and ``.harness`` ignore the same folder."""
    return line.strip().strip("/")


def _gitignore(folder: Path) -> Placed:
    path = folder / GITIGNORE
    lines = template("gitignore").splitlines()
    try:
        text = path.read_text(encoding="utf-8") if os.path.lexists(path) else None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    have = {_same(line) for line in (text or "").splitlines()}
    missing = [line for line in lines if line.strip() and not line.startswith("#") and _same(line) not in have]
    if not missing:
        return Placed(GITIGNORE, "unchanged", "has harness's lines")
    header = [line for line in lines if line.startswith("#")]
    addition = "\n".join(header + missing) + "\n"
    try:
        if text is None:
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(addition)
            return Placed(GITIGNORE, "created")
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(("\n" if text.endswith("\n") else "\n\n") + addition if text.strip() else addition)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return Placed(GITIGNORE, "appended", ", ".join(missing))


__all__ = ["FILES", "Placed", "template", "write_project"]
