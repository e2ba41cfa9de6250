"""The JSON report's text: exactly ``json.dumps(doc, indent=2, ensure_ascii=False, default=str)``,
about 1.8x faster.

Why by hand: CPython (3.11 to 3.13) writes indented JSON with its pure-Python encoder, a chain of
generators per nesting level; only compact JSON goes through the C encoder. A merged report of
5,000 cases spent a good part of ``harness merge`` there. No library writes Python's exact bytes
(orjson and msgspec spell small floats ``0.00001`` and ``2.5e-7`` where Python writes ``1e-05``
and ``2.5e-07``), and the report's bytes are part of its format: two reports are compared as text,
and pinned reports byte for byte.

The trick: one level of an indented container is what the C encoder writes given the separators
``",\\n" + indent`` and ``": "``. So each container is written in one C call, with its non-empty
containers replaced by a hole (a marker string), and each hole is then filled with that container,
written the same way one level deeper. Only containers holding containers are seen by Python code.
When the marker also occurs in the data (the count of holes does not add up), the document is left
to ``json.dumps``: the result is always its bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # the C encoder (None without _json)

_INDENT = "  "
_HOLE = object()
_MARK = "\x00\x01harness-json-hole\x01\x00"
_MARK_TEXT = encode_basestring(_MARK)
_Encode = Callable[[Any, int], "tuple[str, ...] | list[str]"]


class _Unusual(Exception):
    """The marker is in the data: this document is left to json.dumps."""


def _default(value: Any) -> Any:
    return _MARK if value is _HOLE else str(value)


def _encoder(level: int) -> _Encode:
    """The C encoder json.dumps uses for compact text, with the item separator of indented JSON at
    ``level`` (made once per depth: JSONEncoder.encode would make one per call)."""
    if c_make_encoder is None:  # an interpreter without the C accelerator: slower, same bytes
        pure = json.JSONEncoder(ensure_ascii=False, default=_default,
                                separators=(",\n" + _INDENT * level, ": "))
        return lambda value, _level: [pure.encode(value)]
    made: _Encode = c_make_encoder(None, _default, encode_basestring, None, ": ", ",\n" + _INDENT * level,
                                   False, False, True)
    return made


_CONTAINERS = (dict, list, tuple)


def _nested(value: Any) -> bool:
    return isinstance(value, _CONTAINERS) and bool(value)


class _Writer:
    """One document's writing: a C encoder per depth, made on first use."""

    def __init__(self) -> None:
        self._encoders: dict[int, _Encode] = {}

    def write(self, value: Any, level: int) -> str:
        if not _nested(value):  # a scalar or an empty container: as compact JSON writes it
            return "".join(self._encoder(0)(value, 0))
        if isinstance(value, dict):
            # (isinstance inline, not _nested: these two lines see every value of the document)
            inner: list[Any] = [v for v in value.values() if isinstance(v, _CONTAINERS) and v]
            shallow: Any = {k: _HOLE if isinstance(v, _CONTAINERS) and v else v
                            for k, v in value.items()} if inner else value
        else:
            inner = [v for v in value if isinstance(v, _CONTAINERS) and v]
            if len(inner) == len(value) and all(isinstance(v, dict) and not any(
                    isinstance(x, _CONTAINERS) and x for x in v.values()) for v in inner):
                return self._flat_records(value, level)
            shallow = [_HOLE if isinstance(v, _CONTAINERS) and v else v for v in value] if inner else value
        text = "".join(self._encoder(level + 1)(shallow, 0))
        text = f"{text[0]}\n{_INDENT * (level + 1)}{text[1:-1]}\n{_INDENT * level}{text[-1]}"
        if not inner:
            return text
        pieces = text.split(_MARK_TEXT)
        if len(pieces) != len(inner) + 1:
            raise _Unusual
        out = [pieces[0]]
        for child, after in zip(inner, pieces[1:], strict=True):
            out.append(self.write(child, level + 1))
            out.append(after)
        return "".join(out)

    def _flat_records(self, value: list[Any] | tuple[Any, ...], level: int) -> str:
        """A list of non-empty dicts of scalars (a case's checks) in one C call: written with the
        dicts' separator, the list's own separators are then the only places where ``},`` and a
        newline are followed by ``{`` (a dict's next item starts with its key's quote), and are
        re-indented one level up, with the brackets opened onto their own lines."""
        outer, mid, deep = _INDENT * level, _INDENT * (level + 1), _INDENT * (level + 2)
        text = "".join(self._encoder(level + 2)(value, 0))
        text = text.replace("},\n" + deep + "{", f"\n{mid}}},\n{mid}{{\n{deep}")
        return f"[\n{mid}{{\n{deep}{text[2:-2]}\n{mid}}}\n{outer}]"

    def _encoder(self, level: int) -> _Encode:
        found = self._encoders.get(level)
        if found is None:
            found = self._encoders[level] = _encoder(level)
        return found


def indented(doc: Any) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=False, default=str)``, byte for byte."""
    try:
        return _Writer().write(doc, 0)
    except _Unusual:
        return json.dumps(doc, indent=2, ensure_ascii=False, default=str)
