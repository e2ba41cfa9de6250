"""Text checks on the answer's content."""

from __future__ import annotations

import re
from typing import Any

from .registry import CheckContext, Result, check, trim


def _text(ctx: CheckContext) -> str:
    return ctx.output.text


def _string(arg: Any) -> str:
    if not isinstance(arg, (str, int, float)) or isinstance(arg, bool):
        raise ValueError("expected a string")
    return str(arg)


@check("equals", validate=_string)
def equals(arg: str, ctx: CheckContext) -> Result:
    """The whole answer equals the text (surrounding whitespace ignored)."""
    got = _text(ctx).strip()
    if got == arg.strip():
        return Result(True, "answer equals the expected text")
    return Result(False, f"expected {trim(arg)!s}, got {trim(got)!s}")


@check("contains", validate=_string)
def contains(arg: str, ctx: CheckContext) -> Result:
    """The answer contains the text (case-sensitive)."""
    text = _text(ctx)
    if arg in text:
        return Result(True, f"found {trim(arg, 60)!r}")
    return Result(False, f"{trim(arg, 60)!r} not found in {trim(text)!r}")


def _regex(arg: Any) -> re.Pattern[str]:
    if isinstance(arg, str):
        pattern, flags = arg, ""
    elif isinstance(arg, dict) and "pattern" in arg:
        pattern, flags = str(arg["pattern"]), str(arg.get("flags", ""))
    else:
        raise ValueError("expected a pattern, or {pattern: ..., flags: 'ims'}")
    bits = 0
    for flag in flags:
        bits |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(flag, 0) \
            or _bad_flag(flag)
    try:
        return re.compile(pattern, bits)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def _bad_flag(flag: str) -> int:
    raise ValueError(f"unknown regex flag {flag!r} (use i, m, s, x)")


@check("regex", validate=_regex)
def regex(arg: re.Pattern[str], ctx: CheckContext) -> Result:
    """The answer matches the regular expression somewhere (re.search)."""
    text = _text(ctx)
    match = arg.search(text)
    if match:
        return Result(True, f"matched {trim(match.group(0), 60)!r}")
    return Result(False, f"/{trim(arg.pattern, 60)}/ did not match {trim(text)!r}")
