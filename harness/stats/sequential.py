"""Adaptive sampling: stop sampling a case once its verdict against the threshold is clear.

A case is sampled at least ``min_n`` and at most ``max_n`` times; in between, another sample is
taken only while the interval of its pass rate still straddles the threshold. The interval is
Wilson's at ``1 - alpha`` per look.
"""

from __future__ import annotations

from .rates import wilson


def decided(passed: int, n: int, threshold: float, *, alpha: float = 0.05) -> bool:
    """True when the rate is clearly above or below ``threshold`` (interval excludes it)."""
    if n == 0:
        return False
    rate = wilson(passed, n, 1 - alpha)
    return rate.low >= threshold or rate.high < threshold


def needs_more(passed: int, n: int, threshold: float, *, min_n: int, max_n: int, alpha: float = 0.05) -> bool:
    """Whether a case with ``passed`` of ``n`` samples should get another one."""
    if n < min_n:
        return True
    if n >= max_n:
        return False
    return not decided(passed, n, threshold, alpha=alpha)
