"""Text checks on the answer's content: substrings, prefixes, patterns and length.

Case-insensitive variants compare ``str.casefold()`` forms, not ``lower()``: casefold is the Unicode
caseless match (``"Straße"`` matches ``"STRASSE"``), which is what a person means by "ignore case".
Every check reads ``output.text`` (empty when the model answered with tool calls only), so an empty
answer is judged like any other text and never crashes a check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .args import named_bounds
from .registry import CheckContext, Result, check, trim


def quote(text: str, limit: int = 120) -> str:
    """A quoted, trimmed rendering of answer text for a reason (``trim(text)!r`` would escape the
    backslash of each newline twice); only the head is rendered, so a 1 MB answer costs nothing."""
    return trim(repr(text[: limit + 1]), limit)


def _text(ctx: CheckContext) -> str:
    return ctx.output.text


def _string(arg: Any) -> str:
    if not isinstance(arg, (str, int, float)) or isinstance(arg, bool):
        raise ValueError("expected a string")
    return str(arg)


def _nonempty_string(arg: Any) -> str:
    text = _string(arg)
    if not text:
        raise ValueError("expected a non-empty string (an empty string is found in every answer)")
    return text


def _strings(arg: Any) -> tuple[str, ...]:
    if not isinstance(arg, list) or not arg:
        raise ValueError("expected a non-empty list of strings")
    return tuple(_nonempty_string(item) for item in arg)


@check("equals", validate=_string)
def equals(arg: str, ctx: CheckContext) -> Result:
    """The whole answer equals the text (surrounding whitespace ignored)."""
    got = _text(ctx).strip()
    if got == arg.strip():
        return Result(True, "answer equals the expected text")
    return Result(False, f"expected {quote(arg)}, got {quote(got)}")


def _contains(arg: str, text: str, fold: bool) -> Result:
    if (arg.casefold() in text.casefold()) if fold else (arg in text):
        return Result(True, f"found {quote(arg, 60)}")
    how = " (ignoring case)" if fold else ""
    return Result(False, f"{quote(arg, 60)} not found{how} in {quote(text)}")


@check("contains", validate=_nonempty_string)
def contains(arg: str, ctx: CheckContext) -> Result:
    """The answer contains the text (case-sensitive)."""
    return _contains(arg, _text(ctx), fold=False)


@check("icontains", validate=_nonempty_string)
def icontains(arg: str, ctx: CheckContext) -> Result:
    """The answer contains the text, ignoring case."""
    return _contains(arg, _text(ctx), fold=True)


def _found(needles: tuple[str, ...], text: str, fold: bool) -> tuple[list[str], list[str]]:
    hay = text.casefold() if fold else text  # fold the (possibly huge) answer once, not per needle
    found: list[str] = []
    missing: list[str] = []
    for needle in needles:
        (found if (needle.casefold() if fold else needle) in hay else missing).append(needle)
    return found, missing


def _any(needles: tuple[str, ...], ctx: CheckContext, fold: bool) -> Result:
    text = _text(ctx)
    found, _ = _found(needles, text, fold)
    if found:
        return Result(True, f"found {trim(found, 80)}")
    how = " (ignoring case)" if fold else ""
    return Result(False, f"none of {trim(list(needles), 80)} found{how} in {quote(text)}")


def _all(needles: tuple[str, ...], ctx: CheckContext, fold: bool) -> Result:
    text = _text(ctx)
    _, missing = _found(needles, text, fold)
    if not missing:
        return Result(True, f"found all {len(needles)}")
    how = " (ignoring case)" if fold else ""
    return Result(False, f"missing {trim(missing, 80)}{how} "
                         f"({len(needles) - len(missing)} of {len(needles)} found) in {quote(text)}")


@check("contains-any", validate=_strings)
def contains_any(arg: tuple[str, ...], ctx: CheckContext) -> Result:
    """The answer contains at least one of the texts (case-sensitive)."""
    return _any(arg, ctx, fold=False)


@check("icontains-any", validate=_strings)
def icontains_any(arg: tuple[str, ...], ctx: CheckContext) -> Result:
    """The answer contains at least one of the texts, ignoring case."""
    return _any(arg, ctx, fold=True)


@check("contains-all", validate=_strings)
def contains_all(arg: tuple[str, ...], ctx: CheckContext) -> Result:
    """The answer contains every one of the texts (case-sensitive)."""
    return _all(arg, ctx, fold=False)


@check("icontains-all", validate=_strings)
def icontains_all(arg: tuple[str, ...], ctx: CheckContext) -> Result:
    """The answer contains every one of the texts, ignoring case."""
    return _all(arg, ctx, fold=True)


@check("starts-with", validate=_nonempty_string)
def starts_with(arg: str, ctx: CheckContext) -> Result:
    """The answer starts with the text (leading whitespace of the answer ignored)."""
    text = _text(ctx).lstrip()
    if text.startswith(arg):
        return Result(True, f"starts with {quote(arg, 60)}")
    return Result(False, f"expected to start with {quote(arg, 60)}, got {quote(text[:len(arg) + 40])}")


@check("ends-with", validate=_nonempty_string)
def ends_with(arg: str, ctx: CheckContext) -> Result:
    """The answer ends with the text (trailing whitespace of the answer ignored)."""
    text = _text(ctx).rstrip()
    if text.endswith(arg):
        return Result(True, f"ends with {quote(arg, 60)}")
    tail = text[-(len(arg) + 40):]
    more = "…" if len(tail) < len(text) else ""
    return Result(False, f"expected to end with {quote(arg, 60)}, got {more}{quote(tail)}")


_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def regex_arg(arg: Any) -> re.Pattern[str]:
    """A pattern, or {pattern, flags}; shared with json-path's ``matches``."""
    if isinstance(arg, str):
        pattern, flags = arg, ""
    elif isinstance(arg, dict) and "pattern" in arg and set(arg) <= {"pattern", "flags"}:
        pattern, flags = str(arg["pattern"]), str(arg.get("flags") or "")
    else:
        raise ValueError("expected a pattern, or {pattern: ..., flags: 'imsx'}")
    bits = 0
    for flag in flags:
        if flag not in _FLAGS:
            raise ValueError(f"unknown regex flag {flag!r} (use i, m, s, x)")
        bits |= _FLAGS[flag]
    try:
        return re.compile(pattern, bits)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


