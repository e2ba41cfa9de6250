"""The ``harness`` command: parse arguments, call the road, print, exit.

Exit status: 0 all passed, 1 a check failed, 2 a user error, 3 missing or stale cassettes,
4 stopped by the --max-cost budget, 5 no case selected, 130 stopped by Ctrl-C or SIGTERM
(finished cassettes are kept).
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from rich.console import Console
from rich.markup import escape

from . import __version__, redact
from .errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USER_ERROR, HarnessError, NoCasesSelected
from .record_modes import RECORD_MODE_ALIASES, RECORD_MODES

if TYPE_CHECKING:
    from .gates import FailOnOptions


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER_ERROR, redact.clean(f"harness: error: {message}\n"))


def _samples(text: str) -> int | str:
    """``--samples``: a whole number from 1, or ``auto``."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or auto, got {text!r}")
    return value


def _fail_on(text: str) -> FailOnOptions:
    """``--fail-on``: one of failed, changed, regressed, and/or orphans (comma-separated)."""
    from .gates import FailOnOptions

    try:
        return FailOnOptions.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Offline prompt tests and regressions for "
                     "OpenAI-style chat APIs.",
                     epilog="exit status: 0 passed (or gates met), 1 a check or gate failed, 2 user "
                     "error, 3 missing or stale cassettes, 4 stopped by --max-cost, 5 no case "
                     "selected, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="replay (or record) suites and check the answers")
    run.add_argument("paths", nargs="*",
                     help="suite files or folders; FILE::CASE selects one case (default: the project "
                     "file's suites:, else suites)")
    run.add_argument("--record-mode", choices=RECORD_MODES + tuple(RECORD_MODE_ALIASES), default="none",
                     help="none: replay only (default); once: record missing cassettes; "
                     "new_episodes: also re-record stale ones; all (or rewrite, as pytest-recording "
                     "calls it): re-record everything")
    run.add_argument("--samples", type=_samples, metavar="N|auto",
                     help="answers per case, replacing the suites' samples: a number, or auto (adaptive: "
                     "3, then more while the pass rate is unclear against min_pass_rate, up to 20)")
    run.add_argument("--concurrency", type=int, default=8, metavar="N",
                     help="cases recorded at the same time (default 8)")
    run.add_argument("--base-url", metavar="URL",
                     help="send to this OpenAI-compatible server instead of the suite's provider")
    run.add_argument("-k", dest="keyword", metavar="EXPR",
                     help="only cases whose id matches: words with and/or/not, like pytest -k")
    run.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    run.add_argument("--max-retries", type=int, default=4, metavar="N",
                     help="retries of 408/409/429/5xx, timeouts and connection errors (default 4)")
    run.add_argument("--batch", action="store_true",
                     help="record pending cases through the Batch API (half price; resumable)")
    run.add_argument("--batch-poll", type=float, default=10.0, metavar="SECONDS",
                     help="how often to poll a batch's status (default 10)")
    run.add_argument("--max-cost", type=float, metavar="USD",
                     help="stop starting requests (rubric judge requests too) before the estimated "
                     "spend passes USD; cases not sent are skipped by budget and the run exits 4")
    run.add_argument("--config", type=Path, metavar="FILE",
                     help="YAML with pricing: overrides, over the project file's (default: harness.yaml "
                     "here, if present)")
    run.add_argument("-q", "--quiet", action="store_true", help="only failures and the summary")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="also list every case, and the failures a suite's min_pass_rate tolerates")
    run.add_argument("--report", action="append", default=[], metavar="FORMAT=PATH",
                     help="also write a report: json=PATH, junit=PATH, markdown=PATH, html=PATH (repeatable)")
    run.add_argument("--shard", metavar="K/N",
                     help="run only shard K of N (a stable split by suite and case id, for N CI machines); "
                     "join the shards' JSON reports with harness merge, which decides the suite gates")
    run.add_argument("--fail-on", type=_fail_on, default="failed", metavar="WHAT",
                     help="exit 1 on: failed (default) any failing case; changed: also any re-recorded "
                     "answer that changed; regressed: any failing case but those whose baseline (the "
                     "answer a re-recording replaced) failed too; needs a recording mode (to compare "
                     "with git, use harness diff --base REF). Add orphans (regressed,orphans, or orphans "
                     "alone) to also fail on cassettes no case owns")

    val = sub.add_parser("validate", help="check suites against the schema and render every case")
    val.add_argument("paths", nargs="*", help="suite files or folders (default: as for run)")

    sub.add_parser("schema", help="print the path of the suite JSON Schema (for editors)")
    from . import cli_diff, cli_import, cli_init, cli_merge, cli_plan, cli_prune
    cli_init.add_parser(sub)
    cli_diff.add_parser(sub)
    cli_merge.add_parser(sub)
    cli_plan.add_parser(sub, _samples)
    cli_prune.add_parser(sub)
    cli_import.add_parser(sub)
    return parser


