"""Gate power, end to end: record base and head from the stochastic loopback server, `harness diff`
them, and check the verdicts against harness.stats and against the simulation.

    python bench/gate_e2e.py             # 30 recorded runs + 20,000 simulated (~5 minutes on 2 cores)
    python bench/gate_e2e.py --write     # ... and rewrites the "End to end" part of bench/README.md
    python bench/gate_e2e.py --runs 5    # quicker, noisier

bench/gate_power.py simulates samples and calls harness.stats on them directly. This script takes the
road a user takes instead, once per run: a suite of CASES cases with `samples: SAMPLES`, recorded
(`harness run --record-mode all --report json=base.json`) from FakeOpenAI on 127.0.0.1 whose stochastic
rules answer each case at its base rate, recorded again with the rules at the head rates
(`--report json=head.json`), then `harness diff base.json head.json --report json=diff.json`. Every
command is its own process, as in CI. Two things are checked:

- exactness: every case's verdict and adjusted p, and the suite's p and verdict, in diff.json must
  equal what harness.stats computes from the pass counts of the samples listed in base.json and
  head.json (a mismatch means the road loses or miscounts samples between the server and the gate);
- power: how often the recorded runs flag the dropped cases, flag an unchanged one, and fire the
  suite gate, against the same shares in SIM_RUNS simulated runs of the same rates and n
  (bench/gate_power.py's sampler). The recorded share must hold the simulated one within its 95%
  interval (sampling error of the recorded runs).

Rates per run (drawn with the run's seed): the unchanged cases from Beta(9, 1), as in gate_power.py;
two cases drop 0.95 -> 0.30 and two 0.90 -> 0.60 (moderate power at 10 samples a side, so a road that
lost or invented failures would show).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from gate_power import Share, draw, write_section

from harness.stats import case_changes, holm, suite_change
from harness.testing.fake_openai import FakeOpenAI, Rule

#: The harness command installed beside this Python (the console script a user runs).
HARNESS = str(Path(sys.executable).with_name("harness"))
START, END = "<!-- gate-e2e:start -->", "<!-- gate-e2e:end -->"

CASES = 20
SAMPLES = 10
#: Case index -> (base rate, head rate) of the cases that drop; the others keep their Beta(9, 1) rate.
DROPS = {0: (0.95, 0.30), 1: (0.95, 0.30), 2: (0.90, 0.60), 3: (0.90, 0.60)}
SIM_RUNS = 20_000
SUITE = "suites/gate.yaml"
PASSING, FAILING = "a good answer", "a wrong answer"
# The measured commands reach nothing but the loopback server (the same dead proxy as bench/run.py).
ENV = {**{k: v for k, v in os.environ.items() if "KEY" not in k and "PROXY" not in k.upper()},
       "OPENAI_API_KEY": "sk-bench-fake", "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
       "NO_PROXY": "127.0.0.1,localhost", "NO_COLOR": "1"}


def case_id(i: int) -> str:
    return f"c{i:02d}"


def rates(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One run's true pass rates, base and head."""
    base = rng.beta(9, 1, CASES)
    head = base.copy()
    for i, (before, after) in DROPS.items():
        base[i], head[i] = before, after
    return base, head


def write_project(root: Path) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'gate-e2e'\n")
    (root / "suites").mkdir()
    (root / "cassettes").mkdir()
    cases = "".join(f"  - {{id: {case_id(i)}, prompt: '[{case_id(i)}] question'}}\n" for i in range(CASES))
    (root / SUITE).write_text(f"name: gate\nmodel: gpt-4o\nsamples: {SAMPLES}\nchecks: [{{contains: good}}]\n"
                              f"cases:\n{cases}")


def harness(root: Path, *args: str) -> int:
    """One harness command in its own process; exit 0 or 1 (a gate) is a result, anything else a failure."""
    done = subprocess.run([HARNESS, *args], check=False, cwd=root, env=ENV, capture_output=True,
                          text=True, timeout=300)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"harness {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.returncode


