"""The benchmark's output: rows of measurements, target verdicts, and the Markdown they become.

A target that this invocation could not measure says so, with why, and is never a PASS: a number
from elsewhere (an old run, a note) must not stand in for one measured here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

RESULTS_START = "<!-- bench:results:start -->"
RESULTS_END = "<!-- bench:results:end -->"


@dataclass
class Row:
    """One line of the results table; ``wall_s`` None when nothing was measured (notes say why)."""

    what: str
    n: int
    wall_s: float | None
    rss_mb: float | None
    notes: str = ""


@dataclass(frozen=True)
class NotMeasured:
    """Why a part of the benchmark has no number in this invocation."""

    reason: str

    def row(self, what: str, n: int) -> Row:
        return Row(what, n, None, None, f"NOT MEASURED: {self.reason}")


@dataclass(frozen=True)
class Target:
    """One goal and its verdict: PASS, MISS, or NOT MEASURED with the reason."""

    name: str
    measured: str
    passed: bool | None
    missing: str = ""  # why it was not measured, when passed is None

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return f"NOT MEASURED: {self.missing or 'not run'}"
        return "PASS" if self.passed else "MISS"

    @classmethod
    def not_measured(cls, name: str, why: str) -> Target:
        return cls(name, "-", None, why)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def markdown(rows: Sequence[Row], found: Sequence[Target], header: str) -> str:
    lines = [header, "",
             "| measurement | cases | wall s | peak RSS MB | notes |", "|---|---:|---:|---:|---|"]
    lines += [f"| {r.what} | {f'{r.n:,}' if r.n else '-'} | {_num(r.wall_s, '.2f')} | {_num(r.rss_mb, '.0f')} | {r.notes} |"
              for r in rows]
    lines += ["", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t.name} | {t.measured} | **{t.verdict}** |" for t in found]
    return "\n".join(lines) + "\n"


def write_between_markers(path: Path, table: str) -> None:
    """Replace the results section of a README (between its two markers), keeping the rest."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{RESULTS_START}\n{RESULTS_END}\n"
    if RESULTS_START not in text or RESULTS_END not in text:
        text += f"\n## Latest results\n\n{RESULTS_START}\n{RESULTS_END}\n"
    head, rest = text.split(RESULTS_START, 1)
    _old, tail = rest.split(RESULTS_END, 1)
    path.write_text(f"{head}{RESULTS_START}\n{table}{RESULTS_END}{tail}")
