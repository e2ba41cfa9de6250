"""Did a change of prompt or model make a case, or the suite, pass less often? Significance, not noise.

Per case: Fisher's exact test on the 2x2 table (base passed/failed, head passed/failed), one-sided in
each direction (scipy, imported only when a diff has samples). Across cases the p-values are adjusted
with Holm's step-down method: a CI gate fails when *any* case is flagged, so what must be bounded is
the chance of one false alarm among all cases (the family-wise error), which Holm controls for any
dependence between cases; Benjamini-Hochberg bounds only the share of false flags and would let a
200-case suite fail on noise far more often.

Suite: the Cochran-Mantel-Haenszel statistic with one stratum per case, so samples are compared
within their own case (cases differ in difficulty; pooling all samples would mistake a shift in which
cases ran for a change in quality). Its p-value is exact: given each case's margins the base passes
of a case are hypergeometric, and the null distribution of their sum is the convolution of those
(the exact conditional test, as R's ``mantelhaen.test(exact = TRUE)``). Unlike the usual normal
approximation it never fires more often than ``alpha`` on unchanged suites of a few cases with a few
samples each. Past ``EXACT_LIMIT`` possible values of the sum (thousands of cases) the normal
approximation with continuity correction is used instead: there it is accurate, and it tracks the
exact test. scipy has no stratified test and statsmodels (which has the approximate one) would pull
in pandas, so the few lines are written here; scipy supplies the hypergeometric distribution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal

from .rates import Rate, mean_rate, wilson

if TYPE_CHECKING:
    import numpy as np

Verdict = Literal["regressed", "improved", "no significant change"]
Counts = tuple[int, int]  # (passed, n)

#: Above this many possible values of the summed statistic the suite test is approximated (see above).
EXACT_LIMIT = 20_000


@dataclass(frozen=True)
class CaseChange:
    """One case, base -> head: the rates, the adjusted p-value of the direction it moved, a verdict."""

    base: Rate
    head: Rate
    p_regressed: float  # one-sided, unadjusted: head passes less often than base
    p_improved: float
    p_adjusted: float  # Holm-adjusted p of the direction reported (regressed unless improved)
    verdict: Verdict

    @property
    def flaky(self) -> bool:
        """Samples disagree on either side."""
        return self.base.flaky or self.head.flaky


@dataclass(frozen=True)
class SuiteChange:
    """The suite's mean case rate, base -> head, and the stratified test of a change."""

    base_mean: float | None
    head_mean: float | None
    p_regressed: float
    p_improved: float
    verdict: Verdict
    cases: int  # cases with samples on both sides
    exact: bool = True  # False: the normal approximation was used (more than EXACT_LIMIT outcomes)


@lru_cache(maxsize=65536)
def _fisher(base: Counts, head: Counts) -> tuple[float, float]:
    """(p that head is worse, p that head is better), Fisher's exact test one-sided each way.
    Cached: tables of small counts repeat across cases and runs (and the benchmark's 10^6 tables)."""
    if base[1] == 0 or head[1] == 0:
        return 1.0, 1.0
    from scipy.stats import fisher_exact  # heavy (~0.8 s): only diffs with samples pay for it

    table = [[base[0], base[1] - base[0]], [head[0], head[1] - head[0]]]
    worse = float(fisher_exact(table, alternative="greater").pvalue)
    better = float(fisher_exact(table, alternative="less").pvalue)
    return worse, better


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (each <= 1, monotone in rank)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def case_changes(pairs: Mapping[str, tuple[Counts, Counts]], alpha: float = 0.05,
                 confidence: float = 0.95) -> dict[str, CaseChange]:
    """Per case key: (base (passed, n), head (passed, n)) -> its change, Holm-adjusted over the cases
    with samples on both sides (a case missing a side is not tested, so it does not dilute the rest)."""
    keys = list(pairs)
    raw = {k: _fisher(*pairs[k]) for k in keys}
    tested = [k for k in keys if pairs[k][0][1] and pairs[k][1][1]]
    worse = dict(zip(tested, holm([raw[k][0] for k in tested]), strict=True))
    better = dict(zip(tested, holm([raw[k][1] for k in tested]), strict=True))
    out: dict[str, CaseChange] = {}
    for key in keys:
        base, head = pairs[key]
        down, up = worse.get(key, 1.0), better.get(key, 1.0)
        if down < alpha:
            verdict: Verdict = "regressed"
            adjusted = down
        elif up < alpha:
            verdict, adjusted = "improved", up
        else:
            verdict, adjusted = "no significant change", down
        out[key] = CaseChange(wilson(*base, confidence), wilson(*head, confidence), raw[key][0], raw[key][1],
                              adjusted, verdict)
    return out


