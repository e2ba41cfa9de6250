"""The Jinja environment suites render in: jinja2's sandbox, bounded in time and size.

jinja2's SandboxedEnvironment stops attribute tricks and file or process access, but not a
template that loops for ever or builds a string of many gigabytes. This subclass routes every
place a template can spend time or memory through template_checks (before an operation) and
template_limits (the deadline, and what an operation returns): each loop iteration (a code
generator wraps the iterable of every ``for``), every call (macros too), every operator, ``~``,
str.format, every filter, ``{% set ns.x %}``, block captures and the rendered text itself. It also
refuses the globals and filters whose output changes from run to run (``lipsum``, ``random``),
since a request that changes on every run can never replay.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes, pass_environment, pass_eval_context
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.filters import make_attrgetter
from jinja2.loaders import split_template_path
from jinja2.runtime import Namespace
from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

from . import safe_files
from . import template_checks as checks
from . import template_limits as limits

#: Filters that turn their input (and arguments) into text: only plain values may go in.
_TEXT_FILTERS = frozenset({
    "capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "pprint",
    "replace", "safe", "string", "striptags", "title", "tojson", "trim", "truncate", "upper",
    "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
})
#: Output that differs from run to run cannot replay: these are not available.
_UNAVAILABLE_FILTERS = ("random",)
_UNAVAILABLE_GLOBALS = ("lipsum",)


#: How a loader finds a file in its folders: (folder, path, how an error names the folder), or None.
Finder = Callable[[tuple[Path, ...], str], tuple[Path, Path, str] | None]


class SuiteLoader(jinja2.BaseLoader):
    """Loads ``{% include %}`` and message files from the suite's folder tree (then the shared
    folders), through safe_files: no '..' or absolute names, no symlink out of the folder it was
    found in, no FIFO or device, a size cap. ``find`` is render.py's lookup, which its own file
    reads (images, variable files) share."""

    def __init__(self, roots: tuple[Path, ...], find: Finder) -> None:
        self.roots = roots
        self.find = find

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        if template.startswith(("/", "\\")) or ":" in template.split("/")[0]:
            raise jinja2.TemplateNotFound(template)
        found = self.find(self.roots, os.path.join(*split_template_path(template)))  # refuses '..'
        if found is None:
            raise jinja2.TemplateNotFound(template)
        root, path, where = found
        source = safe_files.read_text(path, shown=template, what="template file", root=root, where=where)
        return source, str(path), lambda: True


def _unavailable(kind: str, name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise limits.TemplateLimit(f"the {kind} {name!r} is not available: its output changes on "
                                   "every run, so the request could never replay")

    return refuse


def guard_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every ``{% for %}`` iterates through this: one deadline check per item."""
    deadline, clock = limits.deadline(), time.monotonic
    for item in iterable:
        if clock() > deadline:
            limits.tick()  # raises, with the message
        yield item


def bounded_concat(pieces: Iterable[Any]) -> str:
    """``environment.concat``: joins the rendered text (and block captures) while counting it, so
    a loop printing a long text many times stops at the limit instead of at the join."""
    parts: list[str] = []
    total = 0
    for piece in pieces:
        if piece:
            total += len(piece)
            if total > limits.MAX_TEXT:
                raise limits.TemplateLimit(f"the rendered text is longer than {limits.MAX_TEXT:,} "
                                           "characters (the limit per message)")
            parts.append(piece)
    return limits.produced("".join(parts))


