"""The pytest door next to the CLI on the same cases: cold and warm wall and CPU seconds.

    python bench/door.py                                   # the shipped suites (suites/)
    python bench/door.py --project bench/out/replay-1000 --suites suites/bench1000.yaml
    python bench/door.py --against /tmp/old-checkout       # the same, with another checkout's code too

Each variant (this checkout's code, and with ``--against`` another checkout's, put first on
PYTHONPATH) runs in its own copy of the project, so their parse caches stay apart. Each repeat runs
every variant cold (no ``.harness/`` parse cache) then warm, interleaved, so a busy machine slows
old and new alike; the table gives the median of the repeats. The package is compiled to bytecode
first, as pip does when it installs, and runs with PYTHONDONTWRITEBYTECODE=1, so pytest keeps no
bytecode of the modules it rewrites, as in a fresh CI job. CPU seconds (user + system of the
process and its children) are less noisy than wall seconds on a shared machine.
Commands: ``pytest SUITES -q -p no:cacheprovider`` and ``harness run SUITES -q``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SKIP = shutil.ignore_patterns(".git", ".venv", ".harness", "out", "__pycache__", "*.egg-info", "tests", "docs")


@dataclass(frozen=True)
class Variant:
    label: str
    code: Path  # a folder holding the harness package that runs
    project: Path  # this variant's own copy of the project


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float
    code: int


def timed(command: list[str], variant: Variant) -> Timing:
    env = {**os.environ, "PYTHONPATH": str(variant.code), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    with subprocess.Popen(command, cwd=variant.project, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as proc:
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Timing(time.perf_counter() - started, usage.ru_utime + usage.ru_stime, proc.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--suites", default="suites/")
    parser.add_argument("--against", type=Path, help="another checkout of harness to compare with")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="harness-door-bench-"))
    codes = [("new", ROOT)] + ([("old", args.against.resolve())] if args.against else [])
    variants = []
    for label, code in codes:
        # Only the package is put on PYTHONPATH: an ``*.egg-info`` beside it would make pytest
        # rewrite the asserts of every harness module for one variant and not the other.
        shutil.copytree(code / "harness", work / f"{label}-code" / "harness", ignore=SKIP)
        compileall.compile_dir(work / f"{label}-code", quiet=1)  # as pip does at install time
        shutil.copytree(args.project.resolve(), work / label, ignore=SKIP)
        variants.append(Variant(label, work / f"{label}-code", work / label))
    commands = {"pytest": [str(BIN / "pytest"), args.suites, "-q", "-p", "no:cacheprovider"],
                "cli": [str(BIN / "harness"), "run", args.suites, "-q"]}
    runs: dict[tuple[str, str, str], list[Timing]] = {}
    for _ in range(args.repeat):
        for variant in variants:
            for door, command in commands.items():
                shutil.rmtree(variant.project / ".harness", ignore_errors=True)
                for state in ("cold", "warm"):
                    runs.setdefault((variant.label, door, state), []).append(timed(command, variant))
    print(f"{args.project} {args.suites}, median of {args.repeat}")
    print("| code | door | cold wall s | cold CPU s | warm wall s | warm CPU s | exit codes |")
    print("|---|---|---|---|---|---|---|")
    for variant in variants:
        for door in commands:
            cold, warm = runs[(variant.label, door, "cold")], runs[(variant.label, door, "warm")]
            codes_seen = sorted({t.code for t in cold + warm})
            print(f"| {variant.label} | {door} | {statistics.median(t.wall for t in cold):.2f} | "
                  f"{statistics.median(t.cpu for t in cold):.2f} | {statistics.median(t.wall for t in warm):.2f} | "
                  f"{statistics.median(t.cpu for t in warm):.2f} | {codes_seen} |")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
