"""The check registry: a check is one decorated function in one place.

A check function takes the argument written in the suite and a CheckContext, and returns a Result
(or a bare bool). The registry owns everything around it: argument validation at load time (so a
typo is a user error before any request is made), ``not-`` negation, weights, and turning a crash
inside a check into an error verdict instead of a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..output import Output
from ..request import Request
from ..suite import Case, CheckSpec


@dataclass(frozen=True)
class Result:
    """What a check function returns: pass/fail, why, and optionally a 0..1 score."""

    passed: bool
    reason: str = ""
    score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """A check's judgement on one case, as every report shows it."""

    name: str
    passed: bool
    reason: str
    score: float | None = None
    weight: float = 1.0
    error: bool = False
    details: dict[str, Any] = field(default_factory=dict)


class CheckError(Exception):
    """Raised inside a check when it cannot judge (e.g. an unparseable judge answer)."""


class NeedsRecording(Exception):
    """Raised by a service (the judge) when replay lacks an exchange the check needs.

    It is not turned into a verdict: the runner marks the whole case stale or missing, because a
    changed rubric is a changed request, exactly like a changed prompt.
    """

    def __init__(self, status: str, detail: str = "", *, message: str = "") -> None:
        super().__init__(status)
        self.status = status  # "stale" or "missing"
        self.detail = detail
        self.message = message  # what changed, in a sentence (the detail holds the diff)


@dataclass
class CheckContext:
    """Everything a check may look at; ``services`` holds run-level helpers (pricing, judge)."""

    case: Case
    request: Request
    output: Output
    services: dict[str, Any] = field(default_factory=dict)


CheckFn = Callable[[Any, CheckContext], "Result | bool"]
ArgValidator = Callable[[Any], Any]


@dataclass(frozen=True)
class CheckDef:
    name: str
    fn: CheckFn
    validate: ArgValidator | None
    takes_arg: bool | None  # True: required, False: none allowed, None: optional
    doc: str


_REGISTRY: dict[str, CheckDef] = {}


def check(name: str, *, arg: bool | None = True,
          validate: ArgValidator | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check ``name``. ``validate`` may normalise the argument or raise."""

    def deco(fn: CheckFn) -> CheckFn:
        if name in _REGISTRY:
            raise RuntimeError(f"check {name!r} registered twice")
        _REGISTRY[name] = CheckDef(name, fn, validate, arg, (fn.__doc__ or "").strip())
        return fn

    return deco


def registered() -> dict[str, CheckDef]:
    from . import load_builtin_checks

    load_builtin_checks()
    return dict(_REGISTRY)


@dataclass(frozen=True)
class BoundCheck:
    """A check resolved against the registry, its argument validated and normalised."""

    spec: CheckSpec
    definition: CheckDef
    arg: Any
    negate: bool

    @property
    def label(self) -> str:
        return ("not-" if self.negate else "") + self.definition.name

    def run(self, ctx: CheckContext) -> Verdict:
        try:
            res = self.definition.fn(self.arg, ctx)
        except NeedsRecording:
            raise
        except CheckError as exc:
            return Verdict(self.label, False, f"check error: {exc}", weight=self.spec.weight, error=True)
        except Exception as exc:  # noqa: BLE001 - a broken check must not take the run down
            return Verdict(self.label, False, f"check crashed: {type(exc).__name__}: {exc}",
                           weight=self.spec.weight, error=True)
        if isinstance(res, bool):
            res = Result(res, "" if res else "check returned false")
        passed = res.passed != self.negate
        reason = res.reason
        if self.negate:
            reason = f"expected not: {reason}" if not passed else f"(negated) {reason}"
        score = res.score
        if score is not None and self.negate:
            score = 1.0 - score
        return Verdict(self.label, passed, reason, score=score, weight=self.spec.weight,
                       details=res.details)


def bind(spec: CheckSpec, *, case: str | None = None) -> BoundCheck:
    """Resolve a written check; unknown names and bad arguments are user errors at file:line."""
    table = registered()
    name, negate = spec.name, False
    if name not in table and name.startswith("not-") and name[4:] in table:
        name, negate = name[4:], True
    definition = table.get(name)
    if definition is None:
        close = _close_names(name, table)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"unknown check {spec.name!r}{hint}", file=spec.file, line=spec.line,
                        case=case)
    arg = spec.arg
    if definition.takes_arg is True and arg is None:
        raise UserError(f"check {spec.name!r} needs an argument", file=spec.file, line=spec.line,
                        case=case)
    if definition.takes_arg is False and arg not in (None, {}, True):
        raise UserError(f"check {spec.name!r} takes no argument", file=spec.file, line=spec.line,
                        case=case)
    if definition.validate is not None:
        try:
            with _suite_on_path(spec.file):
                arg = definition.validate(arg)
        except UserError as exc:
            raise exc.located(file=spec.file, line=spec.line, case=case) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise UserError(f"bad argument for check {spec.name!r}: {exc}", file=spec.file,
                            line=spec.line, case=case) from None
    return BoundCheck(spec, definition, arg, negate)


@lru_cache(maxsize=256)
def _folder_of(file: str) -> str:
    return str(Path(file).resolve().parent)


@contextmanager
def _suite_on_path(file: str) -> Iterator[None]:
    """Let ``python: module:function`` checks import modules that sit beside the suite."""
    folder = _folder_of(os.path.abspath(file))  # a relative name depends on the current folder
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def _close_names(name: str, table: dict[str, CheckDef]) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)


def trim(value: Any, limit: int = 120) -> str:
    """A short, single-line rendering of a value for a failure reason."""
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"
