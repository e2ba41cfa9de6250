"""A multi-step case's trajectory in the terminal: one line for the whole, then each step compactly.

Printed under a failing or stale multi-step case, where the reader asks "what did the agent do?",
and, with ``-v``, under every multi-step case. Each text (a turn, an answer, a tool's arguments and
result) is flattened to one trimmed line: the full trajectory is in the JSON and HTML reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from ..trajectory import StepRecord, headline, step_lines, trajectory

if TYPE_CHECKING:  # annotations only: harness merge prints records without the runner
    from ..runner import CaseResult

LIMIT = 120  # characters per text in the terminal


def print_trajectory(console: Console, steps: Sequence[StepRecord], stopped: str | None = None, *,
                     indent: str = "    ", limit: int = LIMIT) -> None:
    """``trajectory: 3 steps · 412 tokens · $0.000312 · 1,234 ms``, then each step: its title with
    its own tokens, cost and latency, its user turn, tool calls with arguments → results, answer."""
    if not steps:
        return
    console.print(f"{indent}[dim]trajectory:[/] {escape(headline(steps, stopped))}", soft_wrap=True, highlight=False)
    turns = len({s.turn for s in steps}) > 1
    for i, step in enumerate(steps):
        title, *rest = step_lines(step, final=i == len(steps) - 1, turns=turns, limit=limit)
        console.print(f"{indent}  [bold]{escape(title)}[/]", soft_wrap=True, highlight=False)
        for line in rest:
            console.print(f"{indent}  {escape(line)}", soft_wrap=True, highlight=False)


def print_result_trajectory(console: Console, result: CaseResult, *, indent: str = "    ") -> None:
    """The trajectory of a case result, when it has several steps (nothing for one request)."""
    steps = trajectory(result.episode)
    if steps and result.episode is not None:
        if result.status in ("stale", "missing"):  # only the steps replayed before the change
            console.print(f"{indent}[dim]replayed before step {len(steps) + 1}:[/]", highlight=False)
        print_trajectory(console, steps, result.episode.stopped, indent=indent)


def print_trajectories(console: Console, rows: Sequence[CaseResult], key: Callable[[CaseResult], str]) -> None:
    """``-v``: every multi-step case's trajectory under its suite's table; failing and stale cases
    show theirs where their failure is listed."""
    for r in rows:
        if r.episode is not None and r.episode.multi and r.status not in ("failed", "error", "stale"):
            console.print(f"  [dim]↳[/] {escape(key(r))}", soft_wrap=True, highlight=False)
            print_result_trajectory(console, r)
