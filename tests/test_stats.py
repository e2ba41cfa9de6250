"""harness.stats against independent values: textbook examples, numbers computed once with scipy and
statsmodels (written in here; neither is asked at test time except scipy where harness uses it too),
identities the estimators must satisfy, and brute-force enumeration of small cases."""

from __future__ import annotations

import itertools
import math
import re
import subprocess
import sys
from statistics import NormalDist

import pytest

import harness.stats.change as change
from harness.stats import case_changes, holm, mean_rate, needs_more, pass_at_k, pass_hat_k, suite_change, wilson
from harness.stats.sequential import flip_chance, passes

# --- rates -------------------------------------------------------------------------------------

# statsmodels.stats.proportion.proportion_confint(c, n, alpha=1 - conf, method="wilson"), 0.15.0
WILSON = [
    (7, 10, 0.95, 0.39677814746114537, 0.8922087325936989),
    (0, 10, 0.95, 0.0, 0.2775327998628892),
    (10, 10, 0.95, 0.7224672001371107, 1.0),
    (1, 3, 0.95, 0.06149194472039621, 0.7923403991979522),
    (19, 20, 0.95, 0.763868806553258, 0.9911185511992047),
    (7, 10, 0.90, 0.44169979586983493, 0.873123416096802),
    (50, 100, 0.99, 0.37527962504483986, 0.6247203749551602),
]


@pytest.mark.parametrize(("passed", "n", "confidence", "low", "high"), WILSON)
def test_wilson_interval_matches_statsmodels(passed: int, n: int, confidence: float, low: float, high: float) -> None:
    rate = wilson(passed, n, confidence)
    assert (rate.low, rate.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert rate.rate == passed / n and rate.confidence == confidence


def test_wilson_textbook_seven_of_ten() -> None:
    rate = wilson(7, 10)
    assert f"{rate.low:.1%}–{rate.high:.1%}" == "39.7%–89.2%"


def test_wilson_without_samples_knows_nothing_and_refuses_impossible_counts() -> None:
    empty = wilson(0, 0)
    assert (empty.n, empty.rate, empty.low, empty.high, empty.flaky) == (0, 0.0, 0.0, 1.0, False)
    with pytest.raises(ValueError, match=re.escape("within 0..5")):
        wilson(6, 5)
    with pytest.raises(ValueError):
        wilson(-1, 5)


def test_flaky_means_the_samples_disagree() -> None:
    assert [wilson(p, 5).flaky for p in range(6)] == [False, True, True, True, True, False]


def test_mean_rate_weighs_every_case_alike() -> None:
    # 20/20 and 0/2: pooled samples would say 20/22 = 91%; per-case mean says 50%.
    assert mean_rate([wilson(20, 20), wilson(0, 2)]) == 0.5
    assert mean_rate([wilson(3, 4), wilson(0, 0)]) == 0.75  # a case without samples is not a zero
    assert mean_rate([]) is None
    assert mean_rate([wilson(0, 0)]) is None


# --- pass@k and pass^k ---------------------------------------------------------------------------


def test_pass_at_k_and_pass_hat_k_known_values() -> None:
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)  # 1 - C(7,5)/C(10,5)
    assert pass_hat_k(10, 7, 3) == pytest.approx(35 / 120)  # C(7,3)/C(10,3)
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)


@pytest.mark.parametrize(("n", "c"), [(1, 0), (1, 1), (5, 2), (10, 7), (20, 19)])
def test_pass_at_1_and_pass_hat_1_are_the_pass_rate(n: int, c: int) -> None:
    assert pass_at_k(n, c, 1) == pytest.approx(c / n)
    assert pass_hat_k(n, c, 1) == pytest.approx(c / n)


def test_k_outside_one_to_n_has_no_estimate() -> None:
    assert pass_at_k(5, 3, 6) is None and pass_hat_k(5, 3, 6) is None
    assert pass_at_k(5, 3, 0) is None and pass_hat_k(5, 3, 0) is None
    assert pass_at_k(0, 0, 1) is None and pass_hat_k(0, 0, 1) is None


@pytest.mark.parametrize("k", [1, 2, 5, 10])
def test_all_pass_and_all_fail(k: int) -> None:
    assert pass_at_k(10, 10, k) == 1.0 and pass_hat_k(10, 10, k) == 1.0
    assert pass_at_k(10, 0, k) == 0.0 and pass_hat_k(10, 0, k) == 0.0


def test_pass_at_k_complements_pass_hat_k_of_the_failures() -> None:
    # P(at least one of k passes) = 1 - P(all k fail).
    for n, c, k in itertools.product(range(1, 9), range(9), range(1, 9)):
        if c <= n and k <= n:
            assert pass_at_k(n, c, k) == pytest.approx(1 - pass_hat_k(n, n - c, k))  # type: ignore[operator]


