"""Does one suite cost the same per case at any size? validate and replay of one suite of N cases.

Usage: python bench/suite_scale.py [N ...] [--repeats R] [--src DIR ...]
       (default: 10000 25000 50000, 3 repeats, the harness this Python imports)

For each N it uses bench/out/rows-N/ (written by bench/data_rows.py's generator on first use: one
suite whose N cases come from a JSON Lines file, with their N cassettes; a suite file may write at
most 10,000 cases itself, so a larger suite takes its cases from data). It then times, in fresh
processes, ``harness validate`` and ``harness run -q``: wall seconds and CPU seconds (user + system,
from the process's rusage: on a shared machine, CPU is what load disturbs least), the median of R
repeats. The marginal ms/case between one N and the next is what one more case costs; a step that
grows faster than the case count shows as a marginal that rises with N.

``--src DIR`` (repeatable) runs the harness found in DIR (a checkout's root) instead, one after
the other for each N and repeat, so that old and new are compared in the same minute.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from data_rows import project  # noqa: E402

RUN = "import sys; sys.path.insert(0, sys.argv[1]); from harness.cli import main; sys.exit(main(sys.argv[2:]))"


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


def timed(src: str, args: list[str], cwd: Path) -> Timing:
    """Wall and CPU seconds of one fresh process running harness from ``src``."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", RUN, src, *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert proc.stderr is not None
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"harness {' '.join(args)} failed in {cwd}: {proc.stderr.read().decode()[-2000:]}")
    return Timing(wall, usage.ru_utime + usage.ru_stime)


def median(timings: list[Timing]) -> Timing:
    return Timing(statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings))


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv if a.isdigit()] or [10_000, 25_000, 50_000]
    repeats = int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else 3
    srcs = [argv[i + 1] for i, a in enumerate(argv) if a == "--src"] or [str(HERE.parent)]
    results: dict[tuple[str, int, str], Timing] = {}
    for n in sizes:
        suite = project(n, True)
        root = suite.parents[1]
        rel = str(suite.relative_to(root))
        for what, args in (("validate", ["validate", rel]), ("run", ["run", rel, "-q"])):
            got: dict[str, list[Timing]] = {src: [] for src in srcs}
            for _ in range(repeats):
                for src in srcs:  # interleaved: old and new see the same load
                    got[src].append(timed(src, args, root))
            for src in srcs:
                results[(src, n, what)] = median(got[src])
    print("| harness | cases | validate wall s | validate CPU s | marginal ms/case | run wall s | run CPU s "
          "| marginal ms/case |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for src in srcs:
        previous: int | None = None
        for n in sizes:
            cells = []
            for what in ("validate", "run"):
                t = results[(src, n, what)]
                if previous is None:
                    marginal = "–"
                else:
                    before = results[(src, previous, what)]
                    marginal = f"{(t.cpu - before.cpu) / (n - previous) * 1e3:.3f}"
                cells += [f"{t.wall:.2f}", f"{t.cpu:.2f}", marginal]
            print(f"| {Path(src).name} | {n:,} | " + " | ".join(cells) + " |", flush=True)
            previous = n
    print(f"\nmedian of {repeats}; marginal ms/case is CPU between one size and the previous")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
