"""A diff over samples, as values: each sampled case's pass rate at the base and at the head with the
verdict of a significance test, each suite's mean rate, and the words every report uses for them.

Why a module of its own: ``Comparison`` (records.py) holds one of these, and the code that builds
it (diff_samples.py) reads case records; with the values here, importing only harness.stats (which
defers scipy), neither import goes in a circle. Every format (terminal, Markdown, HTML, gates) takes
its sentences from here, so they all say ``regressed 19/20 → 6/20 (p=0.0003, adjusted)`` alike.

Verdict and flaky are two separate things. The verdict is the test's: ``regressed``, ``improved``
or ``no significant change``. Flaky is a tag on top of it, set when the samples of a case disagree
(some passed, some failed) at the base or at the head; a flaky case may have regressed too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stats import CaseChange, Rate, SuiteChange
from ..stats.change import Verdict

ALPHA = 0.05  # the family-wise error rate of the per-case flags, and of the suite test
CONFIDENCE = 0.95  # of the Wilson intervals shown beside each rate

CASE_TEST = "Fisher's exact test per case, one-sided"
ADJUSTMENT = "holm"
SUITE_TEST = "Cochran–Mantel–Haenszel test stratified by case, one-sided"


@dataclass(frozen=True)
class CaseRateChange:
    """One case compared as rates over its samples (``node_id`` is ``suite.yaml::id``)."""

    node_id: str
    suite_path: str
    change: CaseChange
    p: float  # Holm-adjusted one-sided p in the direction the rate moved (a drop unless it rose)

    @property
    def verdict(self) -> Verdict:
        return self.change.verdict

    @property
    def flaky(self) -> bool:
        return self.change.flaky

    @property
    def base(self) -> Rate:
        return self.change.base

    @property
    def head(self) -> Rate:
        return self.change.head


@dataclass(frozen=True)
class SuiteRateChange:
    """A suite's mean case pass rate over its sampled cases, base -> head, and its stratified test."""

    path: str
    name: str
    change: SuiteChange
    p: float  # one-sided p in the direction the mean moved, Holm-adjusted over the suites
    verdict: Verdict  # at ALPHA, after that adjustment


@dataclass(frozen=True)
class RateDiff:
    """Every sampled case and suite of a diff. ``cases`` holds only cases with more than one sample on
    either side and a judged sample on each; the others are compared sample by sample, as always."""

    cases: tuple[CaseRateChange, ...]
    suites: tuple[SuiteRateChange, ...]
    alpha: float = ALPHA

    @property
    def node_ids(self) -> frozenset[str]:
        return frozenset(c.node_id for c in self.cases)

    @property
    def regressed(self) -> list[CaseRateChange]:
        return [c for c in self.cases if c.verdict == "regressed"]

    @property
    def improved(self) -> list[CaseRateChange]:
        return [c for c in self.cases if c.verdict == "improved"]

    @property
    def flaky(self) -> list[CaseRateChange]:
        return [c for c in self.cases if c.flaky]

    @property
    def noisy(self) -> list[CaseRateChange]:
        """Cases with failing samples at the head and no significant drop: not regressions."""
        return [c for c in self.cases if c.verdict != "regressed" and c.head.passed < c.head.n]

    def ordered(self) -> list[CaseRateChange]:
        """Regressions first, then improvements, then the rest, each in suite order."""
        rank = {"regressed": 0, "improved": 1}
        return sorted(self.cases, key=lambda c: rank.get(c.verdict, 2))


# ---------------------------------------------------------------- the words


def p_text(p: float) -> str:
    """Two significant digits; below 0.0001 only the bound (more digits would be false precision)."""
    return "p<0.0001" if p < 0.0001 else f"p={p:.2g}"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def interval(rate: Rate) -> str:
    """``76–99%``: the Wilson interval of the true pass rate."""
    return f"{rate.low * 100:.0f}–{rate.high * 100:.0f}%"


def rate_text(rate: Rate) -> str:
    """``19/20 (95%, 95% CI 76–99%)``."""
    return f"{rate.passed}/{rate.n} ({percent(rate.rate)}, {rate.confidence:.0%} CI {interval(rate)})"


def verdict_text(case: CaseRateChange, diff: RateDiff) -> str:
    """``regressed 19/20 → 6/20 (p=0.0003, adjusted)``; ``adjusted`` when there were several cases to
    adjust for (with one case Holm's adjustment changes nothing)."""
    adjusted = ", adjusted" if len(diff.cases) > 1 else ""
    return (f"{case.verdict} {case.base.passed}/{case.base.n} → {case.head.passed}/{case.head.n} "
            f"({p_text(case.p)}{adjusted})")


def case_line(case: CaseRateChange, diff: RateDiff) -> str:
    """The whole line for one case: verdict, intervals, and the flaky tag."""
    flaky = " · flaky" if case.flaky else ""
    return (f"{case.node_id}: {verdict_text(case, diff)} · {case.base.confidence:.0%} CI "
            f"{interval(case.base)} → {interval(case.head)}{flaky}")


_SUITE_VERDICT = {"regressed": "dropped significantly", "improved": "rose significantly",
                  "no significant change": "no significant change"}


def suite_verdict(suite: SuiteRateChange) -> str:
    return _SUITE_VERDICT[suite.verdict]


def mean_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def suite_line(suite: SuiteRateChange) -> str:
    """``demo: mean case pass rate 92.5% → 50.0% over 2 sampled case(s): dropped significantly (p<0.0001)``."""
    c = suite.change
    return (f"{suite.name}: mean case pass rate {mean_text(c.base_mean)} → {mean_text(c.head_mean)} over "
            f"{c.cases} sampled case(s): {suite_verdict(suite)} ({p_text(suite.p)})")


#: How a re-recording run names the base it compares sampled cases with.
AGAINST_RECORDINGS = " against the answers their cassettes held"


def changed_samples_text(changed: int, samples: int, against: str = "the recordings they replaced") -> str:
    """A sampled case's changed answers in one line: which old sample a new one replaced is only its
    number, so a pairwise diff says little; the case's rates say whether it got worse."""
    return (f"{changed} of {samples} samples answer differently from {against} "
            "(samples pair up by number only; the rates tell whether the case changed)")


def method_text(diff: RateDiff) -> str:
    """How the numbers were made, in one sentence a reviewer can check."""
    n = len(diff.cases)
    how = (f"p-values Holm-adjusted over the {n} sampled cases, so the chance of any false alarm among "
           f"them is at most {diff.alpha:.0%}") if n > 1 else "one sampled case, nothing to adjust for"
    return (f"{CASE_TEST} ({how}); suites: {SUITE_TEST}; a verdict needs p < {diff.alpha:g}; "
            f"flaky: the samples of a case disagree at the base or the head")
