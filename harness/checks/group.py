"""Grouping: ``all-of`` and ``any-of`` combine checks written exactly like a case's check list.

An item may aim at one step or turn (``{tool-call: search, step: 1}``), so "the first or the second
step looked it up" is one ``any-of``; a target always counts in the whole episode, also inside a
group that is itself aimed.

The inner checks are bound when the group is bound, so a typo inside a group is a user error at
load time with the group's file and line, like any other check. At run time each inner check runs
through its own ``BoundCheck.run`` (negation, error verdicts, judge replay all behave as at top
level) and the group's reason lists every inner verdict, so a failing group says which part failed.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from ..errors import UserError
from ..suite import CheckSpec
from . import registry
from .registry import BoundCheck, CheckContext, CheckError, Result, Verdict, check, trim
from .targets import TARGET_KEYS, Target


def binding_spec() -> CheckSpec | None:
    """The CheckSpec whose argument is being validated right now, or None outside ``bind``.

    Argument validators receive only the argument, yet some need the spec's file (a schema file
    beside the suite, the location of inner checks). Until the registry hands the spec over itself
    (a ``registry.binding_spec`` function is used when it exists), find the innermost ``bind`` call
    on the stack and read its ``spec``.
    """
    own = getattr(registry, "binding_spec", None)
    if callable(own):
        return own()
    code = registry.bind.__code__
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            spec = frame.f_locals.get("spec")
            return spec if isinstance(spec, CheckSpec) else None
        frame = frame.f_back
    return None


def parse_items(raw: Any, *, file: str, line: int | None, what: str) -> list[CheckSpec]:
    """Turn a written check list (strings or one-key mappings) into CheckSpecs located at file:line."""
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{what} expects a non-empty list of checks")
    specs = []
    for i, item in enumerate(raw, 1):
        if isinstance(item, str) and item:
            specs.append(CheckSpec(name=item, arg=None, file=file, line=line))
            continue
        named = [k for k in item if k not in TARGET_KEYS] if isinstance(item, dict) else []
        if len(named) != 1:
            raise ValueError(f"{what} item {i} must be a check name or a one-key mapping "
                             f"{{name: argument}} (with step: or turn: if it aims at one), "
                             f"got {trim(item, 60)}")
        try:
            target = Target.from_item(item)
        except ValueError as exc:
            raise ValueError(f"{what} item {i}: {exc}") from None
        specs.append(CheckSpec(name=str(named[0]), arg=item[named[0]], file=file, line=line, target=target))
    return specs


def _bind_items(raw: Any, what: str) -> tuple[BoundCheck, ...]:
    outer = binding_spec()
    file, line = (outer.file, outer.line) if outer is not None else ("", None)
    bound = []
    for i, spec in enumerate(parse_items(raw, file=file, line=line, what=what), 1):
        try:
            bound.append(registry.bind(spec))
        except UserError as exc:
            raise UserError(f"{what} item {i}: {exc.message}", file=exc.file, line=exc.line,
                            case=exc.case) from None
    return tuple(bound)


def _verdicts(items: tuple[BoundCheck, ...], ctx: CheckContext) -> list[Verdict]:
    return [item.run(ctx) for item in items]


def _listing(verdicts: list[Verdict]) -> str:
    marks = []
    for v in verdicts:
        mark = "error" if v.error else ("pass" if v.passed else "FAIL")
        marks.append(f"[{mark}] {v.name}: {trim(v.reason, 100)}")
    return "; ".join(marks)


def _details(verdicts: list[Verdict]) -> dict[str, Any]:
    return {"checks": [{"name": v.name, "passed": v.passed, "error": v.error, "reason": v.reason,
                        "score": v.score} for v in verdicts]}


@check("all-of", validate=lambda arg: _bind_items(arg, "all-of"))
def all_of(arg: tuple[BoundCheck, ...], ctx: CheckContext) -> Result:
    """Every inner check passes. A failing inner check fails the group; an inner error (with no
    failure) makes the group an error, since the group cannot be judged."""
    verdicts = _verdicts(arg, ctx)
    failed = [v for v in verdicts if not v.passed and not v.error]
    errors = [v for v in verdicts if v.error]
    if failed:
        return Result(False, f"{len(failed)} of {len(verdicts)} failed: {_listing(verdicts)}",
                      details=_details(verdicts))
    if errors:
        raise CheckError(f"{len(errors)} of {len(verdicts)} could not judge: {_listing(verdicts)}")
    return Result(True, f"all {len(verdicts)} passed: {_listing(verdicts)}", details=_details(verdicts))


@check("any-of", validate=lambda arg: _bind_items(arg, "any-of"))
def any_of(arg: tuple[BoundCheck, ...], ctx: CheckContext) -> Result:
    """At least one inner check passes. Every inner check runs, so the reason shows them all; with
    no pass and an inner error the group is an error, since that check might have passed."""
    verdicts = _verdicts(arg, ctx)
    passed = [v for v in verdicts if v.passed and not v.error]
    if passed:
        return Result(True, f"{len(passed)} of {len(verdicts)} passed: {_listing(verdicts)}",
                      details=_details(verdicts))
    if any(v.error for v in verdicts):
        raise CheckError(f"none passed and some could not judge: {_listing(verdicts)}")
    return Result(False, f"none of {len(verdicts)} passed: {_listing(verdicts)}",
                  details=_details(verdicts))
