"""The pytest door next to the CLI: ``pytest suites/ -q`` and ``harness run suites/ -q`` on the same
fresh copy of the same project, cold and warm.

Teams that gate CI on pytest go through the plugin; it must cost about what the CLI costs (the
target is at most 1.5x), on the repository's own example suites and on 1,000 generated cases.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Door:
    """The CLI and pytest on one project: cold and warm medians, or why one of them failed."""

    project: str
    n: int
    cli: ColdWarm | NotMeasured
    pytest: ColdWarm | NotMeasured

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
    """The two doors taken in turn (CLI, pytest, CLI, ...), so that load from the other work on the
    machine falls on both alike; each run in its own fresh copy, then warm in that copy."""
    commands = {"cli": [*tool("harness"), "run", "suites/", "-q"], "pytest": [*tool("pytest"), "suites/", "-q"]}
    runs: dict[str, list[list[Measured]]] = {"cli": [], "pytest": []}
    failed: dict[str, NotMeasured] = {}
    for attempt in range(1, repeats + 1):
        for label, cmd in commands.items():
            if label in failed:
                continue
            got = in_one_copy(copies, n, cmd, label=label, attempt=attempt, expect=expect)
            if isinstance(got, NotMeasured):
                failed[label] = got
            else:
                runs[label].append(got)

    def both(label: str) -> ColdWarm | NotMeasured:
        if label in failed:
            return failed[label]
        return ColdWarm.of(n, [r[0] for r in runs[label]], [r[1] for r in runs[label]])

    return Door(project, n, both("cli"), both("pytest"))


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
    return part
