"""Argument shapes several checks share, validated the same way with the same messages."""

from __future__ import annotations

from typing import Any


def non_negative(value: Any, what: str, *, whole: bool = False) -> float:
    """A number >= 0 (an int when ``whole``); bools are not numbers here."""
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        raise ValueError(f"{what} must be a {'whole number' if whole else 'number'} >= 0, got {value!r}")
    return value


def bounds(limits: Any, what: str, *, whole: bool = False,
           bare_max: bool = False) -> tuple[float | None, float | None]:
    """``{min: N, max: M}`` (one or both) -> (min, max); with ``bare_max`` a plain number is a max."""
    if bare_max and not isinstance(limits, dict):
        limits = {"max": limits}
    if not isinstance(limits, dict) or not limits or not set(limits) <= {"min", "max"}:
        raise ValueError(f"{what}: expected {{min: N, max: M}} (one or both)"
                         + (", or a number (max)" if bare_max else ""))
    low = non_negative(limits["min"], f"{what}.min", whole=whole) if limits.get("min") is not None else None
    high = non_negative(limits["max"], f"{what}.max", whole=whole) if limits.get("max") is not None else None
    if low is not None and high is not None and low > high:
        raise ValueError(f"{what}: min {low} is greater than max {high}")
    return low, high


def named_bounds(arg: Any, names: Any, *, what: str, **kw: bool) -> dict[str, tuple[float | None, float | None]]:
    """``{name: {min, max}, ...}`` for a fixed set of names (units, token kinds) -> name -> bounds."""
    if not isinstance(arg, dict) or not arg:
        raise ValueError(f"expected {{{'|'.join(names)}: {{min: N, max: M}}}}")
    out = {}
    for name, limits in arg.items():
        if name not in names:
            raise ValueError(f"unknown {what} {name!r} (use {', '.join(names)})")
        out[name] = bounds(limits, name, **kw)
    return out
