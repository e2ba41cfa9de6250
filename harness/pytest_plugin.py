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

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

# pytest_asserts first, before any other harness module is imported (see its docstring).
from . import pytest_asserts, redact  # noqa: F401
from .collect import is_suite, searched
from .errors import HarnessError
from .gates import pass_rate_gate
from .parse_cache import CACHE
from .planning import Planner
from .project import project_here, suites_for_pytest
from .report.records import CaseRecord, Gate
from .report.sampled import CaseSamples, case_samples
from .runner import (
    RECORD_MODE_ALIASES,
    RECORD_MODES,
    CaseResult,
    RunOptions,
    execute,
    rerecord_command,
)
from .shard import Shard
from .suite import load_suite
from .trajectory import as_text, trajectory

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
        path = path.resolve()
        if path in self.files:
            return True
        # Inside a listed folder: what `harness run <folder>` takes, by the same rule (collect.py).
        return any(folder in path.parents and searched(path, folder) and _suite_or_broken(path)
                   for folder in self.folders)


def _suite_or_broken(path: Path) -> bool:
    """A suite, or a file that looks like a broken one (a misspelt ``cases:``): collected too, so
    its error is reported as `harness run` reports it instead of the file being passed over."""
    try:
        return is_suite(path)
    except HarnessError:
        return True


_OPTED_IN = pytest.StashKey[OptedIn]()
_SHARD = pytest.StashKey["Shard | None"]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if parent.session.isinitpath(file_path) or file_path in parent.config.stash[_OPTED_IN]:
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class HarnessCaseFailure(Exception):
    """Carries a case's failure text to pytest's report without a Python traceback."""


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        is_suite(self.path)  # a suite that lost its ``cases:`` is told so, at the key's line
        suite = load_suite(self.path)
        gate = suite.options.get("min_pass_rate")
        shard = self.config.stash[_SHARD]
        for case in suite.cases:
            if shard is not None and not shard.owns(case):
                continue  # another machine's case: the split of harness run --shard (shard.py)
            name = case.name
            # The node id is handed over as text so it is parsed exactly as pytest's cache parses
            # the ids it stored: built from name and parent, "lang[fr]" would be one name, while
            # the stored "…::lang[fr]" reads back as name "lang" with parameters "fr", and
            # --lf/--ff/--sw would find no failed case among the items.
            yield CaseItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", case=case,
                                       gate=None if gate is None else float(gate))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, HarnessError):
            return redact.clean(f"harness: {excinfo.value}")
        return super().repr_failure(excinfo)


@dataclass(frozen=True)
class DoorRun:
    """What every item of a session shares: one planner (each suite's price table and its bound
    checks are made once, as ``harness run`` makes them, not once per item) and the run options."""

    planner: Planner
    options: RunOptions

    @classmethod
    def from_config(cls, config: pytest.Config) -> DoorRun:
        mode = config.getoption("--record-mode", default=None) or "none"
        mode = RECORD_MODE_ALIASES.get(mode, mode)
        base_url = config.getoption("--harness-base-url")
        pricing = Path("harness.yaml") if Path("harness.yaml").is_file() else None
        # One item is one sample: an adaptive case's extra samples are those `harness run` recorded.
        return cls(Planner(base_url=base_url, check_limits=mode != "none", config=pricing),
                   RunOptions(record_mode=mode, concurrency=1, base_url=base_url, adaptive=False))


_DOOR = pytest.StashKey[DoorRun]()


def _door(config: pytest.Config) -> DoorRun:
    door = config.stash.get(_DOOR, None)
    if door is None:
        door = config.stash[_DOOR] = DoorRun.from_config(config)
    return door


