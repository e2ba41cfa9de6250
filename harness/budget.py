"""--max-cost: stop starting requests before the run's spend would pass the budget.

Each request's cost is estimated before it is sent, by the estimate ``harness plan`` shows
(estimate.py: prompt tokens counted with tiktoken, the answer as long as it may be: max_tokens, else
the model's output limit) and reserved; when the answer arrives the reservation is replaced by the
real cost. A request whose estimate would pass the budget is not started; what
already finished is kept. A rubric's judge request is budgeted the same way, since it is spent for
its case; a case stopped by the budget is reported as skipped by budget, and the run as incomplete
(its own exit status), so a budget stop never looks like a green run.
"""

from __future__ import annotations

import threading

from .checks.registry import NeedsRecording
from .estimate import reservation
from .pricing import PriceTable, usd
from .request import Request


def estimate(request: Request, model: str, prices: PriceTable, *, batch: bool = False) -> float | None:
    """The request's cost in USD if the answer is as long as allowed; None when the price is unknown."""
    return reservation(request, model, prices, batch=batch)


class BudgetStop(NeedsRecording):
    """A judge request the budget refused: it stops its case, which is then skipped by budget.

    A NeedsRecording, so a check lets it through to the runner instead of making it a verdict."""

    def __init__(self, message: str) -> None:
        super().__init__("skipped", message=message)


class Budget:
    """Thread-safe spend tracker shared by every worker of one run."""

    def __init__(self, limit_usd: float) -> None:
        self.limit = limit_usd
        self.spent = 0.0
        self.reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, amount: float | None) -> bool:
        """Reserve ``amount``; False (and nothing reserved) when it would pass the budget.
        An unknown price cannot be budgeted, so it is refused too."""
        with self._lock:
            if amount is None or self.spent + self.reserved + amount > self.limit:
                return False
            self.reserved += amount
            return True

    def settle(self, reserved: float, actual: float | None) -> None:
        with self._lock:
            self.reserved -= reserved
            self.spent += reserved if actual is None else actual


def reserve_or_stop(budget: Budget, request: Request, model: str, prices: PriceTable, what: str) -> float:
    """Reserve ``request``'s estimated cost and return it; BudgetStop when the budget refuses."""
    guess = estimate(request, model, prices)
    if not budget.reserve(guess):
        why = "its price is unknown" if guess is None else f"~{usd(guess)} more would pass it"
        raise BudgetStop(f"skipped by budget: {what}, --max-cost {usd(budget.limit, exact=True)} ({why})")
    return guess or 0.0

