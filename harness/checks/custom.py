"""``python:`` checks: a function the suite's author wrote, for what no built-in check expresses.

The target is imported when the suite is loaded (the registry puts the suite's folder on sys.path
for that), so a typo in the module or function name is a user error before any request is made,
not a crash in the middle of a run. Only the project's own modules are imported: one found outside
the project (the standard library, an installed package, a symlink pointing elsewhere) is refused,
like any other file a suite names from outside its project. What the function returns is normalised here into a Result;
anything unexpected is an error verdict that shows what came back, never a silent pass.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import safe_files
from ..errors import UserError
from .group import binding_spec
from .registry import CheckContext, CheckError, NeedsRecording, Result, check, trim


@dataclass(frozen=True)
class PythonCheck:
    target: str
    fn: Callable[..., Any]
    args: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.5


def import_target(target: Any) -> Callable[..., Any]:
    """``package.module:function`` -> the function; every failure is a UserError naming the target."""
    if not isinstance(target, str) or target.count(":") != 1:
        raise UserError(f"check 'python': expected 'package.module:function', got {target!r}")
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise UserError(f"check 'python': expected 'package.module:function', got {target!r}")
    spec = binding_spec()
    root = safe_files.project_root(Path(spec.file)) if spec is not None and spec.file else None
    if root is not None:
        _require_inside(module_name, _origins(module_name.split(".")[0]), root, target)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - a broken module is the user's to fix
        raise UserError(f"check 'python': cannot import {module_name!r} for {target!r}: "
                        f"{type(exc).__name__}: {exc}") from None
    if root is not None:
        _require_inside(module_name, [getattr(module, "__file__", None)], root, target)
    fn: Any = module
    for part in attr.split("."):
        try:
            fn = getattr(fn, part)
        except AttributeError:
            raise UserError(f"check 'python': module {module_name!r} has no attribute {attr!r} "
                            f"(target {target!r})") from None
    if not callable(fn):
        raise UserError(f"check 'python': {target!r} is not a function (found {type(fn).__name__} "
                        f"{trim(fn, 40)})")
    return fn


def _origins(top: str) -> list[str | None] | None:
    """Where ``top`` would be imported from, without importing it (None: not found at all)."""
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    if found.has_location and found.origin:
        return [found.origin]
    return list(found.submodule_search_locations or []) or [None]  # None: built in or frozen


def _require_inside(module_name: str, origins: list[str | None] | None, root: Path,
                    target: str) -> None:
    if origins is None:
        return  # not found: import_module reports it
    if not all(o is not None and safe_files.is_inside(Path(o), root) for o in origins):
        raise UserError(f"check 'python': module {module_name!r} for {target!r} is not a file "
                        f"inside the project ({root}); python: checks import only the project's "
                        "own modules (symlinks are followed)")


def _python_arg(arg: Any) -> PythonCheck:
    if isinstance(arg, str):
        return PythonCheck(arg, import_target(arg))
    if not isinstance(arg, dict) or "function" not in arg:
        raise ValueError("expected 'package.module:function', or {function: ..., args: {...}, "
                         "threshold: 0.5}")
    unknown = set(arg) - {"function", "args", "threshold"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (use function, args, threshold)")
    args = arg.get("args") or {}
    if not isinstance(args, dict) or not all(isinstance(k, str) and k.isidentifier() for k in args):
        raise ValueError("args must be a mapping of keyword-argument names to values")
    threshold = arg.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number in 0..1, got {threshold!r}")
    return PythonCheck(arg["function"], import_target(arg["function"]), dict(args), float(threshold))


def _score(value: Any, target: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not 0 <= value <= 1:
        raise CheckError(f"{target} returned the score {value!r}; a score must be a number in 0..1")
    return float(value)


def _verdict(value: Any, threshold: float, target: str) -> tuple[bool, float | None]:
    """A returned pass flag or score -> (passed, score)."""
    if isinstance(value, bool):
        return value, None
    score = _score(value, target)
    return score >= threshold, score


def to_result(value: Any, *, target: str, threshold: float) -> Result:
    """Whatever the function returned, as a Result (or a CheckError saying what it was)."""
    expected = "expected a bool, a score in 0..1, (bool, reason), {pass, score, reason} or a Result"
    if isinstance(value, Result):
        return value
    if isinstance(value, (bool, int, float)):
        passed, score = _verdict(value, threshold, target)
        how = f"score {score:g} {'>=' if passed else '<'} threshold {threshold:g}" \
            if score is not None else f"returned {value}"
        return Result(passed, f"{target} {how}", score=score)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (bool, int, float)):
        passed, score = _verdict(value[0], threshold, target)
        return Result(passed, str(value[1]), score=score)
    if isinstance(value, dict):
        flag = value.get("pass", value.get("passed"))
        score = _score(value["score"], target) if value.get("score") is not None else None
        if flag is None and score is None:
            raise CheckError(f"{target} returned a dict without pass/passed or score: {trim(value)}")
        if flag is not None and not isinstance(flag, bool):
            raise CheckError(f"{target} returned pass={flag!r}; it must be true or false")
        passed = flag if flag is not None else score >= threshold  # type: ignore[operator]
        reason = str(value.get("reason") or (f"score {score:g}" if score is not None else
                                             f"{target} returned pass={flag}"))
        return Result(bool(passed), reason, score=score)
    raise CheckError(f"{target} returned {type(value).__name__} {trim(value, 80)}; {expected}")


@check("python", validate=_python_arg)
def python(arg: PythonCheck, ctx: CheckContext) -> Result:
    """Your function ``fn(output, case, **args)`` judges the answer."""
    try:
        value = arg.fn(ctx.output, ctx.case, **arg.args)
    except (NeedsRecording, CheckError):
        raise
    except Exception as exc:  # noqa: BLE001 - the user's bug, shown as an error verdict
        raise CheckError(f"{arg.target} raised {type(exc).__name__}: {exc}") from None
    return to_result(value, target=arg.target, threshold=arg.threshold)
