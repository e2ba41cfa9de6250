"""Checks of one template operation before it runs: its operands decide whether it may.

A C-level operation (``10 ** 10 ** 10``, ``'x' * 10**9``, ``'{:>2000000000}'.format('')``) cannot
be interrupted by any timer, so template_sandbox asks these functions first, from the size of the
operands alone. They also hold the rule for printing: only plain values (text, numbers, booleans,
none, dates, lists and mappings of them), since the text of a function or object embeds a memory
address and would change the request on every run.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Any

from .template_limits import (
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_TAG_TEXT,
    MAX_TAGS,
    MAX_TEXT,
    MAX_WIDTH,
    TemplateLimit,
    tick,
    too_long,
)

_SEQUENCES = (str, bytes, bytearray, list, tuple)

_TAG_START = re.compile(r"\{[{%#]")
_TAG_END = {"{": "}}", "%": "%}", "#": "#}"}


def check_template_source(source: str) -> None:
    """Refuse a template with more tags, or more text inside them, than compiling may cost."""
    tags = inside = 0
    end = 0
    for m in _TAG_START.finditer(source):
        if m.start() < end:
            continue  # inside the previous tag
        close = source.find(_TAG_END[m.group()[1]], m.end())
        end = len(source) if close == -1 else close + 2
        tags += 1
        inside += end - m.start()
        if tags > MAX_TAGS or inside > MAX_TAG_TEXT:
            raise TemplateLimit(f"the template has more than {MAX_TAGS:,} tags or "
                                f"{MAX_TAG_TEXT:,} characters of template syntax")


def _kind(value: Any) -> str:
    if callable(value):
        return "a function" if not isinstance(value, type) else "a class"
    return f"a {type(value).__name__} object"


def printed_size(value: Any, *, limit: int = MAX_TEXT, indent: int = 0, _depth: int = 0) -> int:
    """About how many characters ``str(value)`` gives (or JSON with ``indent``), refusing
    anything but plain values.

    Walks lists and mappings (stopping as soon as the total passes ``limit``), so a list holding
    the same long text a million times is refused before it is ever turned into text."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise TemplateLimit(f"an integer above {MAX_INT_BITS:,} bits")
        return value.bit_length() * 3 // 10 + 2
    if isinstance(value, (float, datetime.date, datetime.time)):
        return 32
    from jinja2 import Undefined  # imported by then: only a rendered template prints values

    if isinstance(value, Undefined):
        return len(str(value))  # a strict undefined raises its own, better error here
    if isinstance(value, (list, tuple, dict)):
        if _depth >= MAX_DEPTH:
            raise TemplateLimit(f"a printed value nests more than {MAX_DEPTH} levels deep")
        items: Iterable[Any] = value.items() if isinstance(value, dict) else value
        per_item = 4 + (indent * (_depth + 1) + 1 if indent else 0)  # quotes, ", ", a new line
        total = 2
        for n, item in enumerate(items):
            if isinstance(value, dict):
                total += printed_size(item[0], limit=limit, indent=indent, _depth=_depth + 1) + 2
                item = item[1]
            total += printed_size(item, limit=limit, indent=indent, _depth=_depth + 1) + per_item
            if total > limit:
                raise too_long(total)
            if n % 4096 == 4095:
                tick()
        return total
    raise TemplateLimit(f"a template may print only plain values (text, numbers, true/false, "
                        f"none, lists and mappings of them), not {_kind(value)}: its text "
                        "would hold a memory address and change on every run")


def check_printable(value: Any) -> Any:
    """The rule for every value a template prints or turns into text."""
    if isinstance(value, str):
        return value
    size = printed_size(value)
    if size > MAX_TEXT:
        raise too_long(size)
    return value


def check_join(items: list[Any], sep: str) -> None:
    """``sep.join(items)`` (the join filter, str.join, ``~``) before it runs."""
    if len(items) > MAX_ITEMS:
        raise too_long(len(items), "items")
    total = len(sep) * max(len(items) - 1, 0)
    for item in items:
        total += printed_size(item, limit=MAX_TEXT - total) if not isinstance(item, str) else len(item)
        if total > MAX_TEXT:
            raise too_long(total)