@pytest.mark.parametrize(("n", "k", "p"), [(10, 3, 0.7), (20, 5, 0.9), (5, 5, 0.5)])
def test_estimators_are_unbiased(n: int, k: int, p: float) -> None:
    """Averaged over the binomial number of passes, they equal the true 1-(1-p)^k and p^k."""
    weights = [math.comb(n, c) * p**c * (1 - p) ** (n - c) for c in range(n + 1)]
    at = sum(w * pass_at_k(n, c, k) for c, w in enumerate(weights))  # type: ignore[operator]
    hat = sum(w * pass_hat_k(n, c, k) for c, w in enumerate(weights))  # type: ignore[operator]
    assert at == pytest.approx(1 - (1 - p) ** k)
    assert hat == pytest.approx(p**k)


# --- per case: Fisher + Holm ---------------------------------------------------------------------


def test_textbook_regression_nineteen_of_twenty_to_six() -> None:
    change_ = case_changes({"a": ((19, 20), (6, 20))})["a"]
    # scipy.stats.fisher_exact([[19, 1], [6, 14]], alternative="greater"), 1.17
    assert change_.p_regressed == pytest.approx(1.9656860591232116e-05, rel=1e-9)
    assert change_.p_improved == pytest.approx(0.999999614571361, rel=1e-9)
    assert change_.verdict == "regressed" and change_.p_adjusted == change_.p_regressed
    assert (change_.base.passed, change_.head.passed) == (19, 6)


def test_nine_of_ten_to_seven_is_no_significant_change() -> None:
    change_ = case_changes({"a": ((9, 10), (7, 10))})["a"]
    assert change_.p_regressed == pytest.approx(0.29102167182662536, rel=1e-9)
    assert change_.verdict == "no significant change"
    assert change_.flaky


def test_a_rise_is_improved() -> None:
    change_ = case_changes({"a": ((3, 10), (9, 10))})["a"]
    assert change_.p_improved == pytest.approx(0.009883305548940223, rel=1e-9)
    assert change_.p_regressed == pytest.approx(0.9996427720885925, rel=1e-9)
    assert change_.verdict == "improved" and change_.p_adjusted == change_.p_improved


def test_holm_hand_worked() -> None:
    # sorted: 0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> stays 0.06 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # statsmodels.stats.multitest.multipletests(p, method="holm")[1]
    assert holm([0.2, 0.001, 0.02, 0.9, 0.012]) == pytest.approx([0.4, 0.005, 0.06, 0.9, 0.048])
    assert holm([]) == []
    assert holm([0.7, 0.9]) == [1.0, 1.0]  # capped at 1


def test_many_cases_raise_the_bar_for_each() -> None:
    """19/20 -> 6/20 alone is a regression; among 3,000 unchanged cases Holm needs p < 0.05/3,001."""
    alone = case_changes({"x": ((19, 20), (6, 20))})
    crowd = {f"c{i}": ((9, 10), (9, 10)) for i in range(3000)}
    crowd["x"] = ((19, 20), (6, 20))
    among = case_changes(crowd)
    assert alone["x"].verdict == "regressed"
    assert among["x"].verdict == "no significant change"
    assert among["x"].p_adjusted == pytest.approx(min(1.0, 3001 * alone["x"].p_regressed))


def test_a_case_missing_a_side_is_not_counted_in_the_adjustment() -> None:
    with_missing = case_changes({"x": ((19, 20), (6, 20)), "new": ((0, 0), (5, 5)), "gone": ((4, 4), (0, 0))})
    assert with_missing["x"].p_adjusted == pytest.approx(1.9656860591232116e-05)
    assert with_missing["new"].verdict == with_missing["gone"].verdict == "no significant change"
    assert with_missing["new"].p_adjusted == 1.0


def test_no_cases_no_changes() -> None:
    assert case_changes({}) == {}


# --- suite: stratified exact test, CMH approximation ----------------------------------------------

STRATA = {"a": ((9, 10), (6, 10)), "b": ((5, 5), (3, 5)), "c": ((4, 6), (4, 6)), "d": ((18, 20), (12, 20))}


def _enumerated(strata: dict[str, tuple[tuple[int, int], tuple[int, int]]]) -> tuple[float, float]:
    """P(sum of base passes >= observed), P(<= observed), by listing every table with the margins."""
    supports = []
    for (bp, bn), (hp, hn) in strata.values():
        m, total = bp + hp, bn + hn
        supports.append([(a, math.comb(bn, a) * math.comb(hn, m - a) / math.comb(total, m))
                         for a in range(max(0, m - hn), min(bn, m) + 1)])
    observed = sum(b[0] for b, _ in strata.values())
    upper = lower = 0.0
    for combo in itertools.product(*supports):
        prob = math.prod(p for _, p in combo)
        total_passes = sum(a for a, _ in combo)
        upper += prob if total_passes >= observed else 0.0
        lower += prob if total_passes <= observed else 0.0
    return upper, lower


