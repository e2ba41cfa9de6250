"""``harness diff``: the pull-request view, as a subcommand. Arguments in, comparison out.

    harness diff --base origin/main [PATHS]     the suites at a git ref vs the working tree
    harness diff OLD.json NEW.json              two saved JSON run reports

The work is in compare.py (both sides, matching, answer diffs) and gates.py (the exit status);
this module only parses, prints and writes the reports, like cli.py does for ``run``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.markup import escape

from .errors import UserError
from .gates import FAIL_ON, evaluate
from .report import parse_specs, write_reports


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser(
        "diff", help="what changed: suites and cassettes at a git ref vs the working tree, or two JSON reports",
        description="Compare answers, verdicts, tokens and cost. With --base REF, the suites and cassettes "
        "at REF (read with git archive; the working tree is not touched) are replayed and compared with "
        "the working tree's. Without it, give two reports written by `harness run --report json=PATH`.")
    p.add_argument("paths", nargs="*",
                   help="with --base: suite files or folders, FILE::CASE for one case (default: the project "
                   "file's suites:, else suites); "
                   "without --base: OLD.json NEW.json")
    p.add_argument("--base", metavar="REF", help="the git ref to compare with, e.g. origin/main or HEAD~1")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="only cases whose id matches (with --base)")
    p.add_argument("--report", action="append", default=[], metavar="FORMAT=PATH",
                   help="also write a report: markdown=PATH, html=PATH, json=PATH or junit=PATH (repeatable)")
    p.add_argument("--fail-on", choices=FAIL_ON, default="regressed",
                   help="exit 1 on: regressed (default) a case that passed at the base fails now, or is new "
                   "and fails (a case with samples: its pass rate dropped significantly, or its suite's "
                   "did); failed: any failing case; changed: also any changed answer")
    p.add_argument("--max-cost-increase", type=float, metavar="USD",
                   help="exit 1 when the total cost grows by more than USD over the base")
    p.add_argument("-q", "--quiet", action="store_true", help="only the summary and the gates")


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .compare import diff_ref, diff_reports
    from .report.terminal import comparison_counts, print_comparison, print_gates

    specs = parse_specs(args.report)  # a bad --report is an error before anything runs
    if args.base:
        from .project import run_paths

        comparison = diff_ref(args.base, run_paths(args.paths), keyword=args.keyword)
    else:
        if len(args.paths) != 2 or not all(p.endswith(".json") for p in args.paths):
            raise UserError("harness diff: give --base REF [PATHS], or two JSON run reports: "
                            "harness diff OLD.json NEW.json")
        comparison = diff_reports(*args.paths)
    code, gates = evaluate(comparison.head, fail_on=args.fail_on, comparison=comparison,
                           max_cost_increase=args.max_cost_increase)
    comparison = replace(comparison, head=replace(comparison.head, gates=tuple(gates)))
    if args.quiet:
        out.print(comparison_counts(comparison), highlight=False)
    else:
        print_comparison(out, comparison)
    print_gates(out, gates)
    for path in write_reports(specs, comparison.head, extra=comparison):
        out.print(f"report written: {escape(str(path))}", highlight=False)
    return code
