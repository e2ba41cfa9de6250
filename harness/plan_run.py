"""``harness plan``: what a recording run would send, and what it would cost, before it spends.

Each case is decided as ``harness run --record-mode MODE`` decides it (decide.py, the same code):
replayed, sent because its cassette is missing, stale or re-recorded in full (``all``), or left
missing or stale when the mode does not record it. A case of several steps whose first step
replays is walked offline from its cassette, as replay walks it (its tools answering as they do in
a replay), to find the step a recording would start at. Nothing is sent and the SDK is never
imported.

Each call that would be sent is estimated by estimate.py, the estimate ``--max-cost`` reserves:
input tokens with tiktoken over the rendered request; output tokens from the request's limit, else
the recorded answer (a re-recording), else an assumption. A case of several steps is estimated
from the episode its cassette holds when it is re-recorded; otherwise only its first step is known
(the others depend on answers not yet given), which the plan says. Costs are summed per suite at
standard prices, with the prompt cache (prompt_cache.py), through the Batch API, and at the output
ceilings (what the budget reserves); a model without a price is named, never counted as $0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from . import cassettes, redact
from .cassettes import Interaction
from .decide import decide, records_step
from .errors import HarnessError
from .estimate import CallEstimate, cost, estimate_recorded, estimate_request, prompt_ids
from .exchange import replay_output
from .planning import PlannedCase
from .prompt_cache import PromptCache
from .steps import Walker
from .suite import Case
from .tokens import encoder_for

#: What a plan says of a case: ``send`` (a recording run sends it), ``replay`` (its cassette
#: answers), ``stale`` / ``missing`` (the mode leaves it so), ``skipped`` (``skip:``), ``refused``
#: (it cannot fit the model: the run fails it, unsent), ``error`` (its cassette cannot be read),
#: ``adaptive`` (an extra sample the run sends only if its rule still asks for one).
ACTIONS = ("send", "replay", "stale", "missing", "skipped", "refused", "error", "adaptive")


@dataclass(frozen=True)
class Costs:
    """USD of the calls: at standard prices, with the prompt cache, with ``--batch`` (a case of
    several steps is sent live even then, at standard prices), both, and at the output ceilings
    without cache (what ``--max-cost`` reserves)."""

    standard: float = 0.0
    cached: float = 0.0
    batch: float = 0.0
    batch_cached: float = 0.0
    at_most: float = 0.0

    def __add__(self, other: Costs) -> Costs:
        return Costs(self.standard + other.standard, self.cached + other.cached, self.batch + other.batch,
                     self.batch_cached + other.batch_cached, self.at_most + other.at_most)


@dataclass(frozen=True)
class CallPlan:
    step: int  # 1-based, as users count steps
    estimate: CallEstimate
    costs: Costs | None  # None: the model has no price


@dataclass(frozen=True)
class CasePlan:
    case: Case
    action: str  # one of ACTIONS
    reason: str = ""  # why a sent case is sent: "missing", "stale" or "all"
    step: int = 1  # the step the action starts at (1-based)
    message: str = ""
    calls: tuple[CallPlan, ...] = ()
    #: More calls may follow that cannot be estimated (a tool loop or turns not recorded yet).
    unknown_steps: bool = False
    judged: bool = False  # a rubric check: its judge calls are sent too, and not estimated

    @property
    def priced(self) -> bool:
        return all(c.costs is not None for c in self.calls)


@dataclass(frozen=True)
class Tally:
    """A group of case plans added up; costs cover the priced calls, ``unpriced`` names the rest."""

    cases: int = 0
    sent: int = 0
    calls: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    costs: Costs = field(default_factory=Costs)
    unpriced: tuple[str, ...] = ()  # models without a price, whose calls are not in ``costs``
    unpriced_calls: int = 0
    unknown_steps: int = 0  # sent cases with calls beyond the estimate
    assumed: int = 0  # calls whose output length is the default assumption
    judged: int = 0  # sent cases whose rubric judge calls are not estimated
    actions: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether the costs cover everything that would be sent."""
        return not self.unpriced_calls and not self.unknown_steps and not self.judged


