"""The gate benchmarks check what they claim: the end-to-end run catches a diff that disagrees with
harness.stats, and the adaptive simulation walks each stop rule exactly as sample-by-sample would."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from harness.stats import needs_more
from harness.stats.sequential import passes

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest) -> tuple[ModuleType, ModuleType]:
    sys.path.insert(0, str(BENCH))
    request.addfinalizer(lambda: sys.path.remove(str(BENCH)))
    return importlib.import_module("gate_power"), importlib.import_module("gate_e2e")


def test_a_recorded_run_agrees_with_harness_stats_and_a_tampered_diff_does_not(
        bench: tuple[ModuleType, ModuleType], tmp_path: Path) -> None:
    _, e2e = bench
    root = tmp_path / "proj"
    root.mkdir()
    e2e.write_project(root)
    base, head = e2e.rates(np.random.default_rng(2))
    e2e.record(root, base, 4, "base.json")
    e2e.record(root, head, 5, "head.json")
    e2e.harness(root, "diff", "base.json", "head.json", "-q", "--report", "json=diff.json")
    run = e2e.check(root / "base.json", root / "head.json", root / "diff.json")
    assert run.mismatches == []
    assert len(run.verdicts) == e2e.CASES and run.suite in ("regressed", "no significant change", "improved")
    assert 0 < run.passed[1] < run.passed[0] < e2e.CASES * e2e.SAMPLES  # the head's rules pass less often
    doc = json.loads((root / "diff.json").read_text())
    case = doc["samples"]["cases"][0]
    case["head"]["passed"] += 1  # one sample miscounted between the server and the gate
    (root / "diff.json").write_text(json.dumps(doc))
    mismatches = e2e.check(root / "base.json", root / "head.json", root / "diff.json").mismatches
    assert len(mismatches) == 1 and mismatches[0].startswith(f"{case['node_id']}: diff.json")


def test_the_tabulated_adaptive_walk_equals_sampling_one_at_a_time(bench: tuple[ModuleType, ModuleType]) -> None:
    power, _ = bench
    cases, threshold = 400, 0.8
    rules = {"max 20": power.StopRule(lambda c, n: needs_more(c, n, threshold, min_n=3, max_n=20)),
             "max 40": power.StopRule(lambda c, n: needs_more(c, n, threshold, min_n=3, max_n=40, alpha=0.05), 40)}
    results = power.adaptive(np.random.default_rng(5), cases, threshold, rules)
    # the same streams, walked by hand
    rng = np.random.default_rng(5)
    rates = rng.beta(9, 1, cases)
    streams = rng.random((cases, 40)) < rates[:, None]
    for result, rule in zip(results[1:], rules.values(), strict=True):
        requests = correct = 0
        for i in range(cases):
            n = passed = 0
            while n < rule.max_n and rule.more(passed, n):
                passed += int(streams[i, n])
                n += 1
            requests += n
            correct += passes(passed, n, threshold) == (rates[i] >= threshold)
        assert (result.requests, result.correct) == (requests, correct)
    assert results[0].requests == 20 * cases
