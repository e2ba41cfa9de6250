"""Replay as CI sees it: cold (a fresh copy, no ``.harness/`` cache) and warm (the second run in the
same copy), at 1 to 10,000 cases; and one 50,000-case suite, validated and run cold, against 1,000.

Cold is what every CI job pays: a checkout has no parse cache. Warm is a developer's second run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from procs import CI_ENV, Measured, Timing, child_env, measure, say, tool
from projects import cache_cleared, ensure_project, fresh_copy, suite_of
from table import NotMeasured, Row

ONE_CASE_REPEATS = 5
REPLAY_REPEATS = 3
SCALE_SIZE = 50_000
SCALE_BASE = 1_000


def passed_of(run: Measured) -> int:
    """Cases passed, from harness's (or pytest's) summary line: "N passed"."""
    found = re.findall(r"(\d[\d,]*) passed", run.stdout)
    return int(found[-1].replace(",", "")) if found else 0


@dataclass(frozen=True)
class ColdWarm:
    """One command's cold runs (each in a fresh copy) and warm runs (the second in that copy)."""

    n: int
    cold: Timing
    warm: Timing
    passed: int  # as the last run's summary line says

    @classmethod
    def of(cls, n: int, colds: Sequence[Measured], warms: Sequence[Measured]) -> ColdWarm:
        return cls(n, Timing.of(colds), Timing.of(warms or colds), passed_of((warms or colds)[-1]))


Copies = Callable[[], AbstractContextManager[Path]]


def copies_of(kind: str, n: int) -> Copies:
    """Fresh copies of the generated project ``kind-n`` (generated first if missing)."""
    root = ensure_project(kind, n)
    return lambda: fresh_copy(root, f"{kind}-{n}")


def in_one_copy(copies: Copies, n: int, cmd: Sequence[str], *, label: str, attempt: int, warm: bool = True,
                expect: int | None = None) -> list[Measured] | NotMeasured:
    """``cmd`` in a fresh copy (cold, as a CI job), then, if ``warm``, twice more in the same copy
    (as a developer: the first writes the parse cache, the second, measured, reads it).

    A run counts only if it exits 0 with ``expect`` (default n; 0: not checked) cases passed.
    """
    want = n if expect is None else expect
    runs: list[Measured] = []
    with copies() as copy:
        for which in ("cold", "prime", "warm")[: 3 if warm else 1]:
            say(f"{label} {copy.name}: {which} {attempt}")
            # Cold is a CI job's run (CI=true: it writes no cache); a developer's first run (not
            # measured) writes the cache, and the warm run after it reads it.
            env = child_env(**CI_ENV) if which == "cold" else child_env()
            run = measure(cmd, cwd=copy, timeout=120 + n * 0.05, env=env,
                          log=f"{label}-{copy.name}-{which}-{attempt}")
            if which == "prime":
                continue
            passed = passed_of(run)
            if not run.ok or (want and passed != want):
                return NotMeasured(f"{label}: {which} run {attempt} failed ({passed}/{want} passed): {run.why()}")
            runs.append(run)
    return runs


def cold_warm(copies: Copies, n: int, cmd: Sequence[str], repeats: int, *, label: str, warm: bool = True,
              expect: int | None = None) -> ColdWarm | NotMeasured:
    """``cmd`` in ``repeats`` fresh copies, cold and (if ``warm``) warm: the medians."""
    colds: list[Measured] = []
    warms: list[Measured] = []
    for i in range(repeats):
        got = in_one_copy(copies, n, cmd, label=label, attempt=i + 1, warm=warm, expect=expect)
        if isinstance(got, NotMeasured):
            return got
        colds.append(got[0])
        warms.extend(got[1:])
    return ColdWarm.of(n, colds, warms)


def marginal_ms(big: Timing, small: Timing, n_big: int, n_small: int, *, cpu: bool = False) -> float:
    """The cost of one more case: the wall-time (or CPU-time) difference over the case-count difference."""
    if cpu:
        return (big.cpu_s - small.cpu_s) / (n_big - n_small) * 1000
    return (big.wall_s - small.wall_s) / (n_big - n_small) * 1000


@dataclass(frozen=True)
class Marginal:
    """Marginal ms/case over a smaller span (``base``) and a larger one (``scale``), in wall and CPU time.

    Linearity is judged on CPU time: replay is single-threaded CPU work, and on a shared machine
    a wall-time difference also carries whatever else ran in that minute (a noisy one-case run can
    make a wall-time marginal negative). Wall time is shown beside it.
    """

    wall_base: float
    wall_scale: float
    cpu_base: float
    cpu_scale: float

    @classmethod
    def between(cls, one: Timing, base: Timing, big: Timing, n_base: int, n_big: int, *,
                from_base: bool) -> Marginal:
        """Up to ``base`` from one case; then up to ``big`` from ``base`` (or from one case)."""
        start, n_start = (base, n_base) if from_base else (one, 1)
        return cls(marginal_ms(base, one, n_base, 1), marginal_ms(big, start, n_big, n_start),
                   marginal_ms(base, one, n_base, 1, cpu=True), marginal_ms(big, start, n_big, n_start, cpu=True))

    @property
    def ratio(self) -> float | None:
        """CPU marginal at scale over at base; None when the base is not above zero (noise)."""
        return self.cpu_scale / self.cpu_base if self.cpu_base > 0 else None

    def shown(self) -> str:
        return (f"CPU {self.cpu_base:.3f} -> {self.cpu_scale:.3f} ms/case"
                + (f": {self.ratio:.2f}x" if self.ratio is not None else "")
                + f" (wall {self.wall_base:.3f} -> {self.wall_scale:.3f})")