def record(root: Path, true_rates: np.ndarray, seed: int, report: str) -> None:
    rules = [Rule(contains=f"[{case_id(i)}]", content=PASSING, failing=FAILING, pass_probability=float(p),
                  seed=seed) for i, p in enumerate(true_rates)]
    with FakeOpenAI(rules=rules) as server:
        harness(root, "run", SUITE, "-q", "--record-mode", "all", "--base-url", server.base_url,
                "--report", f"json={report}")
        asked = len(server.requests)
    if asked != CASES * SAMPLES:
        raise RuntimeError(f"the server answered {asked} requests, expected {CASES * SAMPLES}")


def counts(report: Path) -> dict[str, tuple[int, int]]:
    """(passed, judged) per case, counted from the samples the run report lists one by one."""
    out: dict[str, list[int]] = {}
    for case in json.loads(report.read_text())["cases"]:
        tally = out.setdefault(case["node_id"], [0, 0])
        tally[0] += case["status"] == "passed"
        tally[1] += case["status"] in ("passed", "failed", "error")
    return {k: (v[0], v[1]) for k, v in out.items()}


@dataclass
class Run:
    """One recorded run: what diff.json said, and whether it matches harness.stats on the counts."""

    verdicts: dict[str, str]
    suite: str
    mismatches: list[str] = field(default_factory=list)
    passed: tuple[int, int] = (0, 0)  # samples that passed, base and head (all cases)


def check(base: Path, head: Path, diff: Path) -> Run:
    before, after = counts(base), counts(head)
    pairs = {node: (before[node], after[node]) for node in after}
    expected = case_changes(pairs)
    rose = dict(zip(pairs, holm([c.p_improved for c in expected.values()]), strict=True))
    suite = suite_change(pairs)
    doc = json.loads(diff.read_text())["samples"]
    got = {c["node_id"]: c for c in doc["cases"]}
    run = Run({k: c["verdict"] for k, c in got.items()}, doc["suites"][0]["verdict"],
              passed=(sum(b[0] for b in before.values()), sum(h[0] for h in after.values())))
    if set(got) != set(pairs):
        run.mismatches.append(f"cases in diff {sorted(set(got) ^ set(pairs))} differ from the reports'")
    for node, want in expected.items():
        c = got.get(node)
        if c is None:
            continue
        up = want.verdict == "improved" or (want.verdict != "regressed" and want.head.rate > want.base.rate)
        p = rose[node] if up else want.p_adjusted
        seen = ((c["base"]["passed"], c["base"]["n"]), (c["head"]["passed"], c["head"]["n"]), c["verdict"],
                c["p_regressed"], c["p_improved"], c["p_adjusted"])
        wanted = (pairs[node][0], pairs[node][1], want.verdict, want.p_regressed, want.p_improved, p)
        if seen != wanted:
            run.mismatches.append(f"{node}: diff.json {seen} != harness.stats {wanted}")
    s = doc["suites"][0]
    if (s["verdict"], s["p_regressed"], s["p_improved"]) != (suite.verdict, suite.p_regressed, suite.p_improved):
        run.mismatches.append(f"suite: diff.json {s['verdict']} p={s['p_regressed']} != harness.stats "
                              f"{suite.verdict} p={suite.p_regressed}")
    return run


def recorded_run(seed: int, rng: np.random.Generator, keep: Path | None) -> Run:
    base_rates, head_rates = rates(rng)
    with tempfile.TemporaryDirectory(prefix="gate-e2e-") as tmp:
        root = Path(tmp)
        write_project(root)
        record(root, base_rates, 2 * seed, "base.json")
        record(root, head_rates, 2 * seed + 1, "head.json")
        harness(root, "diff", "base.json", "head.json", "-q", "--report", "json=diff.json")
        run = check(root / "base.json", root / "head.json", root / "diff.json")
        if keep is not None and run.mismatches:
            import shutil

            shutil.copytree(root, keep / f"run-{seed}", ignore=shutil.ignore_patterns("cassettes"))
    return run


@dataclass
class Tally:
    """The shares the recorded and the simulated runs are compared on."""

    drop_30: Share = field(default_factory=Share)  # per dropped case and run: flagged regressed (0.95 -> 0.30)
    drop_60: Share = field(default_factory=Share)  # (0.90 -> 0.60)
    others: Share = field(default_factory=Share)  # per run: some unchanged case flagged either way
    suite: Share = field(default_factory=Share)  # per run: the suite gate fired

    def add(self, verdicts: Sequence[str], suite: str) -> None:
        for i, v in enumerate(verdicts):
            if i in DROPS:
                (self.drop_30 if DROPS[i][1] == 0.30 else self.drop_60).add(v == "regressed")
        self.others.add(any(v != "no significant change" for i, v in enumerate(verdicts) if i not in DROPS))
        self.suite.add(suite == "regressed")


