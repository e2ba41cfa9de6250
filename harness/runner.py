"""The road one case travels: collect -> plan (render, bind checks) -> transport -> checks.

The CLI and the pytest plugin both call ``plan`` and ``execute``; neither holds logic of its own.
Planning renders every request before any network is touched, so every user error in a run is
reported at once, with its file, line and case.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import cassettes
from .checks.registry import BoundCheck, CheckContext, Verdict, bind
from .diff import request_diff
from .errors import EXIT_CASSETTE, EXIT_FAILED, EXIT_OK, EXIT_USER_ERROR, HarnessError, UserError
from .output import Output
from .redact import redact_text, secret_values
from .render import Renderer
from .request import Request, build_request, canonical_form
from .suite import Case, Suite, load_suite, looks_like_suite
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
    max_retries: int = 2


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
    baseline: Output | None = None

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
    ids = " ".join(f"'{c.node_id}'" for c in cases)
    return f"harness run {ids} --record-mode {mode}"


def judge(planned: PlannedCase, output: Output, services: dict) -> list[Verdict]:
    ctx = CheckContext(planned.case, planned.request, output, services)
    if output.error:
        return [Verdict("response", False, output.error, error=True)]
    return [bound.run(ctx) for bound in planned.checks]


def _status_from(verdicts: list[Verdict]) -> str:
    if any(v.error for v in verdicts):
        return "error"
    return "passed" if all(v.passed for v in verdicts) else "failed"


def _decide(planned: PlannedCase, mode: str) -> tuple[str, list[cassettes.Interaction] | None, cassettes.Interaction | None]:
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


def _stale_detail(planned: PlannedCase, stored: list[cassettes.Interaction]) -> str:
    main = next((i for i in stored if not i.extra.get("role")), stored[0] if stored else None)
    if main is None:
        return ""
    old = canonical_form(main.method, main.path, main.query, main.body)
    return request_diff(old, planned.request.canonical())


def execute(planned: list[PlannedCase], options: RunOptions,
            progress: "callable | None" = None) -> list[CaseResult]:
    """Replay or record every planned case, then judge it. Never raises for a single case."""
    if options.record_mode not in RECORD_MODES:
        raise UserError(f"unknown record mode {options.record_mode!r} (use {', '.join(RECORD_MODES)})")
    results: dict[int, CaseResult] = {}
    to_record: list[tuple[int, PlannedCase, list[cassettes.Interaction] | None]] = []
    secrets = secret_values({p.request.endpoint.key_env for p in planned})
    services: dict = {}
    for index, item in enumerate(planned):
        if item.case.skip:
            results[index] = CaseResult(item, "skipped", message=item.case.skip)
            continue
        try:
            action, stored, hit = _decide(item, options.record_mode)
        except HarnessError as exc:
            results[index] = CaseResult(item, "error", message=str(exc))
            continue
        if action == "replay":
            output = replay_output(hit)
            verdicts = judge(item, output, services)
            results[index] = CaseResult(item, _status_from(verdicts), verdicts, output)
        elif action == "missing":
            results[index] = CaseResult(
                item, "missing", message=f"no cassette at {item.case.cassette_path}")
        elif action == "stale":
            results[index] = CaseResult(
                item, "stale", message="the request changed since it was recorded",
                detail=_stale_detail(item, stored or []))
        else:
            to_record.append((index, item, stored))
        if progress and index in results:
            progress(results[index])
    if to_record:
        session = LiveSession(timeout=options.timeout, max_retries=options.max_retries,
                              max_connections=max(options.concurrency, 1))
        try:
            with ThreadPoolExecutor(max_workers=max(options.concurrency, 1)) as pool:
                futures = {pool.submit(_record_one, item, stored, session, secrets, services): index
                           for index, item, stored in to_record}
                for future, index in futures.items():
                    results[index] = future.result()
                    if progress:
                        progress(results[index])
        finally:
            session.close()
    return [results[i] for i in range(len(planned))]


def _record_one(item: PlannedCase, stored: list[cassettes.Interaction] | None, session: LiveSession,
                secrets: list[str], services: dict) -> CaseResult:
    baseline = None
    if stored:
        main = next((i for i in stored if not i.extra.get("role")), None)
        baseline = replay_output(main) if main is not None else None
    try:
        live = session.send(item.request)
    except HarnessError as exc:
        return CaseResult(item, "error", message=redact_text(str(exc), secrets), baseline=baseline)
    except Exception as exc:  # noqa: BLE001 - one case's failure must not stop the others
        return CaseResult(item, "error", message=redact_text(f"{type(exc).__name__}: {exc}", secrets),
                          baseline=baseline)
    if live.interaction is None:
        message = redact_text(live.output.error or "request failed", secrets)
        return CaseResult(item, "error", output=live.output, message=f"{message} (no cassette written)",
                          baseline=baseline)
    cassettes.save(item.case.cassette_path, item.case.node_id, [live.interaction], secrets=secrets,
                   rerecord=rerecord_command([item.case], "all"))
    output = replay_output(cassettes.scrub_interaction(live.interaction, secrets))
    verdicts = judge(item, output, services)
    return CaseResult(item, _status_from(verdicts), verdicts, output, recorded=True, baseline=baseline)


def exit_code(results: list[CaseResult], errors: list[HarnessError]) -> int:
    if errors:
        return EXIT_USER_ERROR
    statuses = {r.status for r in results}
    if statuses & {"stale", "missing"}:
        return EXIT_CASSETTE
    if statuses & {"failed", "error"}:
        return EXIT_FAILED
    return EXIT_OK
