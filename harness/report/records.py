"""The run as every report reads it: flat, typed records, built from CaseResults or read back
from a saved JSON report.

Reports, gates and ``harness diff`` all work on these records rather than on CaseResults, because
half of their inputs (``harness diff OLD.json NEW.json``, the base side of ``harness diff --base``)
exist only as saved reports. One model means one rendering per format for both runs and diffs.

The *baseline* of a case is whatever its answer is compared with: the answer its cassette held
before this run re-recorded it (``harness run --record-mode all``), or its answer at the base
(``harness diff``). ``baseline_status`` is that answer's verdict, when it is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..cassettes.names import sample_name
from ..diff import Change
from ..judge_spend import JudgeSpend
from ..orphans import Orphan
from ..output import Output
from ..pricing import PriceTable
from ..shard import ShardInfo
from ..trajectory import StepRecord, trajectory
from .rate_change import RateDiff
from .variants import by_variant

if TYPE_CHECKING:  # harness merge and harness diff read records back without the runner or suites
    from ..runner import CaseResult
    from ..suite import Suite

FAILING = ("failed", "error")
#: Suite keys a report keeps, because gates and diffs read them later from the saved file.
SUITE_KEYS = ("diff", "min_pass_rate", "max_cost_usd", "pass_k")


@dataclass(frozen=True)
class CheckRecord:
    name: str
    passed: bool
    reason: str = ""
    score: float | None = None
    weight: float = 1.0
    error: bool = False
    #: An IFEval instruction's (strict, loose) judgements, which its table needs; None for other checks.
    ifeval: tuple[bool, bool] | None = None


@dataclass(frozen=True)
class Gate:
    """One pass/fail condition of a run (a suite's min_pass_rate, a cost budget, --fail-on...)."""

    name: str
    met: bool
    text: str


@dataclass(frozen=True)
class CaseRecord:
    suite: str
    suite_path: str
    id: str
    model: str
    status: str
    sample: int = 0
    api: str = "chat"  # the wire API that sent it (chat, responses)
    description: str = ""
    checks: tuple[CheckRecord, ...] = ()
    answer: Output | None = None
    cost_usd: float | None = None
    message: str = ""
    detail: str = ""
    recorded: bool = False
    rerecord: str = ""  # the command that records this case again (shown for stale/missing)
    baseline: Output | None = None
    baseline_status: str | None = None
    baseline_cost_usd: float | None = None
    change: Change | None = None
    new: bool = False  # no baseline exists: first recording, or a case added since the base
    judge: JudgeSpend | None = None  # the rubric judge calls made for this case (cost_usd excludes them)
    budget_skipped: bool = False
    min_pass_rate: float | None = None  # the case's gates on its samples (report/sampled.py)
    min_pass_hat_k: tuple[int, float] | None = None
    #: A multi-step case's trajectory (turns, tool loops), in order; ``answer`` is its final answer
    #: with usage and latency summed over the steps. () for a case of one request.
    steps: tuple[StepRecord, ...] = ()
    stopped: str | None = None  # why the loop ended early (max_steps), else None
    baseline_steps: tuple[StepRecord, ...] = ()  # the baseline's trajectory, when it had several steps

    @property
    def node_id(self) -> str:
        return f"{self.suite_path}::{self.id}"

    @property
    def name(self) -> str:
        """The id with its sample suffix: ``id`` for the first sample, ``id#n`` for the others."""
        return sample_name(self.id, self.sample)

    @property
    def key(self) -> str:
        """Unique within a run: the node id, plus ``#n`` for extra samples."""
        return f"{self.suite_path}::{self.name}"

    @property
    def judge_cost_usd(self) -> float | None:
        return self.judge.cost_usd if self.judge else 0.0

    @property
    def total_cost_usd(self) -> float | None:
        """The case's whole cost: its answer plus its judge calls; unknown if either is."""
        if self.cost_usd is None or self.judge_cost_usd is None:
            return None
        return self.cost_usd + self.judge_cost_usd

    @property
    def tokens(self) -> int | None:
        usage = self.answer.usage if self.answer else None
        return usage.total_tokens if usage else None

    @property
    def latency_ms(self) -> float | None:
        return self.answer.latency_ms if self.answer else None

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    @property
    def regressed(self) -> bool:
        """Failing now, though its baseline had no failure (it passed, or was skipped or stale).
        A failure with no baseline at all (a first recording, an added case, a replay) is a
        failure, not a regression; ``--fail-on regressed`` still counts it (see excused)."""
        return self.failing and self.baseline_status is not None and self.baseline_status not in FAILING

    @property
    def excused(self) -> bool:
        """A failure its baseline already had: the only kind ``--fail-on regressed`` tolerates
        (an error never is)."""
        return self.status == "failed" and self.baseline_status in FAILING

    @property
    def fixed(self) -> bool:
        return self.status == "passed" and self.baseline_status in FAILING

    @property
    def changed(self) -> bool:
        return self.change is not None and self.change.changed

    @property
    def failed_checks(self) -> list[CheckRecord]:
        return [c for c in self.checks if not c.passed]


@dataclass(frozen=True)
class SuiteRecord:
    name: str
    path: str
    models: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Totals:
    cases: int
    counts: dict[str, int]
    pass_rate: float | None  # passed / (cases - skipped); None when nothing ran
    cost_usd: float  # answers and judge calls together
    cost_unknown: int  # cases that have an answer (or a judge call) but no known price
    tokens: int  # answers and judge calls together
    judge_cost_usd: float = 0.0  # the part of cost_usd spent on rubric judges
    judge_tokens: int = 0  # the part of tokens used by rubric judges
    judge_calls: int = 0
    budget_skipped: int = 0  # cases --max-cost kept from being sent or judged


def totals(cases: Iterable[CaseRecord], *, baseline: bool = False) -> Totals:
    """Counts, pass rate, cost and tokens; ``baseline=True`` sums the baselines' cost and tokens
    (a baseline's judge calls are not known)."""
    cases = list(cases)
    counts = {s: 0 for s in ("passed", "failed", "error", "stale", "missing", "skipped")}
    cost, unknown, tokens = 0.0, 0, 0
    judge_cost, judge_tokens, judge_calls = 0.0, 0, 0
    for c in cases:
        counts[c.status] = counts.get(c.status, 0) + 1
        answer, price = (c.baseline, c.baseline_cost_usd) if baseline else (c.answer, c.cost_usd)
        judge = None if baseline else c.judge
        unpriced = False
        if answer is not None:
            if price is None:
                unpriced = answer.error is None  # an HTTP error costs nothing; an unpriced answer is unknown
            else:
                cost += price
            tokens += answer.usage.total_tokens if answer.usage else 0
        if judge is not None:
            judge_calls += judge.calls
            judge_tokens += judge.usage.total_tokens
            if judge.cost_usd is None:
                unpriced = True
            else:
                judge_cost += judge.cost_usd
        unknown += unpriced
    ran = len(cases) - counts["skipped"]
    return Totals(len(cases), counts, counts["passed"] / ran if ran else None, cost + judge_cost, unknown,
                  tokens + judge_tokens, judge_cost, judge_tokens, judge_calls,
                  sum(c.budget_skipped for c in cases))


@dataclass(frozen=True)
class RunRecord:
    cases: tuple[CaseRecord, ...]
    suites: tuple[SuiteRecord, ...] = ()
    label: str = ""  # what was run: "working tree", a git ref, a report's file name
    created: str = ""
    harness_version: str = __version__
    record_mode: str = "none"
    elapsed_s: float | None = None
    gates: tuple[Gate, ...] = ()
    #: Cassettes no case owns, in the folders of the suites run whole (orphans.py), and how many
    #: suites were looked at (0: none was run whole, so nothing was checked).
    orphans: tuple[Orphan, ...] = ()
    orphans_checked: int = 0
    shard: ShardInfo | None = None  # a run of one shard (--shard K/N): what harness merge needs

    @property
    def totals(self) -> Totals:
        return totals(self.cases)

    def suite(self, path: str) -> SuiteRecord | None:
        return next((s for s in self.suites if s.path == path), None)

    def by_suite(self) -> dict[str, list[CaseRecord]]:
        out: dict[str, list[CaseRecord]] = {}
        for c in self.cases:
            out.setdefault(c.suite_path, []).append(c)
        return out

    def groups(self) -> list[tuple[str, list[CaseRecord]]]:
        """Per suite, and per suite and variant when a suite compares models (or wire APIs): the
        chart's bars and the Markdown suites table."""
        out: list[tuple[str, list[CaseRecord]]] = []
        for cases in self.by_suite().values():
            name = cases[0].suite
            out.append((name, cases))
            variants = by_variant(cases)
            if len(variants) > 1:
                out.extend((f"{name} · {label}", members) for label, members in variants)
        return out


@dataclass(frozen=True)
class Comparison:
    """``harness diff``: the head run, each case's baseline filled in from the base run."""

    base_label: str
    head_label: str
    base: RunRecord
    head: RunRecord
    removed: tuple[CaseRecord, ...] = ()
    notes: tuple[str, ...] = ()
    samples: RateDiff | None = None  # cases compared as rates over their samples (diff_samples.py)

    def by_rate(self, case: CaseRecord) -> bool:
        """Whether the case is one sample of a case compared as rates: its own pass or fail against
        its baseline's is a draw, not a regression or a fix."""
        return self.samples is not None and case.node_id in self.samples.node_ids

    @property
    def added(self) -> list[CaseRecord]:
        """Cases the base did not have (an extra sample of a case compared as rates is not one)."""
        return [c for c in self.head.cases if c.new and not self.by_rate(c)]

    @property
    def regressed(self) -> list[CaseRecord]:
        """Single-sample regressions (sampled cases regress by their test: ``samples.regressed``)."""
        return [c for c in self.head.cases if c.regressed and not self.by_rate(c)]

    @property
    def fixed(self) -> list[CaseRecord]:
        return [c for c in self.head.cases if c.fixed and not self.by_rate(c)]

    @property
    def regressed_keys(self) -> list[str]:
        """Every regression: single-sample ones by key, sampled cases that dropped significantly by node id."""
        return [c.key for c in self.regressed] + [c.node_id for c in (self.samples.regressed if self.samples else [])]

    @property
    def fixed_keys(self) -> list[str]:
        """Every fix: single-sample ones by key, sampled cases that rose significantly by node id."""
        return [c.key for c in self.fixed] + [c.node_id for c in (self.samples.improved if self.samples else [])]

    @property
    def changed(self) -> list[CaseRecord]:
        return [c for c in self.head.cases if c.changed]

    @property
    def status_changed(self) -> list[CaseRecord]:
        """Other verdict moves (e.g. passed -> stale) that are neither regressions nor fixes."""
        judged = ("passed", *FAILING)
        return [c for c in self.head.cases if not c.new and c.baseline_status is not None
                and c.baseline_status != c.status and not c.regressed and not c.fixed
                and not (self.by_rate(c) and c.status in judged and c.baseline_status in judged)]

    @property
    def base_totals(self) -> Totals:
        return self.base.totals

    @property
    def head_totals(self) -> Totals:
        return self.head.totals


# ---------------------------------------------------------------- from a run


def _cost(table: PriceTable, model: str, output: Output | None) -> float | None:
    return table.cost(model, output.usage) if output is not None else None


def suite_record(suite: Suite) -> SuiteRecord:
    models = tuple(dict.fromkeys(c.model for c in suite.cases))
    options = {k: suite.options[k] for k in SUITE_KEYS if k in suite.options}
    return SuiteRecord(suite.name, suite.path.as_posix(), models, options)


def _ifeval(details: dict[str, Any] | None) -> tuple[bool, bool] | None:
    mark = (details or {}).get("ifeval")
    return (bool(mark["strict"]), bool(mark["loose"])) if isinstance(mark, dict) else None


def case_record(result: CaseResult, table: PriceTable | None = None) -> CaseRecord:
    table = getattr(result.planned, "prices", None) or table or PriceTable()  # the suite's own prices
    case = result.case
    cost = result.cost_usd if result.cost_usd is not None else _cost(table, case.model, result.output)
    rerecord = ""
    if result.status in ("stale", "missing"):
        from ..runner import rerecord_command  # imported by now: a CaseResult came from it

        rerecord = rerecord_command([case], "new_episodes" if result.status == "stale" else "once")
    checks = tuple(CheckRecord(v.name, v.passed, v.reason, v.score, v.weight, v.error, _ifeval(v.details))
                   for v in result.verdicts)
    return CaseRecord(
        suite=case.suite_name, suite_path=case.suite_path.as_posix(), id=case.id, model=case.model,
        api=case.api, status=result.status, sample=case.sample, description=case.description, checks=checks,
        answer=result.output, cost_usd=cost, message=result.message, detail=result.detail,
        recorded=result.recorded, rerecord=rerecord, baseline=result.baseline,
        baseline_status=result.baseline_status,
        baseline_cost_usd=_cost(table, case.model, result.baseline), change=result.change,
        new=result.recorded and result.baseline is None, judge=result.judge,
        budget_skipped=result.budget_skipped, min_pass_rate=case.min_pass_rate,
        min_pass_hat_k=case.min_pass_hat_k, steps=trajectory(result.episode),
        stopped=result.episode.stopped if result.episode is not None else None,
        baseline_steps=trajectory(result.baseline_episode))


def from_results(results: Iterable[CaseResult], suites: Iterable[Suite], *, label: str = "",
                 record_mode: str = "none", elapsed_s: float | None = None) -> RunRecord:
    table = PriceTable()
    return RunRecord(
        cases=tuple(case_record(r, table) for r in results),
        suites=tuple(suite_record(s) for s in suites), label=label,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        record_mode=record_mode, elapsed_s=elapsed_s)