def simulate(rng: np.random.Generator, runs: int) -> Tally:
    tally = Tally()
    for _ in range(runs):
        base_rates, head_rates = rates(rng)
        b, h = draw(rng, base_rates, head_rates, SAMPLES)
        pairs = {case_id(i): ((int(b[i].sum()), SAMPLES), (int(h[i].sum()), SAMPLES)) for i in range(CASES)}
        verdicts = case_changes(pairs)
        tally.add([verdicts[case_id(i)].verdict for i in range(CASES)], suite_change(pairs).verdict)
    return tally


def agrees(recorded: Share, simulated: Share) -> str:
    from harness.stats import wilson

    interval = wilson(recorded.hits, recorded.runs)
    return "yes" if interval.low <= simulated.value <= interval.high else "**no**"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="recorded runs (default 30)")
    parser.add_argument("--sim-runs", type=int, default=SIM_RUNS, help=f"simulated runs (default {SIM_RUNS})")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--keep", type=Path, help="copy the reports of any run that disagrees here")
    parser.add_argument("--write", action="store_true", help="rewrite the End to end part of bench/README.md")
    args = parser.parse_args()
    started = time.monotonic()
    rng = np.random.default_rng(args.seed)
    recorded, mismatches, case_checks, rates_seen = Tally(), [], 0, [0, 0]
    for k in range(args.runs):
        run = recorded_run(args.seed + k, rng, args.keep)
        recorded.add([run.verdicts[f"{SUITE}::{case_id(i)}"] for i in range(CASES)], run.suite)
        mismatches += run.mismatches
        case_checks += CASES
        rates_seen[0] += run.passed[0]
        rates_seen[1] += run.passed[1]
        print(f"run {k + 1}/{args.runs}: suite {run.suite}, regressed "
              f"{sorted(n for n, v in run.verdicts.items() if v == 'regressed')}"
              f"{'; MISMATCH ' + '; '.join(run.mismatches) if run.mismatches else ''}", file=sys.stderr, flush=True)
    recorded_s = time.monotonic() - started
    simulated = simulate(np.random.default_rng(args.seed + 1), args.sim_runs)
    elapsed = time.monotonic() - started

    rows = [("a case 0.95 -> 0.30 flagged regressed (per case)", recorded.drop_30, simulated.drop_30),
            ("a case 0.90 -> 0.60 flagged regressed (per case)", recorded.drop_60, simulated.drop_60),
            ("some unchanged case flagged (per run)", recorded.others, simulated.others),
            ("suite gate fires (per run)", recorded.suite, simulated.suite)]
    samples = args.runs * CASES * SAMPLES
    lines = [
        f"`python bench/gate_e2e.py --runs {args.runs} --sim-runs {args.sim_runs} --seed {args.seed}`; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{elapsed:.0f} s ({recorded_s:.0f} s recording and diffing).",
        "",
        f"{args.runs} runs, each: {CASES} cases x {SAMPLES} samples recorded at the base rates and again at the "
        f"head rates ({2 * samples:,} requests in all, {100 * rates_seen[0] / max(samples, 1):.1f}% / "
        f"{100 * rates_seen[1] / max(samples, 1):.1f}% of the samples passed), then `harness diff`.",
        "",
        f"- Exactness: {len(mismatches)} disagreements between diff.json and harness.stats on the reports' "
        f"pass counts, over {case_checks:,} case verdicts with their adjusted p and {args.runs} suite verdicts "
        f"with their p" + (" (every one equal)." if not mismatches else ":"),
    ]
    lines += [f"  - {m}" for m in mismatches[:10]]
    lines += [
        "",
        f"| share | recorded end to end ({args.runs} runs) | simulated ({args.sim_runs:,} runs) | "
        "simulated inside the recorded 95% interval |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {r} | {s} | {agrees(r, s)} |" for name, r, s in rows]
    table = "\n".join(lines)
    print(table)
    if args.write and not write_section(START, END, table):
        return 1
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
