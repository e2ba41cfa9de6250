"""A sharded run as a 4-machine CI matrix sees it, against one job on one machine.

Each shard (``harness run SUITE -q --shard K/4 --report json=PK``) runs cold in its own fresh copy,
as each machine of the matrix would, one after another so they do not share the 2 cores; then
``harness merge P1 P2 P3 P4 --report json=OUT``. The matrix waits for its slowest shard plus the
merge. The merged exit status must equal the one job's: a gate that changes with sharding is wrong.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from procs import CI_ENV, OUT, Measured, child_env, measure, say, tool
from projects import ensure_project, fresh_copy, suite_of
from replay_rows import passed_of
from table import NotMeasured, Row

SHARD_SIZE = 5_000
SHARDS = 4
REPORTS = OUT / "shards"


def shard_support() -> NotMeasured | None:
    """None when this harness has ``run --shard`` and ``merge``; else why the part cannot run."""
    helps = [measure([*tool("harness"), *args, "--help"], cwd=OUT, timeout=60, log=f"help-{args[-1]}")
             for args in (["run"], ["merge"])]
    if "--shard" not in helps[0].stdout:
        return NotMeasured("harness has no --shard")
    if not helps[1].ok:
        return NotMeasured("harness has no merge command")
    return None


@dataclass
class ShardPart:
    """The one job, each shard, the merge; or why they were not measured."""

    single: Measured | NotMeasured
    shards: list[Measured] = field(default_factory=list)
    merge: Measured | None = None
    rows: list[Row] = field(default_factory=list)

    @property
    def matrix_s(self) -> float | None:
        """What the matrix waits for: the slowest shard, then the merge."""
        if not self.shards or self.merge is None:
            return None
        return max(s.wall_s for s in self.shards) + self.merge.wall_s


def _run_in_copy(extra: list[str], report: str, log: str) -> Measured:
    root = ensure_project("replay", SHARD_SIZE)
    with fresh_copy(root, log) as copy:
        say(f"shards: {log}")
        run = measure([*tool("harness"), "run", suite_of(SHARD_SIZE), "-q", *extra, "--report", "json=report.json"],
                      cwd=copy, timeout=120 + SHARD_SIZE * 0.05, env=child_env(**CI_ENV), log=log)
        if (copy / "report.json").exists():
            shutil.copy2(copy / "report.json", REPORTS / report)
    return run


def shard_part() -> ShardPart:
    missing = shard_support()
    what = f"{SHARDS} shards + merge vs one job, cold"
    if missing is not None:
        return ShardPart(missing, rows=[missing.row(what, SHARD_SIZE)])
    shutil.rmtree(REPORTS, ignore_errors=True)
    REPORTS.mkdir(parents=True)
    single = _run_in_copy([], "single.json", "shards-single")
    part = ShardPart(single)
    part.rows.append(Row("one job: `harness run -q --report json=...`, COLD", SHARD_SIZE, single.wall_s,
                         single.rss_mb, f"exit {single.code}; {passed_of(single)} passed; CPU {single.cpu_s:.2f} s"))
    for k in range(1, SHARDS + 1):
        run = _run_in_copy(["--shard", f"{k}/{SHARDS}"], f"p{k}.json", f"shards-{k}-of-{SHARDS}")
        part.shards.append(run)
        part.rows.append(Row(f"shard {k}/{SHARDS}: `harness run -q --shard {k}/{SHARDS} --report json=...`, COLD",
                             SHARD_SIZE, run.wall_s, run.rss_mb,
                             f"exit {run.code}; {passed_of(run)} passed; CPU {run.cpu_s:.2f} s"))
    reports = [REPORTS / f"p{k}.json" for k in range(1, SHARDS + 1)]
    say("shards: merge")
    merge = measure([*tool("harness"), "merge", *reports, "--report", f"json={REPORTS / 'merged.json'}"],
                    cwd=REPORTS, timeout=300, log="shards-merge")
    part.merge = merge
    notes = [f"exit {merge.code} (one job: exit {single.code}"
             + (", same)" if merge.code == single.code else ", DIFFERENT)"),
             f"shards passed {sum(passed_of(s) for s in part.shards)} in all (one job: {passed_of(single)})"]
    if part.matrix_s is not None and isinstance(single, Measured):
        notes.append(f"slowest shard + merge {part.matrix_s:.2f} s vs one job {single.wall_s:.2f} s: "
                     f"**{single.wall_s / part.matrix_s:.2f}x faster**")
    part.rows.append(Row(f"`harness merge` of the {SHARDS} shard reports", SHARD_SIZE, merge.wall_s, merge.rss_mb,
                         "; ".join(notes)))
    return part
