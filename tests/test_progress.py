"""The live progress bar shows done/total, rate, tokens and cost on a terminal, nothing elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from harness.output import Output, Usage
from harness.report.progress import LiveProgress


class _Result:
    def __init__(self, tokens: int, cost: float, status: str = "passed") -> None:
        self.output = Output(content="x", usage=Usage(tokens, 0, tokens))
        self.cost_usd = cost
        self.status = status


def test_progress_on_a_terminal() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160)
    with LiveProgress(console, 3, enabled=True) as bar:
        bar.update(_Result(100, 0.25))
        bar.update(_Result(50, 0.5, "error"))
        assert bar._progress is not None
        bar._progress.refresh()
    text = buf.getvalue()
    assert "2/3" in text and "150 tok" in text and "$0.7500" in text and "1 errors" in text


def test_no_progress_when_not_a_terminal() -> None:
    buf = io.StringIO()
    with LiveProgress(Console(file=buf, force_terminal=False), 3, enabled=True) as bar:
        bar.update(_Result(100, 0.25))
    assert buf.getvalue() == ""
    assert bar.tokens == 100


def test_adaptive_samples_beyond_the_plan_raise_the_total_instead_of_passing_it() -> None:
    """Three samples planned; the adaptive rule asks for two more: the bar reads 5/5, never 5/3."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160)
    with LiveProgress(console, 3, enabled=True) as bar:
        for _ in range(3):
            bar.update(_Result(10, 0.01))
        assert bar._progress is not None
        bar._progress.refresh()
        assert "3/3" in buf.getvalue() and "adaptive" not in buf.getvalue()
        bar.update(_Result(10, 0.01, "failed"))
        bar.update(_Result(10, 0.01))
        task = bar._progress.tasks[0]
        assert (task.completed, task.total) == (5, 5)
        bar._progress.refresh()
    text = buf.getvalue()
    assert "5/5" in text and "+2 adaptive" in text
    assert "4/3" not in text and "5/3" not in text
    assert (bar.done, bar.total, bar.extra) == (5, 5, 2)
