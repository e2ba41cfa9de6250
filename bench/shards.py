"""How much a CI run gains from shards: one replay of a whole project against N shards and a merge.

    python bench/shards.py bench/out/replay-5000            # 4 shards, 5 rounds
    python bench/shards.py bench/out/replay-5000 --shards 2 --rounds 3

Each round times, in fresh subprocesses and in the same minute (so a busy machine slows all alike):
the unsharded ``harness run`` with a JSON report, each of the N shards with theirs, and ``harness
merge`` of those reports with a JSON report of the whole. In CI the shards run on N machines at once,
so the run's wall time is the slowest shard plus the merge; the sum of the shards is what they cost
in machine time. Medians over the rounds are printed, with every measurement. The project is one that
bench/generate.py wrote (its cassettes replay offline); nothing here opens a socket.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = [sys.executable, "-c", "from harness.cli import entry; entry()"]


def timed(args: list[str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([*HARNESS, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=900, check=False)
    return time.perf_counter() - start, done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path, help="a project bench/generate.py wrote (suites/, cassettes/)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    project = args.project.resolve()
    n = args.shards
    times: dict[str, list[float]] = {"whole": [], "slowest shard": [], "shards summed": [], "merge": [],
                                      "sharded wall (slowest + merge)": []}
    codes: set[int] = set()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        timed(["run", "suites", "-q"], project)  # a warm parse cache, as on every later round
        for _ in range(args.rounds):
            whole, code = timed(["run", "suites", "-q", "--report", f"json={out / 'whole.json'}"], project)
            codes.add(code)
            shards = []
            for k in range(1, n + 1):
                seconds, code = timed(["run", "suites", "-q", "--shard", f"{k}/{n}", "--report",
                                       f"json={out / f'shard-{k}.json'}"], project)
                shards.append(seconds)
                codes.add(code)
            merge, code = timed(["merge", "-q", *[str(out / f"shard-{k}.json") for k in range(1, n + 1)],
                                 "--report", f"json={out / 'merged.json'}"], project)
            codes.add(code)
            for key, value in (("whole", whole), ("slowest shard", max(shards)), ("shards summed", sum(shards)),
                               ("merge", merge), ("sharded wall (slowest + merge)", max(shards) + merge)):
                times[key].append(value)
    print(f"{project.name}, {n} shards, {args.rounds} rounds (exit statuses seen: {sorted(codes)})")
    for key, values in times.items():
        print(f"  {key:32s} median {statistics.median(values):6.2f} s   ({' '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
