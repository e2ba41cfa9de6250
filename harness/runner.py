"""The road one case travels: collect -> plan (render, bind checks) -> transport -> checks.

The CLI and the pytest plugin both call ``plan`` and ``execute``; neither holds logic of its own.
Planning renders every request before any network is touched, so every user error in a run is
reported at once, with its file, line and case.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import cassettes
from .batch import run_batch
from .cassettes import Interaction
from .checks.registry import BoundCheck, CheckContext, NeedsRecording, Verdict, bind
from .diff import Change, request_diff
from .errors import EXIT_CASSETTE, EXIT_FAILED, EXIT_OK, EXIT_USER_ERROR, HarnessError, UserError
from .output import Output
from .redact import redact_text, secret_values
from .render import Renderer
from .request import Request, build_request, canonical_form, raw_request
from .suite import Case, Suite, load_suite, looks_like_suite
from .limiter import AdaptiveLimiter
from .transport import LiveSession, replay_output

RECORD_MODES = ("none", "once", "new_episodes", "all")
STATUSES = ("passed", "failed", "error", "stale", "missing", "skipped")


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


@dataclass(frozen=True)
class PlannedCase:
    case: Case
    request: Request
    checks: tuple[BoundCheck, ...]


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
    change: "Change | None" = None  # baseline vs new answer, for re-recorded cases

    @property
    def case(self) -> Case:
        return self.planned.case


# ---------------------------------------------------------------- collect

def _suite_files(target: Path) -> list[Path]:
    if target.is_dir():
        found = sorted(p for p in target.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")
                       and "cassettes" not in p.parts and looks_like_suite(p))
        return found
    if target.is_file():
        return [target]
    raise UserError(f"no such file or folder: {target}")


def collect(paths: Iterable[str]) -> tuple[list[Suite], dict[Path, set[str]]]:
    """Load suites from files/folders; ``file::case`` selects cases. Errors are UserErrors."""
    suites: list[Suite] = []
    selected: dict[Path, set[str]] = {}
    seen: set[Path] = set()
    for raw in paths:
        target, _, case_id = raw.partition("::")
        for file in _suite_files(Path(target)):
            key = file.resolve()
            if case_id:
                selected.setdefault(key, set()).add(case_id)
            if key in seen:
                continue
            seen.add(key)
            suites.append(load_suite(file))
    return suites, selected


def _keyword_matcher(expr: str) -> "callable":
    tokens = re.findall(r"\(|\)|[^\s()]+", expr)
    words: list[str] = []
    py = []
    for tok in tokens:
        if tok in ("and", "or", "not", "(", ")"):
            py.append(tok)
        else:
            words.append(tok.lower())
            py.append(f"_m({len(words) - 1})")
    code = " ".join(py)
    try:
        compiled = compile(code or "True", "<-k>", "eval")
    except SyntaxError:
        raise UserError(f"bad -k expression: {expr!r}") from None

    def match(name: str) -> bool:
        low = name.lower()
        return bool(eval(compiled, {"__builtins__": {}}, {"_m": lambda i: words[i] in low}))  # noqa: S307

    return match


def select_cases(suites: list[Suite], selected: dict[Path, set[str]], keyword: str | None) -> list[Case]:
    match = _keyword_matcher(keyword) if keyword else None
    out = []
    for suite in suites:
        wanted = selected.get(suite.path.resolve())
        ids = {c.id for c in suite.cases} | {c.base_id for c in suite.cases}
        for name in wanted or ():
            if name not in ids:
                raise UserError(f"no case {name!r} in this suite", file=suite.path)
        for case in suite.cases:
            if wanted and case.id not in wanted and case.base_id not in wanted:
                continue
            if match and not match(case.node_id):
                continue
            out.append(case)
    return out


# ---------------------------------------------------------------- plan

def plan_case(case: Case, *, base_url: str | None = None) -> PlannedCase:
    renderer = Renderer(case.suite_path)
    try:
        request = build_request(case, renderer, base_url_override=base_url)
    except HarnessError as exc:
        raise exc.located(file=case.suite_path, line=case.line, case=case.id) from None
    checks = tuple(bind(spec, case=case.id) for spec in case.checks)
    return PlannedCase(case, request, checks)


def plan(cases: list[Case], *, base_url: str | None = None) -> tuple[list[PlannedCase], list[HarnessError]]:
    planned, errors = [], []
    for case in cases:
        try:
            planned.append(plan_case(case, base_url=base_url))
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


def _decide(planned: PlannedCase, mode: str) -> tuple[str, list[Interaction] | None, Interaction | None]:
    """'replay', 'record', 'missing' or 'stale', with the cassette's interactions."""
    stored = cassettes.load(planned.case.cassette_path)
    if mode == "all":
        return "record", stored, None
    if stored is None:
        return ("missing" if mode == "none" else "record"), None, None
    hit = cassettes.find(stored, planned.request.key)
    if hit is not None:
        return "replay", stored, hit
    return ("record" if mode == "new_episodes" else "stale"), stored, None


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _main_of(stored: list[Interaction] | None) -> Interaction | None:
    return next((i for i in stored or [] if not i.extra.get("role")), None)


