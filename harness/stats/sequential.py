"""Adaptive sampling: stop sampling a case once more samples would very likely not change its verdict.

A case is sampled at least ``min_n`` and at most ``max_n`` times. Its verdict is what the gate says
of the samples taken: passed when the share that passed is at least ``threshold``. After each sample
the rule asks: had the case been sampled all the way to ``max_n``, how likely would its verdict then
differ from the one it has now? It stops once that chance is below ``alpha`` (or is nil: the verdict
can no longer change). The chance is the beta-binomial prediction of the remaining samples from the
ones seen, with Jeffreys' prior Beta(1/2, 1/2) (the usual uninformative choice: it barely leans toward any rate).

So ``alpha`` is the error that adaptive sampling adds to sampling every case ``max_n`` times: the
share of cases whose verdict differs from the one ``max_n`` samples would have given: about
``alpha`` or less over a suite's cases, under twice ``alpha`` for a case right at the threshold. An interval that must exclude the threshold (the obvious rule) asks for much
more: 16 passes of 16 to call a rate "at least 0.8" at 95%, nearly the 20 it means to save, while
20 samples themselves would call a case with a true rate of 0.85 wrong one time in six.
bench/gate_power.py measures both; docs/statistics.md gives the numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache

#: Jeffreys' prior Beta(a, b) on a case's pass rate.
PRIOR = (0.5, 0.5)
#: The default ``alpha``. Measured (bench/gate_power.py, threshold 0.8, 3 to 20 samples): 44% fewer
#: requests, 0.9% of verdicts differ from those of 20 samples (under 4% even for cases right at the
#: threshold), 0.27 ± 0.02 percentage points of accuracy lost. `{min: 3, max: 40, alpha: 0.05}` trades
#: savings for accuracy: 38% fewer requests, as accurate as 20 samples (docs/statistics.md).
ALPHA = 0.02


def passes(passed: int, n: int, threshold: float) -> bool:
    """The verdict of ``passed`` of ``n`` samples against a pass-rate ``threshold``."""
    return passed >= threshold * n - 1e-9  # 0.8 * 20 must count 16 as enough despite rounding


def flip_chance(passed: int, n: int, threshold: float, max_n: int) -> float:
    """How likely the verdict at ``max_n`` samples differs from the one now (beta-binomial)."""
    if n >= max_n:
        return 0.0
    remaining = max_n - n
    now = passes(passed, n, threshold) if n else False
    # Final passes needed for a passing verdict at max_n, beyond those seen.
    need = next(k for k in range(remaining + 2) if k > remaining or passes(passed + k, max_n, threshold))
    if need == 0:
        return 0.0  # enough passes already: the verdict is pass whatever follows
    a, b = PRIOR[0] + passed, PRIOR[1] + n - passed
    reach = sum(_beta_binomial(k, remaining, a, b) for k in range(need, remaining + 1))
    return max(0.0, 1.0 - reach) if now else reach


def needs_more(passed: int, n: int, threshold: float, *, min_n: int, max_n: int, alpha: float = ALPHA) -> bool:
    """Whether a case with ``passed`` of ``n`` samples should get another one."""
    if n < min_n:
        return True
    if n >= max_n:
        return False
    return _flip_chance(passed, n, threshold, max_n) >= alpha


_flip_chance = lru_cache(maxsize=65536)(flip_chance)  # recording asks the same few states again and again


def _beta_binomial(k: int, m: int, a: float, b: float) -> float:
    """P(k passes in m more samples) when the rate is Beta(a, b). Written out (scipy.stats.betabinom
    is the same) because recording calls this after every sample, and importing scipy costs ~0.8 s."""
    log = (math.lgamma(m + 1) - math.lgamma(k + 1) - math.lgamma(m - k + 1)
           + math.lgamma(k + a) + math.lgamma(m - k + b) - math.lgamma(m + a + b)
           - math.lgamma(a) - math.lgamma(b) + math.lgamma(a + b))
    return math.exp(log)