def test_suite_test_is_the_exact_conditional_test() -> None:
    result = suite_change(STRATA)
    worse, better = _enumerated(STRATA)
    assert (result.p_regressed, result.p_improved) == (pytest.approx(worse, rel=1e-9), pytest.approx(better, rel=1e-9))
    assert result.exact and result.verdict == "regressed" and result.cases == 4
    assert result.base_mean == pytest.approx((0.9 + 1 + 4 / 6 + 0.9) / 4)
    assert result.head_mean == pytest.approx((0.6 + 0.6 + 4 / 6 + 0.6) / 4)


def test_suite_test_of_one_case_is_fisher() -> None:
    result = suite_change({"a": ((19, 20), (6, 20))})
    assert result.p_regressed == pytest.approx(1.9656860591232116e-05, rel=1e-9)
    assert result.p_improved == pytest.approx(0.999999614571361, rel=1e-9)


def test_large_suites_use_cmh_with_continuity_correction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(change, "EXACT_LIMIT", 0)
    result = suite_change(STRATA)
    # statsmodels StratifiedTable(tables).test_null_odds(correction=True): chi2 6.12499467729371,
    # p 0.013328368910280108 two-sided; the statistic is positive (base better), so one-sided is half.
    # (correction=False gives p 0.00648175052803035: without it the test is anti-conservative.)
    assert not result.exact
    assert result.p_regressed == pytest.approx(0.013328368910280108 / 2, rel=1e-9)
    # Without correction the statistic is sqrt(7.411...) standard deviations; with it sqrt(6.125...):
    # the correction is their difference, and a rise is judged at (excess + 1/2) / sd.
    plain, corrected = math.sqrt(7.411243559525389), math.sqrt(6.12499467729371)
    assert result.p_improved == pytest.approx(NormalDist().cdf(2 * plain - corrected), rel=1e-9)
    assert result.p_regressed == pytest.approx(_enumerated(STRATA)[0], rel=0.2)  # near the exact value


def test_suite_test_on_empty_and_degenerate_suites() -> None:
    empty = suite_change({})
    assert (empty.p_regressed, empty.p_improved, empty.verdict, empty.cases) == (1.0, 1.0, "no significant change", 0)
    assert empty.base_mean is None and empty.head_mean is None
    steady = suite_change({"a": ((5, 5), (5, 5)), "b": ((0, 3), (0, 3)), "c": ((1, 1), (0, 0))})
    assert (steady.p_regressed, steady.p_improved, steady.verdict, steady.cases) == (1.0, 1.0, "no significant change",
                                                                                     2)
    assert (steady.base_mean, steady.head_mean) == (0.5, 0.5)


def test_degenerate_strata_do_not_change_the_p_value() -> None:
    padded = dict(STRATA, **{f"ok{i}": ((10, 10), (10, 10)) for i in range(50)})
    assert suite_change(padded).p_regressed == pytest.approx(suite_change(STRATA).p_regressed, rel=1e-12)
    assert suite_change(padded).cases == 54


def test_exact_suite_gate_never_fires_above_alpha_on_a_small_unchanged_suite() -> None:
    """Three cases of three samples a side, true rate 0.9, nothing changed: summing over every
    possible outcome, the gate fires with probability at most 5% (a normal approximation need not)."""
    p, n = 0.9, 3
    outcome = [(k, math.comb(n, k) * p**k * (1 - p) ** (n - k)) for k in range(n + 1)]
    fired = 0.0
    for sides in itertools.product(outcome, repeat=6):
        prob = math.prod(w for _, w in sides)
        pairs = {str(i): ((sides[2 * i][0], n), (sides[2 * i + 1][0], n)) for i in range(3)}
        if suite_change(pairs).verdict == "regressed":
            fired += prob
    assert 0.0 < fired <= 0.05


def test_a_shift_in_which_cases_ran_is_not_a_regression() -> None:
    """Pooled, 40/50 -> 22/50 looks like a collapse; within each case nothing moved."""
    pairs = {"easy": ((38, 40), (19, 20)), "hard": ((2, 10), (3, 30))}
    result = suite_change(pairs)
    assert result.verdict == "no significant change"
    assert result.p_regressed > 0.3
    assert case_changes({"pooled": ((40, 50), (22, 50))})["pooled"].verdict == "regressed"


# --- adaptive sampling ---------------------------------------------------------------------------


