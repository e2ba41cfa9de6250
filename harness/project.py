"""The project file: ``harness.yaml`` at the project root, or ``[tool.harness]`` in pyproject.toml.

A folder of suites becomes a project when one file says where its suites and cassettes live, which
template folders every suite may share, what every suite inherits (provider, model, samples, ...),
which prices apply and what the pytest door collects. The root is the one safe_files already draws
the sandbox around (the nearest folder holding harness.yaml, pyproject.toml or .git), so every path
the file names is checked against the same boundary: relative, inside the root with symlinks
followed, never inside ``.git``. The file is validated against project.schema.json (shipped beside
suite.schema.json, whose definitions its ``defaults:`` reuse), and every mistake is a UserError at
its file and line, for the YAML file and the TOML table alike.

Loaded projects are cached by root and by the size and modification time of both files, so each
suite of a run finds its project without reading it again, and an edited file is read anew.
"""

from __future__ import annotations

import difflib
import glob
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import safe_files
from .errors import UserError
from .pricing import PriceTable
from .toml_lines import key_lines, with_lines
from .yamlio import line_of, load_yaml

PROJECT_FILE = "harness.yaml"
PYPROJECT = "pyproject.toml"
#: Where `harness run` looks when neither PATHS nor the project's ``suites:`` say (as before projects).
DEFAULT_SUITES = "suites"
_GLOB = re.compile(r"[*?[]")


@dataclass(frozen=True)
class Project:
    """A project's settings, with every path resolved against (and kept inside) its root."""

    root: Path
    file: Path | None = None  # harness.yaml or pyproject.toml; None when neither holds settings
    shown: str = PROJECT_FILE  # the file as error messages name it
    suites: tuple[str, ...] = ()  # as written: folders, files or globs relative to the root
    cassettes: Path | None = None
    prompts: tuple[Path, ...] = ()  # real paths of the shared template folders
    defaults: Mapping[str, Any] = field(default_factory=dict)
    pricing: Mapping[str, Any] | None = None
    pytest_suites: tuple[str, ...] = ()


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def project_of(path: Path) -> Project:
    """The project a suite (or any file) belongs to."""
    return load_project(safe_files.project_root(path))


def project_here(folder: Path | None = None) -> Project:
    """The project of a folder (default: the current one): that folder's own project file counts."""
    here = Path(os.path.abspath(folder if folder is not None else Path.cwd()))
    return load_project(safe_files.project_root(here / PROJECT_FILE))