@check("regex", validate=regex_arg)
def regex(arg: re.Pattern[str], ctx: CheckContext) -> Result:
    """The answer matches the regular expression somewhere (re.search)."""
    text = _text(ctx)
    match = arg.search(text)
    if match:
        return Result(True, f"matched {quote(match.group(0), 60)}")
    return Result(False, f"/{trim(arg.pattern, 60)}/ did not match {quote(text)}")


# ---------------------------------------------------------------- length

_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|[。！？]+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")


def _sentences(text: str) -> int:
    """Sentences end with . ! ? followed by a space or the end (so 3.14 is no end), or with the
    CJK 。！？; a trailing fragment without a final stop still counts as one."""
    if not text:
        return 0
    ends = _SENTENCE_END.findall(text)
    tail = _SENTENCE_END.split(text)[-1].strip() if ends else text
    return len(ends) + (1 if tail else 0)


#: How each unit is counted, on the answer with surrounding whitespace stripped.
UNITS: dict[str, Callable[[str], int]] = {
    "chars": len,  # Unicode code points, not bytes
    "words": lambda t: len(t.split()),
    "sentences": _sentences,
    "lines": lambda t: len(t.splitlines()),
    "paragraphs": lambda t: len([p for p in _BLANK_LINE.split(t) if p.strip()]) if t else 0,
}


def _length(arg: Any) -> dict[str, tuple[float | None, float | None]]:
    if isinstance(arg, dict) and arg and set(arg) <= {"min", "max"}:  # bare bounds count characters
        arg = {"chars": arg}
    return named_bounds(arg, UNITS, what="unit", whole=True)


@check("length", validate=_length)
def length(arg: dict[str, tuple[int | None, int | None]], ctx: CheckContext) -> Result:
    """The answer's length in chars, words, sentences, lines or paragraphs is within bounds
    (bare ``{min, max}`` count chars); counted on the answer without surrounding whitespace."""
    text = _text(ctx).strip()
    problems, seen = [], []
    counts: dict[str, int] = {}
    for unit, (low, high) in arg.items():
        n = counts[unit] = UNITS[unit](text)
        if low is not None and n < low:
            problems.append(f"{unit}: {n} < min {low}")
        elif high is not None and n > high:
            problems.append(f"{unit}: {n} > max {high}")
        else:
            seen.append(f"{unit}: {n} within [{'' if low is None else low}, {'' if high is None else high}]")
    if problems:
        return Result(False, "; ".join(problems) + f" in {quote(text, 80)}", details=counts)
    return Result(True, "; ".join(seen), details=counts)
