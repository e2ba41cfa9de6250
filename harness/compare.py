"""``harness diff``: the view of a pull request — what the suites and cassettes at a git ref say,
next to what the working tree says.

The base is replayed, not parsed: its suites and cassettes are extracted with ``git archive`` into
a temporary folder (the working tree, the index and HEAD are never touched) and run there with
``harness run`` in a child process, which writes a JSON report. A child process because each side
must import its own ``python:`` check modules (sys.modules would hand the second side the first
side's module) and resolve its own relative paths. The working tree is replayed here, in process,
down the same road. Both sides then meet as records: the same code compares two saved reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from .cassettes import prefetch
from .diff import DiffOptions
from .diff_steps import case_change
from .errors import HarnessError, UserError
from .report import diff_samples, json_report
from .report.records import CaseRecord, Comparison, RunRecord, from_results
from .runner import RunOptions, collect, execute, plan, select_cases

WORKING_TREE = "working tree"


# ---------------------------------------------------------------- git


def _git(args: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UserError("harness diff --base needs git on PATH") from None
    if proc.returncode != 0:
        raise UserError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def repo_location(cwd: Path | None = None) -> tuple[Path, str]:
    """(the repository's top folder, the current folder's path inside it, '' or 'a/b/')."""
    cwd = cwd or Path.cwd()
    try:
        top = _git(["rev-parse", "--show-toplevel"], cwd).strip()
    except UserError:
        raise UserError(f"{cwd} is not inside a git repository (harness diff --base reads the base "
                        "with git)") from None
    return Path(top), _git(["rev-parse", "--show-prefix"], cwd).strip()


def materialize(ref: str, dest: Path, *, cwd: Path | None = None) -> Path:
    """Extract the tree of ``ref`` into ``dest``; return the folder matching the current one.

    The whole tree, not only suites/ and cassettes/: suites import check modules from anywhere in
    the project, and ``cassette_dir`` may point outside the suite folder.
    """
    top, prefix = repo_location(cwd)
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top).strip() if ref else ""
    except UserError:
        commit = ""
    if not commit:
        raise UserError(f"unknown git ref {ref!r} (try origin/main, HEAD~1 or a commit id)")
    proc = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=top,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            tar.extractall(dest, filter="data")
        # tarfile stops at the end-of-archive marker, but git archive pads its output beyond it:
        # closing the pipe before git has written the padding kills git with SIGPIPE, and whether
        # it had finished first is a race (a busy machine lost it, and the diff failed).
        while proc.stdout.read(1 << 16):
            pass
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise UserError(f"git archive {ref} failed: {err.strip()}")
    return dest / prefix


# ---------------------------------------------------------------- the two sides


def _split(path: str) -> tuple[str, str]:
    target, _, case = path.partition("::")
    return target, case


def _selected(case: CaseRecord, wanted: dict[str, set[str]]) -> bool:
    """Whether a base case falls under the same ``file::case`` selection as the head."""
    ids = wanted.get(case.suite_path)
    if ids is None:
        return True
    return any(case.id == i or case.id.startswith(i + "[") for i in ids)


def replay_ref(ref: str, paths: Iterable[str], *, keyword: str | None = None,
               cwd: Path | None = None) -> tuple[RunRecord, list[str]]:
    """Replay the suites at ``ref``: (its run, notes such as paths that did not exist there)."""
    cwd = cwd or Path.cwd()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="harness-base-") as tmp:
        root = materialize(ref, Path(tmp) / "tree", cwd=cwd)
        targets: list[str] = []
        wanted: dict[str, set[str]] = {}
        for raw in paths:
            target, case = _split(raw)
            if not (root / target).exists():
                notes.append(f"{target} does not exist at {ref}: all its cases are new")
                continue
            targets.append(target)  # the whole file: a selected case may not exist at the base
            if case:
                wanted.setdefault(Path(target).as_posix(), set()).add(case)
        if not targets:
            return RunRecord(cases=(), label=ref), notes
        report = Path(tmp) / "base.json"
        cmd = [sys.executable, "-P", "-m", "harness.cli", "run", *targets, "-q", "--record-mode", "none",
               "--report", f"json={report}"]
        if keyword:
            cmd += ["-k", keyword]
        env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
        env["NO_COLOR"] = "1"
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
        if not report.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise UserError(f"could not replay the suites at {ref} (exit {proc.returncode}):\n{tail}")
        run = json_report.load(report, label=ref)
    if wanted:
        run = replace(run, cases=tuple(c for c in run.cases if _selected(c, wanted)))
    return run, notes


def replay_tree(paths: Iterable[str], *, keyword: str | None = None, label: str = WORKING_TREE) -> RunRecord:
    """Replay the working tree's suites here (replay only: a diff never records)."""
    start = time.perf_counter()
    suites, selected = collect(list(paths))
    cases = select_cases(suites, selected, keyword)
    ahead = prefetch.start_for(cases)  # a second process parses the cassettes meanwhile, where it can
    try:
        planned, errors = plan(cases)
        if errors:
            shown = "\n".join(str(e) for e in errors[:20])
            raise UserError(f"{len(errors)} error(s) in the working tree's suites:\n{shown}")
        results = execute(planned, RunOptions(keyword=keyword))
    finally:
        if ahead is not None:
            ahead.close()
    return from_results(results, suites, label=label, elapsed_s=time.perf_counter() - start)


