"""Shards: one run split over N CI machines (``--shard K/N``), joined again by ``harness merge``.

A case's shard is a hash of (its suite file relative to the project root, its *base* id) modulo N.
The hash is of the case's own name, not of its place in a list, so adding or removing a case never
moves another one, and every machine computes the same split whatever folder it checked out to.
The base id is the id as written in the suite, before matrix values, models and APIs are added
(``lang`` for ``lang[fr-gpt-4o]``), and samples share their case's id: so every variant and every
sample of one case run on one machine. That keeps what is judged per case whole on a shard (a case's
samples and their gates, a model comparison of one prompt, ``--fail-on regressed`` by rates) and
leaves to ``harness merge`` only what needs whole suites (their ``min_pass_rate`` and
``max_cost_usd`` gates, a suite's pass-rate drop), which gates.py defers on a shard.

A sharded run records in its JSON report what merging needs (``shard`` in docs/report-json.md):
the shard, each suite's fingerprint (so shards of different suites are never joined), and each
case's place in the whole run (so the merged report lists the cases as one unsharded run would).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserError
from .safe_files import is_inside, project_root

if TYPE_CHECKING:  # harness merge reads a shard's record without loading any suite
    from .suite import Case, Suite

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (from 1, as users count) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str, option: str = "--shard") -> Shard:
        """``K/N`` with 1 <= K <= N; anything else is a UserError saying what was expected."""
        found = _SPEC.fullmatch(text or "")
        if not found:
            raise UserError(f"{option} {text!r}: expected K/N, e.g. {option} 2/4 (shard 2 of 4)")
        index, count = int(found[1]), int(found[2])
        if count < 1 or not 1 <= index <= count:
            raise UserError(f"{option} {text!r}: K must be between 1 and N (N >= 1), e.g. {option} 1/{max(count, 1)}")
        return cls(index, count)

    @property
    def text(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, case: Case) -> bool:
        return shard_of(case, self.count) == self.index

    def owns_id(self, suite_path: Path, base_id: str) -> bool:
        """Whether this shard runs the case written with ``base_id`` in the suite shown as
        ``suite_path`` (Case.suite_path): owns() before the case is made."""
        return _shard_of_key(f"{_suite_key(suite_path)}::{base_id}", self.count) == self.index


def case_key(case: Case) -> str:
    """What a case's shard is computed from: ``suites/x.yaml::base-id``, the suite file relative to
    its project root (the same on every machine), and the id before matrix, model and API values."""
    return f"{_suite_key(case.suite_path)}::{case.base_id}"  # one Path per suite: _suite_key's cache hits


@lru_cache(maxsize=1024)
def _suite_key(path: Path) -> str:
    """Once per suite file, not per case: finding the project root looks at the disk."""
    try:
        return path.absolute().relative_to(project_root(path)).as_posix()
    except ValueError:  # a suite outside any project: its path as given
        return path.as_posix()


def shard_of(case: Case, count: int) -> int:
    """The shard (from 1) of ``count`` that runs ``case``. sha256, not ``hash()``: Python salts its
    string hashes per process, and two machines must agree."""
    return _shard_of_key(case_key(case), count)


def _shard_of_key(key: str, count: int) -> int:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select(cases: Iterable[Case], shard: Shard | None) -> list[Case]:
    """The cases this shard runs (all of them without a shard), in their order."""
    return [c for c in cases if shard is None or shard.owns(c)]


def fingerprint(suite: Suite) -> str:
    """What must be equal for two shards to be parts of one run: the suite file's bytes and the
    ids of every case it expands to (the files its cases are made from are source_files())."""
    h = hashlib.sha256()
    try:
        h.update(suite.path.read_bytes())
    except OSError:  # read a moment ago by the loader; if it is gone now, the ids still speak
        h.update(b"\0unreadable")
    for case in suite.cases:
        h.update(b"\0" + case.name.encode("utf-8"))
    return "sha256:" + h.hexdigest()


#: Folders never looked in for the files cases are made from: recordings and caches, which change
#: as the shards run (a recording shard writes cassettes; importing a tool module writes bytecode),
#: and installed packages (a virtualenv is also skipped by its pyvenv.cfg, whatever its name).
_NOT_SOURCES = frozenset({"cassettes", "__pycache__", "node_modules", "site-packages"})


def source_files(suites: Sequence[Suite]) -> tuple[tuple[str, str], ...]:
    """Every file the run's cases can be made from, each (path relative to its project, sha256):
    the files below each suite's folder (its templates, message and variable files, schema files,
    tool modules, data files and the suite files themselves), the project's shared template folders,
    its project file, and each ``cases_from`` data file wherever in the project it lies. Hidden
    files and folders, cassette folders, bytecode and the reports harness wrote are left out (every
    report written inside the project, while its bytes are those written: written_reports.py; and
    any harness JSON report, such as a shard's report brought from another machine).
    Two shards whose files differ are not parts of one run, even when no case id changed (a data
    row's text, a template's wording).

    Found by walking folders rather than by noting what was read: a shard renders only its own
    cases, and a template cached in the process is not read again, so reads differ between
    shards of the same commit; the folders do not."""
    from .project import project_of  # here: harness merge reads shard records without any project
    from .written_reports import written

    folders: dict[Path, Path] = {}  # folder -> its project root
    files: dict[Path, Path] = {}
    skip: set[Path] = set()
    for suite in suites:
        root = project_root(suite.path).absolute()
        folders.setdefault(Path(os.path.abspath(suite.path)).parent, root)
        project = project_of(suite.path)
        for prompts in project.prompts:
            folders.setdefault(prompts, root)
        if project.file is not None:
            files.setdefault(Path(os.path.abspath(project.file)), root)
        skip.update(Path(os.path.abspath(c.cassette_root)) for c in suite.cases[:1])
        for origin in dict.fromkeys(c.origin.rsplit(":", 1)[0] for c in suite.cases if c.origin):
            files.setdefault(Path(os.path.abspath(origin)), root)
    for folder, root in folders.items():
        for here, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SOURCES
                             and Path(here, d) not in skip and not os.path.exists(os.path.join(here, d, "pyvenv.cfg")))
            files.update((Path(here, n), root) for n in names if not n.startswith(".") and not n.endswith(".pyc"))
    out: dict[str, str] = {}
    reports: dict[Path, frozenset[tuple[str, str]]] = {}  # per project: the files its reports wrote
    for path, root in files.items():
        digest = _file_digest(path, root)
        if digest is None:
            continue
        if root not in reports:
            reports[root] = written(root)
        relative = _relative(path, root)
        if (relative, digest) not in reports[root]:
            out[relative] = digest
    return tuple(sorted(out.items()))


#: How every JSON report harness writes begins (report/json_report.py: harness.run/1, harness.diff/1).
_REPORT_HEAD = b'{\n  "schema": "harness.'


def _file_digest(path: Path, root: Path) -> str | None:
    """sha256 of a regular file inside the project (symlinks followed); None for anything else, which
    no case can read either (safe_files refuses it)."""
    try:
        if not path.is_file() or not is_inside(path.resolve(), root.resolve()):
            return None
        with path.open("rb") as fh:
            head = fh.read(len(_REPORT_HEAD))
            if head == _REPORT_HEAD:  # a JSON report of an earlier run (another shard's), kept beside
                return None          # the suites: written by runs, not something cases are made from
            digest = hashlib.sha256(head)
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
            return "sha256:" + digest.hexdigest()
    except OSError:
        return None


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


#: Where a user error stopped a run before its cases ran, in the order one unsharded run meets them:
#: loading the suites (the first error stops it), refusing --batch for an adaptive case (the first
#: such case), planning every case (every case's error is reported at once).
STAGES = ("load", "batch", "plan")


@dataclass(frozen=True)
class ShardError:
    """A user error that stopped a shard before its cases ran, as one unsharded job prints it, so
    that ``harness merge`` can say what that job says instead of calling the shard missing."""

    message: str  # str() of the error: file, line, case and message, secrets hidden
    exit_code: int
    #: The place of the case it is about in the whole run's list of cases (0 when loading):
    #: the merge lists every shard's errors in the order one job would.
    position: int = 0


@dataclass(frozen=True)
class ShardInfo:
    """What a shard's report carries for ``harness merge`` (docs/report-json.md, ``shard``)."""

    index: int
    count: int
    #: (suite path as in the report, fingerprint) for every suite of the run, sharded or not.
    suites: tuple[tuple[str, str], ...] = ()
    #: For each case of the report, in order: its place in the whole run's list of cases.
    positions: tuple[int, ...] = ()
    #: How many suites were run whole (orphans are looked for in them, over all their cases).
    orphans_checked: int = 0
    #: A fingerprint of the whole run's selection (selection()): shards of different -k,
    #: FILE::CASE, --samples or --models are not parts of one run.
    selection: str = ""
    #: Ctrl-C or SIGTERM stopped the shard before every case ran (its run exited 130).
    stopped: bool = False
    #: (path relative to the project, sha256) of every file the cases are made from (source_files()).
    files: tuple[tuple[str, str], ...] = ()
    #: The run selected no case at all (-k matching nothing): the message the unsharded run exits 5
    #: with, which harness merge gives too. Empty otherwise.
    no_cases: str = ""
    #: A user error stopped the shard before its cases ran: at which of STAGES, and what it says.
    stage: str = ""
    errors: tuple[ShardError, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.index}/{self.count}"


def selection(whole: Sequence[Case]) -> str:
    """The whole run's cases (suite file, id and sample of each, in order) as one sha256."""
    h = hashlib.sha256()
    for case in whole:
        h.update(f"{case.suite_path.as_posix()}::{case.name}\0".encode())
    return "sha256:" + h.hexdigest()


def positions(keys: Sequence[tuple[str, str, int]], whole: Sequence[Case]) -> tuple[int, ...]:
    """Each (suite path, id, sample) of a shard's records -> its index in the whole selection. An
    extra sample an adaptive case took (not in the selection) goes right after its case's last."""
    place = {(c.suite_path.as_posix(), c.id, c.sample): i for i, c in enumerate(whole)}
    last: dict[tuple[str, str], int] = {}
    for (path, case_id, _sample), i in place.items():
        last[(path, case_id)] = max(i, last.get((path, case_id), -1))
    return tuple(place.get(k, last.get((k[0], k[1]), len(whole))) for k in keys)
