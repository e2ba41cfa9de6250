"""The pytest door next to the CLI: ``pytest suites/ -q`` and ``harness run suites/ -q`` on the same
fresh copy of the same project, cold and warm.

Teams that gate CI on pytest go through the plugin; it must cost about what the CLI costs (the
target is at most 1.5x), on the repository's own example suites and on 1,000 generated cases.

Beside the two doors, pytest's floor: as many empty parametrized tests as the door collected items,
run by the same ``pytest`` with the same plugins in a copy of the same project. It is what any
plugin that makes one pytest item per case pays before doing any work, so the door's own share is
the door's time less the floor's, to be set against the CLI's whole time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from procs import Measured, tool
from projects import ensure_project, fresh_copy, shipped_copy
from replay_rows import ColdWarm, Copies, in_one_copy
from table import NotMeasured, Row

DOOR_SIZE = 1_000
OPT_IN = '\n[tool.pytest.ini_options]\nharness_suites = ["suites"]\n'


@contextmanager
def opted_in_copy(root: Path) -> Iterator[Path]:
    """A fresh copy of a generated project whose pyproject.toml opts its suites into pytest, as the
    repository's own does (the plugin collects only suites the project names, or files named on
    the command line); the CLI reads nothing of it."""
    with fresh_copy(root, root.name) as copy:
        with (copy / "pyproject.toml").open("a") as fh:
            fh.write(OPT_IN)
        yield copy


FLOOR_FILE = "test_harness_bench_floor.py"
FLOOR_TEST = """import pytest


@pytest.mark.parametrize("i", range({n}))
def test_empty(i):
    pass
"""
OUTCOMES = re.compile(r"(\d[\d,]*) (passed|failed|xfailed|xpassed|skipped|errors?)\b")


def items_of(run: Measured) -> int:
    """How many items a pytest run ran, from its summary line ("444 passed, 124 xfailed in ...")."""
    lines = [line for line in run.stdout.splitlines() if OUTCOMES.search(line)]
    return sum(int(count.replace(",", "")) for count, _ in OUTCOMES.findall(lines[-1])) if lines else 0


def floor_copies(copies: Copies, n: int) -> Copies:
    """Fresh copies of the door's project with one more file: ``n`` empty parametrized tests."""
    @contextmanager
    def copy_with_floor() -> Iterator[Path]:
        with copies() as copy:
            (copy / FLOOR_FILE).write_text(FLOOR_TEST.format(n=n))
            yield copy
    return copy_with_floor


@dataclass(frozen=True)
class Door:
    """The CLI and pytest on one project: cold and warm medians, or why one of them failed; and
    pytest's floor for as many items."""

    project: str
    n: int
    cli: ColdWarm | NotMeasured
    pytest: ColdWarm | NotMeasured
    floor: ColdWarm | NotMeasured
    items: int

    def ratio(self, which: str) -> float | NotMeasured:
        """pytest's wall time over the CLI's (``which``: cold or warm)."""
        for got in (self.cli, self.pytest):
            if isinstance(got, NotMeasured):
                return got
        assert isinstance(self.cli, ColdWarm) and isinstance(self.pytest, ColdWarm)
        return float(getattr(self.pytest, which).wall_s / getattr(self.cli, which).wall_s)


@dataclass
class DoorPart:
    doors: list[Door]
    rows: list[Row] = field(default_factory=list)


