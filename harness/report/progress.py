"""The progress bar of live runs: done / total, rate, ETA, tokens and cost so far.

Only drawn on a terminal; in CI logs (not a TTY) it stays silent and the final table says it all.

The total is what was planned, but an adaptive case (``samples: {min, max}``) asks for one more
sample at a time while its verdict is unclear, so more results can arrive than were planned: each
one beyond the total raises the total with it (the bar never passes 100%), and the extra samples
are counted beside it, ``+3 adaptive``. How many the rule will ask for is not known in advance.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from ..runner import CaseResult


class LiveProgress:
    """A Progress for harness.run: ``start(total)`` once the cases are planned, then ``update``."""

    def __init__(self, console: Console, total: int = 0, *, enabled: bool) -> None:
        self.enabled = enabled and console.is_terminal
        self.total = total
        self.tokens = 0
        self.cost = 0.0
        self.errors = 0
        self.done = 0
        self.extra = 0  # results beyond the planned total: samples an adaptive rule asked for
        self.started = time.monotonic()
        self._progress = Progress(
            TextColumn("[bold]recording[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[extra]}"), TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            TextColumn("{task.fields[tokens]} tok  ${task.fields[cost]}  {task.fields[errors]}"),
            console=console, transient=True) if self.enabled else None
        self._task: TaskID | None = None

    def __enter__(self) -> LiveProgress:
        if self.total:
            self.start(self.total)
        return self

    def start(self, total: int) -> None:
        """Show the bar for ``total`` cases (nothing to show for none)."""
        self.total, self.started = total, time.monotonic()
        if self._progress is not None and self._task is None and total > 0:
            self._progress.__enter__()
            self._task = self._progress.add_task("run", total=total, rate="", tokens=0,
                                                 cost="0.0000", errors="", extra="")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.__exit__(exc_type, exc, tb)

    def update(self, result: CaseResult) -> None:
        usage = result.output.usage if result.output else None
        if usage:
            self.tokens += usage.total_tokens
        if result.cost_usd:
            self.cost += result.cost_usd
        if result.status == "error":
            self.errors += 1
        self.done += 1
        if self.done > self.total:  # an adaptive case asked for one more sample than was planned
            self.total, self.extra = self.done, self.extra + 1
        if self._progress is None or self._task is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self._progress.update(self._task, total=self.total, completed=self.done,
                              rate=f"{self.done / elapsed:.1f}/s", tokens=f"{self.tokens:,}",
                              cost=f"{self.cost:.4f}", extra=f"+{self.extra} adaptive" if self.extra else "",
                              errors=f"[red]{self.errors} errors[/]" if self.errors else "")