# ---------------------------------------------------------------- comparing


def _options(head: RunRecord, base: RunRecord) -> dict[str, DiffOptions]:
    """Each suite's diff options, the head's winning (the PR decides how its answers compare)."""
    out: dict[str, DiffOptions] = {}
    for run in (base, head):
        for suite in run.suites:
            try:
                out[suite.path] = DiffOptions.from_mapping(suite.options.get("diff"), file=suite.path)
            except HarnessError:
                if run is head:
                    raise
    return out


def compare_runs(base: RunRecord, head: RunRecord, *, base_label: str | None = None,
                 head_label: str | None = None, notes: Iterable[str] = ()) -> Comparison:
    """Match cases by suite file, id and sample; diff every answer present on both sides (a multi-step
    case's trajectory step by step); compare the cases that have samples as pass rates
    (report/diff_samples.py)."""
    options = _options(head, base)
    by_key = {c.key: c for c in base.cases}
    cases = []
    for case in head.cases:
        old = by_key.get(case.key)
        if old is None:
            cases.append(replace(case, baseline=None, baseline_status=None, baseline_cost_usd=None,
                                 baseline_steps=(), change=None, new=True))
            continue
        change = None
        if old.answer is not None and case.answer is not None:  # trajectories step by step
            change = case_change(old.answer, case.answer, options.get(case.suite_path, DiffOptions()),
                                 baseline_steps=old.steps, current_steps=case.steps,
                                 baseline_cost=old.cost_usd, current_cost=case.cost_usd)
        cases.append(replace(case, baseline=old.answer, baseline_status=old.status, baseline_steps=old.steps,
                             baseline_cost_usd=old.cost_usd, change=change, new=False))
    samples = diff_samples.from_runs(base.cases, head.cases)
    by_rate = samples.node_ids if samples else frozenset()
    keys = {c.key for c in head.cases}
    removed = tuple(c for c in base.cases if c.key not in keys and c.node_id not in by_rate)
    base_label = base_label or base.label or "base"
    head_label = head_label or head.label or "head"
    return Comparison(base_label, head_label, replace(base, label=base_label),
                      replace(head, cases=tuple(cases), label=head_label), removed, tuple(notes), samples)


def diff_ref(ref: str, paths: Iterable[str], *, keyword: str | None = None) -> Comparison:
    """``harness diff --base REF PATHS``."""
    paths = list(paths)
    base, notes = replay_ref(ref, paths, keyword=keyword)
    head = replay_tree(paths, keyword=keyword)
    return compare_runs(base, head, base_label=ref, head_label=WORKING_TREE, notes=notes)


def diff_reports(old: str | Path, new: str | Path) -> Comparison:
    """``harness diff OLD.json NEW.json``."""
    return compare_runs(json_report.load(old), json_report.load(new))
