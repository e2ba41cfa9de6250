"""Joining the JSON reports of a sharded run (``harness run --shard K/N``) into the one run they are
parts of, so that gates, reports and the exit status are those a single unsharded job would give.

Shards are joined only when they are provably parts of one run: every shard of the same N exactly
once, written by the merge's own harness version in the same record mode, over the same suites with the
same contents (each report carries the suites' fingerprints, shard.py). Anything else is a user
error naming the file, because a merge that quietly dropped or doubled a shard would pass or fail
CI on a run that never happened. The cases are put back in the order the unsharded run lists them
(each shard records every case's place in the whole run), so the merged reports read the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import __version__
from .errors import HarnessError, NoCasesSelected, UserError
from .report.json_report import RUN_SCHEMA, run_from
from .report.records import RunRecord
from .shard import STAGES, ShardError, ShardInfo


@dataclass(frozen=True)
class Part:
    """One shard's report, read back."""

    path: Path
    run: RunRecord
    shard: ShardInfo


def _document(path: Path) -> Mapping[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("no such report file", file=path) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"not a harness JSON report (cannot read it as JSON: {exc})", file=path) from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema != RUN_SCHEMA:
        raise UserError(f"not a harness JSON run report (schema {schema!r}, expected {RUN_SCHEMA!r}); "
                        "give the files written by harness run --shard K/N --report json=PATH", file=path)
    if not isinstance(doc.get("shard"), dict):
        raise UserError("this report is of a whole run, not of a shard: harness merge joins the reports "
                        "of harness run --shard K/N --report json=PATH", file=path)
    return doc


def read_part(path: str | Path) -> Part:
    """A shard's report; anything that is not one is a UserError naming the file."""
    path = Path(path)
    doc = _document(path)
    version = doc.get("harness_version")
    if version != __version__:  # checked before reading on: another version may write other keys
        raise UserError(f"written by harness {version}, but this is harness {__version__}: run every shard "
                        "and the merge with one version", file=path)
    try:
        run = run_from(doc, label="")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"unreadable JSON report ({type(exc).__name__}: {exc})", file=path) from None
    info = run.shard
    if info is None or not 1 <= info.index <= info.count or len(info.positions) != len(run.cases):
        raise UserError("damaged shard report: its shard or its cases' positions do not add up", file=path)
    return Part(path, run, info)


def _check(parts: Sequence[Part]) -> None:
    """Every shard of one run, once: else a UserError naming the file that does not fit."""
    first = parts[0]
    count = first.shard.count
    seen: dict[int, Path] = {}
    for part in parts:
        info = part.shard
        if info.count != count:
            raise UserError(f"shard {info.text} is of {info.count} shards, but {first.path} is shard "
                            f"{first.shard.text} of {count}: merge the reports of one sharded run", file=part.path)
        if info.index in seen:
            raise UserError(f"shard {info.text} is given twice (also {seen[info.index]})", file=part.path)
        seen[info.index] = part.path
        if part.run.record_mode != first.run.record_mode:
            raise UserError(f"record mode {part.run.record_mode!r}, but {first.path} ran "
                            f"{first.run.record_mode!r}: the shards are not parts of one run", file=part.path)
    # A shard stopped while loading its suites has none to compare; it can only fail the merge.
    loaded = [p for p in parts if p.shard.stage != "load"]
    first = loaded[0] if loaded else first
    suites = dict(first.shard.suites)
    for part in loaded:
        info = part.shard
        theirs = dict(info.suites)
        if theirs != suites:
            raise UserError(f"its suites differ from those of {first.path} ({_difference(suites, theirs)}): "
                            "every shard must run the same suites at the same commit", file=part.path)
        if info.files != first.shard.files:
            raise UserError(f"the files its cases are made from differ from those of {first.path} "
                            f"({_difference(dict(first.shard.files), dict(info.files))}): every shard must "
                            "run the same suites, templates and data at the same commit", file=part.path)
        if info.selection != first.shard.selection:
            raise UserError(f"it selected other cases than {first.path} (a different -k, FILE::CASE, --samples "
                            "or --models, or other suite paths): run every shard with the same selection",
                            file=part.path)
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        raise UserError(f"missing shard(s) {', '.join(f'{i}/{count}' for i in missing)}: give the JSON "
                        f"report of every one of the {count} shards ({len(seen)} given)")


