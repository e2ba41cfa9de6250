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