def tally(plans: Iterable[CasePlan]) -> Tally:
    plans = list(plans)
    sent = [p for p in plans if p.action == "send"]
    calls = [c for p in sent for c in p.calls]
    unpriced = [(p.case.model, c) for p in sent for c in p.calls if c.costs is None]
    total = Costs()
    for c in calls:
        total = total + c.costs if c.costs is not None else total
    return Tally(
        cases=len(plans), sent=len(sent), calls=len(calls),
        input_tokens=sum(c.estimate.input_tokens for c in calls),
        cached_tokens=sum(c.estimate.cached_tokens for c in calls),
        output_tokens=sum(c.estimate.output_tokens for c in calls), costs=total,
        unpriced=tuple(dict.fromkeys(model for model, _ in unpriced)), unpriced_calls=len(unpriced),
        unknown_steps=sum(p.unknown_steps for p in sent), assumed=sum(c.estimate.output_basis == "assumed" for c in calls),
        judged=sum(p.judged for p in sent), actions=dict(Counter(p.action for p in plans)),
        reasons=dict(Counter(p.reason for p in sent)))


@dataclass(frozen=True)
class SuitePlan:
    path: str
    name: str
    cases: tuple[CasePlan, ...]
    adaptive_more: int = 0  # extra samples adaptive cases may take beyond these (not estimated)

    @property
    def tally(self) -> Tally:
        return tally(self.cases)


@dataclass(frozen=True)
class SpendPlan:
    record_mode: str
    suites: tuple[SuitePlan, ...]
    encoding: str  # the tokenizer(s) the counts were made with
    exact: bool  # False when one stands in for a model's own (not available offline)

    @property
    def tally(self) -> Tally:
        return tally(c for s in self.suites for c in s.cases)

    @property
    def adaptive_more(self) -> int:
        return sum(s.adaptive_more for s in self.suites)


# ---------------------------------------------------------------- deciding

def _judged(case: Case) -> bool:
    return any(spec.name.removeprefix("not-") == "rubric" for spec in case.checks)


@dataclass(frozen=True)
class _Sent:
    """A case a recording sends: why, from which step (0-based), and what its cassette holds."""

    reason: str
    first: int
    stored: list[Interaction] | None


def _decided(item: PlannedCase, mode: str) -> CasePlan | _Sent:
    """A case plan that needs no estimate, or what to estimate for a case that is sent."""
    case = item.case
    if case.skip:
        return CasePlan(case, "skipped", message=case.skip)
    try:
        action, stored, hit = decide(item, mode)
    except HarnessError as exc:
        return CasePlan(case, "error", message=str(exc))
    if action == "record":
        if item.refused:
            return CasePlan(case, "refused", message=item.refused)
        if stored is None:
            return _Sent("missing", 0, None)
        return _Sent("all" if mode == "all" else "stale", 0, stored)
    if action in ("missing", "stale"):
        return CasePlan(case, action, message="no cassette" if stored is None else "the request changed "
                        "since it was recorded")
    if item.episode_plan is None:
        return CasePlan(case, "replay")
    walked = Walker(case, item.request, item.episode_plan, stored, item.prices, redact.current(),
                    stale_too=mode != "once", hit=hit).walk()
    problem = walked.problem
    if problem is None:
        return CasePlan(case, "replay")
    if problem.status in ("stale", "missing") and records_step(problem.status, mode):
        return _Sent(problem.status, problem.step, stored)
    if problem.status in ("stale", "missing"):
        return CasePlan(case, problem.status, step=problem.step + 1, message=problem.message)
    return CasePlan(case, "error", step=problem.step + 1, message=problem.message)


@dataclass(frozen=True)
class _Call:
    """A call to estimate: its estimate, and its prompt as token ids (for the prompt cache)."""

    step: int
    estimate: CallEstimate
    ids: list[int]


def _calls(item: PlannedCase, first: int, stored: list[Interaction] | None) -> tuple[list[_Call], bool]:
    """The calls a case would send from step ``first`` (0-based), and whether more may follow."""
    encode, _name, _exact = encoder_for(item.case.model)
    model = item.case.model
    mains = cassettes.steps_of(stored)
    calls: list[_Call] = []
    if first == 0:
        recorded = replay_output(mains[0]) if mains else None
        calls.append(_Call(1, estimate_request(item.request, model, recorded), prompt_ids(item.request.wire, encode)))
        later = mains[1:] if item.episode_plan is not None else []
        start = 1
    else:  # the first step replays; the recording starts at a later one
        later, start = mains[first:], first
    for index, interaction in enumerate(later, start=start):
        body = interaction.body if isinstance(interaction.body, dict) else {}
        calls.append(_Call(index + 1, estimate_recorded(body, model, replay_output(interaction)),
                           prompt_ids(body, encode)))
    # Re-recorded from an episode the cassette holds: its steps are the estimate. Otherwise (no
    # cassette, or one that ends before the step to record) the calls depend on answers not given yet.
    unknown = item.episode_plan is not None and (stored is None or len(mains) <= first)
    return calls, unknown


