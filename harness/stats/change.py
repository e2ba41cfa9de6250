"""Did a change of prompt or model make a case, or the suite, pass less often? Significance, not noise.

Per case: Fisher's exact test on the 2x2 table (base passed/failed, head passed/failed), one-sided in
each direction (scipy, imported only when a diff has samples). Across cases the p-values are adjusted
with Holm's step-down method: a CI gate fails when *any* case is flagged, so what must be bounded is
the chance of one false alarm among all cases (the family-wise error), which Holm controls for any
dependence between cases; Benjamini-Hochberg bounds only the share of false flags and would let a
200-case suite fail on noise far more often.

Suite: the Cochran-Mantel-Haenszel test with one stratum per case, so samples are compared within
their own case (cases differ in difficulty; pooling all samples would mistake a shift in which cases
ran for a change in quality). scipy has no CMH test and statsmodels (which has) would pull in pandas
for ten lines of arithmetic, so it is written here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from .rates import Rate, wilson

Verdict = Literal["regressed", "improved", "no significant change"]
Counts = tuple[int, int]  # (passed, n)


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


def _fisher(base: Counts, head: Counts) -> tuple[float, float]:
    """(p that head is worse, p that head is better), Fisher's exact test one-sided each way."""
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
    """Per case key: (base (passed, n), head (passed, n)) -> its change, Holm-adjusted over all."""
    keys = list(pairs)
    raw = [_fisher(*pairs[k]) for k in keys]
    worse = holm([r[0] for r in raw])
    better = holm([r[1] for r in raw])
    out: dict[str, CaseChange] = {}
    for i, key in enumerate(keys):
        base, head = pairs[key]
        if worse[i] < alpha:
            verdict: Verdict = "regressed"
            adjusted = worse[i]
        elif better[i] < alpha:
            verdict, adjusted = "improved", better[i]
        else:
            verdict, adjusted = "no significant change", worse[i]
        out[key] = CaseChange(wilson(*base, confidence), wilson(*head, confidence), raw[i][0], raw[i][1],
                              adjusted, verdict)
    return out


def suite_change(pairs: Mapping[str, tuple[Counts, Counts]], alpha: float = 0.05) -> SuiteChange:
    """Cochran-Mantel-Haenszel over the cases present on both sides, one-sided each way."""
    both = [(b, h) for b, h in pairs.values() if b[1] and h[1]]
    excess = variance = 0.0
    for (bp, bn), (hp, hn) in both:
        n = bn + hn
        passed = bp + hp
        if n < 2:
            continue
        excess += bp - bn * passed / n  # base passes above what the null expects
        variance += bn * hn * passed * (n - passed) / (n * n * (n - 1))
    if variance > 0:
        z = excess / math.sqrt(variance)
        p_worse, p_better = 1.0 - NormalDist().cdf(z), NormalDist().cdf(z)
    else:
        p_worse = p_better = 1.0  # every stratum all-pass or all-fail on both sides: nothing moved
    base_mean = _mean([b for b, _ in both])
    head_mean = _mean([h for _, h in both])
    verdict: Verdict = "regressed" if p_worse < alpha else "improved" if p_better < alpha else \
        "no significant change"
    return SuiteChange(base_mean, head_mean, p_worse, p_better, verdict, len(both))


def _mean(counts: Sequence[Counts]) -> float | None:
    return sum(p / n for p, n in counts) / len(counts) if counts else None