def guarded_str_join(pieces: Iterable[Any]) -> str:
    """The ``~`` operator: its operands must be printable and the result within the limits."""
    items = list(pieces)
    checks.check_join(items, "")
    return limits.produced("".join(map(str, items)))


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``: plain values only, of a printable size."""
    return checks.check_printable(value)


class _BoundedNamespace(Namespace):
    """``namespace()``: ``{% set ns.x = ... %}`` cannot store a value above the limits.

    (Namespace answers every attribute lookup from its own mapping, so this class uses none.)"""

    def __setitem__(self, name: str, value: Any) -> None:
        limits.tick()
        super().__setitem__(name, limits.produced(value))


class _BoundedFormatter(SandboxedFormatter):
    """str.format in templates: each field's width and the result's total size are bounded."""

    def __init__(self, env: jinja2.Environment, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.total = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        limits.tick()
        checks.check_format_spec(format_spec)
        self.total += checks.printed_size(value) + len(format_spec)
        if self.total > limits.MAX_TEXT:
            raise limits.TemplateLimit(f"a formatted text would be longer than "
                                       f"{limits.MAX_TEXT:,} characters")
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


class _GuardedCodeGenerator(CodeGenerator):
    """Compiles templates with a deadline check in every loop and a bounded ``~``.

    Code generators are jinja2's documented hook for changing compiled code; the loop guard must
    live in the compiled code because a ``for`` over a range calls nothing the sandbox sees."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        guarded = nodes.Call(nodes.EnvironmentAttribute("guard_loop"), [node.iter], [], None,
                             None, lineno=node.lineno)
        node = nodes.For(node.target, guarded, node.body, node.else_, node.test, node.recursive,
                         lineno=node.lineno)
        super().visit_For(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.guarded_str_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _text_filter(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Wrap a filter that turns its input into text: plain inputs in, a bounded result out."""
    passes_first = getattr(fn, "jinja_pass_arg", None) is not None

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limits.tick()
        values = args[1:] if passes_first else args
        for value in (*values, *kwargs.values()):
            checks.check_printable(value)
        if values:
            _pre_check(name, values[0], values[1:], kwargs)
        with limits.traced(limits.size_of((*values, *kwargs.values()))):
            return limits.produced(fn(*args, **kwargs))

    return wrapper


def _pre_check(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Filters whose result can dwarf their input: refuse before they run."""
    text = str(value) if name in ("indent", "wordwrap", "replace", "format") else ""
    if name == "center":
        checks.check_width(kwargs.get("width", args[0] if args else 80))
    elif name == "indent":
        width = kwargs.get("width", args[0] if args else 4)
        size = len(width) if isinstance(width, str) else width
        checks.check_width(size, "indent")
        if isinstance(size, int) and len(text) + (text.count("\n") + 1) * size > limits.MAX_TEXT:
            raise limits.TemplateLimit(f"indenting would make the text longer than "
                                       f"{limits.MAX_TEXT:,} characters")
    elif name == "wordwrap":
        width = kwargs.get("width", args[0] if args else 79)
        wrap = kwargs.get("wrapstring", args[2] if len(args) > 2 else None) or "\n"
        if isinstance(width, int) and isinstance(wrap, str):
            lines = 2 * len(text) // max(width, 1) + text.count("\n") + 2
            if len(text) + lines * len(wrap) > limits.MAX_TEXT:
                raise limits.TemplateLimit(f"wrapping would make the text longer than "
                                           f"{limits.MAX_TEXT:,} characters")
    elif name == "replace" and len(args) >= 2:
        checks.check_text_method(text, "replace", tuple(str(a) for a in args[:2]) + args[2:], {})
    elif name == "format":
        checks.check_percent(text, kwargs or args)
    elif name == "tojson":
        indent = kwargs.get("indent", args[0] if args else None)
        if isinstance(indent, int) and indent > 0:
            checks.check_width(indent, "indent")
            if checks.printed_size(value, indent=indent) > limits.MAX_TEXT:
                raise limits.TemplateLimit(f"the JSON would be longer than {limits.MAX_TEXT:,} "
                                           "characters")


@pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    items = list(map(make_attrgetter(eval_ctx.environment, attribute), value)) \
        if attribute is not None else list(value)
    checks.check_printable(d)
    checks.check_join(items, str(d))
    with limits.traced(len(items)):
        return limits.produced(_ORIGINAL["join"](eval_ctx, items, d))


@pass_environment
def _sum(environment: jinja2.Environment, iterable: Any, attribute: Any = None,
         start: Any = 0) -> Any:
    items = list(map(make_attrgetter(environment, attribute), iterable)) \
        if attribute is not None else list(iterable)
    for kind in (list, tuple):
        if isinstance(start, kind) and all(isinstance(x, kind) for x in items):
            # Python's sum copies the growing list at every step: quadratic, in C, uninterruptible.
            size = len(start) + sum(len(x) for x in items)
            if size > limits.MAX_ITEMS:
                raise limits.TemplateLimit(f"a sum would hold {size:,} items; the limit is "
                                           f"{limits.MAX_ITEMS:,}")
            return limits.produced(kind(itertools.chain(start, *items)))
    with limits.traced(len(items)):
        return limits.produced(sum(guard_loop(items), start))


def _counted(name: str, keyword: str) -> Callable[..., Any]:
    """batch(n) and slice(n) build n-sized lists: n is bounded like any list."""
    original = _ORIGINAL[name]
    skip = 2 if getattr(original, "jinja_pass_arg", None) is not None else 1  # (ctx,) value

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limits.tick()
        count = args[skip] if len(args) > skip else kwargs.get(keyword, 0)
        if isinstance(count, int) and count > limits.MAX_ITEMS:
            raise limits.TemplateLimit(f"{name}({count:,}) is above the limit of "
                                       f"{limits.MAX_ITEMS:,} items")
        return original(*args, **kwargs)  # a generator: its loop runs in the caller's guard

    return wrapper


def _list(value: Any) -> list[Any]:
    if isinstance(value, str) and len(value) > limits.MAX_ITEMS:
        raise limits.TemplateLimit(f"a list of {len(value):,} characters is above the limit of "
                                   f"{limits.MAX_ITEMS:,} items")
    return limits.produced(list(guard_loop(value)))


_ORIGINAL: dict[str, Callable[..., Any]] = dict(jinja2.filters.FILTERS)


def _bounded_filters() -> dict[str, Callable[..., Any]]:
    out: dict[str, Callable[..., Any]] = {}
    for name, fn in _ORIGINAL.items():
        if name in _UNAVAILABLE_FILTERS:
            out[name] = _unavailable("filter", name)
        else:
            out[name] = _text_filter(fn, name) if name in _TEXT_FILTERS else _post_checked(fn)
    out.update(join=_join, sum=_sum, list=_list, batch=_counted("batch", "linecount"),
               slice=_counted("slice", "slices"))
    return out


def _post_checked(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limits.tick()
        with limits.traced(limits.size_of((*args, *kwargs.values()))):
            return limits.produced(fn(*args, **kwargs))

    return wrapper


class BoundedSandbox(SandboxedEnvironment):
    """A SandboxedEnvironment whose templates cannot run for ever, build huge values, or print
    anything but plain values. The limits live in template_limits."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(finalize=_finalize, **kwargs)
        self.concat = bounded_concat  # type: ignore[method-assign]
        self.guard_loop = guard_loop
        self.guarded_str_join = guarded_str_join
        self.filters = _bounded_filters()
        for name in _UNAVAILABLE_GLOBALS:
            self.globals[name] = _unavailable("function", name)
        self.globals["namespace"] = _BoundedNamespace

    def compile(self, source: Any, name: str | None = None,
                filename: str | None = None, raw: bool = False, defer_init: bool = False) -> Any:
        """Every template (message, message file, include) is bounded in size before it compiles,
        and compiling counts against the deadline like a loop."""
        limits.tick()
        if isinstance(source, str):
            checks.check_template_source(source)
        return super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.tick()
        checks.check_binop(operator, left, right)
        return limits.produced(self.binop_table[operator](left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Every call a template makes (functions, methods, macros): the deadline, the methods
        that can build huge text, and the size of what comes back (or of a list grown in place)."""
        limits.tick()
        receiver = getattr(obj, "__self__", None)
        name = getattr(obj, "__name__", "")
        if isinstance(receiver, (str, bytes, bytearray)):  # str's methods, and Markup's
            if name == "join" and args:
                items = list(args[0])
                checks.check_join(items, str(receiver))
                args = (items, *args[1:])
            else:
                checks.check_text_method(receiver, name, args, kwargs)
        before = len(receiver) if isinstance(receiver, (list, dict, set)) else None
        result = super().call(context, obj, *args, **kwargs)
        if before is not None:
            limits.grew(receiver, before)
        return limits.produced(result)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """As jinja2 does, with a formatter that bounds widths and the result's size."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) \
                or value.__name__ not in ("format", "format_map"):
            return None
        f_self: Any = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type: type[str] = type(f_self)
        is_format_map = value.__name__ == "format_map"
        formatter: _BoundedFormatter = (
            _BoundedEscapeFormatter(self, escape=f_self.escape) if isinstance(f_self, Markup)
            else _BoundedFormatter(self))

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            formatter.total = 0
            return limits.produced(str_type(formatter.vformat(f_self, args, kwargs)))

        return functools.update_wrapper(wrapper, value)


__all__ = ["BoundedSandbox", "bounded_concat", "guard_loop", "guarded_str_join"]
