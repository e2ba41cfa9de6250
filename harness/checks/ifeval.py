"""IFEval's 25 verifiable instructions as checks, named by their IFEval ids.

A line of IFEval input maps onto a case one to one: ``- punctuation:no_comma: {}`` or
``- length_constraints:number_words: {relation: at least, num_words: 300}``, with IFEval's own
kwargs names. Each verdict records both the strict and the loose judgement (details["ifeval"]), so
a run can print IFEval's four accuracies whichever mode the check gates on (``mode: loose`` in the
argument; strict by default).
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from .registry import CheckContext, Result, check

MODES = ("strict", "loose")
#: The ids harness.ifeval implements (its INSTRUCTION_IDS; a test keeps the two equal). Written
#: out so that registering the checks, which every run does, does not import the instructions
#: themselves: only a suite that uses one pays for them.
INSTRUCTION_IDS = (
    "change_case:capital_word_frequency", "change_case:english_capital", "change_case:english_lowercase",
    "combination:repeat_prompt", "combination:two_responses", "detectable_content:number_placeholders",
    "detectable_content:postscript", "detectable_format:constrained_response",
    "detectable_format:json_format", "detectable_format:multiple_sections",
    "detectable_format:number_bullet_lists", "detectable_format:number_highlighted_sections",
    "detectable_format:title", "keywords:existence", "keywords:forbidden_words", "keywords:frequency",
    "keywords:letter_frequency", "language:response_language",
    "length_constraints:nth_paragraph_first_word", "length_constraints:number_paragraphs",
    "length_constraints:number_sentences", "length_constraints:number_words", "punctuation:no_comma",
    "startend:end_checker", "startend:quotation",
)


def _last_user_text(ctx: CheckContext) -> str | None:
    for msg in reversed(ctx.request.body.get("messages") or []):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
            return content if isinstance(content, str) else None
    return None


def _make(instruction_id: str) -> None:
    def validate(arg: Any) -> dict[str, Any]:
        from ..ifeval import IFEvalError, validate_kwargs

        kwargs = dict(arg or {}) if arg is not True else {}
        if not isinstance(kwargs, dict):
            raise UserError(f"{instruction_id}: the argument must be a mapping of IFEval kwargs")
        mode = kwargs.pop("mode", "strict")
        if mode not in MODES:
            raise UserError(f"{instruction_id}: mode must be strict or loose, got {mode!r}")
        try:
            validate_kwargs(instruction_id, kwargs)
        except IFEvalError as exc:
            raise UserError(str(exc)) from None
        return {"kwargs": kwargs, "mode": mode}

    def run(arg: dict[str, Any], ctx: CheckContext) -> Result:
        from ..ifeval import explain

        prompt = _last_user_text(ctx)
        text = ctx.output.text
        strict, strict_reason = explain(instruction_id, arg["kwargs"], text, prompt=prompt, loose=False)
        loose, loose_reason = explain(instruction_id, arg["kwargs"], text, prompt=prompt, loose=True)
        passed, reason = (loose, loose_reason) if arg["mode"] == "loose" else (strict, strict_reason)
        return Result(passed, reason, details={"ifeval": {"id": instruction_id, "strict": strict,
                                                          "loose": loose}})

    run.__doc__ = f"IFEval instruction {instruction_id} (kwargs as in IFEval's data)."
    check(instruction_id, arg=None, validate=validate)(run)


for _iid in INSTRUCTION_IDS:
    _make(_iid)