def _difference(ours: dict[str, str], theirs: dict[str, str]) -> str:
    only_ours = sorted(set(ours) - set(theirs))
    only_theirs = sorted(set(theirs) - set(ours))
    if only_ours or only_theirs:
        return "; ".join(([f"only there: {', '.join(only_ours)}"] if only_ours else [])
                         + ([f"only here: {', '.join(only_theirs)}"] if only_theirs else []))
    changed = sorted(p for p in ours if ours[p] != theirs[p])
    return f"different contents: {', '.join(changed)}"


class ShardsStopped(HarnessError):
    """User errors stopped shards before their cases ran: ``errors`` are what one unsharded job of
    the same suites prints, in its order, and the merge exits as it does."""

    def __init__(self, errors: Sequence[HarnessError]) -> None:
        super().__init__(errors[0].message)
        self.errors = tuple(errors)
        self.exit_code = errors[0].exit_code


def _stopped(parts: Sequence[Part]) -> list[HarnessError]:
    """What one job would print, from the shards' recorded errors. One job stops at the earliest of
    STAGES any of its cases reaches: while loading and refusing --batch at the first error (a shard
    stopped loading names the one job's already, shard.py), while planning with every case's."""
    stopped = [p for p in parts if p.shard.errors]
    if not stopped:
        return []
    stage = min((p.shard.stage for p in stopped), key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES))
    found = sorted((e for p in sorted(stopped, key=lambda p: p.shard.index) if p.shard.stage == stage
                    for e in p.shard.errors), key=lambda e: e.position)
    chosen = found if stage == "plan" else found[:1]
    return [_error(e) for e in chosen]


def _error(recorded: ShardError) -> HarnessError:
    """A recorded error as it was raised: its text already names file, line and case."""
    error = HarnessError(recorded.message)
    error.exit_code = recorded.exit_code
    return error


@dataclass(frozen=True)
class Merged:
    """The joined run, and the shards Ctrl-C or SIGTERM stopped (the run is then incomplete: 130)."""

    run: RunRecord
    stopped: tuple[str, ...] = ()  # "2/4", ...


def merge(paths: Sequence[str | Path]) -> Merged:
    """The run the shards are parts of: its cases in the unsharded order, its gates not yet evaluated."""
    if not paths:
        raise UserError("harness merge: give the JSON reports of every shard (harness merge shard-*.json)")
    parts = [read_part(p) for p in paths]
    _check(parts)
    stopped = _stopped(parts)
    if stopped:
        raise ShardsStopped(stopped)
    if parts[0].shard.no_cases:  # every shard's selection was nothing (_check: they are all alike)
        raise NoCasesSelected(parts[0].shard.no_cases)
    parts.sort(key=lambda p: p.shard.index)
    placed = sorted((((pos, case.sample, part.shard.index, n), case) for part in parts
                     for n, (pos, case) in enumerate(zip(part.shard.positions, part.run.cases, strict=True))),
                    key=lambda entry: entry[0])
    first = parts[0].run
    created = min((p.run.created for p in parts if p.run.created), default=first.created)
    elapsed = [p.run.elapsed_s for p in parts if p.run.elapsed_s is not None]
    # Orphans are looked for over whole suites on each shard: every shard found the same ones.
    run = replace(first, cases=tuple(case for _, case in placed), created=created,
                  elapsed_s=max(elapsed) if elapsed else None, gates=(), shard=None,
                  orphans_checked=parts[0].shard.orphans_checked)
    return Merged(run, tuple(p.shard.text for p in parts if p.shard.stopped))
