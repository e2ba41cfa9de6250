"""Comparisons a reviewer reads: what changed in a request (stale) or in an answer (regression)."""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .output import Output


def _pretty(value: Any) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def request_diff(recorded: dict[str, Any], current: dict[str, Any], *, max_lines: int = 24) -> str:
    """A short unified diff between a recorded request's canonical form and the current one."""
    lines = list(difflib.unified_diff(_pretty(recorded), _pretty(current), "recorded", "current",
                                      lineterm="", n=1))
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more diff lines)"]
    return "\n".join(lines)


@dataclass(frozen=True)
class Change:
    """How a new answer differs from its baseline. Filled by ``answer_diff``."""

    changed: bool
    kind: str  # "unchanged" | "text" | "json" | "tool_calls" | "status"
    summary: str
    text_diff: str = ""
    similarity: float = 1.0
    details: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- answers

_TEXT_DIFF_MAX_LINES = 400
_HUGE_TEXT = 20_000  # characters (both sides): beyond this the similarity is estimated
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*|'[^']*'|\"[^\"]*\")\]")
_DIFF_KEYS = ("ignore_order", "exclude_paths", "math_epsilon", "significant_digits")


class _QuietDeepDiff(logging.Filter):
    """deepdiff logs a warning on every call that combines math_epsilon with ignore_order (the
    tolerance then only applies to flat lists); docs/report-json.md says so once instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "math_epsilon in conjunction with ignore_order" not in record.getMessage()


logging.getLogger("deepdiff.diff").addFilter(_QuietDeepDiff())


def _translate_path(path: str) -> tuple[str, bool]:
    """``$.a.b[0]`` / ``a.b`` / ``root['a']`` -> (deepdiff path, is_regex). ``[*]`` is any index
    or key, which deepdiff's exact paths cannot say, so such a path becomes an anchored regex."""
    text = path.strip()
    if text.startswith("root"):
        rest = text[4:]
    elif text.startswith("$"):
        rest = text[1:]
    else:
        rest = "." + text
    segments: list[str | int | None] = []  # None is the wildcard
    pos = 0
    while pos < len(rest):
        m = _PATH_TOKEN.match(rest, pos)
        if m is None:
            raise ValueError(f"cannot read {path!r} at {rest[pos:]!r} (write $.a.b[0] or root['a']['b'][0])")
        name, index = m.group(1), m.group(2)
        if name is not None:
            segments.append(name)
        elif index == "*":
            segments.append(None)
        elif index[0] in "'\"":
            segments.append(index[1:-1])
        else:
            segments.append(int(index))
        pos = m.end()
    if not segments:
        raise ValueError(f"{path!r} names the whole answer; exclude a field inside it")
    if None not in segments:
        return "root" + "".join(f"[{s}]" if isinstance(s, int) else f"[{s!r}]" for s in segments), False
    parts = [r"\[(?:\d+|'[^']*'|\"[^\"]*\")\]" if s is None else re.escape(f"[{s}]" if isinstance(s, int)
             else f"[{s!r}]") for s in segments]
    return "^root" + "".join(parts) + "$", True


