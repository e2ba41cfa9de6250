"""Checks from other installed packages: the ``harness.checks`` entry-point group.

A package adds checks by naming them in its pyproject.toml::

    [project.entry-points."harness.checks"]
    word_count_between = "mychecks:word_count_between"

The entry point's name is the check's name; its object is a typed check function (see
``harness.check``), or a module whose ``@harness.check`` decorators register several checks. A
plugin is imported lazily, only when a suite names a check the registry does not know, and at most
once per process: a run of built-in checks imports none, and a broken plugin fails only the checks
that need it. This module finds and imports; the registry adopts what was imported.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where entry points are looked up: a run of built-in checks never is
    from importlib import metadata

GROUP = "harness.checks"


@dataclass(frozen=True)
class Plugin:
    """One entry point of the group, imported: its object, or why it could not be imported."""

    name: str
    label: str  # "name = module:attr (from dist 1.0)", for messages
    obj: Any = None
    problem: str | None = None


_lock = threading.RLock()  # a plugin importing harness.check while it loads must not deadlock
_imported: dict[tuple[str, str, str], Plugin] = {}
_found: tuple[tuple[str, ...], tuple[metadata.EntryPoint, ...]] | None = None


def _entry_points() -> tuple[metadata.EntryPoint, ...]:
    """The group's entry points, looked up again only when sys.path changed (scanning every
    installed distribution's metadata costs milliseconds, and a suite may name many unknowns)."""
    global _found
    from importlib import metadata  # 10 ms to import: only a suite naming an unknown check pays it

    path = tuple(sys.path)
    if _found is None or _found[0] != path:
        _found = (path, tuple(metadata.entry_points(group=GROUP)))
    return _found[1]


def _key(ep: metadata.EntryPoint) -> tuple[str, str, str]:
    where = str(ep.dist.locate_file("")) if ep.dist is not None else ""
    return ep.name, ep.value, where


def _label(ep: metadata.EntryPoint) -> str:
    dist = f" (from {ep.dist.name} {ep.dist.version})" if ep.dist is not None else ""
    return f"'{ep.name} = {ep.value}'{dist}"


def load(wanted: Callable[[str], bool]) -> list[Plugin]:
    """Import the entry points whose name ``wanted`` accepts (each once per process)."""
    out = []
    with _lock:
        for ep in _entry_points():
            if not wanted(ep.name):
                continue
            key = _key(ep)
            if key not in _imported:
                try:
                    _imported[key] = Plugin(ep.name, _label(ep), obj=ep.load())
                except Exception as exc:  # noqa: BLE001 - any failure of a plugin is reported, named
                    _imported[key] = Plugin(ep.name, _label(ep), problem=f"{type(exc).__name__}: {exc}")
            out.append(_imported[key])
    return out
