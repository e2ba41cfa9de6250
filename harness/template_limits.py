"""How much a template may cost: time per case, size of every value it builds, and what it may print.

`harness validate` runs on pull requests, so a template must not be able to hang CI or exhaust its
memory. Two kinds of cost need two kinds of guard:

- Work done in Python bytecode (loops, macro recursion) is bounded by a deadline per case, checked
  by the sandbox at every loop iteration, call and operator (template_sandbox.py). Checking a clock
  there costs nanoseconds, works in any thread (the pytest door and xdist workers render too) and
  costs nothing for the many messages that hold no template syntax at all.
- A single C-level operation (``10 ** 10 ** 10``, ``'x' * 10**9``, ``'{:>2000000000}'``) cannot be
  interrupted by any timer, so it is refused *before* it runs, from the size of its operands.

Values that each stay within the limits can still pile up (a loop appending a new long text to a
list each time), so while a template builds large values the process's resident memory is sampled
now and then, and a render that grew it by more than MAX_MEMORY_GROWTH is stopped. Transient work
(rebuilding a long text in a loop, freeing the old one) costs time, not memory, and is left to the
deadline.

Printing is limited to plain values (text, numbers, booleans, none, dates, lists and mappings of
them): the repr of a function or object embeds a memory address, which would make the request,
and so the cassette's key, change on every run.
"""

from __future__ import annotations

import datetime
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from jinja2 import Undefined

#: Seconds of rendering per case (all of its messages together).
RENDER_SECONDS = 5.0
#: Characters in any text a template builds, and in each rendered message.
MAX_TEXT = 4_000_000
#: Items in any list or mapping a template builds.
MAX_ITEMS = 1_000_000
#: Bytes by which rendering may grow the process's resident memory.
MAX_MEMORY_GROWTH = 256 * 1024 * 1024
#: Characters (or items) built between two samples of the resident memory.
_SAMPLE_EVERY = 8_000_000
#: Bits of any integer a template computes (about 19,700 decimal digits).
MAX_INT_BITS = 65_536
#: Format widths and precisions (str.format, %, center, indent, ljust, ...).
MAX_WIDTH = 10_000
#: How deeply printed lists and mappings may nest.
MAX_DEPTH = 100

_SEQUENCES = (str, bytes, bytearray, list, tuple)


class TemplateLimit(Exception):
    """A template asked for more than the limits allow, or printed a value that is not plain."""


@dataclass
class Budget:
    """What one case may still spend; shared by the renders of its messages."""

    seconds: float = field(default_factory=lambda: RENDER_SECONDS)
    spent: float = 0.0
    deadline: float = 0.0
    memory_at_start: int | None = None
    built_since_sample: int = 0


_local = threading.local()


@contextmanager
def active(budget: Budget) -> Iterator[None]:
    """Charge the renders inside the block to ``budget`` (in this thread only)."""
    outer = getattr(_local, "budget", None)
    if outer is budget:
        yield
        return
    start = time.monotonic()
    budget.deadline = start + max(budget.seconds - budget.spent, 0.0)
    budget.memory_at_start, budget.built_since_sample = None, 0  # sampled once big values appear
    _local.budget = budget
    try:
        yield
    finally:
        _local.budget = outer
        budget.spent += time.monotonic() - start


def tick() -> None:
    """Raise when the current case's render time is used up (cheap: called on every step)."""
    budget = getattr(_local, "budget", None)
    if budget is not None and time.monotonic() > budget.deadline:
        raise TemplateLimit(f"rendering took longer than {budget.seconds:g} s (the limit per case)")


#: Filters on inputs smaller than this run untraced: even a quadratic one is then quick.
TRACE_FROM = 10_000


def size_of(values: Iterable[Any]) -> int:
    """The summed length of the texts and containers among ``values`` (others count 0)."""
    return sum(len(v) for v in values if isinstance(v, (str, list, tuple, dict)))


