"""The road one case travels: collect -> plan (render, bind checks) -> transport -> checks.

The CLI and the pytest plugin both call ``plan`` (planning.py) and ``execute``; neither holds
logic of its own. Each case walks its episode (steps.py: one step for a case of one request),
replaying or recording each model call, and is then judged and saved here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import cassettes, redact
from .batch import run_batch
from .budget import Budget, BudgetStop
from .cassettes import Interaction
from .cassettes.files import CassetteLock
from .checks.registry import CheckContext, NeedsRecording, Verdict
from .collect import collect, select_cases  # noqa: F401 - re-exported for the doors
from .decide import decide as _decide
from .decide import recheck as _recheck
from .decide import records_step as _records
from .diff import Change
from .episode import Episode
from .episode_store import episode_change, marked, recorded_episode, summed
from .errors import HarnessError, UserError
from .exchange import LiveResult, replay_output
from .judging import judge_baseline, status_from, weighted_score  # noqa: F401 - weighted_score re-exported
from .output import Output
from .planning import PlannedCase, plan, plan_case  # noqa: F401 - re-exported for the doors
from .record.adaptive import Sampler, run_all
from .record.parking import Parking
from .record_modes import RECORD_MODES
from .redact import Redactor
from .request import Request
from .rerecord import rerecord_command
from .session import Judge, JudgeSpend, LazySession
from .steps import NOT_STARTED, Problem, Walked, Walker
from .suite import Case


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


# ---------------------------------------------------------------- execute

def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _main_of(stored: list[Interaction] | None) -> Interaction | None:
    return next(iter(cassettes.steps_of(stored)), None)


def _run_case(item: PlannedCase, options: RunOptions, session: LazySession, secrets: Redactor,
              services: dict) -> CaseResult:
    """One case down the road: decide, replay or record, judge, save. Never raises. A case is
    recorded under its cassette's lock, so two processes recording a suite send each request once."""
    lock = CassetteLock(item.case.cassette_path, session.stop, left=session.left_locks)
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
    locked = False
    try:
        action, stored, hit = _decide(item, options.record_mode)
        if action == "record":
            if not lock.acquire():
                return CaseResult(item, "skipped", message=NOT_STARTED)
            locked = True
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
    # A stale first step is found again by the walk, which names the step when there are several.
    walked = _walker(item, stored, options, session, secrets, services, send=action == "record", hit=hit).walk()
    problem = walked.problem
    if action == "replay" and problem is not None and _records(problem.status, options.record_mode):
        # The cassette lacks a later step that this mode records: walk again under the lock,
        # from the cassette as it is now (another process may have recorded it meanwhile). The
        # lock may be held already: the recheck found the cassette another process was writing.
        try:
            if not locked and not lock.acquire():
                return CaseResult(item, "skipped", message=NOT_STARTED)
            stored = cassettes.load(item.case.cassette_path, root=item.case.cassette_root)
        except (HarnessError, OSError) as exc:
            return CaseResult(item, "error", message=str(exc))
        walked = _walker(item, stored, options, session, secrets, services, send=True).walk()
    # Under the lock, what was read is what is on disk: saving need not read the cassette again.
    on_disk = cassettes.OnDisk(stored) if lock.held else None
    if walked.problem is not None:
        return _unfinished(item, walked, walked.problem, stored, secrets, on_disk)
    return _finish(item, walked, stored, options, session, secrets, services, on_disk)


def _walker(item: PlannedCase, stored: list[Interaction] | None, options: RunOptions, session: LazySession,
            secrets: Redactor, services: dict, *, send: bool, hit: Interaction | None = None) -> Walker:
    return Walker(item.case, item.request, item.episode_plan, stored, item.prices, secrets,
                  base_url=options.base_url, send=session.get().send if send else None,
                  always=send and options.record_mode == "all",
                  stale_too=options.record_mode != "once", budget=services.get("budget"), hit=hit)


