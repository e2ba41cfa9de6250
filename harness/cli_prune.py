"""``harness prune``: delete the cassettes no case owns (orphans.py says which).

    harness prune suites/            a dry run: what would be deleted, and what is left alone
    harness prune suites/ --yes      delete those files, then the suite folders left empty

Whole suites only (``FILE::CASE`` is refused: the other cases must be there to claim their files),
and only files that read as cassettes, each unlinked itself (a symlink is removed, never what it
points at). A suite that cannot be loaded stops everything with its error (exit 2): without its
cases, all its cassettes would look orphaned.
"""

from __future__ import annotations

import argparse
import os
import stat
from typing import Any

from rich.console import Console
from rich.markup import escape

from .errors import EXIT_FAILED, EXIT_OK, UserError


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser(
        "prune", help="delete cassettes that no case owns (a dry run unless --yes)",
        description="List the cassette files in each suite's cassette folder that none of its cases "
        "owns (a renamed case, a removed matrix value or model, a lowered sample count), and with "
        "--yes delete them and the suite folders left empty.")
    p.add_argument("paths", nargs="*",
                   help="suite files or folders (default: the project file's suites:, else suites)")
    p.add_argument("--yes", action="store_true", help="delete them (without it, only list them)")


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .cassettes.files import LOCK_PREFIX, TEMP_PREFIX, sweep
    from .collect import collect
    from .orphans import shown, survey
    from .project import run_paths

    args.paths = run_paths(args.paths, lambda text: err.print(escape(text), highlight=False))
    if any("::" in path for path in args.paths):
        raise UserError("harness prune works on whole suites: name suite files or folders, not FILE::CASE "
                        "(the other cases must be there to claim their cassettes)")
    suites, _selected = collect(args.paths, notify=lambda text: err.print(escape(text), highlight=False))
    found = survey(suites)
    for path in found.not_cassettes:
        out.print(f"left alone (not a cassette): {escape(shown(path))}", highlight=False)
    if not found.orphans:
        out.print(f"no cassette without a case in {len(found.folders)} suite folder(s)", highlight=False)
        return EXIT_OK
    if not args.yes:
        out.print(f"would delete {len(found.orphans)} cassette(s) no case owns:", highlight=False)
        for orphan in found.orphans:
            out.print(f"  {escape(orphan.shown)}", highlight=False)
        out.print("run again with --yes to delete them", highlight=False)
        return EXIT_OK
    deleted, failed = 0, 0
    for orphan in found.orphans:
        try:
            info = os.lstat(orphan.path)
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                continue  # replaced by something else since it was looked at
            os.unlink(orphan.path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            err.print(f"[bold red]error:[/] {escape(orphan.shown)}: cannot delete ({escape(exc.strerror or str(exc))})",
                      highlight=False)
            failed += 1
            continue
        deleted += 1
        out.print(f"deleted {escape(orphan.shown)}", highlight=False)
    for folder in dict.fromkeys(o.path.parent for o in found.orphans):
        try:
            left = os.listdir(folder)
            if left and all(name.startswith((LOCK_PREFIX, TEMP_PREFIX)) for name in left):
                sweep(folder)  # only harness's own lock and temp files left: a killed run's go too
            os.rmdir(folder)  # only when empty
        except OSError:
            continue
        out.print(f"removed the empty folder {escape(shown(folder))}", highlight=False)
    out.print(f"{deleted} cassette(s) deleted" + (f", {failed} could not be" if failed else ""), highlight=False)
    return EXIT_FAILED if failed else EXIT_OK
