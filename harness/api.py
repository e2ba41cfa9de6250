"""The Python door: run suites, load them and add typed checks from Python (``import harness``).

The CLI's ``harness run`` is built on ``run``: it parses its arguments, hands ``run`` a progress bar
and a stop event for Ctrl-C, and prints what comes back. ``run`` itself prints nothing: every
result, gate and user error is in the RunResult it returns, with the exit status the CLI gives for
it. User errors never escape as exceptions from ``run``, because a door must report all of them at
once (every bad case of every suite), as the CLI does.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from . import suite as _suite
from .cassettes import prefetch
from .checks import registry
from .checks.registry import CheckContext, Result
from .collect import collect, select_cases
from .errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USER_ERROR, HarnessError, NoCasesSelected, UserError
from .gates import FAIL_ON, FailOnOptions, evaluate
from .orphans import survey
from .output import Output
from .project import run_paths
from .record.sampling import SamplesOption, check_option
from .record_modes import RECORD_MODE_ALIASES, RECORD_MODES
from .report import ReportSpec, parse_specs, write_reports
from .report.records import CaseRecord, Gate, RunRecord, Totals, from_results, totals
from .runner import CaseResult, RunOptions, execute, plan
from .shard import Shard, ShardError, ShardInfo, fingerprint, positions, selection, source_files
from .suite import Suite

RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite"]  # rewrite: all (pytest-recording's name)
FailOn = Literal["failed", "changed", "regressed", "orphans"]
CheckFunction = TypeVar("CheckFunction", bound=Callable[..., "bool | Result"])


class Progress(Protocol):
    """Told how many cases will run, then of each finished case (the CLI's progress bar).

    ``update`` is called on the thread that ran the case, one call at a time (under a lock), so
    it needs no locking of its own; an exception from it stops the run and is raised to the
    caller of ``run``."""

    def start(self, total: int) -> None: ...

    def update(self, result: CaseResult) -> None: ...


@dataclass(frozen=True)
class RunResult:
    """What a run found. ``cases`` are the same records the JSON report is written from."""

    exit_code: int  # what ``harness run`` exits with: 0, 1 failed, 2 user error, 3 cassettes, 4 budget,
    #                 5 no case selected, 130 stopped
    cases: tuple[CaseRecord, ...] = ()
    gates: tuple[Gate, ...] = ()
    errors: tuple[HarnessError, ...] = ()  # user errors; when any stopped the run, cases is empty
    suites: tuple[Suite, ...] = ()
    record: RunRecord | None = None  # None when a user error stopped the run before it started
    case_results: tuple[CaseResult, ...] = ()  # the road's own results (the terminal report reads them)
    reports: tuple[Path, ...] = ()  # report files written
    stopped: bool = False  # the stop event was set: cases not started are skipped

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    @property
    def totals(self) -> Totals:
        """Counts per status, pass rate, cost and tokens of the whole run."""
        return totals(self.cases)

    def case(self, key: str) -> CaseRecord:
        """A case by its id (``explain``), node id (``suites/x.yaml::explain``) or key (``...#2``)."""
        found = [c for c in self.cases if key in (c.id, c.node_id, c.key)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} cases match {key!r}" if found else f"no case {key!r}")
        return found[0]


def run(paths: str | Path | Iterable[str | Path] | None = None, *, record_mode: RecordMode = "none",
        models: Sequence[str] | str | None = None, samples: SamplesOption | None = None,
        keyword: str | None = None,
        base_url: str | None = None, concurrency: int = 8, timeout: float = 120.0, max_retries: int = 4,
        max_cost: float | None = None, batch: bool = False, batch_poll: float = 10.0,
        config: str | Path | None = None, fail_on: FailOn | Iterable[FailOn] | FailOnOptions = "failed",
        reports: Iterable[str] = (), shard: Shard | str | None = None,
        progress: Progress | None = None, stop: threading.Event | None = None,
        notify: Callable[[str], None] | None = None) -> RunResult:
    """Replay (or record) suites, check the answers, write ``reports`` (``"json=run.json"``, ...).

    ``paths`` are suite files or folders (``FILE::CASE`` picks one case; default: the project's
    suites, as the project file's ``suites:`` names them, else ``suites``); ``models`` and ``samples``
    replace every suite's own (``samples`` as a suite writes it: a number, ``"auto"`` or
    ``{"min": 3, "max": 20}``); ``keyword`` is ``-k``. ``config`` is a YAML file with ``pricing:``
    (default: ``harness.yaml`` in the current folder, if there is one). Setting ``stop`` lets the
    requests in flight finish and save, and skips the rest (exit code 130). ``fail_on`` may add
    ``"orphans"`` to one of the others (``["regressed", "orphans"]``): cassettes that no case of a
    suite run whole owns then fail the run (they are listed in ``record.orphans`` either way).
    ``shard`` (``"2/4"``) runs only that shard's cases (shard.py); the gates that need whole
    suites are then left to ``harness merge`` (gates.py), and the record carries ``shard``.
    """
    started = time.perf_counter()
    record_mode = RECORD_MODE_ALIASES.get(record_mode, record_mode)  # type: ignore[assignment]
    try:
        wanted_models = _models(models)
        gate_on = _fail_on(fail_on)
        _check_options(record_mode, samples, concurrency, gate_on.cases, batch)
        specs = parse_specs(list(reports))  # a bad report is an error before anything runs
        part = Shard.parse(shard) if isinstance(shard, str) else shard
    except HarnessError as exc:  # no report can be written: every shard fails alike, and says so
        return RunResult(exc.exit_code, errors=(exc,))
    targets: list[str] = []
    suites: list[Suite] = []
    whole_run: list[_suite.Case] = []
    try:
        targets = run_paths(paths, notify)
        suites, selected = collect(targets, notify or (lambda _text: None), models=wanted_models, samples=samples,
                                   owns=part.owns_id if part is not None else None)
        whole_run = select_cases(suites, selected, keyword)
        if not whole_run:
            if part is None:
                raise NoCasesSelected.for_selection(targets, keyword)
            return _empty_shard(part, suites, NoCasesSelected.for_selection(targets, keyword), specs,
                                record_mode, time.perf_counter() - started)
        cases = [c for c in whole_run if part is None or part.owns(c)]  # a shard may hold none
        pricing_file = config_file(config)
    except HarnessError as exc:
        if part is None:
            return RunResult(exc.exit_code, errors=(exc,))
        first = (whole_load_error(targets, wanted_models, samples, keyword) or exc) if targets else exc
        return _stopped_shard(part, "load", [ShardError(str(first), first.exit_code)], [first], [], [],
                              specs, record_mode, time.perf_counter() - started)
    # A cold replay's cassettes start being parsed by a second process now, while the cases are
    # planned (cassettes/prefetch.py; None where that cannot pay or is not safe).
    ahead = prefetch.start_for(cases) if record_mode == "none" else None
    try:
        planned, problems = plan(cases, base_url=base_url, check_limits=record_mode != "none", config=pricing_file)
        refused = _adaptive_batch_refusal(cases) if batch else None
        if refused is not None:  # decided after planning, as one job does: it is then the only error shown
            problems, failed = [refused[1]], [refused[0]]
        else:
            done = {id(p.case) for p in planned}
            failed = [c for c in cases if id(c) not in done]  # plan() keeps the cases' order: one error each
        if problems and part is not None:
            place = {id(c): i for i, c in enumerate(whole_run)}
            code = problems[0].exit_code if refused else EXIT_USER_ERROR  # what one job exits with, below
            located = [ShardError(str(e), code, place[id(c)]) for c, e in zip(failed, problems, strict=True)]
            return _stopped_shard(part, "batch" if refused else "plan", located, problems, suites, whole_run, specs,
                                  record_mode, time.perf_counter() - started)
        if problems:
            return RunResult(problems[0].exit_code if refused else EXIT_USER_ERROR, errors=tuple(problems),
                             suites=tuple(suites))
        options = RunOptions(record_mode=record_mode, concurrency=concurrency, base_url=base_url, keyword=keyword,
                             timeout=timeout, max_retries=max_retries, batch=batch, batch_poll=batch_poll,
                             max_cost=max_cost)
        if progress is not None:
            progress.start(len(planned))
        # The suites and the plan live as long as the run and hold no garbage: frozen, the collector's
        # full passes stop walking them again each time the answers piling up trigger one (a tenth of
        # a 50,000-case replay). Unfrozen after, so a long-lived caller collects them as usual.
        gc.freeze()
        try:
            results = execute(planned, options, progress=progress.update if progress is not None else None,
                              stop=stop, notify=notify)
        finally:
            gc.unfreeze()
    finally:
        if ahead is not None:
            ahead.close()
    record = from_results(results, suites, record_mode=record_mode, elapsed_s=time.perf_counter() - started)
    if not wanted_models and samples is None:  # suites run as their files say: their cassettes are theirs
        whole = [s for s in suites if s.path.resolve() not in selected] if keyword is None else []
        found = survey(whole)
        record = replace(record, orphans=found.orphans, orphans_checked=len(whole))
    if part is not None:
        keys = [(c.suite_path, c.id, c.sample) for c in record.cases]
        record = replace(record, shard=ShardInfo(
            part.index, part.count, tuple((s.path.as_posix(), fingerprint(s)) for s in suites),
            positions(keys, whole_run), record.orphans_checked, selection(whole_run),
            stopped=stop is not None and stop.is_set(), files=source_files(suites)))
    code, gates = evaluate(record, fail_on=gate_on.cases, orphans=gate_on.orphans)
    record = replace(record, gates=tuple(gates))
    errors: tuple[HarnessError, ...] = ()
    written: list[Path] = []
    try:
        written = write_reports(specs, record)
    except HarnessError as exc:
        code, errors = exc.exit_code, (exc,)
    stopped = stop is not None and stop.is_set()
    return RunResult(EXIT_INTERRUPTED if stopped else code, record.cases, tuple(gates), errors, tuple(suites),
                     record, tuple(results), tuple(written), stopped)


def _empty_shard(part: Shard, suites: Sequence[Suite], empty: NoCasesSelected, specs: list[ReportSpec],
                 record_mode: str, elapsed_s: float) -> RunResult:
    """A shard of a selection of nothing exits as the unsharded run would (5, with its message), and
    still writes its report, saying so: harness merge then gives that same status and message
    instead of calling every shard missing."""
    info = ShardInfo(part.index, part.count, tuple((s.path.as_posix(), fingerprint(s)) for s in suites), (), 0,
                     selection([]), files=source_files(suites), no_cases=empty.message)
    return _shard_report(info, (empty,), suites, specs, record_mode, elapsed_s)


def _stopped_shard(part: Shard, stage: str, found: list[ShardError], errors: Sequence[HarnessError],
                   suites: Sequence[Suite], whole_run: Sequence[_suite.Case], specs: list[ReportSpec],
                   record_mode: str, elapsed_s: float) -> RunResult:
    """A shard that a user error stopped before its cases ran exits as one job would (2), and still
    writes its report with the errors in it: harness merge then prints what that job prints, instead
    of sending a CI reader to look for a lost artifact. A shard stopped while loading has no suites
    to fingerprint; the merge joins it on its shard and version alone, since it can only fail."""
    info = ShardInfo(part.index, part.count, tuple((s.path.as_posix(), fingerprint(s)) for s in suites), (), 0,
                     selection(whole_run), files=source_files(suites) if suites else (), stage=stage,
                     errors=tuple(found))
    return _shard_report(info, errors, suites, specs, record_mode, elapsed_s)


def _shard_report(info: ShardInfo, errors: Sequence[HarnessError], suites: Sequence[Suite],
                  specs: list[ReportSpec], record_mode: str, elapsed_s: float) -> RunResult:
    """A shard's report of no case run, and the errors its run exits with (a report that cannot be
    written is the error then: the merge will call that shard missing, which it is)."""
    record = replace(from_results([], suites, record_mode=record_mode, elapsed_s=elapsed_s), shard=info)
    try:
        written = write_reports(specs, record)
    except HarnessError as exc:
        return RunResult(exc.exit_code, errors=(exc,), suites=tuple(suites))
    code = info.errors[0].exit_code if info.errors else errors[0].exit_code
    return RunResult(code, errors=tuple(errors), suites=tuple(suites), reports=tuple(written))


def whole_load_error(targets: list[str], models: tuple[str, ...], samples: SamplesOption | None,
                     keyword: str | None) -> HarnessError | None:
    """The error one unsharded job stops at while loading, or None if it loads. A shard checks only
    its own cases against the schema, so it may stop in a later suite than one job, whose error
    (in an earlier suite, in a case another shard runs) is the one every report must then name."""
    try:
        suites, selected = collect(targets, models=models, samples=samples)
        select_cases(suites, selected, keyword)
    except HarnessError as exc:
        return exc
    return None


def load_suite(path: str | Path, *, models: Sequence[str] | str | None = None,
               samples: SamplesOption | None = None) -> Suite:
    """Parse, validate and expand one suite file: ``Suite.cases`` holds every case it runs.

    Raises UserError (its message names file, line and case) for anything wrong in the file.
    """
    if samples is not None:
        _check_options("none", samples, 1, "failed", False)
    return _suite.load_suite(Path(path), models_override=_models(models), samples_override=samples)


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a typed check under ``name``, for suites to use like a built-in one::

        @harness.check("word_count_between")
        def word_count_between(output: harness.Output, *, min: int, max: int) -> bool:
            return min <= len((output.content or "").split()) <= max

    The first parameter receives the answer (Output); an optional second one the CheckContext
    (case, request, answer). Keyword-only parameters are the check's arguments, written in the
    suite as a mapping (``word_count_between: {min: 5, max: 50}``) and checked against their
    annotations when the suite loads: a wrong type is a user error at its line. Return True/False
    or a Result (with a reason, and a score in 0..1 for weighted cases). A check that raises is
    an error verdict for its case, not a crash of the run.
    """

    def register(fn: CheckFunction) -> CheckFunction:
        registry.register_function(name, fn)
        return fn

    return register


def _models(models: Sequence[str] | str | None) -> tuple[str, ...]:
    if models is None:
        return ()
    chosen = (models,) if isinstance(models, str) else tuple(models)
    if not chosen or not all(isinstance(m, str) and m.strip() for m in chosen):
        raise UserError(f"models: expected model names, got {models!r}")
    return chosen


def _fail_on(value: str | Iterable[str] | FailOnOptions) -> FailOnOptions:
    if isinstance(value, FailOnOptions):
        return value
    try:
        return FailOnOptions.parse(value)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _adaptive_batch_refusal(cases: Iterable[_suite.Case]) -> tuple[_suite.Case, UserError] | None:
    """An adaptive case decides after each answer whether it needs another; a batch job answers
    in hours, all at once. Rounds of batches would take a day per sample, so the first such case
    is refused (with the case, so a shard can place the error in the whole run)."""
    for case in cases:
        if case.adaptive is not None:
            return case, UserError("--batch cannot record adaptive samples (each extra sample waits for the "
                                   "answers before it): record with --samples N (a fixed number), or without "
                                   "--batch", file=case.suite_path, line=case.line, case=case.id)
    return None


def _check_options(record_mode: str, samples: SamplesOption | None, concurrency: int, fail_on: str,
                   batch: bool) -> None:
    if record_mode not in RECORD_MODES:
        raise UserError(f"unknown record mode {record_mode!r} (use {', '.join(RECORD_MODES)})")
    if fail_on not in FAIL_ON:
        raise UserError(f"unknown fail_on {fail_on!r} (use {', '.join(FAIL_ON)})")
    if fail_on == "regressed" and record_mode == "none":
        raise UserError("--fail-on regressed needs a baseline, and a replay has none (each answer "
                        "is its cassette's). Compare with a git revision instead: harness diff "
                        "--base REF (e.g. --base HEAD or origin/main); or re-record with "
                        "--record-mode all to compare with the answers being replaced")
    if samples is not None:
        check_option(samples)
    if concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    if batch and record_mode == "none":
        raise UserError("--batch records pending cases: use it with --record-mode once, new_episodes or all")


def config_file(config: str | Path | None) -> Path | None:
    """The pricing config: the one named, else ``harness.yaml`` in the current folder, if there is one."""
    if config is None:
        return Path("harness.yaml") if Path("harness.yaml").is_file() else None
    if not Path(config).is_file():
        raise UserError(f"config file not found: {config}")
    return Path(config)


__all__ = ["CheckContext", "FailOn", "Output", "Progress", "RecordMode", "RunResult", "check", "load_suite",
           "run"]
