"""IFEval instruction checkers, offline and dependency-light.

Why this exists: IFEval (Zhou et al. 2023, arXiv:2311.07911) defines 25
*verifiable* instructions ("answer in fewer than 100 words", "no commas",
"wrap the answer in double quotes", ...) that a prompt test can assert on
without a judge model.  The harness uses these checkers so that suites can
state such constraints declaratively and get deterministic verdicts that
agree with the published reference evaluator, in both its strict and loose
modes, without pulling in nltk data downloads or the original research code.

Public API::

    INSTRUCTION_IDS                      # the 25 instruction ids
    follows(id, kwargs, response, *, prompt=None, loose=False) -> bool
    explain(id, kwargs, response, *, prompt=None, loose=False) -> (bool, reason)
    validate_kwargs(id, kwargs)          # raises IFEvalError
    IFEvalError                          # bad id or kwargs (a ValueError)

Kwargs use the IFEval data's names (``num_words``, ``relation``,
``section_spliter`` ...); keys whose value is None are ignored, as in the
public data set.  A blank (or None) response never follows an instruction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.ifeval.instructions import REGISTRY, RELATIONS, Kwargs
from harness.ifeval.text import loose_variants, snippet

__all__ = ["INSTRUCTION_IDS", "IFEvalError", "explain", "follows", "validate_kwargs"]

INSTRUCTION_IDS: tuple[str, ...] = tuple(REGISTRY)

_LOOSE_LABELS = (
    "",
    "without the first line",
    "without the last line",
    "without the first and last lines",
    "with '*' removed",
    "without the first line and with '*' removed",
    "without the last line and with '*' removed",
    "without the first and last lines and with '*' removed",
)


class IFEvalError(ValueError):
    """An unknown instruction id, or a missing, unknown or ill-typed kwarg."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(instruction_id: str, name: str, kind: str, value: object) -> None:
    def fail(expected: str) -> IFEvalError:
        return IFEvalError(f"{instruction_id}: kwarg {name!r} must be {expected}, got {value!r}")

    if kind == "int" and not (_is_int(value) and value >= 0):  # type: ignore[operator]
        raise fail("an integer >= 0")
    if kind == "pos" and not (_is_int(value) and value >= 1):  # type: ignore[operator]
        raise fail("an integer >= 1")
    if kind == "str" and not (isinstance(value, str) and value.strip()):
        raise fail("a non-empty string")
    if kind == "char" and not (isinstance(value, str) and len(value) == 1):
        raise fail("a single character")
    if kind == "relation" and value not in RELATIONS:
        raise fail(" or ".join(map(repr, RELATIONS)))
    if kind == "words" and not (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(word, str) and word.strip() for word in value)
    ):
        raise fail("a non-empty list of non-empty strings")


def _clean(instruction_id: str, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    spec = REGISTRY.get(instruction_id)
    if spec is None:
        known = ", ".join(INSTRUCTION_IDS)
        raise IFEvalError(f"unknown IFEval instruction id {instruction_id!r}; known ids: {known}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise IFEvalError(
            f"{instruction_id}: kwargs must be a mapping, got {type(kwargs).__name__}"
        )
    given = {name: value for name, value in (kwargs or {}).items() if value is not None}
    unknown = sorted(set(given) - set(spec.kwargs))
    if unknown:
        allowed = ", ".join(spec.kwargs) or "none"
        raise IFEvalError(
            f"{instruction_id}: unknown kwarg {unknown[0]!r} (accepted kwargs: {allowed})"
        )
    for name, kind in spec.kwargs.items():
        if name not in given:
            raise IFEvalError(f"{instruction_id}: missing kwarg {name!r}")
        _check_value(instruction_id, name, kind, given[name])
    if instruction_id == "length_constraints:nth_paragraph_first_word":
        if given["nth_paragraph"] > given["num_paragraphs"]:
            raise IFEvalError(
                f"{instruction_id}: kwarg 'nth_paragraph' ({given['nth_paragraph']}) "
                f"is larger than 'num_paragraphs' ({given['num_paragraphs']})"
            )
    return given


def validate_kwargs(instruction_id: str, kwargs: Mapping[str, Any] | None) -> None:
    """Raise :class:`IFEvalError` if the id is unknown or the kwargs do not fit it.

    The message names the instruction id and the offending kwarg.  Keys whose
    value is None are ignored.
    """
    _clean(instruction_id, kwargs)


_MAX_REASON = 300


def _check(instruction_id: str, kwargs: Kwargs, response: str) -> tuple[bool, str]:
    if not response.strip():
        return False, "empty response"
    ok, reason = REGISTRY[instruction_id].checker(response, kwargs)
    return ok, snippet(reason, _MAX_REASON)


def explain(
    instruction_id: str,
    kwargs: Mapping[str, Any] | None,
    response: str | None,
    *,
    prompt: str | None = None,
    loose: bool = False,
) -> tuple[bool, str]:
    """Verdict plus a short human-readable reason (expected vs got).

    In loose mode the response passes if any of the eight clean-up variants
    (see :func:`harness.ifeval.text.loose_variants`) passes; the reason then
    says which clean-up was needed.  ``prompt`` is accepted for symmetry
    with other checks: ``combination:repeat_prompt`` takes the text to
    repeat from its own ``prompt_to_repeat`` kwarg.
    """
    del prompt  # not needed by any IFEval instruction; see docstring
    clean = _clean(instruction_id, kwargs)
    if response is None:  # e.g. a reply that only made tool calls
        response = ""
    if not isinstance(response, str):
        raise TypeError(f"response must be str, got {type(response).__name__}")
    ok, reason = _check(instruction_id, clean, response)
    if ok or not loose:
        return ok, reason
    for variant, label in zip(loose_variants(response)[1:], _LOOSE_LABELS[1:], strict=True):
        if not variant.strip():
            continue
        variant_ok, variant_reason = _check(instruction_id, clean, variant)
        if variant_ok:
            return True, f"{variant_reason} (loose: {label})"
    return False, f"{reason} (no loose variant passes either)"


def follows(
    instruction_id: str,
    kwargs: Mapping[str, Any] | None,
    response: str | None,
    *,
    prompt: str | None = None,
    loose: bool = False,
) -> bool:
    """True if ``response`` follows the instruction (strict, or loose if asked)."""
    return explain(instruction_id, kwargs, response, prompt=prompt, loose=loose)[0]
