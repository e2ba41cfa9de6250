"""A case's samples taken together: one status, a rate with its interval, pass@k, pass^k, its gates.

Every report and the exit code read a sampled case from here, so they cannot disagree on whether
it passed. A case is *sampled* when it has more than one sample, or a gate on its samples
(``min_pass_rate`` or ``min_pass_hat_k`` on the case). Its status, from its samples' statuses:

- every sample skipped: ``skipped``; otherwise skipped samples are left out;
- any sample stale or missing: ``stale`` / ``missing`` (it cannot be judged until recorded);
- any sample an error: ``error`` (an error says nothing about the prompt, and is never excused);
- with gates: ``passed`` when every gate is met, else ``failed``, whatever single samples did;
- without a gate: ``passed`` only when every sample passed, as before samples had statistics.

The suite's ``min_pass_rate`` weighs cases, not samples: its rate is the mean of its cases' rates
(harness.stats.mean_rate), so a case with 20 samples does not outweigh one with 2.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..stats import Rate, mean_rate, pass_at_k, pass_hat_k, wilson
from .records import FAILING, CaseRecord, Gate, RunRecord
from .samples import sample_counts

CONFIDENCE = 0.95
Estimates = tuple[tuple[int, float | None], ...]  # (k, estimate); None when k exceeds the samples


def pct(value: float) -> str:
    """A measured rate, whole percent unless rounding would turn it into 0% or 100%."""
    shown = f"{value:.0%}"
    if 0 < value < 1 and shown in ("0%", "100%"):
        return f"{value:.1%}"
    return shown


def limit(value: float) -> str:
    """A limit the user wrote (0.705), as written (70.5%): a limit is never rounded."""
    return f"{value * 100:.10g}%"


@dataclass(frozen=True)
class CaseSamples:
    """One case's samples (``records``, in run order) and what they add up to."""

    node_id: str
    suite: str
    suite_path: str
    id: str
    model: str
    records: tuple[CaseRecord, ...]
    rate: Rate  # judged samples only: passed against failed or error
    pass_at_k: Estimates
    pass_hat_k: Estimates
    gates: tuple[Gate, ...]
    status: str

    @property
    def key(self) -> str:
        return self.node_id

    @property
    def flaky(self) -> bool:
        """Its samples disagree: some passed, some did not."""
        return self.rate.flaky

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    @property
    def summary(self) -> str:
        """``7/10 passed (70%, 95% CI 40–89%)``."""
        r = self.rate
        if not r.n:
            return f"0/{len(self.records)} judged"
        return (f"{r.passed}/{r.n} passed ({pct(r.rate)}, {r.confidence:.0%} CI "
                f"{pct(r.low).rstrip('%')}–{pct(r.high)})")

    @property
    def estimates(self) -> str:
        """``pass@3 99% · pass^3 29%`` for the k asked for ("-" where k exceeds the samples)."""
        parts = [f"pass@{k} {'-' if v is None else pct(v)}" for k, v in self.pass_at_k]
        parts += [f"pass^{k} {'-' if v is None else pct(v)}" for k, v in self.pass_hat_k]
        return " · ".join(parts)

    def reasons(self) -> list[str]:
        """Why the case is not passing, in one line each."""
        if self.status == "passed" or self.status == "skipped":
            return []
        unmet = [g.text for g in self.gates if not g.met]
        bad = [r for r in self.records if r.status == self.status] if self.status != "failed" else []
        if bad:
            first = bad[0]
            why = first.message or (f"{first.failed_checks[0].name}: {first.failed_checks[0].reason}"
                                    if first.failed_checks else first.status)
            return [f"{len(bad)} sample(s) {self.status}; {first.name}: {why}"] + unmet
        if unmet:
            return unmet
        failed = sum(r.failing for r in self.records)
        return [f"{failed} of {self.rate.n} samples failed (no gate on the case: every sample must pass)"]


