"""``harness init [DIR]``: start a project that passes offline at once. Arguments in, what was
written out; the files and the rules for writing them are in scaffold/."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from .errors import EXIT_OK
from .scaffold import write_project


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser(
        "init", help="start a project: harness.yaml, an example suite with its cassette, a GitHub Actions "
        "workflow and .gitignore lines",
        description="Write harness.yaml, suites/example.yaml with its recorded cassette (so `harness run` "
        "passes offline at once), .github/workflows/harness.yml (replay on every pull request; re-record "
        "by hand with the OPENAI_API_KEY secret) and .gitignore lines. Existing files are kept.")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the project folder (default: here)")
    p.add_argument("--force", action="store_true",
                   help="overwrite files that exist (the .gitignore is only ever appended to)")


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    folder = Path(args.dir)
    placed = write_project(folder, force=args.force)
    out.print(f"harness project in {escape(str(folder.resolve()))}", highlight=False)
    for item in placed:
        note = f"  ({escape(item.note)})" if item.note else ""
        out.print(f"  {item.action:<11} {escape(item.path)}{note}", highlight=False)
    if any(item.action == "kept" for item in placed):
        out.print("Existing files were kept; --force overwrites them.", highlight=False)
    here = Path(os.path.abspath(folder)) == Path.cwd()
    steps = ([] if here else [f"cd {escape(str(args.dir))}"]) + [
        "harness run          # replays suites/ offline: no key, no network",
        "pytest               # the same cases as pytest items",
        "edit suites/example.yaml, then record what changed:",
        "  OPENAI_API_KEY=sk-... harness run --record-mode new_episodes",
        "commit; the workflow replays each pull request (re-record job: OPENAI_API_KEY secret)",
    ]
    out.print("Next:\n" + "\n".join(f"  {step}" for step in steps), highlight=False)
    return EXIT_OK