def _print_errors(console: Console, errors: Sequence[HarnessError], limit: int = 50) -> None:
    from .report.terminal import print_errors

    print_errors(console, errors, limit)


@contextmanager
def _stop_on_signals(stop: threading.Event, err: Console) -> Iterator[None]:
    """First Ctrl-C or SIGTERM: stop starting requests, let those in flight finish and save.
    A second Ctrl-C aborts at once (cassettes already written stay whole: writes are atomic)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err.print("stopping: no new requests; waiting for those in flight (Ctrl-C again to abort)")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _cmd_run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """A thin door onto harness.run: a progress bar, Ctrl-C handling, and printing."""
    # Imported here, not at the top: `harness validate` and `--help` should not pay for them.
    from .api import run
    from .gates import tolerated_failures
    from .orphans import notice
    from .report.diff_samples import from_baselines
    from .report.ifeval_table import print_ifeval
    from .report.progress import LiveProgress
    from .report.rate_change import AGAINST_RECORDINGS
    from .report.sampled import sampled_cases
    from .report.summary import summary_line
    from .report.terminal import (
        print_changes,
        print_estimates,
        print_flaky,
        print_gates,
        print_problems,
        print_rates,
        print_table,
    )

    args.record_mode = RECORD_MODE_ALIASES.get(args.record_mode, args.record_mode)
    start = time.perf_counter()
    stop = threading.Event()
    with _stop_on_signals(stop, err), LiveProgress(out, enabled=args.record_mode != "none") as bar:
        result = run(args.paths, record_mode=args.record_mode, samples=args.samples, keyword=args.keyword,
                     base_url=args.base_url, concurrency=args.concurrency, timeout=args.timeout,
                     max_retries=args.max_retries, max_cost=args.max_cost, batch=args.batch,
                     batch_poll=args.batch_poll, config=args.config,
                     fail_on=args.fail_on, reports=args.report, shard=args.shard, progress=bar, stop=stop,
                     notify=lambda text: err.print(escape(text), highlight=False))
    if _kept_until_exit is not None:
        _kept_until_exit.append(result)  # freed with the process, not value by value (see _exit)
    if result.record is None:  # a user error: nothing ran
        _print_errors(err, result.errors)
        return result.exit_code
    results = list(result.case_results)
    tolerated = tolerated_failures(result.record) if args.fail_on.cases != "regressed" else []
    quiet = [t.path for t in tolerated]
    sampled = sampled_cases(result.record)  # cases with samples: one row each, with their rate
    if not args.quiet:
        print_table(out, results, tolerated=quiet, verbose=args.verbose, sampled=sampled)
        print_estimates(out, sampled)
        print_flaky(out, sampled)
    print_problems(out, results, args.record_mode, tolerated=quiet, verbose=args.verbose, sampled=sampled)
    print_ifeval(out, results)
    rates = from_baselines(result.record.cases)  # re-recorded samples: one verdict per case, as in a diff
    if rates is not None:
        print_rates(out, rates, against=AGAINST_RECORDINGS)
    print_changes(out, results, sampled=sampled)
    print_gates(out, [g for g in result.gates if g.name != "failures"], tolerated, verbose=args.verbose)
    for line in notice(result.record.orphans):
        out.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)
    out.print(summary_line(result.record, time.perf_counter() - start, tolerated=quiet, sampled=sampled),
              highlight=False)
    if result.record.shard is not None:
        out.print(f"shard {result.record.shard.text}: the suites' own gates are decided by harness merge "
                  "over every shard's JSON report", highlight=False)
    for path in result.reports:
        out.print(f"report written: {escape(str(path))}", highlight=False)
    _print_errors(err, result.errors)  # a report that could not be written
    if result.stopped:
        kept = sum(1 for r in results if r.recorded)
        err.print(f"stopped: {kept} cassette(s) recorded and kept; cases not started are listed "
                  "as skipped. Run again with --record-mode once to record only what is missing.")
    return result.exit_code


def _cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from .project import run_paths
    from .runner import collect, plan, select_cases  # here, not at the top: merge and diff need none of it

    def notify(text: str) -> None:
        err.print(escape(text), highlight=False)

    paths = run_paths(args.paths, notify)
    suites, selected = collect(paths, notify=notify)
    cases = select_cases(suites, selected, None)
    if not cases:
        raise NoCasesSelected.for_selection(paths, None)
    planned, errors = plan(cases, check_limits=True)
    errors += [HarnessError(p.refused) for p in planned if p.refused]
    if errors:
        _print_errors(err, errors)
        return EXIT_USER_ERROR
    out.print(f"{len(suites)} suite(s), {len(planned)} case(s): valid", highlight=False)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .report.terminal import make_console
    out, err = make_console(), make_console(stderr=True)
    try:
        if args.command == "run":
            return _cmd_run(args, out, err)
        if args.command == "validate":
            return _cmd_validate(args, out, err)
        if args.command == "diff":
            from . import cli_diff
            return cli_diff.run(args, out, err)
        if args.command == "init":
            from . import cli_init
            return cli_init.run(args, out, err)
        if args.command == "import":
            from . import cli_import
            return cli_import.run(args, out, err)
        if args.command == "merge":
            from . import cli_merge
            return cli_merge.run(args, out, err)
        if args.command == "plan":
            from . import cli_plan
            return cli_plan.run(args, out, err)
        if args.command == "prune":
            from . import cli_prune
            return cli_prune.run(args, out, err)
        from importlib import resources

        out.print(str(resources.files("harness").joinpath("suite.schema.json")))
        return EXIT_OK
    except HarnessError as exc:
        _print_errors(err, [exc])
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED


#: The console script's run results, held until the process ends (``entry`` sets it): freeing a
#: 5,000-case run's values one by one on the way out cost ~50 ms. None when main() is called in a
#: longer-lived process (tests, a wrapper), which must get its memory back.
_kept_until_exit: list[object] | None = None


def entry() -> None:
    # The command is a short-lived process that builds a large, mostly acyclic object graph (suites,
    # plans, cassettes, records): with the default thresholds the cyclic collector ran about 560
    # times and took 13% of a 5,000-case replay, finding next to nothing. Collected 300 times less
    # often, peak memory stayed the same. Only the command does this; harness.run() in someone's
    # process leaves their collector alone.
    gc.set_threshold(200_000, 30, 30)
    global _kept_until_exit
    _kept_until_exit = []
    _exit(main())


def _exit(code: int) -> NoReturn:
    """End the command without tearing the interpreter down. Freeing every module, cache and
    value one by one, and a last full collection, cost ~70 ms after a 5,000-case replay, for a
    process about to vanish (mypy's command ends the same way). What an exit must still do is
    done first: the atexit callbacks (log handlers, temporary folders, coverage's data) and the
    flush of both streams. A thread still working (none is, after a run) gets the ordinary exit,
    which waits for it. So does a run under a profiler or debugger (``python -m cProfile -m
    harness.cli``), which writes its results only after the program returns."""
    import atexit
    import os

    if sys.getprofile() is not None or sys.gettrace() is not None or any(
            t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (| head) or stream: nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
