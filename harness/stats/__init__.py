"""Samples become statistics: rates with intervals, pass@k and pass^k, significance of a change.

Pure functions over counts (passed out of n per case); nothing here knows suites or cassettes, so
the reports, the gates, the diff and the benchmark (bench/gate_power.py) all run the same code.
docs/statistics.md says what each number means and when it holds.
"""

from .change import CaseChange, SuiteChange, case_changes, holm, suite_change
from .rates import Rate, mean_rate, pass_at_k, pass_hat_k, wilson
from .sequential import needs_more

__all__ = ["CaseChange", "Rate", "SuiteChange", "case_changes", "holm", "mean_rate", "needs_more", "pass_at_k",
           "pass_hat_k", "suite_change", "wilson"]
