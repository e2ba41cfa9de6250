"""pytest door: suite files become pytest items (``suites/x.yaml::case-id``).

It collects with the same loader and runs each item through the same road as the CLI, so -k, --lf,
-x, --junitxml and pytest-xdist work on prompt cases like on any test.

Only what the user opts in to is collected (a YAML file of someone else's with a ``cases:`` key
must never break their test run): the paths and glob patterns of the ``harness_suites`` ini
option (without it, the project file's ``pytest: {suites: [...]}``), and a YAML file named on the
command line (as pytest takes a named ``.py`` file that ``python_files`` would not match). A
folder in ``harness_suites`` brings the files ``harness run`` would find in it.

A suite with a ``min_pass_rate`` gate (a benchmark) reports its failing cases as xfail, and the
session fails at the end only if the suite's pass rate is below the gate — gates.pass_rate_gate,
the CLI's rule. The statuses are kept from the test reports, so they add up across xdist workers.

A case with its own gate on its samples (``min_pass_rate`` or ``min_pass_hat_k`` on the case) is
judged as a whole, as ``harness run`` judges it (report/sampled.py decides; this door only counts):
each sample is an item, a failing sample is reported as xfail (its case's gate decides), and at the
end of the session each such case's decision is printed; a case whose gate is not met fails the
session, and its samples are stored as last failed, so ``--lf`` runs the whole case again. A sample
that ends in error, or whose cassette is stale or missing, fails as its own item (never excused).

Every text this door hands pytest (failure reports, xfail reasons, the gate summary) passes
through the redaction point (redact.py), so no secret reaches the terminal or ``--junitxml``.
"""

from __future__ import annotations

import atexit
import gc
import glob
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# pytest_asserts first, before any other harness module is imported (see its docstring).
from . import pytest_asserts, redact  # noqa: F401
from .errors import HarnessError
from .pytest_tallies import CaseTally, GateTally
from .record_modes import RECORD_MODE_ALIASES, RECORD_MODES

if TYPE_CHECKING:
    from .cassettes.prefetch import Prefetch, Replayed
    from .shard import Shard

# pytest imports this module in every session wherever harness is installed, so it imports only
# what options, opting in and the tallies need; suites, planning and the runner are imported when
# a session finds a suite to collect (pytest_items.py).

SUITES_INI = "harness_suites"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "prompt suites (harness)")
    try:
        group.addoption("--record-mode", action="store", default=None, choices=RECORD_MODES + tuple(RECORD_MODE_ALIASES),
                        help="harness/vcr record mode: none (default), once, new_episodes, all "
                        "(rewrite: all, pytest-recording's name)")
    except ValueError:
        pass  # pytest-recording already defines --record-mode with the same meaning; share it
    group.addoption("--harness-base-url", action="store", default=None,
                    help="record against this OpenAI-compatible server")
    group.addoption("--harness-shard", action="store", default=None, metavar="K/N",
                    help="collect only shard K of N of the cases (the split of harness run --shard)")
    parser.addini(SUITES_INI, type="paths", default=[],
                  help="harness suites to collect: files, folders or glob patterns, relative to the "
                       "ini file (a folder brings the YAML files with a top-level 'cases:' key)")