def _unfinished(item: PlannedCase, walked: Walked, problem: Problem, stored: list[Interaction] | None,
                secrets: Redactor, on_disk: cassettes.OnDisk | None = None) -> CaseResult:
    """A walk that ended before its episode: stale or missing at a step, or a step that could not
    be answered (an error, the budget, Ctrl-C). Steps answered live are kept in the cassette."""
    if problem.status in ("stale", "missing"):
        message = f"no cassette at {_shown(item.case.cassette_path)}" if stored is None else problem.message
        # The steps replayed before the change show what led to it (a tool result, say).
        before = Episode(tuple(walked.steps), extra={"unfinished": True}) if walked.steps else None
        return CaseResult(item, problem.status, message=message, detail=problem.detail, episode=before)
    episode = Episode(tuple(walked.steps)) if walked.steps and item.episode_plan is not None else None
    kept = ""
    if walked.recorded:
        failure = _save(item, marked(walked.interactions, walked.steps), [], secrets, on_disk)
        kept = f"; {failure}" if failure else f"; the {len(walked.steps)} answer(s) received are kept in its cassette"
    elif problem.failed_call:
        kept = " (no cassette written)"
    output = problem.output or (summed(episode) if episode is not None else None)
    old = _main_of(stored)
    return CaseResult(item, problem.status, output=output, message=problem.message + kept,
                      recorded=walked.recorded, budget_skipped=problem.budget, episode=episode,
                      cost_usd=episode.cost_usd() if episode is not None else None,
                      baseline=replay_output(old) if old is not None and problem.status == "error"
                      and item.episode_plan is None else None)


def _finish(item: PlannedCase, walked: Walked, stored: list[Interaction] | None, options: RunOptions,
            session: LazySession, secrets: Redactor, services: dict,
            on_disk: cassettes.OnDisk | None = None) -> CaseResult:
    """Judge the answer (the judge may replay or record its own exchange), then save if new."""
    mode, recorded = options.record_mode, walked.recorded
    multi = item.episode_plan is not None  # turns or answering tools: results carry the episode
    episode = Episode(tuple(walked.steps), walked.stopped)
    output = summed(episode) if multi else episode.final
    baseline, old_episode = _baseline(item, stored) if recorded else (None, None)
    judge = Judge(item, None if mode == "all" else stored,
                  may_record=recorded or mode in ("new_episodes", "all"), session=session,
                  budget=services.get("budget"))
    batch = bool(walked.interactions[0].extra.get("batch"))
    ctx = CheckContext(item.case, episode.steps[-1].request, output,
                       {**services, "judge": judge, "batch": batch, "pricing": item.prices},
                       episode=episode if multi else None)
    cost = episode.cost_usd()
    try:
        verdicts = [Verdict("response", False, secrets.text(output.error), error=True)] \
            if output.error else [bound.run(ctx) for bound in item.checks]
    except BudgetStop as stop:
        # The answer was paid for: keep it (and any judge exchange already made) in the cassette.
        failure = _save(item, marked(walked.interactions, walked.steps), judge.used, secrets, on_disk) \
            if recorded or judge.recorded else ""
        if failure:
            return CaseResult(item, "error", output=output, message=failure, judge=judge.spend)
        kept = "; the answer is kept in its cassette" if recorded else ""
        return CaseResult(item, "skipped", output=output, message=stop.message + kept, cost_usd=cost,
                          judge=judge.spend, recorded=recorded, budget_skipped=True,
                          episode=episode if multi else None)
    except NeedsRecording as need:
        return CaseResult(item, need.status, output=output, detail=need.detail,
                          message=f"rubric judge: {need.message}" if need.message else
                          "the judge request changed since it was recorded")
    except HarnessError as exc:
        return CaseResult(item, "error", output=output, message=secrets.text(str(exc)))
    if walked.stopped:
        verdicts.insert(0, Verdict("max_steps", False, walked.stopped))
    if recorded or judge.recorded:  # a replay saves nothing, so marks nothing
        failure = _save(item, marked(walked.interactions, walked.steps), judge.used, secrets, on_disk)
        if failure:
            return CaseResult(item, "error", verdicts, output, message=failure, judge=judge.spend)
    # An old cassette may hold an answer that is no longer recorded (one cut short, say).
    message = f"replayed from {_shown(item.case.cassette_path)}: {secrets.text(output.error)}" \
        if output.error else ""
    status = status_from(verdicts, item.case.threshold)
    return CaseResult(item, "failed" if walked.stopped and status == "passed" else status, verdicts,
                      output, message=message, recorded=recorded, baseline=baseline, cost_usd=cost,
                      change=episode_change(baseline, output, old_episode, episode if multi else None,
                                            item.diff),
                      baseline_status=judge_baseline(item, baseline, old_episode, stored, session, services),
                      judge=judge.spend, episode=episode if multi else None, baseline_episode=old_episode)