class CaseItem(pytest.Item):
    def __init__(self, *, case: Any, gate: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.gate = gate
        if gate is not None:
            self.user_properties.append(("harness_gate", (str(case.suite_path), case.suite_name, gate,
                                                          case.node_id)))
        self.case_gated = case.min_pass_rate is not None or case.min_pass_hat_k is not None
        if self.case_gated:
            hat = case.min_pass_hat_k
            self.user_properties.append(("harness_case", (
                case.suite_path.as_posix(), case.suite_name, case.id, case.model, case.sample,
                case.min_pass_rate, None if hat is None else [hat[0], hat[1]])))
        if case.skip:
            self.add_marker(pytest.mark.skip(reason=case.skip))

    def runtest(self) -> None:
        door = _door(self.config)
        try:
            planned = door.planner.plan(self.case)
        except HarnessError:
            self.user_properties.append(("harness_status", "error"))
            raise
        result = execute([planned], door.options)[0]
        self.user_properties.append(("harness_status", result.status))
        if result.status == "passed":
            return
        if result.status == "skipped":
            pytest.skip(redact.clean(result.message or "skipped"))
        if self.case_gated and result.status == "failed":
            pytest.xfail(redact.clean("judged with its case's other samples by the case's gate (the "
                                      "session summary gives the verdict): " + _describe(result).replace("\n", " ")))
        if self.gate is not None and result.status == "failed":
            pytest.xfail(redact.clean(f"tolerated by the suite's min_pass_rate {self.gate:.0%}: "
                                      + _describe(result).replace("\n", " ")))
        raise HarnessCaseFailure(_describe(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        # A case's own outcome is told in harness's words: pytest's source traceback of this
        # method would say nothing about the prompt, and formatting one per expected failure
        # was most of the time a gated suite took.
        if isinstance(excinfo.value, pytest.xfail.Exception):
            return redact.clean(excinfo.value.msg or "xfail")
        if isinstance(excinfo.value, (HarnessCaseFailure, HarnessError)):
            return redact.clean(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.case.line or 1) - 1, f"case {self.case.id}"


def _describe(result: CaseResult) -> str:
    head = f"{result.status.upper()}: {result.case.node_id}"
    lines = [head]
    if result.message:
        lines.append(f"  {result.message}")
    for v in result.verdicts:
        if not v.passed:
            lines.append(f"  {v.name}: {v.reason}")
    if result.detail:
        lines.append(result.detail)
    steps = trajectory(result.episode)
    if steps:  # a multi-step case: where in its loop or conversation it went wrong
        lines.extend(f"  {line}" for line in as_text(steps, result.episode.stopped if result.episode else None)
                     .splitlines())
    if result.status == "stale":
        lines.append(f"  re-record: {rerecord_command([result.case])}")
    if result.status == "missing":
        lines.append(f"  record: {rerecord_command([result.case], 'once')}")
    return "\n".join(lines)


class GateTally:
    """The statuses of gated suites' cases, from the test reports, and the gates they give.

    Registered only in the process that reports (the xdist controller, or the only process):
    workers' reports reach it with their user properties, so the tally adds up across workers.
    """

    def __init__(self, shard: Shard | None = None) -> None:
        # path -> (name, minimum, (case node id, status) per sample)
        self.suites: dict[str, tuple[str, float, list[tuple[str, str]]]] = {}
        self.shard = shard  # a shard holds part of each suite: its gate is not decided here

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "harness_gate" not in props:
            return
        if report.when == "call":
            status = props.get("harness_status", "error")
        elif report.when == "setup" and report.skipped:
            status = "skipped"  # a case with `skip:` never reaches the call
        else:
            return
        path, name, minimum, node = cast("tuple[str, str, float, str]", props["harness_gate"])
        self.suites.setdefault(path, (name, float(minimum), []))[2].append((str(node), str(status)))

    def gates(self) -> list[Gate]:
        found = (pass_rate_gate(*self.suites[path]) for path in sorted(self.suites))
        return [gate for gate in found if gate is not None]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.shard is None and any(not gate.met for gate in self.gates()) \
                and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.shard is not None:
            for path in sorted(self.suites):
                terminalreporter.write_line(redact.clean(
                    f"harness gate not decided on shard {self.shard.text}: {self.suites[path][0]}: min_pass_rate "
                    "needs every case of the suite (harness run --shard and harness merge decide it)"))
            return
        for gate in self.gates():
            terminalreporter.write_line(redact.clean(f"harness gate {'met' if gate.met else 'FAILED'}: "
                                                     f"{gate.text}"), red=not gate.met, green=gate.met)


class CaseTally:
    """The samples of cases with their own gate, from the test reports (added up across xdist
    workers like GateTally's), and each case's decision by report/sampled.py."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.samples: list[CaseRecord] = []
        self.items: dict[str, list[str]] = {}  # case node id -> its samples' pytest node ids

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "harness_case" not in props or not (report.when == "call" or (report.when == "setup" and report.skipped)):
            return
        path, suite, case_id, model, sample, rate, hat = cast("tuple[Any, ...]", props["harness_case"])
        status = str(props.get("harness_status", "error")) if report.when == "call" else "skipped"
        record = CaseRecord(suite=str(suite), suite_path=str(path), id=str(case_id), model=str(model), status=status,
                            sample=int(sample), min_pass_rate=None if rate is None else float(rate),
                            min_pass_hat_k=None if hat is None else (int(hat[0]), float(hat[1])))
        self.samples.append(record)
        self.items.setdefault(record.node_id, []).append(report.nodeid)

    def cases(self) -> list[CaseSamples]:
        return list(case_samples(sorted(self.samples, key=lambda r: (r.node_id, r.sample))).values())

    @pytest.hookimpl(tryfirst=True)  # before the cache plugin writes what failed, for --lf
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        failing = [c for c in self.cases() if c.status == "failed"]
        if not failing:
            return
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        last_failed = getattr(self.config.pluginmanager.get_plugin("lfplugin"), "lastfailed", None)
        if isinstance(last_failed, dict):  # the whole case runs again under --lf, not one sample
            last_failed.update(dict.fromkeys((n for c in failing for n in self.items[c.node_id]), True))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for case in self.cases():
            if case.status not in ("passed", "failed"):
                continue  # an error, stale or missing sample failed as its own item
            met = case.status == "passed"
            gates = "; ".join(g.text for g in case.gates)
            terminalreporter.write_line(redact.clean(f"harness case gate {'met' if met else 'FAILED'}: "
                                                     f"{case.node_id}: {case.summary}: {gates}"),
                                        red=not met, green=met)


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[_OPTED_IN] = OptedIn.from_config(config)
    except HarnessError as exc:  # a broken project file: one line, as the CLI says it
        raise pytest.UsageError(redact.clean(str(exc))) from None
    try:
        shard = config.getoption("--harness-shard", default=None)
        config.stash[_SHARD] = Shard.parse(shard, "--harness-shard") if shard else None
    except HarnessError as exc:
        raise pytest.UsageError(redact.clean(str(exc))) from None
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(GateTally(config.stash[_SHARD]), "harness-gates")
        config.pluginmanager.register(CaseTally(config), "harness-case-gates")


_HOLDS_CACHE = pytest.StashKey[bool]()


def pytest_collection_finish(session: pytest.Session) -> None:
    # Only a session that runs cases holds the parse cache: one that runs other tests may call
    # harness in-process and expects each run to write its cache as usual.
    if any(isinstance(item, CaseItem) for item in session.items):
        CACHE.hold()
        session.stash[_HOLDS_CACHE] = True


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.stash.get(_HOLDS_CACHE, False):
        CACHE.release()  # each folder's cache file written once per session (and per xdist worker)
