"""Run-scoped services behind a case: the lazily opened live session, and the judge.

Replay never opens a connection pool (nor imports the SDK); the judge replays its own exchange from
the case's cassette, or records it when the run may record, or reports the case stale. The judge
also adds up what its calls cost, because they are spent for the case as surely as its own
request: reports show it beside the model's cost, and ``--max-cost`` budgets it like any request.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from . import cassettes
from .budget import Budget, reserve_or_stop
from .cassettes import Interaction
from .cassettes.files import LeftLocks
from .checks.registry import NeedsRecording
from .checks.rubric import explain_judge_change, rubric_of
from .diff import request_diff
from .exchange import replay_output
from .judge_spend import JudgeSpend
from .limiter import AdaptiveLimiter
from .output import Output, Usage
from .pricing import PriceTable
from .record.parking import Parking
from .request import canonical_form, raw_request

if TYPE_CHECKING:  # runner imports this module; the names are for annotations only
    from .planning import PlannedCase
    from .request import Request
    from .runner import RunOptions
    from .transport import LiveSession


def add_usage(a: Usage, b: Usage) -> Usage:
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens,
                 a.total_tokens + b.total_tokens, a.cached_tokens + b.cached_tokens,
                 a.reasoning_tokens + b.reasoning_tokens)


def stale_detail(new: Request, old: Interaction | None) -> str:
    """A short diff between the recorded request and the one the case sends now."""
    if old is None:
        return ""
    return request_diff(canonical_form(old.method, old.path, old.query, old.body), new.canonical())


class LazySession:
    """Opens the connection pool only when something is recorded: replay never imports openai, nor
    the HTTP client (transport.py is imported here, on the first live call). It also keeps the
    cassette lock files the run's cases unlocked, to remove them when the run ends
    (cassettes/files.py: LeftLocks says why not one by one)."""

    def __init__(self, options: RunOptions, stop: threading.Event, parking: Parking | None = None) -> None:
        self.options = options
        self.stop = stop
        self.parking = parking
        self.left_locks = LeftLocks()
        self._session: LiveSession | None = None
        self._lock = threading.Lock()

    def get(self) -> LiveSession:
        with self._lock:
            if self._session is None:
                from .transport import LiveSession

                ceiling = max(self.options.concurrency, 1)
                self._session = LiveSession(timeout=self.options.timeout,
                                            max_retries=self.options.max_retries,
                                            max_connections=ceiling,
                                            limiter=AdaptiveLimiter(ceiling), stop=self.stop,
                                            parking=self.parking)
            return self._session

    def close(self) -> None:
        try:
            if self._session is not None:
                self._session.close()
        finally:
            self.left_locks.remove()


class Judge:
    """The ``judge`` service of one case: replays its judge exchanges, or records them."""

    def __init__(self, planned: PlannedCase, stored: list[Interaction] | None, may_record: bool,
                 session: LazySession, budget: Budget | None = None) -> None:
        self.planned = planned
        self.stored = [i for i in stored or [] if i.extra.get("role") == "judge"]
        self.may_record = may_record
        self.session = session
        self.budget = budget
        self.used: list[Interaction] = []
        self.recorded = False
        self._calls = 0
        self._usage = Usage()
        self._cost: float | None = 0.0

    @property
    def prices(self) -> PriceTable:
        return getattr(self.planned, "prices", None) or PriceTable()

    @property
    def spend(self) -> JudgeSpend | None:
        return JudgeSpend(self._calls, self._usage, self._cost) if self._calls else None

    def __call__(self, body: dict) -> Output:
        request = raw_request(self.planned.request.endpoint, body)
        position = self._calls  # this is the case's n-th judge call
        hit = cassettes.find(self.stored, request.key, role="judge")
        if hit is not None:
            self.used.append(hit)
            return self._counted(body, replay_output(hit))
        if not self.may_record:
            old = self._counterpart(body, position)
            raise NeedsRecording("stale", stale_detail(request, old),
                                 message=explain_judge_change(old.body if old else None, body))
        reserved = self._reserve(request, body)
        live = self.session.get().send(request, role="judge")
        if live.interaction is None:
            self._settle(reserved, 0.0)
            return live.output
        output = self._counted(body, replay_output(live.interaction))
        self._settle(reserved, self.prices.cost(str(body.get("model")), output.usage))
        self.used.append(live.interaction)
        self.recorded = True
        return output

    def _counted(self, body: dict, output: Output) -> Output:
        self._calls += 1
        if output.error is not None:
            return output  # a failed request is not billed
        if output.usage is not None:
            self._usage = add_usage(self._usage, output.usage)
        cost = self.prices.cost(str(body.get("model")), output.usage)
        self._cost = None if cost is None or self._cost is None else self._cost + cost
        return output

    def _reserve(self, request: Request, body: dict) -> float:
        """Budget the judge request like the case's own; refused, the case stops here."""
        if self.budget is None:
            return 0.0
        return reserve_or_stop(self.budget, request, str(body.get("model")), self.prices,
                               "the rubric's judge request was not sent")

    def _settle(self, reserved: float, actual: float | None) -> None:
        if self.budget is not None:
            self.budget.settle(reserved, actual)

    def _counterpart(self, body: dict, position: int) -> Interaction | None:
        """The recorded judge exchange this request replaces: the one grading the same rubric,
        else the one at the same position among the case's judge calls. Pairing with any other
        would show changes (another rubric, another judge model) that did not happen."""
        free = [i for i in self.stored if all(i is not u for u in self.used)]
        rubric = rubric_of(body)
        same = [i for i in free if rubric is not None and rubric_of(i.body) == rubric]
        if same:
            return same[0]
        if position < len(self.stored) and any(self.stored[position] is f for f in free):
            return self.stored[position]
        return free[0] if len(free) == 1 else None