def _notes(t: Timing, n: int, extra: Sequence[str] = ()) -> str:
    notes = [f"{n / t.wall_s:,.0f} cases/s", f"{t.wall_s / n * 1000:.3f} ms/case", *extra]
    if t.runs > 1:
        differs = abs(t.first_s - t.wall_s) > 0.1 * t.wall_s
        notes.append(f"first run {t.first_s:.2f} s" + (" (differs)" if differs else " (same)"))
    return "; ".join(notes)


@dataclass
class ReplayPart:
    """Cold and warm replay at each size, and the one-case run that sets the fixed cost."""

    one: ColdWarm | NotMeasured
    sizes: dict[int, ColdWarm | NotMeasured]
    rows: list[Row] = field(default_factory=list)

    def marginal(self, n: int, which: str, *, cpu: bool = False) -> float | None:
        """Marginal ms/case at n (``which``: cold or warm), from the one-case run."""
        got, one = self.sizes.get(n), self.one
        if not isinstance(got, ColdWarm) or not isinstance(one, ColdWarm):
            return None
        return marginal_ms(getattr(got, which), getattr(one, which), n, 1, cpu=cpu)

    def flatness(self, small: int, big: int) -> Marginal | None:
        """Cold marginal ms/case at ``small`` and at ``big``, both from the one-case run."""
        got_small, got_big, one = self.sizes.get(small), self.sizes.get(big), self.one
        if not all(isinstance(g, ColdWarm) for g in (got_small, got_big, one)):
            return None
        assert isinstance(got_small, ColdWarm) and isinstance(got_big, ColdWarm) and isinstance(one, ColdWarm)
        return Marginal.between(one.cold, got_small.cold, got_big.cold, small, big, from_base=False)


def replay_part(sizes: Sequence[int]) -> ReplayPart:
    """The one-case run (median of 5), then each size cold and warm (median of 3)."""
    cmd = [*tool("harness"), "run"]
    one = cold_warm(copies_of("replay", 1), 1, [*cmd, suite_of(1), "-q"], ONE_CASE_REPEATS, label="run")
    part = ReplayPart(one, {n: cold_warm(copies_of("replay", n), n, [*cmd, suite_of(n), "-q"], REPLAY_REPEATS,
                                         label="run") for n in sizes})
    for n, got in [(1, one), *part.sizes.items()]:
        what = "one-case run" if n == 1 else "replay `harness run -q`"
        reps = ONE_CASE_REPEATS if n == 1 else REPLAY_REPEATS
        if isinstance(got, NotMeasured):
            part.rows.append(got.row(f"{what}, cold and warm", n))
            continue
        for which in ("cold", "warm"):
            timing: Timing = getattr(got, which)
            marginal = part.marginal(n, which) if n > 1 else None
            cpu = part.marginal(n, which, cpu=True) if n > 1 else None
            extra = [f"CPU {timing.cpu_s:.2f} s"] + ([f"marginal {marginal:.3f} ms/case (CPU {cpu:.3f})"]
                                                     if marginal is not None and cpu is not None else [])
            where = "fresh copy, no .harness/" if which == "cold" else "second run in the same copy"
            part.rows.append(Row(f"{what}, {which.upper()} ({where}; median of {reps})", n, timing.wall_s,
                                 timing.rss_mb, _notes(timing, n, extra)))
    return part


@dataclass
class ScalePart:
    """One suite of SCALE_SIZE cases against SCALE_BASE, both cold: validate and run."""

    marginal: dict[str, Marginal | NotMeasured]  # by command: validate, run
    rows: list[Row] = field(default_factory=list)


def scale_part() -> ScalePart:
    """``harness validate`` and ``harness run -q`` cold on rows-1, rows-1,000 (median of 7) and
    rows-50,000 (one run each: it takes minutes), cases from a data file (a suite file may write
    out at most 10,000 cases; from data it may hold 100,000). Cold here means without
    ``.harness/``, in the generated project itself (no copy), at every size alike."""
    part = ScalePart({})
    for command in ("validate", "run"):
        runs: dict[int, ColdWarm | NotMeasured] = {}
        # Median of 7 at the small sizes: the marginal cost up to 1,000 is a ~50 ms difference
        # between two short runs, which a few ms of noise in either moved by a fifth (median of 3).
        for n, repeats in ((1, 7), (SCALE_BASE, 7), (SCALE_SIZE, 1)):
            args = [*tool("harness"), command, suite_of(n)] + (["-q"] if command == "run" else [])
            root = ensure_project("rows", n)
            runs[n] = cold_warm(partial(cache_cleared, root), n, args, repeats, label=command, warm=False,
                                expect=None if command == "run" else 0)
        one, base, big = runs[1], runs[SCALE_BASE], runs[SCALE_SIZE]
        for n, got in runs.items():
            what = f"scale: `harness {command}`, cases from data, COLD" + (" (one run)" if n == SCALE_SIZE else
                                                                           " (median of 7)")
            if isinstance(got, NotMeasured):
                part.rows.append(got.row(what, n))
            else:
                part.rows.append(Row(what, n, got.cold.wall_s, got.cold.rss_mb,
                                     _notes(got.cold, n, [f"CPU {got.cold.cpu_s:.2f} s"])))
        if isinstance(one, ColdWarm) and isinstance(base, ColdWarm) and isinstance(big, ColdWarm):
            marginal = Marginal.between(one.cold, base.cold, big.cold, SCALE_BASE, SCALE_SIZE, from_base=True)
            part.marginal[command] = marginal
            part.rows[-1].notes += f"; marginal to 1,000 -> beyond: {marginal.shown()}"
        else:
            failed = next(g for g in (one, base, big) if isinstance(g, NotMeasured))
            assert isinstance(failed, NotMeasured)
            part.marginal[command] = failed
    return part
