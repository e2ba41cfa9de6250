"""The progress bar of live runs: done / total, rate, ETA, tokens and cost so far.

Only drawn on a terminal; in CI logs (not a TTY) it stays silent and the final table says it all.
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
    def __init__(self, console: Console, total: int, *, enabled: bool) -> None:
        self.enabled = enabled and console.is_terminal and total > 0
        self.total = total
        self.tokens = 0
        self.cost = 0.0
        self.errors = 0
        self.started = time.monotonic()
        self._progress = Progress(
            TextColumn("[bold]recording[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            TextColumn("{task.fields[tokens]} tok  ${task.fields[cost]}  {task.fields[errors]}"),
            console=console, transient=True) if self.enabled else None
        self._task: TaskID | None = None

    def __enter__(self) -> LiveProgress:
        if self._progress is not None:
            self._progress.__enter__()
            self._task = self._progress.add_task("run", total=self.total, rate="", tokens=0,
                                                 cost="0.0000", errors="")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)

    def update(self, result: CaseResult) -> None:
        usage = result.output.usage if result.output else None
        if usage:
            self.tokens += usage.total_tokens
        if result.cost_usd:
            self.cost += result.cost_usd
        if result.status == "error":
            self.errors += 1
        if self._progress is None or self._task is None:
            return
        done = self._progress.tasks[0].completed + 1
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self._progress.update(self._task, advance=1, rate=f"{done / elapsed:.1f}/s",
                              tokens=f"{self.tokens:,}", cost=f"{self.cost:.4f}",
                              errors=f"[red]{self.errors} errors[/]" if self.errors else "")
