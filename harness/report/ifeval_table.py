"""IFEval's summary: prompt-level and instruction-level accuracy, strict and loose.

Computed from the verdicts' details, so it reads the same whether the checks gate on strict or
loose; printed only when a run contains IFEval checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from .records import CaseRecord

if TYPE_CHECKING:  # annotations only: harness merge prints the table from records
    from ..runner import CaseResult


@dataclass(frozen=True)
class IFEvalScores:
    prompts: int
    instructions: int
    prompt_strict: int
    prompt_loose: int
    instruction_strict: int
    instruction_loose: int


def ifeval_scores(results: list[CaseResult]) -> IFEvalScores | None:
    return _scores([(v.details["ifeval"]["strict"], v.details["ifeval"]["loose"]) for v in r.verdicts
                    if "ifeval" in v.details] for r in results)


def ifeval_scores_of(cases: Iterable[CaseRecord]) -> IFEvalScores | None:
    """The same scores from records (a JSON report read back, harness merge)."""
    return _scores([v.ifeval for v in c.checks if v.ifeval is not None] for c in cases)


def _scores(per_prompt: Iterable[Sequence[tuple[bool, bool]]]) -> IFEvalScores | None:
    """Per prompt, its instructions' (strict, loose) judgements -> the four accuracies."""
    prompts = instructions = ps = pl = is_ = il = 0
    for marks in per_prompt:
        if not marks:
            continue
        prompts += 1
        instructions += len(marks)
        ps += all(strict for strict, _ in marks)
        pl += all(loose for _, loose in marks)
        is_ += sum(strict for strict, _ in marks)
        il += sum(loose for _, loose in marks)
    if not prompts:
        return None
    return IFEvalScores(prompts, instructions, ps, pl, is_, il)


def print_ifeval(console: Console, results: list[CaseResult] | IFEvalScores | None) -> None:
    scores = ifeval_scores(results) if isinstance(results, list) else results
    if scores is None:
        return
    table = Table(title="IFEval", title_justify="left")
    table.add_column("level")
    table.add_column("strict", justify="right")
    table.add_column("loose", justify="right")

    def cell(n: int, d: int) -> str:
        return f"{n}/{d} ({100 * n / d:.2f}%)"

    table.add_row("prompt", cell(scores.prompt_strict, scores.prompts), cell(scores.prompt_loose, scores.prompts))
    table.add_row("instruction", cell(scores.instruction_strict, scores.instructions),
                  cell(scores.instruction_loose, scores.instructions))
    console.print(table)
