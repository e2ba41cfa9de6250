"""IFEval's summary: prompt-level and instruction-level accuracy, strict and loose.

Computed from the verdicts' details, so it reads the same whether the checks gate on strict or
loose; printed only when a run contains IFEval checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

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
    prompts = instructions = ps = pl = is_ = il = 0
    for result in results:
        marks = [v.details["ifeval"] for v in result.verdicts if "ifeval" in v.details]
        if not marks:
            continue
        prompts += 1
        instructions += len(marks)
        ps += all(m["strict"] for m in marks)
        pl += all(m["loose"] for m in marks)
        is_ += sum(m["strict"] for m in marks)
        il += sum(m["loose"] for m in marks)
    if not prompts:
        return None
    return IFEvalScores(prompts, instructions, ps, pl, is_, il)


def print_ifeval(console: Console, results: list[CaseResult]) -> None:
    scores = ifeval_scores(results)
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
