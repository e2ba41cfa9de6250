"""The check registry: a check is one decorated function in one place.

A check function takes the argument written in the suite and a CheckContext, and returns a Result
(or a bare bool). The registry owns everything around it: argument validation at load time (so a
typo is a user error before any request is made), ``not-`` negation, weights, and turning a crash
inside a check into an error verdict instead of a traceback.

Checks come in three ways, all into this one table: built-in families (``check``), typed functions
of the user's (``register_function``, behind the public ``harness.check``; their arguments are
validated from their signature, signature.py), and other packages' entry points (plugins.py),
imported when a suite names a check nobody registered yet.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..episode import Episode, Step
from ..errors import UserError
from ..output import Output
from ..request import Request
from ..suite import Case, CheckSpec
from . import plugins
from .signature import signature_of
from .targets import scope_output


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
    #: Every step of a multi-step case (turns, tool loops); ``output`` is then the answer the check
    #: applies to (the final answer unless the check names a step or turn). None for one request.
    episode: Episode | None = None
    #: The steps a check aimed with ``step:`` / ``turn:`` covers (set by ``BoundCheck.run``);
    #: None: every step of ``episode``.
    scope: tuple[Step, ...] | None = None

    @property
    def steps(self) -> tuple[Step, ...]:
        """The model calls this check looks at, in order: its target's (one step for ``step: N``, a
        turn's steps for ``turn: N``), else the whole episode; empty for a case of one request,
        whose single call is ``request`` and ``output``. Tool checks walk these (trajectory)."""
        if self.scope is not None:
            return self.scope
        return self.episode.steps if self.episode is not None else ()


CheckFn = Callable[[Any, CheckContext], "Result | bool"]
ArgValidator = Callable[[Any], Any]


@dataclass(frozen=True)
class CheckDef:
    name: str
    fn: CheckFn
    validate: ArgValidator | None
    takes_arg: bool | None  # True: required, False: none allowed, None: optional
    doc: str
    origin: str = ""  # module.function of a typed check: the same function may register again


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


def register_function(name: str, fn: Callable[..., Any]) -> None:
    """Register a typed check ``fn(output[, context], *, arg: type, ...) -> bool | Result``.

    Its keyword-only parameters are the check's arguments, validated against their annotations
    when a suite is loaded. A bad signature or a name already taken is a TypeError/ValueError
    here, where the function is declared. Registering the same function again (its module was
    imported again) replaces it.
    """
    if not isinstance(name, str) or not name or name != name.strip() or name.startswith("not-"):
        raise ValueError(f"a check name must be a non-empty word without surrounding spaces and not "
                         f"start with 'not-' (that negates a check), got {name!r}")
    sig = signature_of(fn, name)
    origin = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    taken = registered().get(name)
    if taken is not None and taken.origin != origin:
        raise ValueError(f"check {name!r} is already registered ({taken.origin or 'built in'})")

    def call(arg: dict[str, Any], ctx: CheckContext) -> Result | bool:
        res = fn(ctx.output, ctx, **arg) if sig.wants_context else fn(ctx.output, **arg)
        if not isinstance(res, (bool, Result)):
            raise CheckError(f"{origin} returned {type(res).__name__} {trim(res, 80)}; "
                             "a check returns True/False or a harness.Result")
        return res

    _REGISTRY[name] = CheckDef(name, call, sig.validate, sig.takes_arg, (fn.__doc__ or "").strip(), origin)


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
        where = ""
        if self.spec.target is not None:
            chosen = self.spec.target.select(ctx.episode)
            if chosen.missing is not None:  # fails whatever the negation: there is nothing to judge
                return Verdict(self.label, False, chosen.missing, weight=self.spec.weight)
            where = f"{chosen.label}: "
            if chosen.steps:
                ctx = replace(ctx, request=chosen.steps[-1].request, output=scope_output(chosen.steps),
                              scope=chosen.steps)
        try:
            res = self.definition.fn(self.arg, ctx)
        except NeedsRecording:
            raise
        except CheckError as exc:
            return Verdict(self.label, False, f"{where}check error: {exc}", weight=self.spec.weight,
                           error=True)
        except Exception as exc:  # noqa: BLE001 - a broken check must not take the run down
            return Verdict(self.label, False, f"{where}check crashed: {type(exc).__name__}: {exc}",
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
        return Verdict(self.label, passed, where + reason, score=score, weight=self.spec.weight,
                       details=res.details)


def bind(spec: CheckSpec, *, case: str | None = None) -> BoundCheck:
    """Resolve a written check; unknown names and bad arguments are user errors at file:line."""
    definition, negate = _resolve(spec.name, registered())
    if definition is None:
        try:
            problems = _from_plugins(spec.name)
        except UserError as exc:
            raise exc.located(file=spec.file, line=spec.line, case=case) from None
        table = registered()
        definition, negate = _resolve(spec.name, table)
        if definition is None:
            close = _close_names(spec.name, table)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            hint += "".join(f"; {p}" for p in problems)
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


def _resolve(written: str, table: dict[str, CheckDef]) -> tuple[CheckDef | None, bool]:
    """The check a written name means, and whether ``not-`` negates it."""
    if written not in table and written.startswith("not-") and written[4:] in table:
        return table[written[4:]], True
    return table.get(written), False


def _from_plugins(written: str) -> list[str]:
    """Import the entry points that may provide ``written``: those of that name first (a broken
    one is the error), then all others; what those others could not load is returned, to add to
    an unknown-check error."""
    names = {written, written[4:]} if written.startswith("not-") else {written}
    for plugin in plugins.load(names.__contains__):
        _adopt(plugin)
    if any(n in _REGISTRY for n in names):
        return []
    problems = []
    for plugin in plugins.load(lambda name: name not in names):
        try:
            _adopt(plugin)
        except UserError as exc:
            problems.append(exc.message)
    return problems


def _adopt(plugin: plugins.Plugin) -> None:
    """Register an imported entry point's function under the entry point's name (a module, or a
    function already registered by its ``harness.check`` decorator, registered itself)."""
    if plugin.problem is not None:
        raise UserError(f"the check plugin {plugin.label} cannot be loaded: {plugin.problem}")
    if plugin.name in _REGISTRY or not callable(plugin.obj) or isinstance(plugin.obj, type):
        return
    try:
        register_function(plugin.name, plugin.obj)
    except (TypeError, ValueError) as exc:
        raise UserError(f"the check plugin {plugin.label} is not a check: {exc}") from None


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
