"""Which model call a check looks at: ``step: N`` / ``turn: N`` (1-based, or ``last``) on any check.

A case of several model calls (a tool loop, a conversation) is judged on its final answer by
default. A check item may aim at one step instead (``step: 2``: that call's own answer and request)
or at one user turn (``turn: 2``: the answer to that turn, i.e. the last step of the turn, with
tool-call checks looking at every step of the turn). Numbers are the ones users see in reports,
1-based; the code's ``Step.index`` and ``Step.turn`` are 0-based.

A target past the end of the episode is a failed verdict that says how far the episode got, never
an error: a loop that stopped early is exactly what such a check should catch. A case of one
request is step 1 of turn 1, so the same suite-level check works on every case.

This module only reads episodes; the registry applies the selection (``BoundCheck.run``), so the
runner and every check function stay unaware of targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ..episode import Episode, Step

if TYPE_CHECKING:  # annotations only
    from ..output import Output

#: The item keys that aim a check, beside its name (and ``weight:``).
TARGET_KEYS = ("step", "turn")


@dataclass(frozen=True)
class Target:
    """``step: N`` or ``turn: N`` as written: the unit and its 1-based number (None: the last)."""

    unit: Literal["step", "turn"]
    number: int | None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Target | None:
        """The target a check item's ``step:`` / ``turn:`` key names, None when it has neither.

        A ValueError names the problem; the caller adds file, line and case.
        """
        given = [key for key in TARGET_KEYS if key in item]
        if not given:
            return None
        if len(given) > 1:
            raise ValueError("a check takes step: or turn:, not both (turn: N is the last step of "
                             "user turn N)")
        unit: Literal["step", "turn"] = "step" if given[0] == "step" else "turn"
        value = item[unit]
        if value == "last":
            return cls(unit, None)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{unit}: must be a whole number >= 1 (steps and turns count from 1) "
                             f"or 'last', got {value!r}")
        return cls(unit, value)

    def select(self, episode: Episode | None) -> Selection:
        """The steps this target covers in ``episode`` (None: a case of one request)."""
        if episode is None or not episode.steps:
            if self.number in (None, 1):
                return Selection(f"{self.unit} 1", ())
            return Selection(f"{self.unit} {self.number}", (), missing=self._missing(1, None))
        steps = episode.steps
        if self.unit == "step":
            count = len(steps)
            number = count if self.number is None else self.number
            if number > count:
                return Selection(f"step {number}", (), missing=self._missing(count, episode.stopped))
            return Selection(f"step {number}", (steps[number - 1],))
        count = max(step.turn for step in steps) + 1
        number = count if self.number is None else self.number
        chosen = tuple(step for step in steps if step.turn == number - 1)
        if not chosen:
            return Selection(f"turn {number}", (), missing=self._missing(count, episode.stopped))
        return Selection(f"turn {number}", chosen)

    def _missing(self, count: int, stopped: str | None) -> str:
        what = "model call" if self.unit == "step" else "user turn"
        plural = "" if count == 1 else "s"
        why = f" (it stopped early: {stopped})" if stopped else ""
        return f"no {self.unit} {self.number}: the case made {count} {what}{plural}{why}"


@dataclass(frozen=True)
class Selection:
    """What a target picked: its label for reasons ("step 2"), the steps it covers (empty for a case
    of one request, which is judged as it is) or why there is nothing to judge."""

    label: str
    steps: tuple[Step, ...]
    missing: str | None = None


def scope_output(steps: tuple[Step, ...]) -> Output:
    """The answer a check aimed at these steps sees: the last step's own answer, with usage and
    latency summed over the steps, as the runner sums them over a whole episode, so a ``tokens``
    or ``latency`` check on ``turn: 2`` budgets the whole turn (one step: exactly its own)."""
    last = steps[-1].output
    if len(steps) == 1:
        return last
    part = Episode(steps)
    return replace(last, usage=part.usage(), latency_ms=part.latency_ms())
