"""The road one case travels: collect -> plan (render, bind checks) -> transport -> checks.

The CLI and the pytest plugin both call ``plan`` and ``execute``; neither holds logic of its own.
Planning renders every request before any network is touched, so every user error in a run is
reported at once, with its file, line and case.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import cassettes, redact
from .batch import run_batch
from .budget import Budget, BudgetStop, reserve_or_stop
from .cassette_files import CassetteLock
from .cassettes import Interaction
from .checks.auto import auto_specs
from .checks.registry import BoundCheck, CheckContext, NeedsRecording, Verdict, bind
from .collect import collect, select_cases  # noqa: F401 - re-exported for the doors
from .decide import decide as _decide
from .decide import recheck as _recheck
from .diff import Change, DiffOptions, answer_diff
from .episode import Episode
from .errors import HarnessError, UserError
from .output import Output
from .pricing import PriceTable
from .prompt_secrets import refuse_secrets
from .record.adaptive import Sampler, run_all
from .redact import Redactor
from .render import Renderer
from .request import Request, build_request
from .session import Judge, JudgeSpend, LazySession, stale_detail
from .suite import Case, CheckSpec
from .tokens import fit_error
from .transport import replay_output

RECORD_MODES = ("none", "once", "new_episodes", "all")


@dataclass
class RunOptions:
    record_mode: str = "none"
    concurrency: int = 8
    base_url: str | None = None
    keyword: str | None = None
    timeout: float = 120.0
    max_retries: int = 4
    batch: bool = False
    batch_poll: float = 10.0
    max_cost: float | None = None
    adaptive: bool = True  # give adaptive cases more samples (the pytest door runs one per item)


@dataclass(frozen=True)
class PlannedCase:
    case: Case
    request: Request
    checks: tuple[BoundCheck, ...]
    prices: PriceTable = field(default_factory=PriceTable)
    diff: DiffOptions = field(default_factory=DiffOptions)
    #: Why the request must not be sent (it cannot fit the model); the case fails if it must record.
    refused: str | None = None


@dataclass
class CaseResult:
    planned: PlannedCase
    status: str
    verdicts: list[Verdict] = field(default_factory=list)
    output: Output | None = None
    message: str = ""
    detail: str = ""
    recorded: bool = False
    baseline: Output | None = None  # the answer the cassette held before this run re-recorded it
    cost_usd: float | None = None  # from the price table; None when the model's price is unknown
    change: Change | None = None  # baseline vs new answer, for re-recorded cases
    baseline_status: str | None = None  # the baseline judged by today's checks; None = unknown
    judge: JudgeSpend | None = None  # what the case's rubric judge calls used, apart from cost_usd
    budget_skipped: bool = False  # not sent (or not judged) because --max-cost would be passed
    #: Every model call of a multi-step case (turns, tool loops), in order; ``output`` is the final
    #: answer. None for a case of one request.
    episode: Episode | None = None
    #: The trajectory the cassette held before this run re-recorded it (diffs compare step by step).
    baseline_episode: Episode | None = None

    @property
    def case(self) -> Case:
        return self.planned.case


# ---------------------------------------------------------------- plan

def plan_case(case: Case, *, base_url: str | None = None, check_limits: bool = False,
              prices: PriceTable | None = None,
              bound: dict[int, tuple[CheckSpec, BoundCheck]] | None = None) -> PlannedCase:
    """Render the request and bind the checks (plus the automatic schema checks)."""
    renderer = Renderer(case.suite_path)
    refused = None
    try:
        request = build_request(case, renderer, base_url_override=base_url)
        refuse_secrets(case, request, redact.current())
        too_big = fit_error(request.body, model=case.model) if check_limits else None
        if too_big is not None:
            refused = str(too_big.located(file=case.suite_path, line=case.line, case=case.id))
        if prices is None:
            prices = PriceTable.from_sources(suite_overrides=case.pricing, suite_file=case.suite_path)
    except HarnessError as exc:
        raise exc.located(file=case.suite_path, line=case.line, case=case.id) from None
    specs = list(case.checks)
    if case.auto_checks:
        specs += auto_specs(request, file=str(case.suite_path), line=case.line)
    checks = tuple(_bind_once(spec, case.id, bound) for spec in specs)
    return PlannedCase(case, request, checks, prices, refused=refused)


def _bind_once(spec: CheckSpec, case_id: str, cache: dict[int, tuple[CheckSpec, BoundCheck]] | None) -> BoundCheck:
    """Suite-level checks are one CheckSpec shared by every case: validate them once."""
    if cache is None:
        return bind(spec, case=case_id)
    hit = cache.get(id(spec))
    if hit is None or hit[0] is not spec:
        hit = (spec, bind(spec, case=case_id))
        cache[id(spec)] = hit
    return hit[1]


def plan(cases: list[Case], *, base_url: str | None = None, check_limits: bool = False,
         config: Path | None = None) -> tuple[list[PlannedCase], list[HarnessError]]:
    """Plan every case; collect user errors instead of stopping at the first one.

    ``check_limits`` (when a run may record, and for ``validate``) marks requests that cannot fit the
    model's context window or ask for more output than it gives (``PlannedCase.refused``): such a
    case fails alone when it would be sent. ``config`` is a YAML file with ``pricing:``.
    """
    planned, errors = [], []
    tables: dict[Path, PriceTable] = {}
    diffs: dict[Path, DiffOptions] = {}
    bound: dict[int, tuple[CheckSpec, BoundCheck]] = {}
    for case in cases:
        try:
            if case.suite_path not in tables:
                tables[case.suite_path] = PriceTable.from_sources(
                    config_file=config, suite_overrides=case.pricing, suite_file=case.suite_path)
                diffs[case.suite_path] = DiffOptions.from_mapping(case.diff, file=case.suite_path)
            item = plan_case(case, base_url=base_url, check_limits=check_limits,
                             prices=tables[case.suite_path], bound=bound)
            planned.append(replace(item, diff=diffs[case.suite_path]))
        except HarnessError as exc:
            errors.append(exc)
    return planned, errors


# ---------------------------------------------------------------- execute

def rerecord_command(cases: Iterable[Case], mode: str = "new_episodes") -> str:
    """The command that records exactly these cases. ``once``/``new_episodes`` only touch cases
    that need it, so beyond a few cases naming the suite file is equivalent and shorter."""
    by_suite: dict[Path, list[Case]] = {}
    for case in cases:
        by_suite.setdefault(case.suite_path, []).append(case)
    targets = []
    for path, group in by_suite.items():
        if mode in ("once", "new_episodes") and len(group) > 3:
            targets.append(f"'{path.as_posix()}'")
        else:
            targets.extend(f"'{c.node_id}'" for c in group)
    return f"harness run {' '.join(targets)} --record-mode {mode}"


def _status_from(verdicts: list[Verdict], threshold: float | None = None) -> str:
    if any(v.error for v in verdicts):
        return "error"
    if threshold is not None and verdicts:
        return "passed" if weighted_score(verdicts) >= threshold else "failed"
    return "passed" if all(v.passed for v in verdicts) else "failed"


def weighted_score(verdicts: list[Verdict]) -> float:
    """Weighted mean of the checks' scores (a check without a score counts 1 or 0)."""
    total = sum(v.weight for v in verdicts)
    if total == 0:
        return 1.0
    got = sum(v.weight * (v.score if v.score is not None else float(v.passed)) for v in verdicts)
    return got / total


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _main_of(stored: list[Interaction] | None) -> Interaction | None:
    return next((i for i in stored or [] if not i.extra.get("role")), None)