def _gates(case: CaseRecord, rate: Rate) -> tuple[Gate, ...]:
    out = []
    if case.min_pass_rate is not None:
        minimum = float(case.min_pass_rate)
        met = rate.n > 0 and rate.rate >= minimum
        out.append(Gate("min_pass_rate", met, f"pass rate {pct(rate.rate)} ({rate.passed}/{rate.n}) "
                                              f"{'meets' if met else 'is below'} min_pass_rate {limit(minimum)}"))
    if case.min_pass_hat_k is not None:
        k, minimum = case.min_pass_hat_k
        value = pass_hat_k(rate.n, rate.passed, k)
        if value is None:
            out.append(Gate("min_pass_hat_k", False, f"pass^{k} needs {k} judged samples, {rate.n} judged: "
                                                     f"min_pass_hat_k {limit(minimum)} not met"))
        else:
            met = value >= minimum
            out.append(Gate("min_pass_hat_k", met, f"pass^{k} {pct(value)} "
                                                   f"{'meets' if met else 'is below'} min_pass_hat_k {limit(minimum)}"))
    return tuple(out)


def _status(records: Sequence[CaseRecord], gates: Sequence[Gate]) -> str:
    statuses = [r.status for r in records if r.status != "skipped"]
    if not statuses:
        return "skipped"
    for status in ("stale", "missing", "error"):
        if status in statuses:
            return status
    if gates:
        return "passed" if all(g.met for g in gates) else "failed"
    return "passed" if all(s == "passed" for s in statuses) else "failed"


def _sampled(records: Sequence[CaseRecord]) -> bool:
    first = records[0]
    return len(records) > 1 or first.min_pass_rate is not None or first.min_pass_hat_k is not None


def case_samples(cases: Iterable[CaseRecord], pass_k: Mapping[str, Sequence[int]] | None = None
                 ) -> dict[str, CaseSamples]:
    """Node id -> its sampled case, for the sampled cases only, in run order. ``pass_k`` maps a
    suite path to the k its pass@k and pass^k are reported for."""
    groups: dict[str, list[CaseRecord]] = {}
    for case in cases:
        groups.setdefault(case.node_id, []).append(case)
    sampled = {node: records for node, records in groups.items() if _sampled(records)}
    counts = sample_counts(c for records in sampled.values() for c in records)  # usually none
    out = {}
    for node, records in sampled.items():
        first = records[0]
        rate = wilson(*counts[node], CONFIDENCE)
        ks = sorted(set((pass_k or {}).get(first.suite_path, ())))
        hat_ks = sorted(set(ks) | ({first.min_pass_hat_k[0]} if first.min_pass_hat_k else set()))
        gates = _gates(first, rate)
        out[node] = CaseSamples(
            node, first.suite, first.suite_path, first.id, first.model, tuple(records), rate,
            tuple((k, pass_at_k(rate.n, rate.passed, k)) for k in ks),
            tuple((k, pass_hat_k(rate.n, rate.passed, k)) for k in hat_ks), gates, _status(records, gates))
    return out


def pass_k_of(run: RunRecord) -> dict[str, tuple[int, ...]]:
    """Suite path -> the ``pass_k`` its suite asks for."""
    return {s.path: tuple(int(k) for k in s.options.get("pass_k") or ()) for s in run.suites}


#: sampled_cases per run: the terminal, the gates and every report ask for the same run's, and each
#: answer walks every case. Held while the run lives (its entry leaves with it).
_by_run: dict[int, tuple[weakref.ref[RunRecord], dict[str, CaseSamples]]] = {}


def _same_cases(run: RunRecord) -> dict[str, CaseSamples] | None:
    """The answer for a run this one was copied from with its cases and suites (a run record is
    finished in steps: orphans, then gates, each a copy), if one is still alive."""
    for ref, found in _by_run.values():
        other = ref()
        if other is not None and other.cases is run.cases and other.suites is run.suites:
            return found
    return None