@dataclass(frozen=True)
class DiffOptions:
    """How answers are compared: a suite's ``diff:`` mapping.

    ``exclude_paths`` apply to the parsed JSON content and to every tool call's arguments; a path
    is ``$.a.b[0]`` (``$.items[*].id`` for every item), a bare ``a.b``, or deepdiff's own
    ``root['a']['b'][0]``. ``math_epsilon`` / ``significant_digits`` are deepdiff's numeric
    tolerances.
    """

    ignore_order: bool = False
    exclude_paths: tuple[str, ...] = ()
    math_epsilon: float | None = None
    significant_digits: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, file: str | Path | None = None) -> DiffOptions:
        """Validate a suite's ``diff:`` mapping; a mistake is a UserError naming the file."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise UserError("diff: expected a mapping with " + ", ".join(_DIFF_KEYS), file=file)
        unknown = sorted(set(data) - set(_DIFF_KEYS))
        if unknown:
            raise UserError(f"diff: unknown keys {unknown} (use {', '.join(_DIFF_KEYS)})", file=file)
        ignore_order = data.get("ignore_order", False)
        if not isinstance(ignore_order, bool):
            raise UserError("diff.ignore_order: expected true or false", file=file)
        paths = data.get("exclude_paths") or []
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, (list, tuple)) or not all(isinstance(p, str) for p in paths):
            raise UserError("diff.exclude_paths: expected a list of paths like $.id", file=file)
        for p in paths:
            try:
                _translate_path(p)
            except ValueError as exc:
                raise UserError(f"diff.exclude_paths: {exc}", file=file) from None
        eps = data.get("math_epsilon")
        if eps is not None and (isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0):
            raise UserError("diff.math_epsilon: expected a number >= 0", file=file)
        digits = data.get("significant_digits")
        if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int) or digits < 0):
            raise UserError("diff.significant_digits: expected an integer >= 0", file=file)
        return cls(ignore_order, tuple(paths), None if eps is None else float(eps), digits)

    def deepdiff_kwargs(self, *, with_exclusions: bool = True) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"ignore_order": self.ignore_order, "view": "tree"}
        if self.math_epsilon is not None:
            kwargs["math_epsilon"] = self.math_epsilon
        if self.significant_digits is not None:
            kwargs["significant_digits"] = self.significant_digits
        if with_exclusions and self.exclude_paths:
            exact: list[str] = []
            regex: list[str] = []
            for p in self.exclude_paths:
                text, is_regex = _translate_path(p)
                (regex if is_regex else exact).append(text)
            if exact:
                kwargs["exclude_paths"] = exact
            if regex:
                kwargs["exclude_regex_paths"] = regex
        return kwargs


_REPORT_WORDS = {"values_changed": "changed", "type_changes": "type changed",
                 "dictionary_item_added": "added", "dictionary_item_removed": "removed",
                 "iterable_item_added": "added", "iterable_item_removed": "removed",
                 "set_item_added": "added", "set_item_removed": "removed",
                 "repetition_change": "repeated differently"}


def _items(a: Any, b: Any, options: DiffOptions, *, with_exclusions: bool = True) -> list[dict[str, Any]]:
    """deepdiff's findings as plain, JSON-ready dicts: path, change, old, new."""
    # Imported on first use: deepdiff pulls in numpy (~0.2 s), which a plain replay never needs.
    from deepdiff import DeepDiff
    from deepdiff.helper import NotPresent

    tree = DeepDiff(a, b, **options.deepdiff_kwargs(with_exclusions=with_exclusions))
    out = []
    for report_type in tree:
        for level in tree[report_type]:
            item: dict[str, Any] = {"path": level.path(), "change": _REPORT_WORDS.get(report_type, report_type)}
            if not isinstance(level.t1, NotPresent):
                item["old"] = level.t1
            if not isinstance(level.t2, NotPresent):
                item["new"] = level.t2
            out.append(item)
    return sorted(out, key=lambda i: i["path"])


def value_changes(a: Any, b: Any, options: DiffOptions, *, with_exclusions: bool = True) -> list[dict[str, Any]]:
    """Structural differences between two JSON values (tool arguments, a JSON answer or tool
    result), honouring the suite's options: ``[{path, change, old, new}]``, sorted by path."""
    return _items(a, b, options, with_exclusions=with_exclusions)


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(items: list[dict[str, Any]], limit: int = 3) -> str:
    parts = []
    for item in items[:limit]:
        if item["change"] in ("changed", "type changed"):
            parts.append(f"{item['path']}: {_short(item.get('old'))} → {_short(item.get('new'))}")
        else:
            parts.append(f"{item['path']} {item['change']}")
    more = f"; +{len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(parts) + more


def similarity(a: str, b: str) -> float:
    """0..1, difflib's ratio. For huge texts (where ratio is quadratic) quick_ratio instead: an
    upper bound in linear time, that still tells a rewrite from a touch-up."""
    if a == b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return matcher.ratio() if len(a) + len(b) <= _HUGE_TEXT else matcher.quick_ratio()


def text_diff(a: str, b: str, *, max_lines: int = _TEXT_DIFF_MAX_LINES) -> str:
    """A unified diff between two answers (``baseline`` / ``current``), capped in length."""
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "baseline", "current",
                                      lineterm="", n=2))
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more diff lines)"]
    return "\n".join(lines)