@dataclass(frozen=True)
class OptedIn:
    """What ``harness_suites`` names, with its globs expanded once per session."""

    files: frozenset[Path]
    folders: tuple[Path, ...]

    @classmethod
    def from_config(cls, config: pytest.Config) -> OptedIn:
        from .project import project_here, suites_for_pytest

        files: set[Path] = set()
        folders: list[Path] = []
        entries, label = config.getini(SUITES_INI), SUITES_INI
        if not entries:  # the ini option wins; without it, the project file's pytest: suites
            project = project_here(config.rootpath)
            entries, label = suites_for_pytest(project), f"{project.shown} pytest.suites"
        for entry in entries:
            matches = [Path(m) for m in glob.glob(str(entry), recursive=True)]
            if not matches:
                shown = entry.relative_to(config.rootpath) if entry.is_relative_to(config.rootpath) else entry
                config.issue_config_time_warning(pytest.PytestConfigWarning(
                    f"{label}: {shown} matches no file or folder"), stacklevel=2)
            for match in matches:
                if match.is_dir():
                    folders.append(match.resolve())
                elif match.suffix in (".yaml", ".yml"):
                    files.add(match.resolve())
        return cls(frozenset(files), tuple(folders))

    def __contains__(self, path: Path) -> bool:
        from .collect import searched

        path = path.resolve()
        if path in self.files:
            return True
        # Inside a listed folder: what `harness run <folder>` takes, by the same rule (collect.py).
        return any(folder in path.parents and searched(path, folder) and _suite_or_broken(path)
                   for folder in self.folders)


def _suite_or_broken(path: Path) -> bool:
    """A suite, or a file that looks like a broken one (a misspelt ``cases:``): collected too, so
    its error is reported as `harness run` reports it instead of the file being passed over."""
    from .collect import is_suite

    try:
        return is_suite(path)
    except HarnessError:
        return True


_OPTED_IN = pytest.StashKey[OptedIn]()
_SHARD: pytest.StashKey[Shard | None] = pytest.StashKey()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if parent.session.isinitpath(file_path) or file_path in parent.config.stash[_OPTED_IN]:
        from .pytest_items import SuiteFile

        return SuiteFile.from_parent(parent, path=file_path, shard=parent.config.stash[_SHARD])
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.add_cleanup(lambda: _thaw(config))
    try:
        config.stash[_OPTED_IN] = OptedIn.from_config(config)
    except HarnessError as exc:  # a broken project file: one line, as the CLI says it
        raise pytest.UsageError(redact.clean(str(exc))) from None
    try:
        shard = config.getoption("--harness-shard", default=None)
        if shard:
            from .shard import Shard as _Shard

            config.stash[_SHARD] = _Shard.parse(shard, "--harness-shard")
        else:
            config.stash[_SHARD] = None
    except HarnessError as exc:
        raise pytest.UsageError(redact.clean(str(exc))) from None
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(GateTally(config.stash[_SHARD]), "harness-gates")
        config.pluginmanager.register(CaseTally(config), "harness-case-gates")
    opted = config.stash[_OPTED_IN]
    if opted.files or opted.folders or any(str(arg).partition("::")[0].endswith((".yaml", ".yml"))
                                           for arg in config.args):
        # A session that may collect suites collects with the command's collector thresholds
        # (cli.entry says why; ~0.04 s of full passes while the shipped suites load). Kept for a
        # session of cases only, given back at the end of any other's collection.
        _command_thresholds(config)


def _command_thresholds(config: pytest.Config) -> None:
    if _GC_THRESHOLD not in config.stash:
        config.stash[_GC_THRESHOLD] = gc.get_threshold()
        gc.set_threshold(200_000, 30, 30)


def _default_thresholds(config: pytest.Config) -> None:
    threshold = config.stash.get(_GC_THRESHOLD, None)
    if threshold is not None:
        del config.stash[_GC_THRESHOLD]
        gc.set_threshold(*threshold)


_HOLDS_CACHE = pytest.StashKey[bool]()
_GC_THRESHOLD = pytest.StashKey[tuple[int, int, int]]()
_FROZEN = pytest.StashKey[bool]()
_CASES_ONLY = pytest.StashKey[bool]()
_AHEAD: pytest.StashKey[Prefetch] = pytest.StashKey()


def _thaw(config: pytest.Config) -> None:
    """Unfreeze what pytest_collection_finish froze. Registered as a cleanup when the session is
    configured (tryfirst), so it runs after pytest's own cleanups (a stack: last in, first out),
    the last of which collects garbage a final time."""
    if config.stash.get(_FROZEN, False):
        config.stash[_FROZEN] = False
        gc.unfreeze()
    _default_thresholds(config)


