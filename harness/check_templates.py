"""Check arguments that use the case's variables: ``equals: "{{ expected }}"``.

A suite writes its checks once for all its cases, while the expected answer often differs per case
(the usual shape of an evaluation set: an input and what should come back, per row of a data file).
So a text inside a check's argument that holds template syntax is rendered with the case's
variables, in the sandbox its messages render in (render.py): ``contains: "{{ city }}"``, a
``json-path`` value, a tool call's arguments. A text that is exactly one ``{{ expression }}`` keeps
the value's type, so ``arguments: "{{ expected_args }}"`` is a mapping and ``"{{ n | int }}"`` a
number. A check without template syntax is not touched, and planning.py still validates it once
for every case that shares it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .render import Renderer
from .suite import CheckSpec
from .yamlio import LineDict, LineList

_MARKS = ("{{", "{%")


def templated(arg: Any) -> bool:
    """Whether any text in a check's argument (keys aside) holds template syntax."""
    if isinstance(arg, str):
        return any(mark in arg for mark in _MARKS)
    if isinstance(arg, dict):
        return any(templated(v) for v in arg.values())
    if isinstance(arg, list):
        return any(templated(v) for v in arg)
    return False


def rendered(spec: CheckSpec, renderer: Renderer, variables: dict[str, Any], case: str) -> CheckSpec:
    """``spec`` with every templated text of its argument rendered for one case; an error names
    the check's file, line and the case."""
    what = f"check {spec.name!r}"

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            if not any(mark in value for mark in _MARKS):
                return value
            return renderer.render_value(value, variables, line=spec.line, case=case, what=what)
        if isinstance(value, dict):
            return _like(value, {k: walk(v) for k, v in value.items()})
        if isinstance(value, list):
            return _like(value, [walk(v) for v in value])
        return value

    return replace(spec, arg=walk(spec.arg))


def _like(original: Any, value: Any) -> Any:
    """``value`` keeping the line numbers ``original`` carried (validators point errors at them)."""
    if isinstance(original, LineDict):
        out = LineDict(value)
        out.line, out.key_lines = original.line, original.key_lines
        return out
    if isinstance(original, LineList):
        seq = LineList(value)
        seq.line, seq.item_lines = original.line, original.item_lines
        return seq
    return value


__all__ = ["rendered", "templated"]