def test_needs_more_respects_min_and_max() -> None:
    assert needs_more(0, 0, 0.8, min_n=3, max_n=20)
    assert needs_more(2, 2, 0.8, min_n=3, max_n=20)
    assert not needs_more(10, 20, 0.8, min_n=3, max_n=20)
    assert not needs_more(30, 30, 0.8, min_n=3, max_n=20)
    assert not needs_more(3, 3, 0.8, min_n=3, max_n=3)


def test_clear_cases_stop_early_unclear_ones_continue() -> None:
    def stops(outcomes: str) -> int:
        passed = 0
        for n, outcome in enumerate(outcomes):
            if not needs_more(passed, n, 0.8, min_n=3, max_n=20):
                return n
            passed += outcome == "p"
        return len(outcomes)

    assert stops("p" * 20) == 8  # a wide interval would want 16 of 16 to call this >= 0.8
    assert stops("f" * 20) == 3  # 0 of 3 against 0.8: 16 of the 17 left would have to pass
    assert stops("pf" * 10) == 8  # 4 of 8: only 12 passes in the 12 left would reach 16 of 20
    assert stops("fpppp" * 4) == 20  # right at 0.8: undecided until the last sample


def test_a_verdict_that_can_no_longer_change_stops() -> None:
    assert flip_chance(16, 16, 0.8, 20) == 0.0  # 16 of 20 reached: passes whatever follows
    assert flip_chance(1, 6, 0.8, 20) == 0.0  # 5 failures: 16 of 20 is out of reach
    assert not needs_more(16, 16, 0.8, min_n=3, max_n=20, alpha=1e-9)


def test_flip_chance_is_the_beta_binomial_prediction() -> None:
    # 8 of 10 passed (verdict: pass); it flips when fewer than 8 of the remaining 10 pass.
    # scipy.stats.betabinom.cdf(7, 10, 8.5, 2.5) = 1 - betabinom.sf(7, 10, 8.5, 2.5)
    from scipy.stats import betabinom

    assert flip_chance(8, 10, 0.8, 20) == pytest.approx(float(betabinom.cdf(7, 10, 8.5, 2.5)), rel=1e-9)
    # 3 of 8 (verdict: fail) flips only with 13 of 12: impossible; 9 of 12 (fail at 0.8): flips with 7+ of 8.
    assert flip_chance(3, 8, 0.8, 20) == 0.0
    assert flip_chance(9, 12, 0.8, 20) == pytest.approx(float(betabinom.sf(6, 8, 9.5, 3.5)), rel=1e-9)


def test_threshold_edges() -> None:
    assert passes(16, 20, 0.8) and not passes(15, 20, 0.8)
    assert passes(7, 10, 0.7) and passes(0, 5, 0.0)
    assert not needs_more(0, 3, 0.0, min_n=3, max_n=20)  # everything passes a zero threshold
    assert not needs_more(3, 3, 1.01, min_n=3, max_n=20)  # nothing reaches an impossible one


def _disagreement(p: float, alpha: float, threshold: float = 0.8, min_n: int = 3, max_n: int = 20) -> float:
    """Exact probability, for a case of true rate p, that the adaptive verdict differs from the one
    all max_n samples of the same stream would give."""
    states = {(0, 0): 1.0}
    differ = 0.0
    for n in range(max_n + 1):
        for c in range(n + 1):
            prob = states.pop((c, n), 0.0)
            if not prob:
                continue
            if needs_more(c, n, threshold, min_n=min_n, max_n=max_n, alpha=alpha):
                states[(c + 1, n + 1)] = states.get((c + 1, n + 1), 0.0) + prob * p
                states[(c, n + 1)] = states.get((c, n + 1), 0.0) + prob * (1 - p)
                continue
            rest = max_n - n
            final = sum(math.comb(rest, k) * p**k * (1 - p) ** (rest - k)
                        for k in range(rest + 1) if passes(c + k, max_n, threshold))
            differ += prob * ((1 - final) if passes(c, n, threshold) else final)
    return differ


@pytest.mark.parametrize("alpha", [0.01, 0.02, 0.05])
def test_adaptive_verdict_rarely_differs_from_sampling_to_max(alpha: float) -> None:
    """Away from the threshold the extra error is well below alpha; at worst (true rate near the
    threshold, where 20 samples are themselves a coin toss) it stays under twice alpha."""
    worst = max(_disagreement(p / 100, alpha) for p in range(30, 101, 5))
    assert worst < 2 * alpha
    assert _disagreement(0.97, alpha) < alpha / 2 and _disagreement(0.4, alpha) < alpha / 2


def test_the_common_path_does_not_import_scipy() -> None:
    """Reports of rates and adaptive recording must not pay scipy's import (~0.8 s)."""
    code = ("import sys; from harness.stats import wilson, needs_more, pass_at_k, mean_rate;"
            "wilson(7, 10); needs_more(5, 6, 0.8, min_n=3, max_n=20); pass_at_k(10, 3, 2);"
            "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
