"""How a suite of cases from a JSON Lines file scales: load, plan and replay at N rows.

Usage: python bench/data_rows.py [N ...] [--no-replay]   (default: 5000 10000 50000)

For each N it writes bench/out/rows-N/: data/rows.jsonl (N rows: an id, a question, the expected
answer), a suite reading it with one templated check (``contains: "{{ expected }}"``, rendered
per case) and one plain check (bound once), and unless --no-replay the N cassettes (written by
bench/generate.py's writer from the loopback fake's answers). It then times, in fresh processes:
``load`` (harness.load_suite: reading, filtering and expanding the rows), ``validate`` (load plus
rendering every request and binding every check) and ``replay`` (``harness run -q``), with each
process's peak RSS. A loader that is linear costs about the same per row at every N.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import write_cassettes  # noqa: E402

SUITE = """\
name: rows{n}
model: gpt-4o
temperature: 0
max_tokens: 64
prompt: "{{{{ q }}}}"
checks:
  - contains: "{{{{ expected }}}}"
  - regex: "question \\\\d+"
cases_from: ../data/rows.jsonl
"""

LOAD = "import sys, harness; print(len(harness.load_suite(sys.argv[1]).cases))"


def project(n: int, cassettes: bool) -> Path:
    root = HERE / "out" / f"rows-{n}"
    suite = root / "suites" / f"rows{n}.yaml"
    done = root / ("done-cassettes" if cassettes else "done")
    if done.exists():
        return suite
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "suites").mkdir(exist_ok=True)
    (root / "cassettes").mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'rows'\n")
    with (root / "data" / "rows.jsonl").open("w") as fh:
        for i in range(n):
            question = f"Answer question {i} about topic {i % 97}."
            fh.write(json.dumps({"id": f"r{i:06d}", "q": question, "expected": f"Echo: {question}"}) + "\n")
    suite.write_text(SUITE.format(n=n))
    if cassettes:
        os.chdir(root)
        write_cassettes(suite.relative_to(root))
    done.touch()
    return suite


def timed(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one fresh process, and its last output line."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss / 1024, (out.strip().splitlines() or [""])[-1]


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv if a.isdigit()] or [5_000, 10_000, 50_000]
    replay = "--no-replay" not in argv
    print("| rows | load s | load µs/row | validate s | replay s | replay ms/row | peak RSS MB (replay) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        suite = project(n, replay)
        root = suite.parents[1]
        rel = str(suite.relative_to(root))
        load, _, count = timed([sys.executable, "-c", LOAD, rel], root)
        assert count == str(n), count
        validate, _, _ = timed([sys.executable, "-m", "harness.cli", "validate", rel], root)
        run, rss = (timed([sys.executable, "-m", "harness.cli", "run", rel, "-q"], root)[:2]
                    if replay else (float("nan"), float("nan")))
        print(f"| {n:,} | {load:.2f} | {load / n * 1e6:.0f} | {validate:.2f} | {run:.2f} | "
              f"{run / n * 1e3:.2f} | {rss:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
