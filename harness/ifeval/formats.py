"""Checkers for layout instructions: detectable_content, detectable_format, startend.

Several of them replace a short regular expression by an explicit scan
with the same result: the regular expressions backtrack quadratically on
long runs of blank lines, brackets or "<<", and a test suite must not hang
on a pathological 200k-character response.
"""

from __future__ import annotations

import json
import re

from harness.ifeval.base import (
    AT_LEAST,
    Kwargs,
    Verdict,
    plural,
    quote,
    relation_verdict,
)
from harness.ifeval.text import snippet

# --------------------------------------------------------------------------
# detectable_content
# --------------------------------------------------------------------------


def _placeholders(text: str) -> list[str]:
    r"""Non-overlapping "[...]" spans that do not cross a line break.

    Same result as ``re.findall(r"\[.*?\]", text)``, in linear time.
    """
    found: list[str] = []
    pos = text.find("[")
    while pos >= 0:
        close = text.find("]", pos + 1)
        if close < 0:
            break
        newline = text.find("\n", pos + 1, close)
        if newline >= 0:
            pos = text.find("[", newline + 1)
            continue
        found.append(text[pos : close + 1])
        pos = text.find("[", close + 1)
    return found


def number_placeholders(response: str, kw: Kwargs) -> Verdict:
    found = _placeholders(response)
    shown = f" (e.g. {', '.join(snippet(m, 30) for m in found[:3])})" if found else ""
    return relation_verdict(
        len(found), AT_LEAST, kw["num_placeholders"], plural(len(found), "[placeholder]") + shown
    )


def _postscript_pattern(marker: str) -> re.Pattern[str]:
    marker = marker.strip().lower()
    if marker == "p.p.s":
        body = r"p\.\s?p\.\s?s"
    elif marker == "p.s.":
        body = r"p\.\s?s\."
    else:
        body = re.escape(marker)
    return re.compile(body + r".*", re.IGNORECASE)


def postscript(response: str, kw: Kwargs) -> Verdict:
    """The marker must appear (case-insensitive; "P. S." spacing allowed).

    Like the reference evaluator, the marker may appear anywhere, not only
    at the start of the last paragraph.
    """
    marker = kw["postscript_marker"]
    match = _postscript_pattern(marker).search(response)
    if match:
        return True, f"postscript found: {quote(match.group().strip())}"
    return False, f"no postscript marker {marker!r} in the response"


# --------------------------------------------------------------------------
# detectable_format
# --------------------------------------------------------------------------

CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def constrained_response(response: str, kw: Kwargs) -> Verdict:
    for option in CONSTRAINED_OPTIONS:
        if option in response:
            return True, f"contains {option!r}"
    return False, f"none of {', '.join(map(repr, CONSTRAINED_OPTIONS))} in {quote(response)}"


_FENCE_OPEN_RE = re.compile(r"^```(?:json)?", re.IGNORECASE)


def json_format(response: str, kw: Kwargs) -> Verdict:
    body = _FENCE_OPEN_RE.sub("", response.strip(), count=1)
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except ValueError as err:
        return False, f"not valid JSON ({err}): {quote(body)}"
    except RecursionError:
        return False, "not valid JSON (nested too deeply to parse)"
    return True, "the whole response is valid JSON"


def multiple_sections(response: str, kw: Kwargs) -> Verdict:
    splitter = kw["section_spliter"].strip()
    parts = re.split(r"\s?" + re.escape(splitter) + r"\s?\d+\s?", response)
    return relation_verdict(
        len(parts) - 1,
        AT_LEAST,
        kw["num_sections"],
        plural(len(parts) - 1, f"'{splitter} N' section"),
    )


def _count_bullets(text: str) -> int:
    """Lines whose first non-blank character is "-", or "*" not followed by "*".

    A lone "*" line swallows the line after it (the bullet's text may start
    on the next line), so that line is not counted again.
    """
    lines = text.split("\n")
    stars = dashes = 0
    index = 0
    while index < len(lines):
        stripped = lines[index].lstrip()
        dashes += stripped.startswith("-")
        if stripped.startswith("*") and not stripped.startswith("**"):
            if len(stripped) > 1:
                stars += 1
            elif index + 1 < len(lines):
                stars += 1
                index += 1
                dashes += lines[index].lstrip().startswith("-")
        index += 1
    return stars + dashes


def number_bullet_lists(response: str, kw: Kwargs) -> Verdict:
    count = _count_bullets(response)
    target = kw["num_bullets"]
    return count == target, f"{plural(count, 'bullet point')}, need exactly {target}"


_ITALIC_RE = re.compile(r"\*[^\n\*]*\*")
_BOLD_RE = re.compile(r"\*\*[^\n\*]*\*\*")


def number_highlighted_sections(response: str, kw: Kwargs) -> Verdict:
    found = [m for m in _ITALIC_RE.findall(response) if m.strip("*").strip()]
    found += [m for m in _BOLD_RE.findall(response) if m[2:-2].strip()]
    shown = f" (e.g. {', '.join(snippet(m, 30) for m in found[:3])})" if found else ""
    return relation_verdict(
        len(found),
        AT_LEAST,
        kw["num_highlights"],
        plural(len(found), "highlighted section") + shown,
    )


def _title_candidates(text: str) -> list[str]:
    r"""Per line, the span from the first "<<" to the last ">>" (with text between).

    Same as ``re.findall(r"<<[^\n]+>>", text)``, in linear time.
    """
    found: list[str] = []
    for line in text.split("\n"):
        start, end = line.find("<<"), line.rfind(">>")
        if start >= 0 and end >= start + 3:
            found.append(line[start : end + 2])
    return found


def title(response: str, kw: Kwargs) -> Verdict:
    for candidate in _title_candidates(response):
        if candidate.lstrip("<").rstrip(">").strip():
            return True, f"title found: {snippet(candidate, 80)!r}"
    return False, "no <<title>> in double angular brackets"


# --------------------------------------------------------------------------
# startend
# --------------------------------------------------------------------------


def end_checker(response: str, kw: Kwargs) -> Verdict:
    expected = kw["end_phrase"].strip().lower()
    got = response.strip().strip('"').lower()
    if got.endswith(expected):
        return True, f"ends with {kw['end_phrase']!r}"
    tail = got[-max(len(expected), 30) :]
    return False, f"does not end with {kw['end_phrase']!r}; ends with {snippet(tail, 80)!r}"


def quotation(response: str, kw: Kwargs) -> Verdict:
    body = response.strip()
    if len(body) > 1 and body[0] == '"' and body[-1] == '"':
        return True, "wrapped in double quotation marks"
    return False, (
        f"not wrapped in double quotes: starts with {body[:10]!r}, ends with {body[-10:]!r}"
    )
