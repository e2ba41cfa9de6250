"""How many samples a case takes: a fixed number, or an adaptive rule (``samples: {min, max}``).

An adaptive case is recorded ``min`` times, then once more while its pass rate is still unclear
against a threshold (harness.stats.needs_more), up to ``max``. The threshold is the pass rate the
case is held to: its own ``min_pass_rate``, else its suite's. A suite with neither has nothing to
decide against, and sampling "until clear" would then be sampling to ``max``: that is an error
that says what to set, rather than a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError

#: ``samples: auto`` and ``--samples auto``.
AUTO_MIN, AUTO_MAX = 3, 20
#: The most samples one case may take (cassette names keep room for ``#999``).
MAX_SAMPLES = 1000


@dataclass(frozen=True)
class Adaptive:
    """An adaptive case's rule: at least ``min``, at most ``max`` samples, decided against
    ``threshold`` at error rate ``alpha`` (None: harness.stats' default)."""

    min: int
    max: int
    threshold: float
    alpha: float | None = None

    def needs_more(self, passed: int, n: int) -> bool:
        """Whether a case with ``passed`` of ``n`` judged samples should get another."""
        from ..stats import needs_more  # the stats package is loaded only by runs that sample

        if self.alpha is None:
            return needs_more(passed, n, self.threshold, min_n=self.min, max_n=self.max)
        return needs_more(passed, n, self.threshold, min_n=self.min, max_n=self.max, alpha=self.alpha)


def adaptive(value: Any, *, case_rate: Any, suite_rate: Any, file: Path, line: int | None,
             case: str, flag: bool = False) -> Adaptive | None:
    """The rule ``samples:`` asks for (``auto`` or ``{min, max, alpha}``), None for a number.

    The schema has checked each key's type and range; what it cannot say (min above max, no
    threshold) is told here, at the line of ``samples:`` (of the case, for ``--samples auto``).
    """
    if not (value == "auto" or isinstance(value, dict)):
        return None
    spec = {} if value == "auto" else value
    # A bound left out takes auto's, moved so that the other one stays valid: {max: 2} is 2..2.
    low = int(spec.get("min", min(AUTO_MIN, int(spec.get("max", AUTO_MIN)))))
    high = int(spec.get("max", max(AUTO_MAX, low)))
    where = "--samples auto" if flag else f"samples: {'auto' if value == 'auto' else '{min, max}'}"
    if low > high:
        raise UserError(f"samples: min ({low}) is above max ({high})", file=file, line=line, case=case)
    threshold = case_rate if case_rate is not None else suite_rate
    if threshold is None:
        raise UserError(f"{where} takes more samples only while a case's pass rate is unclear "
                        "against a threshold, and there is none: set min_pass_rate on the suite (or "
                        "the case), or ask for a fixed number of samples", file=file, line=line, case=case)
    alpha = spec.get("alpha")
    return Adaptive(low, high, float(threshold), None if alpha is None else float(alpha))


#: What ``--samples`` and ``harness.run(samples=...)`` take: what ``samples:`` takes in a suite.
SamplesOption = int | str | dict[str, Any]


def check_option(value: Any) -> None:
    """Refuse a ``samples`` override that a suite's ``samples:`` would refuse (any case count
    from 1 up, as before; the adaptive shapes within their schema ranges)."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return
    if isinstance(value, dict) and value and set(value) <= {"min", "max", "alpha"}:
        bounds = [value[k] for k in ("min", "max") if k in value]
        alpha = value.get("alpha", 0.05)
        if all(isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= MAX_SAMPLES for b in bounds) \
                and isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and 0 < alpha < 0.5 \
                and value.get("min", 1) <= value.get("max", MAX_SAMPLES):
            return
    raise UserError(f"samples: expected a whole number >= 1, 'auto', or {{min, max}} (1 <= min <= max <= "
                    f"{MAX_SAMPLES:,}; optional alpha between 0 and 0.5), got {value!r}")
