"""Models side by side: a run's cases grouped so that each row is one prompt and each column one
model (or wire API) that answered it, for the HTML and Markdown reports to lay out.

Cases belong to one row when they differ only by variant: same suite, same id once the model and
API labels are taken out of it (case_ids.variant_free_id), which leaves the base id and the matrix
values; a case's samples stay together in its cell. The grouping reads only what a saved JSON
report also holds, so ``harness diff old.json new.json`` shows the same view. Suites where no
prompt has more than one variant get no comparison at all.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ..case_ids import variant_free_id
from .common import answer_text, reasons
from .records import CaseRecord, RunRecord, Totals, totals
from .sampled import CaseSamples, sampled_cases
from .variants import labels


def p50(values: Sequence[float | None]) -> float | None:
    """The median of the known values; None when none is known."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


@dataclass(frozen=True)
class Cell:
    """One variant's answer to one prompt: a case of one request, a multi-step case (its final
    answer), or a sampled case (its samples together, judged by their rate)."""

    variant: str
    records: tuple[CaseRecord, ...]  # the case's samples, in run order (one without samples)
    samples: CaseSamples | None = None

    @property
    def first(self) -> CaseRecord:
        return self.records[0]

    @property
    def status(self) -> str:
        return self.samples.status if self.samples is not None else self.first.status

    @property
    def failing(self) -> bool:
        return self.status in ("failed", "error")

    @property
    def rate(self) -> str:
        """A sampled case's pass rate (``7/10 passed (70%, 95% CI 40–89%)``), else ''."""
        return self.samples.summary if self.samples is not None else ""

    @property
    def why(self) -> list[str]:
        """Why it is not passing, one line each (a sampled case's in its samples' words)."""
        if self.status in ("passed", "skipped"):
            return []
        return self.samples.reasons() if self.samples is not None else reasons(self.first)

    @property
    def answered(self) -> bool:
        """Whether anything was sent for it (else it has no spend to show: stale, missing, skipped)."""
        return self.first.answer is not None or self.first.judge is not None

    @property
    def answer(self) -> str:
        """The (final) answer as every report shows it; a sampled case's first sample's."""
        return answer_text(self.first.answer)

    @property
    def answer_note(self) -> str:
        return f"sample 1 of {len(self.records)}" if len(self.records) > 1 else ""

    @property
    def steps(self) -> int:
        """Model calls the case took (0 for a case of one request)."""
        return len(self.first.steps)

    @property
    def spend(self) -> Totals:
        """Cost and tokens over its samples, judge calls included."""
        return totals(self.records)

    @property
    def latency_ms(self) -> float | None:
        """The case's latency (summed over its steps); over samples, their median."""
        return p50([r.latency_ms for r in self.records])


@dataclass(frozen=True)
class Row:
    """One prompt: its id without the variant labels, and a cell per variant (None: not run)."""

    id: str
    description: str
    cells: tuple[Cell | None, ...]


@dataclass(frozen=True)
class VariantSummary:
    """A variant over the suite's compared prompts: what a reader weighs one model against another by."""

    variant: str
    passed: int  # cases (a sampled case once, by its samples' verdict)
    judged: int  # cases neither skipped, stale nor missing
    spend: Totals
    p50_latency_ms: float | None  # the median over its cases' requests (every sample counts)

    @property
    def pass_text(self) -> str:
        return f"{self.passed}/{self.judged}"


@dataclass(frozen=True)
class SuiteComparison:
    suite: str
    path: str
    variants: tuple[str, ...]
    rows: tuple[Row, ...]
    summaries: tuple[VariantSummary, ...]


def _summary(variant: str, cells: Sequence[Cell]) -> VariantSummary:
    records = [r for c in cells for r in c.records]
    judged = [c for c in cells if c.status not in ("skipped", "stale", "missing")]
    return VariantSummary(variant, sum(c.status == "passed" for c in judged), len(judged),
                          totals(records), p50([r.latency_ms for r in records]))


def suite_comparison(cases: Sequence[CaseRecord], sampled: dict[str, CaseSamples]) -> SuiteComparison | None:
    """One suite's cases (in run order) as rows of variants; None when no prompt has two."""
    named = labels(cases)
    groups: dict[str, dict[str, list[CaseRecord]]] = {}
    for c in cases:
        free = variant_free_id(c.id, c.model, c.api)
        groups.setdefault(free, {}).setdefault(named[(c.model, c.api)], []).append(c)
    compared = {free: by for free, by in groups.items() if len(by) > 1}
    if not compared:
        return None
    variants = tuple(v for v in dict.fromkeys(named.values()) if any(v in by for by in compared.values()))
    rows = []
    for free, by in compared.items():
        cells = tuple(Cell(v, tuple(by[v]), sampled.get(by[v][0].node_id)) if v in by else None for v in variants)
        first = next(c for c in cells if c is not None).first
        rows.append(Row(free, first.description, cells))
    summaries = tuple(_summary(v, [cell for row in rows if (cell := row.cells[i]) is not None])
                      for i, v in enumerate(variants))
    return SuiteComparison(cases[0].suite, cases[0].suite_path, variants, tuple(rows), summaries)


def comparisons(run: RunRecord, sampled: dict[str, CaseSamples] | None = None) -> list[SuiteComparison]:
    """Each suite of the run that compares variants, in run order. ``sampled``: the run's sampled
    cases (report/sampled.py), when the caller has them already."""
    sampled = sampled_cases(run) if sampled is None else sampled
    found = (suite_comparison(cases, sampled) for cases in run.by_suite().values())
    return [c for c in found if c is not None]
