"""How much a template may cost: time per case, size of every value it builds, memory it keeps.

`harness validate` runs on pull requests, so a template must not be able to hang CI or exhaust its
memory. Two kinds of cost need two kinds of guard:

- Work done in Python bytecode (loops, macro recursion) is bounded by a deadline per case, checked
  by the sandbox at every loop iteration, call and operator (template_sandbox.py). Checking a clock
  there costs nanoseconds, works in any thread (the pytest door and xdist workers render too) and
  costs nothing for the many messages that hold no template syntax at all.
- A single C-level operation (``10 ** 10 ** 10``, ``'x' * 10**9``, ``'{:>2000000000}'``) cannot be
  interrupted by any timer, so it is refused *before* it runs, from the size of its operands
  (template_checks.py); what it returns is checked here (``produced``).

Values that each stay within the limits can still pile up (a loop appending a new long text to a
list each time), so while a template builds large values the process's resident memory is sampled
now and then, and a render that grew it by more than MAX_MEMORY_GROWTH is stopped. Transient work
(rebuilding a long text in a loop, freeing the old one) costs time, not memory, and is left to the
deadline.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

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
#: Tags ({{ }}, {% %}, {# #}) in one template, and characters inside them: compiling costs about
#: 60 µs per tag and 10 µs per token, in code no deadline reaches, so its size is bounded instead.
MAX_TAGS = 5_000
MAX_TAG_TEXT = 50_000

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
    tick()  # the callee may have swallowed the tracer's exception (an `except Exception:`)


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


def too_long(n: int, what: str = "text") -> TemplateLimit:
    if what == "text":
        return TemplateLimit(f"a template value would be {n:,} characters long; the limit is "
                             f"{MAX_TEXT:,}")
    return TemplateLimit(f"a template value would hold {n:,} items; the limit is {MAX_ITEMS:,}")


def produced(value: Any) -> Any:
    """Check and charge a value an operation just built; return it unchanged."""
    if isinstance(value, (str, bytes, bytearray)):
        if len(value) > MAX_TEXT:
            raise too_long(len(value))
        _charge(len(value))
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        if len(value) > MAX_ITEMS:
            raise too_long(len(value), "items")
        _charge(len(value))
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"an integer above {MAX_INT_BITS:,} bits")
    return value


def grew(container: Any, before: int) -> None:
    """Check a list or mapping that a method call may have grown in place."""
    size = len(container)
    if size > MAX_ITEMS:
        raise too_long(size, "items")
    _charge(max(size - before, 0))


__all__ = [
    "MAX_DEPTH", "MAX_INT_BITS", "MAX_ITEMS", "MAX_MEMORY_GROWTH", "MAX_TAGS", "MAX_TAG_TEXT",
    "MAX_TEXT", "MAX_WIDTH", "RENDER_SECONDS", "TRACE_FROM", "Budget", "TemplateLimit", "active",
    "deadline", "grew", "produced", "resident_memory", "size_of", "tick", "too_long", "traced",
]
