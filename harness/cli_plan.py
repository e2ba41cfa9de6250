"""``harness plan``: which cases a recording run would send and what it would cost, sending nothing.

    harness plan suites/ --record-mode once          the table, the assumptions, the command
    harness plan suites/ --record-mode all --json    the same as JSON (harness.plan/1), for CI

The deciding and estimating are in plan_run.py; the printing in report/plan.py. Exit 0, or 2 (with
every error, each naming file, line and case) when a suite cannot be planned.
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from rich.console import Console
from rich.markup import escape

from .errors import EXIT_OK, EXIT_USER_ERROR, NoCasesSelected
from .record_modes import RECORD_MODE_ALIASES

#: The modes of ``harness run``; ``none`` would send nothing, so a plan has no use for it.
PLAN_MODES = ("once", "new_episodes", "all")


def add_parser(subparsers: argparse._SubParsersAction[Any], samples: Any) -> None:
    p = subparsers.add_parser(
        "plan", help="what a recording run would send and cost, without sending anything",
        description="Decide every case as `harness run --record-mode MODE` would (missing, stale, all), "
        "estimate the tokens and cost of what it would send (standard, with the prompt cache, Batch API, "
        "and at most: what --max-cost reserves) per suite and in total, and print the command. "
        "Nothing is sent; no key is needed.")
    p.add_argument("paths", nargs="*",
                   help="suite files or folders; FILE::CASE selects one case (default: the project "
                   "file's suites:, else suites)")
    p.add_argument("--record-mode", choices=PLAN_MODES + tuple(RECORD_MODE_ALIASES), default="once",
                   help="the recording to plan: once (default: what has no cassette), new_episodes (also "
                   "stale ones), all (everything)")
    p.add_argument("--samples", type=samples, metavar="N|auto", help="answers per case, as harness run takes it")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="only cases whose id matches, as harness run takes it")
    p.add_argument("--config", metavar="FILE", help="YAML with pricing: overrides (default: harness.yaml here)")
    p.add_argument("--shard", metavar="K/N", help="only shard K of N, as harness run --shard takes it (what one "
                   "CI machine of N would record)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON (harness.plan/1) for a CI comment")
    p.add_argument("-v", "--verbose", action="store_true", help="list every case that would be sent")


def command_for(args: argparse.Namespace) -> str:
    """The ``harness run`` command that makes the planned recording, with the plan's own selection."""
    parts = ["harness", "run", *args.paths, "--record-mode", args.record_mode]
    if args.keyword:
        parts += ["-k", args.keyword]
    if args.samples is not None:
        parts += ["--samples", str(args.samples)]
    if args.config:
        parts += ["--config", args.config]
    if args.shard:
        parts += ["--shard", args.shard]
    return shlex.join(parts)


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .api import config_file
    from .collect import collect, select_cases
    from .plan_run import plan_spend
    from .planning import plan
    from .project import run_paths
    from .record.sampling import check_option
    from .report.plan import plan_document, print_plan
    from .shard import Shard

    shard = Shard.parse(args.shard) if args.shard else None
    if args.samples is not None:
        check_option(args.samples)
    args.paths = run_paths(args.paths, lambda text: err.print(escape(text), highlight=False))
    suites, selected = collect(args.paths, notify=lambda text: err.print(escape(text), highlight=False),
                               samples=args.samples)
    cases = select_cases(suites, selected, args.keyword)
    if not cases:
        raise NoCasesSelected.for_selection(list(args.paths), args.keyword)
    cases = [c for c in cases if shard is None or shard.owns(c)]
    planned, errors = plan(cases, check_limits=True, config=config_file(args.config))
    if errors:
        for error in errors:
            err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return EXIT_USER_ERROR
    spend = plan_spend(planned, RECORD_MODE_ALIASES.get(args.record_mode, args.record_mode))
    command = command_for(args)
    if args.json:
        out.out(json.dumps(plan_document(spend, command), indent=2, ensure_ascii=False), highlight=False)
    else:
        print_plan(out, spend, command, verbose=args.verbose)
    return EXIT_OK
