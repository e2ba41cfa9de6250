"""``harness merge SHARD.json...``: the shards of a run (``harness run --shard K/N``) as one run.

It prints the terminal summary, writes the reports and exits with the status one unsharded
``harness run`` of the same suites would have given: the gates a shard leaves open (a suite's
``min_pass_rate`` and ``max_cost_usd``, pass-rate drops, failures a met ``min_pass_rate``
tolerates) are decided here over every case (gates.py), with the same ``--fail-on``. The joining
and its refusals are merge.py's; this module only parses, prints and writes, like cli.py for run.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.markup import escape

from .errors import EXIT_INTERRUPTED, UserError
from .gates import FailOnOptions, evaluate, tolerated_failures
from .report import parse_specs, write_reports


def _fail_on(text: str) -> FailOnOptions:
    try:
        return FailOnOptions.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser(
        "merge", help="join the JSON reports of the shards of a run (run --shard K/N) into one run",
        description="Join the JSON reports that `harness run --shard K/N --report json=PATH` wrote on each "
        "machine: print the summary, write the reports and exit with the status one unsharded run would "
        "have given (suite gates such as min_pass_rate are decided here, over every shard). Refuses a "
        "missing or duplicated shard, shards of different N, harness versions or suites.")
    p.add_argument("reports", nargs="+", metavar="REPORT.json", help="one JSON report per shard")
    p.add_argument("--report", action="append", default=[], metavar="FORMAT=PATH",
                   help="write a report of the whole run: json=PATH, junit=PATH, markdown=PATH, html=PATH "
                   "(repeatable)")
    p.add_argument("--fail-on", type=_fail_on, default=FailOnOptions(), metavar="WHAT",
                   help="as for harness run: failed (default), changed or regressed, and/or orphans")
    p.add_argument("-q", "--quiet", action="store_true", help="only failures and the summary")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also list the failures a suite's min_pass_rate tolerates")


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .merge import ShardsStopped, merge
    from .orphans import notice
    from .report.terminal import print_errors
    from .report.terminal_merged import print_merged

    specs = parse_specs(args.report)  # a bad --report is an error before anything is read
    try:
        merged = merge(args.reports)
    except ShardsStopped as stopped:  # what one job prints when user errors stop it: no summary, no report
        print_errors(err, stopped.errors)
        return stopped.exit_code
    record = merged.run
    fail_on: FailOnOptions = args.fail_on
    if fail_on.cases == "regressed" and record.record_mode == "none":
        raise UserError("--fail-on regressed needs a baseline, and a replay has none (the shards replayed): "
                        "compare with a git revision instead (harness diff --base REF)")
    code, gates = evaluate(record, fail_on=fail_on.cases, orphans=fail_on.orphans)
    record = replace(record, gates=tuple(gates))
    tolerated = tolerated_failures(record) if fail_on.cases != "regressed" else []
    print_merged(out, record, gates, tolerated, notice(record.orphans), quiet=args.quiet, verbose=args.verbose)
    for path in write_reports(specs, record):
        out.print(f"report written: {escape(str(path))}", highlight=False)
    if merged.stopped:  # as an unsharded run stopped by Ctrl-C: its cases not started are skipped
        err.print(f"stopped: shard(s) {', '.join(merged.stopped)} were stopped before every case ran; "
                  "their cases not started are listed as skipped")
        return EXIT_INTERRUPTED
    return code