def _stale_detail(new: Request, old: Interaction | None) -> str:
    if old is None:
        return ""
    return request_diff(canonical_form(old.method, old.path, old.query, old.body), new.canonical())


class _LazySession:
    """Opens the connection pool only when something is recorded: replay never imports openai."""

    def __init__(self, options: RunOptions, stop: threading.Event) -> None:
        self.options = options
        self.stop = stop
        self._session: LiveSession | None = None
        self._lock = threading.Lock()

    def get(self) -> LiveSession:
        with self._lock:
            if self._session is None:
                ceiling = max(self.options.concurrency, 1)
                self._session = LiveSession(timeout=self.options.timeout,
                                            max_retries=self.options.max_retries,
                                            max_connections=ceiling,
                                            limiter=AdaptiveLimiter(ceiling), stop=self.stop)
            return self._session

    @property
    def started(self) -> LiveSession | None:
        return self._session

    def stats(self) -> dict[str, float]:
        if self._session is None:
            return {}
        lim = self._session.limiter
        return {"retries": self._session.retries, "limit_cuts": lim.cuts, "lowest_limit": lim.lowest}

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


class _Judge:
    """The ``judge`` service of one case: replays its judge exchanges, or records them."""

    def __init__(self, planned: PlannedCase, stored: list[Interaction] | None, may_record: bool,
                 session: _LazySession) -> None:
        self.planned = planned
        self.stored = [i for i in stored or [] if i.extra.get("role") == "judge"]
        self.may_record = may_record
        self.session = session
        self.used: list[Interaction] = []
        self.recorded = False

    def __call__(self, body: dict) -> Output:
        request = raw_request(self.planned.request.endpoint, body)
        hit = cassettes.find(self.stored, request.key, role="judge")
        if hit is not None:
            self.used.append(hit)
            return replay_output(hit)
        if not self.may_record:
            old = self.stored[0] if self.stored else None
            raise NeedsRecording("stale", _stale_detail(request, old))
        live = self.session.get().send(request, role="judge")
        if live.interaction is None:
            return live.output
        self.used.append(live.interaction)
        self.recorded = True
        return replay_output(live.interaction)


def _run_case(item: PlannedCase, options: RunOptions, session: _LazySession, secrets: list[str],
              services: dict) -> CaseResult:
    """One case down the road: decide, replay or record, judge, save. Never raises."""
    if item.case.skip:
        return CaseResult(item, "skipped", message=item.case.skip)
    if session.stop.is_set():
        return CaseResult(item, "skipped", message=NOT_STARTED)
    try:
        action, stored, hit = _decide(item, options.record_mode)
    except HarnessError as exc:
        return CaseResult(item, "error", message=str(exc))
    if action == "missing":
        return CaseResult(item, "missing", message=f"no cassette at {_shown(item.case.cassette_path)}")
    if action == "stale":
        return CaseResult(item, "stale", message="the request changed since it was recorded",
                          detail=_stale_detail(item.request, _main_of(stored)))
    if action == "replay":
        return _finish(item, hit, stored, False, options, session, secrets, services)
    try:
        live = session.get().send(item.request)
    except Exception as exc:  # noqa: BLE001 - one case's failure must not stop the others
        text = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
        return _failed_record(item, stored, redact_text(text, secrets))
    if live.interrupted:
        return CaseResult(item, "skipped", message=NOT_STARTED)
    if live.interaction is None:
        return _failed_record(item, stored, redact_text(live.output.error or "request failed", secrets),
                              live.output)
    return _finish(item, live.interaction, stored, True, options, session, secrets, services)


def _failed_record(item: PlannedCase, stored: list[Interaction] | None, message: str,
                   output: Output | None = None) -> CaseResult:
    old = _main_of(stored)
    return CaseResult(item, "error", output=output, message=f"{message} (no cassette written)",
                      baseline=replay_output(old) if old is not None else None)


def _finish(item: PlannedCase, main: Interaction, stored: list[Interaction] | None, recorded: bool,
            options: RunOptions, session: _LazySession, secrets: list[str], services: dict) -> CaseResult:
    """Judge the answer (the judge may replay or record its own exchange), then save if new."""
    mode = options.record_mode
    old_main = _main_of(stored)
    baseline = replay_output(old_main) if recorded and old_main is not None else None
    if recorded:
        main = cassettes.scrub_interaction(main, secrets)
    output = replay_output(main)
    judge = _Judge(item, None if mode == "all" else stored,
                   may_record=recorded or mode in ("new_episodes", "all"), session=session)
    ctx = CheckContext(item.case, item.request, output,
                       {**services, "judge": judge, "batch": bool(main.extra.get("batch"))})
    try:
        verdicts = [Verdict("response", False, redact_text(output.error, secrets), error=True)] \
            if output.error else [bound.run(ctx) for bound in item.checks]
    except NeedsRecording as need:
        return CaseResult(item, need.status, output=output, detail=need.detail,
                          message="the judge request changed since it was recorded")
    except HarnessError as exc:
        return CaseResult(item, "error", output=output, message=redact_text(str(exc), secrets))
    if recorded or judge.recorded:
        cassettes.save(item.case.cassette_path, item.case.node_id, [main, *judge.used],
                       secrets=secrets, rerecord=rerecord_command([item.case], "all"))
    return CaseResult(item, _status_from(verdicts, item.case.threshold), verdicts, output,
                      recorded=recorded, baseline=baseline)


