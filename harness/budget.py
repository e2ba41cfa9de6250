"""--max-cost: stop starting requests before the run's spend would pass the budget.

Each request's cost is estimated before it is sent (prompt tokens counted with tiktoken, the answer
assumed as long as max_tokens allows) and reserved; when the answer arrives the reservation is
replaced by the real cost. A request whose estimate would pass the budget is not started; what
already finished is kept. A rubric's judge request is budgeted the same way, since it is spent for
its case; a case stopped by the budget is reported as skipped by budget, and the run as incomplete
(its own exit status), so a budget stop never looks like a green run.
"""

from __future__ import annotations

import threading

from .checks.registry import NeedsRecording
from .output import Usage
from .pricing import PriceTable, usd
from .request import Request
from .tokens import count_prompt_tokens, limits_for

#: Assumed answer length when a request sets no max_tokens and the model's limit is unknown.
DEFAULT_ANSWER_TOKENS = 1024


def estimate(request: Request, model: str, prices: PriceTable, *, batch: bool = False) -> float | None:
    """The request's cost in USD if the answer is as long as allowed; None when the price is unknown."""
    body = request.body
    prompt = count_prompt_tokens(body, model=model).tokens
    answer = body.get("max_completion_tokens") or body.get("max_tokens")
    if not isinstance(answer, int):
        limits = limits_for(model)
        answer = limits.output if limits else DEFAULT_ANSWER_TOKENS
    return prices.cost(model, Usage(prompt, answer, prompt + answer), batch=batch)


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