def _run_case(item: PlannedCase, options: RunOptions, session: LazySession, secrets: Redactor,
              services: dict) -> CaseResult:
    """One case down the road: decide, replay or record, judge, save. Never raises. A case is
    recorded under its cassette's lock, so two processes recording a suite send each request once."""
    lock = CassetteLock(item.case.cassette_path, session.stop)
    try:
        return _road(item, options, session, secrets, services, lock)
    except Exception as exc:  # noqa: BLE001 - a bug must fail its case, not the whole run
        return CaseResult(item, "error", message=secrets.text(
            f"harness failed on this case ({type(exc).__name__}: {exc}); please report it"))
    finally:
        lock.release()


def _road(item: PlannedCase, options: RunOptions, session: LazySession, secrets: Redactor,
          services: dict, lock: CassetteLock) -> CaseResult:
    """``_run_case`` itself; it takes ``lock`` only when the case must be sent."""
    if item.case.skip:
        return CaseResult(item, "skipped", message=item.case.skip)
    if session.stop.is_set():
        return CaseResult(item, "skipped", message=NOT_STARTED)
    try:
        action, stored, hit = _decide(item, options.record_mode)
        if action == "record":
            if not lock.acquire():
                return CaseResult(item, "skipped", message=NOT_STARTED)
            action, stored, hit = _recheck(item, options.record_mode, stored)
    except HarnessError as exc:
        return CaseResult(item, "error", message=str(exc))
    except OSError as exc:  # a folder that cannot take a lock file cannot take the cassette either
        return CaseResult(item, "error", message=f"{_shown(item.case.cassette_path)}: cannot write in "
                          f"{_shown(item.case.cassette_path.parent)} ({exc.strerror or exc}); nothing was sent")
    if action == "record" and item.refused:
        return CaseResult(item, "error", message=f"{item.refused}; nothing was sent")
    if action == "missing":
        return CaseResult(item, "missing", message=f"no cassette at {_shown(item.case.cassette_path)}")
    if action == "stale":
        return CaseResult(item, "stale", message="the request changed since it was recorded",
                          detail=stale_detail(item.request, _main_of(stored)))
    if action == "replay":
        assert hit is not None  # decide() pairs "replay" with the interaction it found
        return _finish(item, hit, stored, False, options, session, secrets, services)
    budget: Budget | None = services.get("budget")
    try:
        reserved = reserve_or_stop(budget, item.request, item.case.model, item.prices, "not sent") if budget else 0.0
    except BudgetStop as stop:
        return CaseResult(item, "skipped", message=stop.message, budget_skipped=True)
    try:
        live = session.get().send(item.request)
    except Exception as exc:  # noqa: BLE001 - one case's failure must not stop the others
        if budget is not None:
            budget.settle(reserved, 0.0)
        text = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
        return _failed_record(item, stored, secrets.text(text))
    if budget is not None:
        usage = live.output.usage
        budget.settle(reserved, item.prices.cost(item.case.model, usage) if usage else None)
    if live.interrupted:
        return CaseResult(item, "skipped", message=NOT_STARTED)
    if live.interaction is None:
        return _failed_record(item, stored, secrets.text(live.output.error or "request failed"),
                              replace(live.output, error=secrets.text(live.output.error or "")))
    return _finish(item, live.interaction, stored, True, options, session, secrets, services)


