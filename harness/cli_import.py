"""``harness import``: bring in what another tool wrote. Arguments in, a report of what was and
was not carried over out; the work is in importers/.

    harness import vcrpy CASSETTE [--suite PATHS] [--force]   split a vcrpy cassette per case
    harness import promptfoo CONFIG [--out FOLDER] [--force]  write suites from a promptfoo config

Exit status: 0 everything was carried over, 1 something was not (listed), 2 a user error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from .errors import EXIT_FAILED, EXIT_OK, EXIT_USER_ERROR


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser("import", help="bring in vcrpy/pytest-recording cassettes or a promptfoo config",
                              description="Convert what another tool wrote into harness's files, and "
                              "list everything that could not be converted.")
    kinds = p.add_subparsers(dest="kind", required=True, parser_class=type(p))
    vcr = kinds.add_parser("vcrpy", help="split a vcrpy / pytest-recording cassette into per-case cassettes",
                           description="Give each recorded interaction to the case that sends the same "
                           "request (method, path below the API root, JSON body; any host), and write "
                           "that case's cassette. Lists interactions no case sends and cases left without "
                           "a cassette.")
    vcr.add_argument("cassette", type=Path, help="the vcrpy cassette (YAML)")
    vcr.add_argument("--suite", dest="suites", action="append", metavar="PATH",
                     help="suite file or folder whose cases to match (repeatable; default: suites)")
    vcr.add_argument("-k", dest="keyword", metavar="EXPR", help="only cases whose id matches")
    vcr.add_argument("--force", action="store_true", help="overwrite cassettes that already exist")
    pf = kinds.add_parser("promptfoo", help="write harness suites from a promptfoo config",
                          description="Convert prompts, providers, defaultTest, tests (inline, CSV, "
                          "YAML, JSON) and assertions into suites; javascript/python assertions become "
                          "stub checks to write. Everything not converted is listed.")
    pf.add_argument("config", type=Path, help="promptfooconfig.yaml")
    pf.add_argument("--out", type=Path, default=Path("suites"), help="folder for the suites (default: suites)")
    pf.add_argument("--force", action="store_true", help="overwrite files that already exist")


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.kind == "vcrpy":
        return _vcrpy(args, out, err)
    return _promptfoo(args, out, err)


def _say(console: Console, text: str) -> None:
    console.print(escape(text), highlight=False, soft_wrap=True)


def _vcrpy(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .importers.vcrpy import import_cassette

    result = import_cassette(args.cassette, args.suites or ["suites"], force=args.force, keyword=args.keyword)
    for error in result.errors:
        _say(err, f"error: {error}")
    for placed in result.placed:
        how = "wrote" if placed.written else "kept (exists; --force overwrites)"
        _say(out, f"interaction {placed.interaction} -> {placed.case}: {how} {placed.cassette}")
    for miss in result.unmatched:
        _say(out, f"interaction {miss.interaction} ({miss.method} {miss.path} {miss.prompt!r}): "
                  f"not imported, {miss.why}")
    for case in result.multi_step:
        _say(out, f"{case}: several model calls; only its first request could be matched (its later "
                  "steps, if recorded, are listed above)")
    if result.uncovered:
        _say(out, f"{len(result.uncovered)} case(s) left without a cassette: {', '.join(result.uncovered)}")
    written = sum(p.written for p in result.placed)
    _say(out, f"{written} cassette(s) written, {len(result.placed) - written} kept, "
              f"{len(result.unmatched)} interaction(s) not imported")
    if result.errors:
        return EXIT_USER_ERROR
    return EXIT_FAILED if result.unmatched or written < len(result.placed) else EXIT_OK


def _promptfoo(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .importers.promptfoo import convert_config

    result = convert_config(args.config, args.out, force=args.force)
    for path in result.written:
        _say(out, f"wrote {path}")
    for path in result.kept:
        _say(out, f"kept {path} (exists; --force overwrites)")
    for todo in result.stubs:
        _say(out, f"to write: {todo}")
    if result.notes:
        _say(out, "converted with a difference:")
        for note in result.notes:
            _say(out, f"  {note}")
    if result.skipped:
        _say(out, "not converted:")
        for item in result.skipped:
            _say(out, f"  {item}")
    if result.invalid:
        _say(out, "harness validate finds in the suites written:")
        for problem in result.invalid:
            _say(out, f"  {problem}")
    _say(out, f"{len(result.written)} file(s) written, {len(result.skipped)} item(s) not converted"
              + (f", {len(result.invalid)} validation error(s)" if result.invalid else
                 ", the suites pass harness validate" if result.written or result.kept else ""))
    return EXIT_FAILED if result.skipped or result.kept or result.invalid or not result.written else EXIT_OK
