"""The ``harness`` command: parse arguments, call the road, print, exit.

Exit status: 0 all passed, 1 a check failed, 2 a user error, 3 missing or stale cassettes,
4 stopped by the --max-cost budget, 5 no case selected, 130 stopped by Ctrl-C or SIGTERM
(finished cassettes are kept).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from . import __version__, redact
from .errors import EXIT_INTERRUPTED, EXIT_NO_CASES, EXIT_OK, EXIT_USER_ERROR, HarnessError
from .runner import RECORD_MODES, RunOptions, collect, execute, plan, select_cases


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # type: ignore[name-defined]  # noqa: F821
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER_ERROR, redact.clean(f"harness: error: {message}\n"))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Offline prompt tests and regressions for "
                     "OpenAI-style chat APIs.",
                     epilog="exit status: 0 passed (or gates met), 1 a check or gate failed, 2 user "
                     "error, 3 missing or stale cassettes, 4 stopped by --max-cost, 5 no case "
                     "selected, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="replay (or record) suites and check the answers")
    run.add_argument("paths", nargs="*", default=["suites"],
                     help="suite files or folders; FILE::CASE selects one case (default: suites)")
    run.add_argument("--record-mode", choices=RECORD_MODES, default="none",
                     help="none: replay only (default); once: record missing cassettes; "
                     "new_episodes: also re-record stale ones; all: re-record everything")
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
                     help="YAML with pricing: overrides (default: harness.yaml here, if present)")
    run.add_argument("-q", "--quiet", action="store_true", help="only failures and the summary")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="also list every case, and the failures a suite's min_pass_rate tolerates")
    run.add_argument("--report", action="append", default=[], metavar="FORMAT=PATH",
                     help="also write a report: json=PATH, junit=PATH, markdown=PATH, html=PATH (repeatable)")
    run.add_argument("--fail-on", choices=("failed", "changed", "regressed"), default="failed",
                     help="exit 1 on: failed (default) any failing case; changed: also any re-recorded "
                     "answer that changed; regressed: any failing case but those whose baseline (the "
                     "answer a re-recording replaced) failed too; needs a recording mode (to compare "
                     "with git, use harness diff --base REF)")

    val = sub.add_parser("validate", help="check suites against the schema and render every case")
    val.add_argument("paths", nargs="*", default=["suites"])

    sub.add_parser("schema", help="print the path of the suite JSON Schema (for editors)")
    from . import cli_diff
    cli_diff.add_parser(sub)
    return parser


def _print_errors(console: Console, errors: Sequence[HarnessError], limit: int = 50) -> None:
    for err in errors[:limit]:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
    if len(errors) > limit:
        console.print(f"[bold red]... and {len(errors) - limit} more errors[/]")


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
    # Imported here, not at the top: `harness validate` and `--help` should not pay for them.
    from .gates import evaluate, tolerated_failures
    from .report import parse_specs, write_reports
    from .report.ifeval_table import print_ifeval
    from .report.progress import LiveProgress
    from .report.records import from_results
    from .report.terminal import (
        print_changes,
        print_gates,
        print_problems,
        print_table,
        summary_line,
    )

    if args.concurrency < 1:
        raise HarnessError("--concurrency must be at least 1")
    if args.fail_on == "regressed" and args.record_mode == "none":
        raise HarnessError("--fail-on regressed needs a baseline, and a replay has none (each answer "
                           "is its cassette's). Compare with a git revision instead: harness diff "
                           "--base REF (e.g. --base HEAD or origin/main); or re-record with "
                           "--record-mode all to compare with the answers being replaced")
    report_specs = parse_specs(args.report)  # a bad --report fails before any request is made
    start = time.perf_counter()
    suites, selected = collect(args.paths, notify=lambda text: err.print(escape(text), highlight=False))
    cases = select_cases(suites, selected, args.keyword)
    if not cases:
        return _no_cases(err, args.paths, args.keyword)
    config = args.config or (Path("harness.yaml") if Path("harness.yaml").is_file() else None)
    if config is not None and not config.is_file():
        raise HarnessError(f"config file not found: {config}")
    planned, errors = plan(cases, base_url=args.base_url, check_limits=args.record_mode != "none",
                           config=config)
    if errors:
        _print_errors(err, errors)
        return EXIT_USER_ERROR
    options = RunOptions(max_cost=args.max_cost, record_mode=args.record_mode, concurrency=args.concurrency,
                         base_url=args.base_url, keyword=args.keyword, timeout=args.timeout,
                         max_retries=args.max_retries, batch=args.batch, batch_poll=args.batch_poll)
    if args.batch and args.record_mode == "none":
        raise HarnessError("--batch records pending cases: use it with --record-mode once, "
                           "new_episodes or all")
    stop = threading.Event()
    with _stop_on_signals(stop, err), LiveProgress(out, len(planned),
                                                   enabled=args.record_mode != "none") as bar:
        results = execute(planned, options, progress=bar.update, stop=stop,
                          notify=lambda text: err.print(escape(text), highlight=False))
    record = from_results(results, suites, record_mode=args.record_mode,
                          elapsed_s=time.perf_counter() - start)
    code, gates = evaluate(record, fail_on=args.fail_on)
    tolerated = tolerated_failures(record) if args.fail_on != "regressed" else []
    quiet = [t.path for t in tolerated]
    if not args.quiet:
        print_table(out, results, tolerated=quiet, verbose=args.verbose)
    print_problems(out, results, args.record_mode, tolerated=quiet, verbose=args.verbose)
    print_ifeval(out, results)
    print_changes(out, results)
    print_gates(out, [g for g in gates if g.name != "failures"], tolerated, verbose=args.verbose)
    out.print(summary_line(results, time.perf_counter() - start, tolerated=quiet), highlight=False)
    for path in write_reports(report_specs, replace(record, gates=tuple(gates))):
        out.print(f"report written: {escape(str(path))}", highlight=False)
    if stop.is_set():
        kept = sum(1 for r in results if r.recorded)
        err.print(f"stopped: {kept} cassette(s) recorded and kept; cases not started are listed "
                  "as skipped. Run again with --record-mode once to record only what is missing.")
        return EXIT_INTERRUPTED
    return code


def _no_cases(err: Console, paths: Sequence[str], keyword: str | None) -> int:
    where = " ".join(paths)
    why = f"no case id matches -k {keyword!r}" if keyword else "no suite with cases was found"
    err.print(escape(f"harness: no case selected in {where}: {why} (exit {EXIT_NO_CASES})"), highlight=False)
    return EXIT_NO_CASES


def _cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    suites, selected = collect(args.paths, notify=lambda text: err.print(escape(text), highlight=False))
    cases = select_cases(suites, selected, None)
    if not cases:
        return _no_cases(err, args.paths, None)
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
        from importlib import resources

        out.print(str(resources.files("harness").joinpath("suite.schema.json")))
        return EXIT_OK
    except HarnessError as exc:
        _print_errors(err, [exc])
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