def _failed_record(item: PlannedCase, stored: list[Interaction] | None, message: str,
                   output: Output | None = None) -> CaseResult:
    old = _main_of(stored)
    return CaseResult(item, "error", output=output, message=f"{message} (no cassette written)",
                      baseline=replay_output(old) if old is not None else None)


def _finish(item: PlannedCase, main: Interaction, stored: list[Interaction] | None, recorded: bool,
            options: RunOptions, session: LazySession, secrets: Redactor, services: dict) -> CaseResult:
    """Judge the answer (the judge may replay or record its own exchange), then save if new."""
    mode = options.record_mode
    old_main = _main_of(stored)
    baseline = replay_output(old_main) if recorded and old_main is not None else None
    if recorded:
        main = cassettes.scrub_interaction(main, secrets)
    output = replay_output(main)
    judge = Judge(item, None if mode == "all" else stored,
                  may_record=recorded or mode in ("new_episodes", "all"), session=session,
                  budget=services.get("budget"))
    batch = bool(main.extra.get("batch"))
    ctx = CheckContext(item.case, item.request, output,
                       {**services, "judge": judge, "batch": batch, "pricing": item.prices})
    cost = item.prices.cost(item.case.model, output.usage, batch=batch) if output.usage else None
    try:
        verdicts = [Verdict("response", False, secrets.text(output.error), error=True)] \
            if output.error else [bound.run(ctx) for bound in item.checks]
    except BudgetStop as stop:
        # The answer was paid for: keep it (and any judge exchange already made) in the cassette.
        failure = _save(item, main, judge, secrets) if recorded or judge.recorded else ""
        if failure:
            return CaseResult(item, "error", output=output, message=failure, judge=judge.spend)
        kept = "; the answer is kept in its cassette" if recorded else ""
        return CaseResult(item, "skipped", output=output, message=stop.message + kept, cost_usd=cost,
                          judge=judge.spend, recorded=recorded, budget_skipped=True)
    except NeedsRecording as need:
        return CaseResult(item, need.status, output=output, detail=need.detail,
                          message=f"rubric judge: {need.message}" if need.message else
                          "the judge request changed since it was recorded")
    except HarnessError as exc:
        return CaseResult(item, "error", output=output, message=secrets.text(str(exc)))
    if recorded or judge.recorded:
        failure = _save(item, main, judge, secrets)
        if failure:
            return CaseResult(item, "error", verdicts, output, message=failure, judge=judge.spend)
    # An old cassette may hold an answer that is no longer recorded (one cut short, say).
    message = f"replayed from {_shown(item.case.cassette_path)}: {secrets.text(output.error)}" \
        if output.error else ""
    change = answer_diff(baseline, output, item.diff) if baseline is not None else None
    return CaseResult(item, _status_from(verdicts, item.case.threshold), verdicts, output, message=message,
                      recorded=recorded, baseline=baseline, cost_usd=cost, change=change,
                      baseline_status=_judge_baseline(item, baseline, stored, session, services),
                      judge=judge.spend)


