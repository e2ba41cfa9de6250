"""Small formatting shared by the report formats: money, rates, an answer as text, word diffs."""

from __future__ import annotations

import difflib
import json
import re

from ..output import Output
from ..pricing import usd
from .records import CaseRecord, Totals

STATUS_LABEL = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "stale": "STALE",
                "missing": "MISSING", "skipped": "SKIP", "removed": "REMOVED"}
STATUS_ORDER = ("failed", "error", "stale", "missing", "passed", "skipped")
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_MAX_TOKENS = 20_000  # beyond this (per side) a word diff is quadratic in practice: go by lines


def cost(value: float | None) -> str:
    """USD, with three significant digits below a cent: a prompt's cost is often $0.000312."""
    return "?" if value is None else usd(value)


def cost_delta(value: float) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "±") + cost(abs(value))


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def counts_line(t: Totals) -> str:
    parts = [f"{t.counts[s]} {s}" for s in ("passed", "failed", "error", "stale", "missing", "skipped")
             if t.counts.get(s)]
    return ", ".join(parts) or "no cases"


def total_cost(t: Totals) -> str:
    unknown = f" (+{t.cost_unknown} unpriced)" if t.cost_unknown else ""
    return cost(t.cost_usd) + unknown


def latency(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:,.0f} ms"


def case_cost(t: Totals) -> str:
    """One case's cost (its samples' sum): ``$?`` when none of it has a price, as in a trajectory."""
    return "$?" if t.cost_unknown and not t.cost_usd else total_cost(t)


def judge_cost(t: Totals) -> str:
    """The rubric judges' share of ``total_cost`` (their calls are part of each case's cost)."""
    return cost(t.judge_cost_usd)


def answer_text(output: Output | None) -> str:
    """What a reader compares: the content (JSON pretty-printed, so a diff is per field), then the
    tool calls, or the error."""
    if output is None:
        return ""
    parts = []
    if output.error:
        parts.append(f"[error] {output.error}")
    text = output.content or ""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            text = json.dumps(json.loads(stripped), indent=2, ensure_ascii=False, sort_keys=True)
        except ValueError:
            pass
    if text:
        parts.append(text)
    if output.tool_calls:
        calls = [{"name": c.name, "arguments": c.arguments if c.parsed[1] is None else c.raw_arguments}
                 for c in output.tool_calls]
        parts.append("tool calls:\n" + json.dumps(calls, indent=2, ensure_ascii=False, sort_keys=True))
    return "\n\n".join(parts)


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Segments ``(op, text)`` with op ``=`` (both), ``-`` (only old) or ``+`` (only new)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(a) > _MAX_TOKENS or len(b) > _MAX_TOKENS:
        a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return out


def reasons(case: CaseRecord) -> list[str]:
    """Why a case is not passing, one line each: its message, then each failed check."""
    lines = [case.message] if case.message else []
    lines += [f"{c.name}: {c.reason}" if c.reason else c.name for c in case.failed_checks]
    return lines


def trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