def as_json(text: str) -> Any:
    """The content as a JSON object or array, or None: prose that happens to be a bare number or
    word is compared as prose."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


@dataclass
class _Aspect:
    kind: str
    summary: str
    diff: str = ""


def _calls_as_data(output: Output) -> list[dict[str, Any]]:
    return [{"name": c.name, "arguments": c.arguments if c.parsed[1] is None else c.raw_arguments}
            for c in output.tool_calls]


def _tool_aspect(baseline: Output, current: Output, options: DiffOptions,
                 details: dict[str, Any]) -> _Aspect | None:
    old, new = _calls_as_data(baseline), _calls_as_data(current)
    if options.ignore_order:
        old.sort(key=lambda c: json.dumps(c, sort_keys=True, default=str))
        new.sort(key=lambda c: json.dumps(c, sort_keys=True, default=str))
    names_old, names_new = [c["name"] for c in old], [c["name"] for c in new]
    if names_old != names_new:
        details["tool_calls"] = [{"path": "names", "change": "changed", "old": names_old, "new": names_new}]
        return _Aspect("tool_calls", f"tool calls {names_old or '[]'} → {names_new or '[]'}",
                       text_diff("\n".join(_pretty(old)), "\n".join(_pretty(new))))
    found: list[dict[str, Any]] = []
    ignored = 0
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        items = _items(a["arguments"], b["arguments"], options)
        found.extend({**item, "path": f"{a['name']}#{i} {item['path']}"} for item in items)
        if not items and a["arguments"] != b["arguments"]:
            ignored += len(_items(a["arguments"], b["arguments"], options, with_exclusions=False))
    if ignored:
        details["ignored"] = details.get("ignored", 0) + ignored
    if not found:
        return None
    details["tool_calls"] = found
    return _Aspect("tool_calls", f"tool arguments: {_describe(found)}",
                   text_diff("\n".join(_pretty(old)), "\n".join(_pretty(new))))


def _content_aspect(baseline: Output, current: Output, options: DiffOptions,
                    details: dict[str, Any]) -> tuple[_Aspect | None, float]:
    a, b = baseline.text, current.text
    if a == b:
        return None, 1.0
    ja, jb = as_json(a), as_json(b)
    if ja is not None and jb is not None:
        items = _items(ja, jb, options)
        pretty_a, pretty_b = "\n".join(_pretty(ja)), "\n".join(_pretty(jb))
        if not items:
            ignored = len(_items(ja, jb, options, with_exclusions=False))
            if ignored:
                details["ignored"] = details.get("ignored", 0) + ignored
            return None, 1.0
        details["json"] = items
        return (_Aspect("json", f"JSON: {len(items)} change{'s' * (len(items) != 1)} ({_describe(items)})",
                        text_diff(pretty_a, pretty_b)), similarity(pretty_a, pretty_b))
    ratio = similarity(a, b)
    return _Aspect("text", f"text changed (similarity {ratio:.0%})", text_diff(a, b)), ratio


def answer_diff(baseline: Output, current: Output, options: DiffOptions | None = None) -> Change:
    """How ``current`` differs from ``baseline``: JSON content and tool arguments structurally
    (deepdiff, honouring the suite's options), prose as a unified diff with a similarity ratio.
    A difference confined to excluded paths is no change at all."""
    options = options or DiffOptions()
    details: dict[str, Any] = {}
    aspects: list[_Aspect] = []
    if (baseline.error, baseline.status) != (current.error, current.status):
        was = baseline.error or f"HTTP {baseline.status}"
        now = current.error or f"HTTP {current.status}"
        details["status"] = {"old": was, "new": now}
        aspects.append(_Aspect("status", f"{was} → {now}"))
    tools = _tool_aspect(baseline, current, options, details)
    if tools is not None:
        aspects.append(tools)
    content, ratio = _content_aspect(baseline, current, options, details)
    if content is not None:
        aspects.append(content)
    if baseline.finish_reason != current.finish_reason:
        details["finish_reason"] = {"old": baseline.finish_reason, "new": current.finish_reason}
        aspects.append(_Aspect("status", f"finish_reason {baseline.finish_reason} → {current.finish_reason}"))
    if not aspects:
        ignored = details.get("ignored", 0)
        summary = f"unchanged (only excluded paths differ: {ignored})" if ignored else "unchanged"
        return Change(False, "unchanged", summary, similarity=1.0, details=details)
    order = ("status", "tool_calls", "json", "text")
    kind = min((a.kind for a in aspects), key=order.index)
    return Change(True, kind, "; ".join(a.summary for a in aspects),
                  text_diff="\n".join(a.diff for a in aspects if a.diff), similarity=ratio,
                  details=details)


def change_to_json(change: Change) -> dict[str, Any]:
    return {"changed": change.changed, "kind": change.kind, "summary": change.summary,
            "similarity": change.similarity, "text_diff": change.text_diff,
            "details": change.details}


def change_from_json(data: Mapping[str, Any]) -> Change:
    return Change(bool(data["changed"]), str(data["kind"]), str(data.get("summary", "")),
                  text_diff=str(data.get("text_diff", "")), similarity=float(data.get("similarity", 1.0)),
                  details=dict(data.get("details") or {}))