def _save(item: PlannedCase, main: Interaction, judge: Judge, secrets: Redactor) -> str:
    """Write the case's cassette; the error message when it cannot be written, else ''."""
    try:
        cassettes.save(item.case.cassette_path, item.case.node_id, [main, *judge.used],
                       secrets=secrets, rerecord=rerecord_command([item.case], "all"))
    except OSError as exc:
        return (f"{_shown(item.case.cassette_path)}: cannot write the cassette "
                f"({exc.strerror or exc}); the answer was not kept")
    return ""


def _judge_baseline(item: PlannedCase, baseline: Output | None, stored: list[Interaction] | None,
                    session: LazySession, services: dict) -> str | None:
    """The old answer judged by today's checks, so a re-recording can tell a regression from a
    failure the baseline already had. Unknown (None) when a check cannot judge it offline."""
    if baseline is None:
        return None
    if baseline.error:
        return "error"
    judge = Judge(item, stored, may_record=False, session=session)
    ctx = CheckContext(item.case, item.request, baseline,
                       {**services, "judge": judge, "pricing": item.prices})
    try:
        verdicts = [bound.run(ctx) for bound in item.checks]
    except (NeedsRecording, HarnessError):
        return None
    if any(v.error for v in verdicts):
        return None
    return _status_from(verdicts, item.case.threshold)


def _execute_batch(planned: list[PlannedCase], indexes: list[int], options: RunOptions,
                   session: LazySession, secrets: Redactor, services: dict,
                   notify: Callable[[str], None]) -> dict[int, CaseResult]:
    """Record the cases that need it through one Batch API job, then judge and save each."""
    pending: list[tuple[int, list[Interaction] | None]] = []
    out: dict[int, CaseResult] = {}
    for index in indexes:
        item = planned[index]
        try:
            action, stored, _hit = _decide(item, options.record_mode)
        except HarnessError:
            action, stored = "unreadable", None  # _run_case reports it for this case
        if action == "record" and not item.case.skip and not item.refused:
            pending.append((index, stored))
        else:
            out[index] = _run_case(item, options, session, secrets, services)
    outcomes = run_batch([planned[i].request for i, _ in pending], poll_interval=options.batch_poll,
                         stop=session.stop, say=notify)
    for n, (index, stored) in enumerate(pending):
        item = planned[index]
        if outcomes is None:
            out[index] = CaseResult(item, "skipped", message="waiting for the batch (run again to resume)")
        else:
            recorded = outcomes[n].interaction
            if recorded is None:
                out[index] = _failed_record(item, stored, secrets.text(outcomes[n].output.error or ""))
            else:
                out[index] = _finish(item, recorded, stored, True, options, session, secrets, services)
    return out


NOT_STARTED = "not started: the run was stopped"


def execute(planned: list[PlannedCase], options: RunOptions,
            progress: Callable[[CaseResult], None] | None = None,
            stop: threading.Event | None = None,
            notify: Callable[[str], None] | None = None) -> list[CaseResult]:
    """Replay or record every planned case, then judge it. Never raises for a single case.

    In replay-only mode everything runs in this thread (a file read and a parse per case). When
    recording, cases run in a thread pool, each with its own SDK client; an adaptive limiter keeps
    at most ``concurrency`` requests in flight. Setting ``stop`` (Ctrl-C) lets requests in flight
    finish and save, and reports the rest as not started. An adaptive case (``samples: {min,
    max}``) gets one more sample at a time while its verdict is unclear (record/adaptive.py).
    """
    if options.record_mode not in RECORD_MODES:
        raise UserError(f"unknown record mode {options.record_mode!r} (use {', '.join(RECORD_MODES)})")
    redact.register(env_names={p.request.endpoint.key_env for p in planned})
    secrets = redact.current()
    services: dict = {}
    if options.max_cost is not None:
        services["budget"] = Budget(options.max_cost)
    session = LazySession(options, stop or threading.Event())
    if options.batch and options.record_mode != "none":
        try:
            done = _execute_batch(planned, list(range(len(planned))), options, session, secrets,
                                  services, notify or (lambda _m: None))
        finally:
            session.close()
            cassettes.flush_cache()
        for index in sorted(done):
            if progress:
                progress(done[index])
        return [done[i] for i in range(len(planned))]
    sampler = Sampler(planned, record_mode=options.record_mode, stop=session.stop, enabled=options.adaptive)
    # Twice the in-flight limit in threads: a case sleeping before a retry holds a thread but not
    # a slot, so the others keep the limit busy.
    workers = None if options.record_mode == "none" else 2 * max(options.concurrency, 1)
    try:
        return run_all(planned, lambda item: _run_case(item, options, session, secrets, services),
                       sampler, workers=workers, progress=progress)
    finally:
        session.close()
        cassettes.flush_cache()