@contextmanager
def traced(size: int) -> Iterator[None]:
    """Enforce the deadline inside library code a template calls on a large input (``size``):
    a filter's own Python loops, such as textwrap's on a very long word, are outside the compiled
    template's checks.

    A trace function sees every line the callee runs; it is set only around such calls and only in
    this thread, then the previous one (a coverage tool's, say) is put back."""
    budget = getattr(_local, "budget", None)
    if budget is None or size < TRACE_FROM:
        yield
        return
    deadline, previous = budget.deadline, sys.gettrace()

    def check(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        if time.monotonic() > deadline:
            raise TemplateLimit(f"rendering took longer than {budget.seconds:g} s "
                                "(the limit per case)")
        return check

    sys.settrace(check)
    try:
        yield
    finally:
        sys.settrace(previous)


def deadline() -> float:
    """When the current render must stop (infinity outside a render, e.g. while compiling)."""
    budget = getattr(_local, "budget", None)
    return budget.deadline if budget is not None else float("inf")


def resident_memory() -> int | None:
    """This process's resident memory in bytes (Linux), else its peak (other Unixes), else None."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _charge(amount: int) -> None:
    """Count what was built; now and then, check the memory the render holds on to."""
    budget = getattr(_local, "budget", None)
    if budget is None or amount < 4096:
        return
    if budget.memory_at_start is None:
        budget.memory_at_start = resident_memory()
    budget.built_since_sample += amount
    if budget.built_since_sample < _SAMPLE_EVERY or budget.memory_at_start is None:
        return
    budget.built_since_sample = 0
    now = resident_memory()
    if now is not None and now - budget.memory_at_start > MAX_MEMORY_GROWTH:
        raise TemplateLimit(f"the template holds more than {MAX_MEMORY_GROWTH >> 20} MB of "
                            "values (a loop keeping every long text it builds?)")


def _too_long(n: int, what: str = "text") -> TemplateLimit:
    if what == "text":
        return TemplateLimit(f"a template value would be {n:,} characters long; the limit is "
                             f"{MAX_TEXT:,}")
    return TemplateLimit(f"a template value would hold {n:,} items; the limit is {MAX_ITEMS:,}")


def produced(value: Any) -> Any:
    """Check and charge a value an operation just built; return it unchanged."""
    if isinstance(value, (str, bytes, bytearray)):
        if len(value) > MAX_TEXT:
            raise _too_long(len(value))
        _charge(len(value))
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        if len(value) > MAX_ITEMS:
            raise _too_long(len(value), "items")
        _charge(len(value))
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"an integer above {MAX_INT_BITS:,} bits")
    return value


def grew(container: Any, before: int) -> None:
    """Check a list or mapping that a method call may have grown in place."""
    size = len(container)
    if size > MAX_ITEMS:
        raise _too_long(size, "items")
    _charge(max(size - before, 0))


# ---------------------------------------------------------------- printing

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
                raise _too_long(total)
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
        raise _too_long(size)
    return value


def check_join(items: list[Any], sep: str) -> None:
    """``sep.join(items)`` (the join filter, str.join, ``~``) before it runs."""
    if len(items) > MAX_ITEMS:
        raise _too_long(len(items), "items")
    total = len(sep) * max(len(items) - 1, 0)
    for item in items:
        total += printed_size(item, limit=MAX_TEXT - total) if not isinstance(item, str) else len(item)
        if total > MAX_TEXT:
            raise _too_long(total)


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
            raise _too_long(total)


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
                    raise _too_long(size, what)
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
                raise _too_long(size, what)
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
            raise _too_long(len(text) + tabs * size)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)):
            count = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
            if len(args) > 2 and _int(args[2]) and args[2] >= 0:
                count = min(count, args[2])
            size = len(text) + count * (len(new) - len(old))
            if size > MAX_TEXT:
                raise _too_long(size)
    elif name == "translate" and isinstance(arg, dict):
        longest = max((len(v) for v in arg.values() if isinstance(v, str)), default=1)
        if len(text) * longest > MAX_TEXT:
            raise _too_long(len(text) * longest)


__all__ = [
    "MAX_DEPTH", "MAX_INT_BITS", "MAX_ITEMS", "MAX_MEMORY_GROWTH", "MAX_TEXT", "MAX_WIDTH",
    "RENDER_SECONDS", "TRACE_FROM", "Budget", "TemplateLimit", "active", "check_binop",
    "check_format_spec", "check_join", "check_percent", "check_printable", "check_text_method",
    "check_width", "deadline", "grew", "printed_size", "produced", "resident_memory", "size_of",
    "tick", "traced",
]