def sampled_cases(run: RunRecord) -> dict[str, CaseSamples]:
    """The run's sampled cases (see ``case_samples``), worked out once per run: read, never change it."""
    key = id(run)
    hit = _by_run.get(key)
    if hit is not None and hit[0]() is run:
        return hit[1]
    found = _same_cases(run)
    if found is None:
        found = case_samples(run.cases, pass_k_of(run))
    _by_run[key] = (weakref.ref(run, lambda _dead: _by_run.pop(key, None)), found)
    return found


@dataclass(frozen=True)
class Outcome:
    """One case as the gates count it: a case without samples, or a sampled case as a whole."""

    key: str
    suite_path: str
    status: str


def outcomes(run: RunRecord, sampled: Mapping[str, CaseSamples] | None = None) -> list[Outcome]:
    """Each case once, in run order: a sampled case by its own status, not its samples'."""
    sampled = sampled_cases(run) if sampled is None else sampled
    out, seen = [], set()
    for c in run.cases:
        group = sampled.get(c.node_id)
        if group is None:
            out.append(Outcome(c.key, c.suite_path, c.status))
        elif c.node_id not in seen:
            seen.add(c.node_id)
            out.append(Outcome(group.key, group.suite_path, group.status))
    return out


@dataclass(frozen=True)
class SuiteRate:
    """A suite's pass rate as ``min_pass_rate`` reads it: the mean of its cases' rates."""

    rate: float
    cases: int  # cases with a sample that was not skipped
    passed: int  # samples
    samples: int  # samples not skipped

    @property
    def sampled(self) -> bool:
        return self.samples > self.cases


def suite_rate(samples: Iterable[tuple[str, str]]) -> SuiteRate | None:
    """(node id, status) per sample -> the suite's rate, or None when nothing ran. Skipped samples
    say nothing about the prompt and are left out; errors, stale and missing samples count as not
    passed. Without samples this is passed cases / cases run."""
    counts: dict[str, list[int]] = {}
    for node, status in samples:
        if status == "skipped":
            continue
        slot = counts.setdefault(node, [0, 0])
        slot[0] += status == "passed"
        slot[1] += 1
    mean = mean_rate([wilson(p, n, CONFIDENCE) for p, n in counts.values()])
    if mean is None:
        return None
    return SuiteRate(mean, len(counts), sum(p for p, _ in counts.values()), sum(n for _, n in counts.values()))


@dataclass(frozen=True)
class SuiteSamples:
    """A suite's sampled cases in sum, for the reports' suite-level lines."""

    suite: str
    path: str
    cases: tuple[CaseSamples, ...]
    rate: SuiteRate | None
    pass_at_k: Estimates  # mean over the cases with at least k judged samples
    pass_hat_k: Estimates

    @property
    def flaky(self) -> list[CaseSamples]:
        return [c for c in self.cases if c.flaky]


def _mean(cases: Sequence[CaseSamples], attr: str) -> Estimates:
    ks = sorted({k for c in cases for k, _ in getattr(c, attr)})
    out = []
    for k in ks:
        values = [v for c in cases for kk, v in getattr(c, attr) if kk == k and v is not None]
        out.append((k, sum(values) / len(values) if values else None))
    return tuple(out)


def suite_samples(run: RunRecord, sampled: Mapping[str, CaseSamples] | None = None) -> list[SuiteSamples]:
    """Per suite that has sampled cases: its cases, mean rate, mean pass@k and pass^k, flaky cases."""
    sampled = sampled_cases(run) if sampled is None else sampled
    by_path: dict[str, list[CaseSamples]] = {}  # grouped once, not looked for once per suite
    for group in sampled.values():
        by_path.setdefault(group.suite_path, []).append(group)
    out = []
    for path, cases in run.by_suite().items():
        mine = tuple(by_path.get(path, ()))
        if not mine:
            continue
        rate = suite_rate((c.node_id, c.status) for c in cases)
        out.append(SuiteSamples(cases[0].suite, path, mine, rate, _mean(mine, "pass_at_k"), _mean(mine, "pass_hat_k")))
    return out
