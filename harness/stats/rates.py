"""A case's pass rate over its samples, with an interval, and the pass@k / pass^k estimators."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True)
class Rate:
    """``passed`` of ``n`` samples, and the ``confidence`` interval [low, high] of the true rate."""

    passed: int
    n: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def rate(self) -> float:
        return self.passed / self.n if self.n else 0.0

    @property
    def flaky(self) -> bool:
        """The samples disagree: some passed, some failed."""
        return 0 < self.passed < self.n


def wilson(passed: int, n: int, confidence: float = 0.95) -> Rate:
    """Wilson's score interval: unlike the normal approximation it stays inside [0, 1] and keeps
    close to its nominal coverage at the small n (3 to 20) and extreme rates samples give. Computed
    here because it is three lines; stdlib NormalDist gives the quantile, so no scipy import."""
    if n <= 0:
        return Rate(0, 0, 0.0, 1.0, confidence)
    if not 0 <= passed <= n:
        raise ValueError(f"passed must be within 0..{n}, got {passed}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = passed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if passed == 0 else max(0.0, centre - half)
    high = 1.0 if passed == n else min(1.0, centre + half)
    return Rate(passed, n, low, high, confidence)


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """Unbiased estimate of P(at least one of k samples passes), from c passes in n samples
    (Chen et al. 2021): 1 - C(n-c, k) / C(n, k). None when k > n (no unbiased estimate)."""
    if k < 1 or k > n:
        return None
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float | None:
    """Unbiased estimate of P(all k samples pass) (pass^k, tau-bench): C(c, k) / C(n, k).
    None when k > n."""
    if k < 1 or k > n:
        return None
    return math.comb(c, k) / math.comb(n, k)


def mean_rate(rates: Sequence[Rate]) -> float | None:
    """A suite's pass rate: the mean of its cases' rates, so a case with 20 samples weighs what a
    case with 2 does. None for no case."""
    measured = [r.rate for r in rates if r.n]
    return sum(measured) / len(measured) if measured else None