def plan_spend(planned: Sequence[PlannedCase], record_mode: str) -> SpendPlan:
    """Decide and estimate every planned case, in the order a run takes them."""
    cache = PromptCache()
    by_suite: dict[str, list[CasePlan]] = {}
    names: dict[str, str] = {}
    adaptive = _adaptive_groups(planned, record_mode)
    extra = {i for group in adaptive for i in group.extra}
    more = Counter[str]()
    for group in adaptive:
        more[group.path] += group.more
    for item in planned:
        case = item.case
        path = case.suite_path.as_posix()
        names.setdefault(path, case.suite_name)
        if id(item) in extra:
            by_suite.setdefault(path, []).append(CasePlan(case, "adaptive", message="an extra sample: sent "
                                                          "only if the adaptive rule still asks for one"))
            continue
        decided = _decided(item, record_mode)
        if isinstance(decided, CasePlan):
            by_suite.setdefault(path, []).append(decided)
            continue
        calls, unknown = _calls(item, decided.first, decided.stored)
        key: Hashable = (item.request.endpoint, case.model)
        priced = item.prices.price(case.model) is not None
        planned_calls = []
        for call in calls:
            served = min(cache.serve(key, call.ids), call.estimate.input_tokens)
            estimate = CallEstimate(call.estimate.input_tokens, call.estimate.output_tokens,
                                    call.estimate.output_basis, call.estimate.output_ceiling, served)
            planned_calls.append(CallPlan(call.step, estimate, _costs(item, estimate) if priced else None))
        by_suite.setdefault(path, []).append(CasePlan(case, "send", decided.reason, decided.first + 1,
                                                      calls=tuple(planned_calls), unknown_steps=unknown,
                                                      judged=_judged(case)))
    tokenizers = [encoder_for(model)[1:] for model in dict.fromkeys(item.case.model for item in planned)]
    return SpendPlan(record_mode, tuple(SuitePlan(path, names[path], tuple(cases), more[path])
                                        for path, cases in by_suite.items()),
                     ", ".join(dict.fromkeys(name for name, _exact in tokenizers)),
                     all(exact for _name, exact in tokenizers))


def _costs(item: PlannedCase, estimate: CallEstimate) -> Costs:
    model, prices = item.case.model, item.prices
    # --batch sends a case of several steps live (each step waits for the answer before it), and
    # refuses adaptive samples: their Batch figure is the standard one.
    batch = item.episode_plan is None and item.case.adaptive is None

    def usd(**how: bool) -> float:
        return cost(estimate, model, prices, **how) or 0.0

    return Costs(usd(), usd(cached=True), usd(batch=batch), usd(batch=batch, cached=True), usd(ceiling=True))


# ---------------------------------------------------------------- adaptive samples

@dataclass(frozen=True)
class _Adaptive:
    path: str
    more: int  # samples the rule may still add beyond those the run starts with
    extra: tuple[int, ...]  # ids of planned extra samples the run does not start with (``all``)


def _adaptive_groups(planned: Sequence[PlannedCase], mode: str) -> list[_Adaptive]:
    """Per adaptive case of a recording run: how many more samples its rule may ask for. ``all``
    decides afresh from ``min``: the extra samples recorded before are not sent first."""
    if mode == "none":
        return []
    groups: dict[str, list[PlannedCase]] = {}
    for item in planned:
        if item.case.adaptive is not None:
            groups.setdefault(item.case.node_id, []).append(item)
    out = []
    for items in groups.values():
        rule = items[0].case.adaptive
        assert rule is not None
        if not set(range(rule.min)) <= {i.case.sample for i in items}:
            continue  # a selection of some samples (-k, FILE::CASE#n) is not sampled further
        extra = tuple(id(i) for i in items if mode == "all" and i.case.sample >= rule.min)
        starts = [i.case.sample for i in items if id(i) not in extra]
        out.append(_Adaptive(items[0].case.suite_path.as_posix(), max(0, rule.max - (max(starts) + 1)), extra))
    return out