def _door(project: str, n: int, copies: Copies, expect: int | None, repeats: int) -> Door:
    """The two doors and the floor taken in turn (CLI, pytest, floor, CLI, ...), so that load from
    the other work on the machine falls on all alike; each run in its own fresh copy, then warm in
    that copy. The floor has as many tests as pytest's first run had items."""
    commands = {"cli": [*tool("harness"), "run", "suites/", "-q"], "pytest": [*tool("pytest"), "suites/", "-q"],
                "floor": [*tool("pytest"), FLOOR_FILE, "-q"]}
    runs: dict[str, list[list[Measured]]] = {"cli": [], "pytest": [], "floor": []}
    failed: dict[str, NotMeasured] = {}
    items = 0
    for attempt in range(1, repeats + 1):
        for label, cmd in commands.items():
            if label in failed:
                continue
            if label == "floor":
                if not items:
                    failed[label] = NotMeasured("the door's pytest run reported no items")
                    continue
                got = in_one_copy(floor_copies(copies, items), items, cmd, label=label, attempt=attempt)
            else:
                got = in_one_copy(copies, n, cmd, label=label, attempt=attempt, expect=expect)
            if isinstance(got, NotMeasured):
                failed[label] = got
                continue
            runs[label].append(got)
            if label == "pytest" and not items:
                items = items_of(got[0])

    def both(label: str) -> ColdWarm | NotMeasured:
        if label in failed:
            return failed[label]
        return ColdWarm.of(n, [r[0] for r in runs[label]], [r[1] for r in runs[label]])

    return Door(project, n, both("cli"), both("pytest"), both("floor"), items)


def _floor_rows(door: Door, repeats: int) -> list[Row]:
    """pytest's floor for the door's items, and the door's own share beside it (door - floor)."""
    rows = []
    for which in ("cold", "warm"):
        what = f"door: pytest floor: {door.items:,} empty tests, {door.project}, {which.upper()} (median of {repeats})"
        if isinstance(door.floor, NotMeasured):
            rows.append(door.floor.row(what, door.items))
            continue
        floor = getattr(door.floor, which)
        notes = [f"CPU {floor.cpu_s:.2f} s", f"first run {floor.first_s:.2f} s"]
        if isinstance(door.pytest, ColdWarm) and isinstance(door.cli, ColdWarm):
            mine, cli = getattr(door.pytest, which), getattr(door.cli, which)
            notes.append(f"harness's share (door - floor): {mine.wall_s - floor.wall_s:.2f} s, CPU "
                         f"{mine.cpu_s - floor.cpu_s:.2f} s; the CLI: {cli.wall_s:.2f} s, CPU {cli.cpu_s:.2f} s")
        rows.append(Row(what, door.items, floor.wall_s, floor.rss_mb, "; ".join(notes)))
    return rows


def door_part(repeats: int) -> DoorPart:
    """The shipped suites (their pass count is whatever they pass today: both doors must agree on
    it), then the 1,000-case generated project (all must pass); ``repeats`` fresh copies each."""
    generated = ensure_project("replay", DOOR_SIZE)
    part = DoorPart([_door("shipped suites", 0, lambda: shipped_copy("shipped"), 0, repeats),
                     _door(f"generated {DOOR_SIZE:,}", DOOR_SIZE, lambda: opted_in_copy(generated), None, repeats)])
    for door in part.doors:
        agree = (isinstance(door.cli, ColdWarm) and isinstance(door.pytest, ColdWarm)
                 and door.cli.passed == door.pytest.passed)
        for name, got in (("`harness run suites/ -q`", door.cli), ("`pytest suites/ -q`", door.pytest)):
            for which in ("cold", "warm"):
                what = f"door: {name}, {door.project}, {which.upper()} (median of {repeats})"
                if isinstance(got, NotMeasured):
                    part.rows.append(got.row(what, door.n))
                    continue
                timing = getattr(got, which)
                notes = [f"{got.passed} passed", f"CPU {timing.cpu_s:.2f} s",
                         f"first run {timing.first_s:.2f} s"]
                ratio = door.ratio(which)
                if name.startswith("`pytest") and isinstance(ratio, float):
                    notes.append(f"**{ratio:.2f}x the CLI**")
                    if not agree:
                        notes.append("passed count differs from the CLI's")
                part.rows.append(Row(what, door.n or got.passed, timing.wall_s, timing.rss_mb, "; ".join(notes)))
        part.rows += _floor_rows(door, repeats)
    return part
