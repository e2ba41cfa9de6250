"""A typed check's arguments, read from its Python signature and validated when a suite loads.

``def word_count_between(output: Output, *, min: int, max: int) -> bool`` declares its arguments
once, as keyword-only parameters with type annotations; a suite writes them as a mapping
(``word_count_between: {min: 5, max: 50}``). The annotations are enforced strictly (``"5"`` is not
an ``int``, ``true`` is not a number) with pydantic's validators, so a wrong type in YAML is a
user error at the check's line, before any request is made, never a crash in the middle of a run.
pydantic is imported only when a typed check is declared: runs of built-in checks never pay for it.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class Argument:
    name: str
    required: bool
    adapter: Any = None  # pydantic's TypeAdapter for the annotation; None: anything goes


@dataclass(frozen=True)
class CheckSignature:
    """What a typed check function takes: the answer, maybe the context, then its arguments."""

    name: str
    arguments: tuple[Argument, ...]
    wants_context: bool  # a second positional parameter receives the CheckContext

    @property
    def takes_arg(self) -> bool | None:
        """The registry's rule: True an argument is required, False none is allowed, None optional."""
        if not self.arguments:
            return False
        return True if any(a.required for a in self.arguments) else None

    def validate(self, given: Any) -> dict[str, Any]:
        """The suite's argument -> keyword arguments; ValueError listing every problem found."""
        if given is None or given is True:  # `- name` or `name: true` when nothing is required
            given = {}
        names = [a.name for a in self.arguments]
        if not isinstance(given, dict):
            raise ValueError(f"expected a mapping of arguments ({', '.join(names)}), got {given!r}")
        problems = []
        for key in given:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f" (takes {', '.join(names) or 'none'})"
                problems.append(f"unknown argument {key!r}{hint}")
        out: dict[str, Any] = {}
        for arg in self.arguments:
            if arg.name not in given:
                if arg.required:
                    problems.append(f"missing argument {arg.name!r}")
                continue
            try:
                out[arg.name] = _validated(arg.adapter, given[arg.name])
            except ValueError as exc:
                problems.append(f"argument {arg.name!r}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return out


def signature_of(fn: Callable[..., Any], name: str) -> CheckSignature:
    """Read ``fn``'s signature; a shape the registry cannot call is a TypeError naming the check."""
    try:
        sig = inspect.signature(fn, eval_str=True)
    except (NameError, TypeError, ValueError) as exc:
        raise TypeError(f"check {name!r}: cannot read the signature of {fn!r}: {exc}") from None
    positional = [p for p in sig.parameters.values() if p.kind in _POSITIONAL]
    others = [p for p in sig.parameters.values()
              if p.kind not in _POSITIONAL and p.kind != inspect.Parameter.KEYWORD_ONLY]
    if not 1 <= len(positional) <= 2 or others or any(p.default is not p.empty for p in positional):
        raise TypeError(f"check {name!r}: {getattr(fn, '__qualname__', fn)!r} must take the output "
                        "(and optionally the check context) as positional parameters, then only "
                        "keyword-only arguments: def f(output, *, limit: int) -> bool")
    # An annotation pydantic cannot check fails here, when the check is declared, not in a run.
    arguments = tuple(Argument(p.name, p.default is p.empty,
                               None if p.annotation is p.empty else _adapter(name, p.name, p.annotation))
                      for p in sig.parameters.values() if p.kind == inspect.Parameter.KEYWORD_ONLY)
    return CheckSignature(name, arguments, wants_context=len(positional) == 2)


def _adapter(check: str, argument: str, annotation: Any) -> Any:
    from pydantic import ConfigDict, PydanticUserError, TypeAdapter

    try:
        return TypeAdapter(annotation, config=ConfigDict(strict=True))
    except PydanticUserError:
        pass  # a model or dataclass carries its own config: strict then applies as it declares
    try:
        return TypeAdapter(annotation)
    except PydanticUserError as exc:
        raise TypeError(f"check {check!r}: argument {argument!r} has a type that cannot be checked "
                        f"({annotation!r}): {exc}") from None


def _validated(adapter: Any, value: Any) -> Any:
    if adapter is None:
        return value
    from pydantic import ValidationError

    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            where = "".join(f"[{step!r}]" for step in err["loc"])
            parts.append(f"{where + ': ' if where else ''}{err['msg']}")
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:79] + "…"
        raise ValueError(f"{'; '.join(parts)}, got {shown}") from None