def _execute_batch(planned: list[PlannedCase], indexes: list[int], options: RunOptions,
                   session: _LazySession, secrets: list[str], services: dict,
                   notify: Callable[[str], None]) -> dict[int, CaseResult]:
    """Record the cases that need it through one Batch API job, then judge and save each."""
    pending: list[tuple[int, list[Interaction] | None]] = []
    out: dict[int, CaseResult] = {}
    for index in indexes:
        item = planned[index]
        action, stored, _hit = _decide(item, options.record_mode)
        if action == "record" and not item.case.skip:
            pending.append((index, stored))
        else:
            out[index] = _run_case(item, options, session, secrets, services)
    outcomes = run_batch([planned[i].request for i, _ in pending], poll_interval=options.batch_poll,
                         stop=session.stop, say=notify)
    for n, (index, stored) in enumerate(pending):
        item = planned[index]
        if outcomes is None:
            out[index] = CaseResult(item, "skipped", message="waiting for the batch (run again to resume)")
        elif outcomes[n].interaction is None:
            out[index] = _failed_record(item, stored, redact_text(outcomes[n].output.error or "", secrets))
        else:
            out[index] = _finish(item, outcomes[n].interaction, stored, True, options, session,
                                 secrets, services)
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
    finish and save, and reports the rest as not started.
    """
    if options.record_mode not in RECORD_MODES:
        raise UserError(f"unknown record mode {options.record_mode!r} (use {', '.join(RECORD_MODES)})")
    secrets = secret_values({p.request.endpoint.key_env for p in planned})
    services: dict = {}
    session = _LazySession(options, stop or threading.Event())
    results: list[CaseResult | None] = [None] * len(planned)
    live: list[int] = []
    if options.batch and options.record_mode != "none":
        try:
            done = _execute_batch(planned, list(range(len(planned))), options, session, secrets,
                                  services, notify or (lambda _m: None))
        finally:
            session.close()
        for index in sorted(done):
            if progress:
                progress(done[index])
        return [done[i] for i in range(len(planned))]
    for index, item in enumerate(planned):
        if options.record_mode == "none":
            results[index] = _run_case(item, options, session, secrets, services)
            if progress:
                progress(results[index])
        else:
            live.append(index)
    try:
        if live:
            # Twice the in-flight limit in threads: a case sleeping before a retry holds a thread
            # but not a slot, so the others keep the limit busy.
            with ThreadPoolExecutor(max_workers=2 * max(options.concurrency, 1)) as pool:
                futures = {pool.submit(_run_case, planned[i], options, session, secrets, services): i
                           for i in live}
                for future in as_completed(futures):
                    index = futures[future]
                    results[index] = future.result()
                    if progress:
                        progress(results[index])
    finally:
        session.close()
    return [r for r in results if r is not None]


def suite_gates(results: list[CaseResult], suites: Iterable[Suite]) -> dict[str, tuple[bool, str]]:
    """Per suite with a gate: (met, explanation). ``min_pass_rate`` lets a benchmark suite pass
    while some of its answers fail."""
    out: dict[str, tuple[bool, str]] = {}
    for suite in suites:
        rate_min = suite.options.get("min_pass_rate")
        if rate_min is None:
            continue
        mine = [r for r in results if r.case.suite_path == suite.path and r.status != "skipped"]
        if not mine:
            continue
        passed = sum(r.status == "passed" for r in mine)
        rate = passed / len(mine)
        met = rate >= float(rate_min)
        out[suite.name] = (met, f"{suite.name}: pass rate {rate:.2%} ({passed}/{len(mine)}) "
                                f"{'meets' if met else 'is below'} min_pass_rate {float(rate_min):.2%}")
    return out


def exit_code(results: list[CaseResult], errors: list[HarnessError],
              suites: Iterable[Suite] = ()) -> int:
    """2 user error > 3 missing/stale cassettes > 1 failed (unless the suite's gate is met) > 0."""
    if errors:
        return EXIT_USER_ERROR
    statuses = {r.status for r in results}
    if statuses & {"stale", "missing"}:
        return EXIT_CASSETTE
    gates = suite_gates(results, suites)
    for r in results:
        if r.status in ("failed", "error"):
            gate = gates.get(r.case.suite_name)
            if gate is None or not gate[0] or r.status == "error":
                return EXIT_FAILED
    if any(not met for met, _ in gates.values()):
        return EXIT_FAILED
    return EXIT_OK
