"""Cassettes no case owns: left behind by a renamed case, a removed matrix value or model, a
lowered sample count. They replay nothing, yet they look like coverage in review and keep old
answers (and what they cost) in the repository, so a run names them and ``harness prune`` removes them.

A suite owns, in its cassette folder, the file of each of its cases (every sample; an adaptive
case every sample up to its ``max``), under the same names the cases are recorded under
(cassettes/names.py: long ids are shortened alike). Suites that share a folder (the same ``name:``)
own it together. Only ``.yaml`` files that read as cassettes count: harness's own lock and temp
files (hidden names), folders, other files and YAML that is not a cassette are never orphans, so
pruning can only delete cassettes. A folder is looked at only when it lies inside its suite's
project (symlinks followed), as cassettes are only ever written there.

A cassette whose header names another suite file that exists belongs to that suite (two suites
of the same name share a folder), so it is never an orphan of this one.

Only suites run whole are looked at: with ``-k`` or ``FILE::CASE``, the cases left out of the run
are not there to claim their files.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .cassettes.names import case_file_name
from .safe_files import is_inside, project_root

if TYPE_CHECKING:  # reports read Orphan back (harness merge, diff) without cassettes or suites
    from .suite import Suite


@dataclass(frozen=True)
class Orphan:
    """A cassette file in a suite's folder that none of its cases (nor of the suites sharing the
    folder) would read."""

    path: Path  # absolute
    suites: tuple[str, ...]  # the suite files (as shown) whose folder holds it

    @property
    def shown(self) -> str:
        return shown(self.path)


def shown(path: Path) -> str:
    """A path as messages show it: relative to the current folder when inside it."""
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def folder_of(suite: Suite) -> Path | None:
    return suite.cases[0].cassette_path.parent if suite.cases else None


def owned(suite: Suite) -> set[str]:
    """The file names the suite's cases are recorded under."""
    names: set[str] = set()
    for case in suite.cases:
        names.add(case_file_name(case.id, case.sample))  # cassette_path's name, without making its Path
        if case.adaptive is not None:
            names.update(case_file_name(case.id, k) for k in range(case.adaptive.max))
    return names


@dataclass(frozen=True)
class Survey:
    """What a look through the suites' folders found: the orphans, and the ``.yaml`` files that
    are not cassettes (left alone, and named by ``harness prune``)."""

    orphans: tuple[Orphan, ...] = ()
    not_cassettes: tuple[Path, ...] = ()
    folders: tuple[Path, ...] = ()  # every folder looked at


def survey(suites: Iterable[Suite]) -> Survey:
    """Every suite folder's files that no case owns."""
    from .cassettes import recorded_for  # only a run looks: reading a report's orphans needs none of it

    groups: dict[Path, list[Suite]] = {}
    for suite in suites:
        folder = folder_of(suite)
        if folder is not None and is_inside(folder, project_root(suite.path)):
            groups.setdefault(folder, []).append(suite)
    orphans: list[Orphan] = []
    strangers: list[Path] = []
    for folder, group in groups.items():
        names = set().union(*(owned(s) for s in group))
        paths = tuple(dict.fromkeys(s.path.as_posix() for s in group))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:  # no folder yet: nothing recorded, nothing left behind
            continue
        ours = _Ours.of(group)
        for entry in entries:
            if entry.name in names or entry.name.startswith(".") or not entry.name.endswith(".yaml") \
                    or entry.is_dir(follow_symlinks=False):
                continue
            path = folder / entry.name
            label = recorded_for(path, root=folder)
            if label is None:
                strangers.append(path)
            elif not _anothers(label, ours):
                orphans.append(Orphan(path, paths))
    return Survey(tuple(orphans), tuple(strangers), tuple(groups))


@dataclass(frozen=True)
class _Ours:
    """A group's suite files and the folders a cassette header's path may be relative to, resolved
    once per folder (each costs system calls), not once per cassette looked at."""

    files: frozenset[Path]
    roots: frozenset[Path]

    @classmethod
    def of(cls, group: list[Suite]) -> _Ours:
        return cls(frozenset(s.path.resolve() for s in group),
                   frozenset({Path.cwd(), *(project_root(s.path) for s in group)}))


def _anothers(label: str, ours: _Ours) -> bool:
    """Whether a cassette's header names another suite file that exists: two suites of the same
    name (``chat.yaml`` in two folders) share a cassette folder, and one run of either must not
    take the other's cassettes for orphans. The header's path was relative to the folder the
    recording ran in: the current one, or the project root."""
    suite_file = label.rpartition("::")[0]
    if not suite_file:
        return False
    named = {(root / suite_file).resolve() for root in ours.roots}
    return not named & ours.files and any(p.is_file() for p in named)


def notice(orphans: Iterable[Orphan], limit: int = 5) -> list[str]:
    """One line per group of suites: how many cassettes no case owns, a few names, and the
    command that deletes them (the terminal's words; the JSON report lists every one)."""
    by_suites: dict[tuple[str, ...], list[Orphan]] = {}
    for orphan in orphans:
        by_suites.setdefault(orphan.suites, []).append(orphan)
    lines = []
    for suites, group in by_suites.items():
        shown = ", ".join(o.shown for o in group[:limit]) + (f" and {len(group) - limit} more" if len(group) > limit else "")
        lines.append(f"{len(group)} cassette(s) no case owns: {shown}; run "
                     f"`{shlex.join(['harness', 'prune', *suites])}` to delete them")
    return lines