def pytest_collection_finish(session: pytest.Session) -> None:
    items = sys.modules.get(f"{__package__}.pytest_items")
    cases = 0 if items is None else sum(isinstance(item, items.CaseItem) for item in session.items)
    if not cases or cases != len(session.items):
        _default_thresholds(session.config)
    if items is None or not cases:
        return
    # Only a session that runs cases holds the parse cache: one that runs other tests may call
    # harness in-process and expects each run to write its cache as usual.
    from . import cassettes

    cassettes.CACHE.hold()
    session.stash[_HOLDS_CACHE] = True
    _prefetch(session, [item.case for item in session.items if isinstance(item, items.CaseItem)])
    # What collection built (suites, cases, items, every plugin's modules) lives until the session
    # ends: frozen, the collector's passes stop walking it again, among them the two full ones
    # pytest makes at its end, which took a tenth of a 1,000-case replay. Unfrozen when pytest
    # has finished with the session (_thaw), so an in-process caller collects it as usual.
    gc.freeze()
    session.config.stash[_FROZEN] = True
    if cases == len(session.items):
        # A session of cases only is the command's run under another name: the command's
        # collector thresholds (cli.entry says why), restored when the session finishes.
        _command_thresholds(session.config)
        session.config.stash[_CASES_ONLY] = True


def _prefetch(session: pytest.Session, cases: Sequence[Replayed]) -> None:
    """A replay session's cassettes parsed ahead by a helper process, in the items' order, as
    `harness run` has them (cassettes/prefetch.py says where that is safe and pays)."""
    from .cassettes.prefetch import start_for

    mode = session.config.getoption("--record-mode", default=None) or "none"
    if RECORD_MODE_ALIASES.get(mode, mode) == "none":
        ahead = start_for(cases)
        if ahead is not None:
            session.stash[_AHEAD] = ahead


#: Whether the last session of this process ran cases only (set as each session finishes, so a
#: later session of other tests, such as the outer one of an in-process pytester run, clears it
#: again). A session that also ran other tests exits as pytest does: their objects' finalizers
#: are theirs to rely on.
_exit_after_cases = False


def _freeze_at_exit() -> None:
    """At the exit of a process whose last session ran cases only, freeze what is left, as the command
    skips its teardown (cli._exit). The interpreter's finalization runs full collections as it
    clears the modules, walking and freeing one by one every object still alive (the run's
    results and reports, the checks' data such as IFEval's language profiles): ~0.3 s of CPU
    after the shipped suites, a tenth of the session, to free memory the process is about to
    give back. Frozen, those objects are passed over. Everything else an exit does still happens
    (atexit callbacks, buffered output, objects freed by reference counting); objects left in
    cycles at exit are not collected, which Python never promises anyway."""
    if _exit_after_cases:
        gc.freeze()


atexit.register(_freeze_at_exit)


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _exit_after_cases
    _exit_after_cases = session.config.stash.get(_CASES_ONLY, False)
    if session.config.stash.get(_FROZEN, False):
        # pytest collects garbage twice more on its way out, so that finalizers' errors are
        # reported (its unraisable-exception plugin). Among other tests, one collection now, while
        # that plugin still listens, then a freeze of what is left: its two collections find the
        # same nothing in a fraction of the time (three full passes over a run's results were
        # ~0.2 s of the shipped suites). A session of cases only is the command's run under
        # another name and ends as the command does, with no last collection (it cost ~0.08 s
        # there, a pass over what the checks loaded, such as IFEval's language profiles).
        # The thresholds come back with the unfreeze, when pytest is done (_thaw).
        if not session.config.stash.get(_CASES_ONLY, False):
            gc.collect()
        gc.freeze()
    ahead = session.stash.get(_AHEAD, None)
    if ahead is not None:
        ahead.close()
    if session.stash.get(_HOLDS_CACHE, False):
        from . import cassettes

        cassettes.CACHE.release()  # each folder's cache file written once per session (and per xdist worker)