# ---------------------------------------------------------------- operators and widths

def check_width(width: Any, what: str = "width") -> None:
    if isinstance(width, int) and width > MAX_WIDTH:
        raise TemplateLimit(f"the {what} {width:,} is above the limit of {MAX_WIDTH:,}")


def check_format_spec(spec: str) -> None:
    """Refuse a str.format spec whose width or precision is above MAX_WIDTH."""
    for digits in re.findall(r"\d+", spec):
        if len(digits) > 6 or int(digits) > MAX_WIDTH:
            raise TemplateLimit(f"the format width or precision {digits[:12]} is above the limit "
                                f"of {MAX_WIDTH:,}")


_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d*))?"
                      r"[hlL]?(?P<type>.?)", re.DOTALL)


def check_percent(fmt: str, args: Any) -> None:
    """``fmt % args`` (the operator and the format filter): widths and the result's size."""
    total, position = len(fmt), 0
    for m in _PERCENT.finditer(fmt):
        if m.group("type") == "%":
            continue
        if "*" in (m.group("width"), m.group("prec")):
            raise TemplateLimit("'*' widths in % formatting are not allowed in templates; "
                                "write the width as a number")
        width, prec = int(m.group("width") or 0), int(m.group("prec") or 0)
        check_width(width)
        check_width(prec, "precision")
        if m.group("key") is not None:
            value = args.get(m.group("key")) if isinstance(args, dict) else None
        elif isinstance(args, tuple):
            value = args[position] if position < len(args) else None
            position += 1
        else:
            value, position = (args if position == 0 else None), position + 1
        total += width + prec + printed_size(value)
        if total > MAX_TEXT:
            raise too_long(total)


def _int(value: Any) -> bool:
    return isinstance(value, int)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operator whose result would be too big, before it is computed."""
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, _SEQUENCES) and _int(times):
                size = len(seq) * max(times, 0)
                limit, what = (MAX_TEXT, "text") if isinstance(seq, (str, bytes, bytearray)) \
                    else (MAX_ITEMS, "items")
                if size > limit:
                    raise too_long(size, what)
                return
        if _int(left) and _int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimit(f"a product above {MAX_INT_BITS:,} bits")
    elif operator == "**":
        if _int(left) and _int(right) and right > 0 and abs(left) > 1 \
                and (right > MAX_INT_BITS or left.bit_length() * right > MAX_INT_BITS):
            raise TemplateLimit(f"a power above {MAX_INT_BITS:,} bits")
    elif operator == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            size = len(left) + len(right)
            limit, what = (MAX_TEXT, "text") if isinstance(left, (str, bytes, bytearray)) \
                else (MAX_ITEMS, "items")
            if size > limit:
                raise too_long(size, what)
    elif operator == "%" and isinstance(left, str):
        check_percent(left, right)


def check_text_method(text: str | bytes | bytearray, name: str, args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> None:
    """Refuse ``text.name(*args)`` when its result would pass the limits, before it runs: these
    are the methods of str (and bytes) whose result can be far longer than their operands
    (``join`` is checked by the sandbox, which must first turn its argument into a list)."""
    arg = args[0] if args else next(iter(kwargs.values()), None)
    if name in ("center", "ljust", "rjust", "zfill"):
        check_width(arg)
    elif name == "expandtabs":
        size: int = arg if isinstance(arg, int) else 8
        check_width(size, "tab size")
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        if len(text) + tabs * max(size, 0) > MAX_TEXT:
            raise too_long(len(text) + tabs * size)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)):
            count = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
            if len(args) > 2 and _int(args[2]) and args[2] >= 0:
                count = min(count, args[2])
            size = len(text) + count * (len(new) - len(old))
            if size > MAX_TEXT:
                raise too_long(size)
    elif name == "translate" and isinstance(arg, dict):
        longest = max((len(v) for v in arg.values() if isinstance(v, str)), default=1)
        if len(text) * longest > MAX_TEXT:
            raise too_long(len(text) * longest)


__all__ = [
    "check_binop", "check_format_spec", "check_join", "check_percent", "check_printable",
    "check_template_source", "check_text_method", "check_width", "printed_size",
]
