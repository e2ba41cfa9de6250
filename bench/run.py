"""Benchmarks for harness as CI sees it: cold and warm replay, the pytest door, one 50,000-case suite,
a sharded run, live recording, and promptfoo on the same cases, in one invocation.

    python bench/run.py                      # everything (tens of minutes on 2 cores), writes bench/README.md
    python bench/run.py --quick              # cold/warm 100 and 1,000, the pytest door, live 1,000 (~1 minute)
    python bench/run.py --only cold,promptfoo  # just those parts (results go to bench/out/results.md)

Parts: cold (one case, then 1,000 / 5,000 / 10,000 cold and warm), promptfoo, pytest, scale, shards,
live. Every measured command runs in a fresh subprocess with a timeout, every request goes to
127.0.0.1. See bench/README.md for what each number means and the targets.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from door_rows import door_part
from live_rows import live_part
from procs import BENCH, OUT, say
from promptfoo_rows import NODE_BIN, node_version, promptfoo_part, promptfoo_version
from replay_rows import replay_part, scale_part
from shard_rows import shard_part
from table import Row, markdown, write_between_markers
from verdicts import Parts, targets

PARTS = ("cold", "promptfoo", "pytest", "scale", "shards", "live")  # the table's order
#: The order the parts run in: live first. Recording is the one measured part that creates files
#: by the thousand (cassettes, temp and lock files), and on an ext4 file system without a journal
#: (this machine's) creating a file skips, one by one, every inode freed in the last minutes: run
#: after the other parts, which remove thousands of fresh copies, recording paid up to ~2 ms of
#: system time per case for the bench's own clean-up (README.md, "Run it").
RUN_ORDER = ("live", "cold", "promptfoo", "pytest", "scale", "shards")
QUICK_PARTS = ("cold", "pytest", "live")
REPLAY_SIZES = (1_000, 5_000, 10_000)
QUICK_REPLAY_SIZES = (100, 1_000)
LIVE_SIZES = (1_000, 5_000)
QUICK_LIVE_SIZES = (1_000,)
README = BENCH / "README.md"


def machine() -> str:
    """What the numbers were measured on."""
    from harness import __version__

    node = node_version()
    return (f"{os.cpu_count()} cores (nproc), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, harness {__version__}, "
            f"Node {'.'.join(map(str, node)) if node else 'n/a'} (bench/out), "
            f"promptfoo {promptfoo_version()}; load average {os.getloadavg()[0]:.1f} at the start; "
            f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")


def chosen_parts(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The parts to run and, for each other part, why it is left out."""
    if args.only:
        wanted = [p.strip() for p in args.only.split(",") if p.strip()]
        unknown = sorted(set(wanted) - set(PARTS))
        if unknown:
            raise SystemExit(f"--only: unknown part(s) {', '.join(unknown)}; parts are {', '.join(PARTS)}")
        why = "not in --only"
    else:
        wanted = list(QUICK_PARTS if args.quick else PARTS)
        why = "not run in --quick (ask with --only)"
    if args.skip_promptfoo and "promptfoo" in wanted:
        wanted.remove("promptfoo")
    skipped = {p: ("--skip-promptfoo" if p == "promptfoo" and args.skip_promptfoo else why)
               for p in PARTS if p not in wanted}
    return [p for p in RUN_ORDER if p in wanted], skipped


def _compile_harness() -> None:
    """Byte-compile harness's sources first, as pip does when it installs a wheel: an editable
    checkout run with PYTHONDONTWRITEBYTECODE=1 (set on some machines and CI images) would compile
    every changed module again in every measured process, which no installed copy does."""
    import harness

    compileall.compile_dir(Path(harness.__file__).parent, quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes (replay 100 and 1,000, live 1,000) and only cold, pytest, live "
                             "unless --only says otherwise; results go to bench/out/quick-results.md")
    parser.add_argument("--only", metavar="PARTS", help=f"comma-separated parts to run: {','.join(PARTS)}")
    parser.add_argument("--skip-promptfoo", action="store_true", help="do not install or run promptfoo")
    args = parser.parse_args(argv)
    run, skipped = chosen_parts(args)
    OUT.mkdir(parents=True, exist_ok=True)
    _compile_harness()
    header = f"Machine: {machine()}. Mode: {'quick' if args.quick else 'full'}; parts: {', '.join(run)}."
    parts = Parts(skipped=skipped)
    part_rows: dict[str, list[Row]] = {}
    for name in run:
        rows = part_rows.setdefault(name, [])
        say(f"part: {name}")
        if name == "cold":
            parts.replay = replay_part(QUICK_REPLAY_SIZES if args.quick else REPLAY_SIZES)
            rows += parts.replay.rows
        elif name == "promptfoo":
            parts.promptfoo = promptfoo_part()
            rows += parts.promptfoo.rows
        elif name == "pytest":
            parts.door = door_part(1 if args.quick else 3)
            rows += parts.door.rows
        elif name == "scale":
            parts.scale = scale_part()
            rows += parts.scale.rows
        elif name == "shards":
            parts.shards = shard_part()
            rows += parts.shards.rows
        elif name == "live":
            parts.live = live_part(QUICK_LIVE_SIZES if args.quick else LIVE_SIZES, NODE_BIN)
            rows += parts.live.rows
    rows = [row for name in PARTS for row in part_rows.get(name, [])]
    rows += [Row(f"{name} (part)", 0, None, None, f"NOT MEASURED: {why}") for name, why in skipped.items()]
    table = markdown(rows, targets(parts), header)
    print(table)
    if args.quick:
        target = OUT / "quick-results.md"
        target.write_text(table)
    elif skipped:
        target = OUT / "results.md"  # a partial run never replaces the README's complete results
        target.write_text(table)
    else:
        target = README
        write_between_markers(README, table)
    say(f"results written to {target.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