def _baseline(item: PlannedCase, stored: list[Interaction] | None) -> tuple[Output | None, Episode | None]:
    """What the cassette held before this run re-recorded the case: its answer, and for a case
    with an episode the whole trajectory (its answer then has tokens summed over the steps)."""
    if item.episode_plan is None:
        old = _main_of(stored)
        return (replay_output(old) if old is not None else None), None
    old_episode = recorded_episode(stored, item.request.endpoint, item.case.model, item.prices)
    return (summed(old_episode) if old_episode is not None else None), old_episode


def _save(item: PlannedCase, steps: list[Interaction], judged: list[Interaction], secrets: Redactor,
          on_disk: cassettes.OnDisk | None = None) -> str:
    """Write the case's cassette (its steps, then its judge exchanges); the error message when it
    cannot be written, else ''."""
    try:
        cassettes.save(item.case.cassette_path, item.case.node_id, [*steps, *judged], secrets=secrets,
                       rerecord=rerecord_command([item.case], "all"), on_disk=on_disk)
    except OSError as exc:
        return (f"{_shown(item.case.cassette_path)}: cannot write the cassette "
                f"({exc.strerror or exc}); the answer was not kept")
    return ""


def _execute_batch(planned: list[PlannedCase], indexes: list[int], options: RunOptions,
                   session: LazySession, secrets: Redactor, services: dict,
                   notify: Callable[[str], None]) -> dict[int, CaseResult]:
    """Record the cases that need it through one Batch API job, then judge and save each. A case
    of several steps cannot be one line of a batch (each step waits for the answer before it): it
    is recorded live, as without ``--batch``."""
    pending: list[tuple[int, list[Interaction] | None]] = []
    out: dict[int, CaseResult] = {}
    live: list[int] = []  # cases with several steps, recorded live
    later: list[int] = []  # cases run as without --batch
    for index in indexes:
        item = planned[index]
        try:
            action, stored, _hit = _decide(item, options.record_mode)
        except HarnessError:
            action, stored = "unreadable", None  # _run_case reports it for this case
        if action == "record" and not item.case.skip and not item.refused and item.episode_plan is None:
            pending.append((index, stored))
        else:
            live += [index] if action == "record" and item.episode_plan is not None else []
            later.append(index)
    if live:
        notify(f"{len(live)} case(s) with turns or tools that answer themselves are recorded live, not "
               "through the batch: each step waits for the answer before it")
    for index in later:
        out[index] = _run_case(planned[index], options, session, secrets, services)
    outcomes = run_batch([planned[i].request for i, _ in pending], poll_interval=options.batch_poll,
                         stop=session.stop, say=notify)
    for n, (index, stored) in enumerate(pending):
        item = planned[index]
        if outcomes is None:
            out[index] = CaseResult(item, "skipped", message="waiting for the batch (run again to resume)")
        elif outcomes[n].interaction is None:
            old = _main_of(stored)
            out[index] = CaseResult(item, "error", message=secrets.text(outcomes[n].output.error or "")
                                    + " (no cassette written)",
                                    baseline=replay_output(old) if old is not None else None)
        else:
            answered = _answered(LiveResult(outcomes[n].interaction, outcomes[n].output, 1))
            walked = Walker(item.case, item.request, None, stored, item.prices, secrets,
                            send=answered, always=True).walk()
            out[index] = _finish(item, walked, stored, options, session, secrets, services)
    return out


def _answered(result: LiveResult) -> Callable[[Request], LiveResult]:
    """A sender that hands back an answer the Batch API already gave."""
    return lambda _request: result


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
    parking = Parking()
    session = LazySession(options, stop or threading.Event(), parking)
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
    # A thread per in-flight slot, and one more per thread that holds no slot and wants none now
    # (waiting to retry, or checking and saving its answer): record/parking.py.
    workers = None if options.record_mode == "none" else max(options.concurrency, 1)
    try:
        return run_all(planned, lambda item: _run_case(item, options, session, secrets, services),
                       sampler, workers=workers, progress=progress, parking=parking)
    finally:
        session.close()
        cassettes.flush_cache()