def _signature(root: Path) -> tuple[tuple[int, int, int] | None, ...]:
    out: list[tuple[int, int, int] | None] = []
    for name in (PROJECT_FILE, PYPROJECT):
        try:
            info = os.stat(root / name)
            out.append((info.st_mtime_ns, info.st_size, info.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)


def load_project(root: Path) -> Project:
    """The project at ``root`` (a UserError at file:line for anything wrong in its file)."""
    root = Path(os.path.abspath(root))
    return _load(root, _signature(root))


@lru_cache(maxsize=64)
def _load(root: Path, _signature: tuple[Any, ...]) -> Project:
    doc, file = _read(root)
    if file is None:
        return Project(root=root)
    shown = _shown(file)
    _validate(doc, shown)
    paths = _Paths(root, shown)
    pricing = doc.get("pricing") or None
    if pricing:
        PriceTable().merged(pricing, file=shown)  # every price checked here, at its line
    pytest = doc.get("pytest") or {}
    return Project(
        root=root, file=file, shown=shown,
        suites=paths.entries(doc, "suites", "suites entry"),
        cassettes=paths.folder(doc, "cassettes") if "cassettes" in doc else None,
        prompts=paths.prompt_folders(doc),
        defaults=doc.get("defaults") or {},
        pricing=pricing,
        pytest_suites=paths.entries(pytest, "suites", "pytest suites entry"),
    )


def _read(root: Path) -> tuple[dict[str, Any], Path | None]:
    """The settings and the file they came from: harness.yaml, else pyproject's [tool.harness]."""
    yaml_file, toml_file = root / PROJECT_FILE, root / PYPROJECT
    doc: Any = None
    if os.path.lexists(yaml_file):
        _inside_root(yaml_file, root)
        doc = load_yaml(Path(_shown(yaml_file)))
        if doc is not None and not isinstance(doc, dict):
            raise UserError("the project file must be a YAML mapping (suites, cassettes, prompts, "
                            "defaults, pricing, pytest)", file=_shown(yaml_file), line=1)
    table, table_line = _tool_table(toml_file, root) if os.path.lexists(toml_file) else (None, 0)
    if doc and table:
        raise UserError(f"project settings are in both {PROJECT_FILE} and {_shown(toml_file)} "
                        f"([tool.harness], line {table_line}): keep them in one of the two",
                        file=_shown(yaml_file), line=1)
    if doc:
        return doc, yaml_file
    if table:
        return table, toml_file
    return {}, None


def _inside_root(path: Path, root: Path) -> None:
    if not safe_files.is_inside(path, root):
        raise UserError(f"{path.name} is a symlink to outside the project ({root})", file=_shown(path))


def _tool_table(path: Path, root: Path) -> tuple[dict[str, Any] | None, int]:
    """``[tool.harness]`` with line numbers; a pyproject that never mentions harness is not parsed
    (a broken one of another tool's must not stop a run that does not use it)."""
    _inside_root(path, root)
    shown = _shown(path)
    text = safe_files.read_text(path, shown=shown, what="file")
    if "harness" not in text:
        return None, 0
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        raise UserError(f"TOML syntax error: {exc}", file=shown, line=int(found.group(1)) if found else None) \
            from None
    table = data.get("tool", {}).get("harness") if isinstance(data.get("tool"), dict) else None
    if table is None:
        return None, 0
    lines = key_lines(text)
    located = with_lines(table, ("tool", "harness"), lines)
    if not isinstance(located, dict):
        raise UserError("tool.harness must be a table", file=shown, line=lines.get(("tool", "harness")))
    return located, lines.get(("tool", "harness"), 0)


@lru_cache(maxsize=1)
def project_schema() -> dict[str, Any]:
    """The JSON Schema of the project file, shipped in the package (editors can point at it)."""
    return dict(json.loads(resources.files("harness").joinpath("project.schema.json").read_text("utf-8")))


@lru_cache(maxsize=1)
def _validator() -> Any:
    # jsonschema is imported only for a project file to check: pytest imports this module in every
    # session wherever harness is installed (pytest_plugin.py), most of them with no project file.
    import jsonschema
    from referencing import Registry, Resource

    from .schemas.suite_errors import suite_schema

    suite = suite_schema()
    registry: Registry[Any] = Registry().with_resource(suite["$id"], Resource.from_contents(suite))
    schema = project_schema()
    return jsonschema.validators.validator_for(schema)(schema, registry=registry)


def _validate(doc: dict[str, Any], shown: str) -> None:
    errors = list(_validator().iter_errors(doc))
    if not errors:
        return
    import jsonschema

    err = jsonschema.exceptions.best_match(errors)
    path = list(err.absolute_path)
    parent: Any = doc
    for step in path[:-1]:
        parent = parent[step]
    line = line_of(parent, path[-1]) if path else line_of(doc)
    message = err.message
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            line = line_of(err.instance, extra[0]) or line
            message = f"unknown key {extra[0]!r} (allowed: {', '.join(allowed)})"
            close = difflib.get_close_matches(str(extra[0]), allowed, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
    where = ".".join(str(p) for p in path) or "(top level)"
    raise UserError(f"invalid project file at {where}: {message}", file=shown, line=line)


def _listed(doc: Mapping[str, Any], key: str) -> list[tuple[str, Any, Any]]:
    """A path setting written as one text or a list: each item with the container and key of its line."""
    value = doc.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [(value, doc, key)]
    return [(item, value, i) for i, item in enumerate(value)]


class _Paths:
    """The project's path settings checked against the root: relative, inside it, no ``.git``."""

    def __init__(self, root: Path, shown: str) -> None:
        self.root, self.shown = root, shown

    def check(self, written: str, container: Any, key: Any, what: str, *, pattern: bool = False) -> Path:
        line = line_of(container, key)
        magic = _GLOB.search(written)
        if magic and not pattern:
            raise UserError(f"{what} {written!r} must be a folder, not a pattern", file=self.shown, line=line)
        if os.path.isabs(written) or written.startswith("~"):
            raise UserError(f"{what} {written!r} must be a path relative to the project root", file=self.shown,
                            line=line)
        # A pattern's fixed part must stay inside; its matches are checked again when expanded.
        fixed = written[:magic.start()] if magic else written
        if not safe_files.is_inside(self.root / fixed, self.root):
            raise UserError(f"{what} {written!r} is outside the project ({self.root}); every path of the "
                            "project file stays inside it (symlinks are followed; .git is never read)",
                            file=self.shown, line=line)
        return self.root / written

    def entries(self, doc: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
        items = _listed(doc, key)
        for written, container, at in items:
            self.check(written, container, at, what, pattern=True)
        return tuple(written for written, _, _ in items)

    def folder(self, doc: Mapping[str, Any], key: str) -> Path:
        return Path(os.path.realpath(self.check(doc[key], doc, key, f"{key} folder")))

    def prompt_folders(self, doc: Mapping[str, Any]) -> tuple[Path, ...]:
        out = []
        for written, container, at in _listed(doc, "prompts"):
            path = self.check(written, container, at, "prompts folder")
            if not path.is_dir():
                raise UserError(f"prompts folder {written!r} not found (relative to the project root, "
                                f"{self.root})", file=self.shown, line=line_of(container, at))
            out.append(Path(os.path.realpath(path)))
        return tuple(out)


def inherited(project: Project, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The project's ``defaults:`` a suite does not set itself, by the rule a case inherits from
    its suite: a suite's ``model`` or ``models`` replaces both defaults, and its ``messages``
    replace a default ``prompt`` (the default ``system`` still comes first)."""
    base = {k: v for k, v in project.defaults.items() if k not in doc}
    if "model" in doc or "models" in doc:
        base.pop("model", None)
        base.pop("models", None)
    if "messages" in doc:
        base.pop("prompt", None)
    return base


def price_table(project: Project) -> PriceTable | None:
    """The shipped prices with the project's ``pricing:`` over them (None: nothing to add)."""
    return PriceTable().merged(project.pricing, file=project.shown) if project.pricing else None


def _relative(path: Path) -> str:
    """A path as the CLI shows it: relative to the current folder when inside it."""
    return _shown(path) if path.is_absolute() else path.as_posix()


def _searchable(path: Path, project: Project) -> bool:
    """A glob's match that a folder walk would take: inside the root, not in cassettes or hidden
    folders, a folder or a YAML file."""
    if not safe_files.is_inside(path, project.root):
        return False
    parts = Path(os.path.abspath(path)).relative_to(project.root).parts
    if any(p.startswith(".") or p == "cassettes" for p in parts[:-1]) or parts[-1].startswith("."):
        return False
    if project.cassettes is not None and Path(os.path.realpath(path)).is_relative_to(project.cassettes):
        return False
    return path.is_dir() or path.suffix in (".yaml", ".yml")


def suite_targets(project: Project, notify: Callable[[str], None] = lambda _text: None) -> list[str]:
    """What `harness run` with no PATHS runs: the project's ``suites:`` (globs expanded, each match
    kept inside the project), else ``suites`` as before projects existed."""
    if not project.suites:
        return [DEFAULT_SUITES]
    out: list[str] = []
    for written in project.suites:
        if not _GLOB.search(written):
            out.append(_relative(project.root / written))
            continue
        matches = [Path(m) for m in sorted(glob.glob(str(project.root / written), recursive=True))]
        kept = [m for m in matches if _searchable(m, project)]
        if not kept:
            notify(f"{project.shown}: suites entry {written!r} matches no suite file or folder")
        out += [_relative(m) for m in kept]
    return out


def run_paths(paths: str | Path | Iterable[str | Path] | None,
              notify: Callable[[str], None] | None = None) -> list[str]:
    """The paths a run or a validation takes: those given, else the project's suites (of the
    project the current folder belongs to)."""
    if isinstance(paths, (str, Path)):
        return [str(paths)]
    listed = [str(p) for p in paths or ()]
    return listed or suite_targets(project_here(), notify or (lambda _text: None))


def suites_for_pytest(project: Project) -> list[Path]:
    """The project's ``pytest: {suites: [...]}`` as absolute paths or patterns (what the
    ``harness_suites`` ini option would say)."""
    return [project.root / entry for entry in project.pytest_suites]


__all__ = ["DEFAULT_SUITES", "PROJECT_FILE", "Project", "inherited", "load_project", "price_table", "project_here",
           "project_of", "project_schema", "run_paths", "suite_targets", "suites_for_pytest"]