def suite_change(pairs: Mapping[str, tuple[Counts, Counts]], alpha: float = 0.05) -> SuiteChange:
    """Stratified (Cochran-Mantel-Haenszel) test over the cases present on both sides, one-sided
    each way; exact unless the suite is very large."""
    both = [(b, h) for b, h in pairs.values() if b[1] and h[1]]
    # Strata whose margins leave one possible table (all passed or all failed on both sides, or
    # one sample in all) carry no information; they only shift the sum.
    moving = [(b, h) for b, h in both if 0 < b[0] + h[0] < b[1] + h[1]]
    outcomes = sum(min(b[1], b[0] + h[0]) - max(0, b[0] + h[0] - h[1]) for b, h in moving)
    if not moving:
        p_worse = p_better = 1.0  # every stratum all-pass or all-fail on both sides: nothing moved
    elif outcomes <= EXACT_LIMIT:
        p_worse, p_better = _exact(moving)
    else:
        p_worse, p_better = _normal(moving)
    base_mean = mean_rate([wilson(*b) for b, _ in both])
    head_mean = mean_rate([wilson(*h) for _, h in both])
    verdict: Verdict = "regressed" if p_worse < alpha else "improved" if p_better < alpha else \
        "no significant change"
    return SuiteChange(base_mean, head_mean, p_worse, p_better, verdict, len(both), outcomes <= EXACT_LIMIT)


def _exact(strata: Sequence[tuple[Counts, Counts]]) -> tuple[float, float]:
    """(P(sum >= observed), P(sum <= observed)) of the base passes under no change, given margins."""
    import numpy as np

    dist = np.ones(1)
    shift = observed = 0
    for (bp, bn), (hp, hn) in strata:
        low, pmf = _hypergeom(bn + hn, bn, bp + hp)
        dist = np.convolve(dist, pmf)
        shift += low
        observed += bp
    at = observed - shift
    return min(1.0, float(dist[at:].sum())), min(1.0, float(dist[: at + 1].sum()))


@lru_cache(maxsize=4096)
def _hypergeom(total: int, base: int, passed: int) -> tuple[int, np.ndarray]:
    """The lowest possible base passes and the probabilities from there on, for one stratum."""
    import numpy as np
    from scipy.stats import hypergeom

    low, high = max(0, passed - (total - base)), min(base, passed)
    pmf = hypergeom.pmf(np.arange(low, high + 1), total, base, passed)
    pmf.setflags(write=False)  # shared by the cache
    return low, pmf


def _normal(strata: Sequence[tuple[Counts, Counts]]) -> tuple[float, float]:
    """The CMH statistic's normal approximation, continuity-corrected toward the exact test."""
    excess = variance = 0.0
    for (bp, bn), (hp, hn) in strata:
        n, passed = bn + hn, bp + hp
        excess += bp - bn * passed / n  # base passes above what no change expects
        variance += bn * hn * passed * (n - passed) / (n * n * (n - 1))
    sd = math.sqrt(variance)
    normal = NormalDist()
    return 1.0 - normal.cdf((excess - 0.5) / sd), normal.cdf((excess + 0.5) / sd)

