"""The YAML text of a cassette: PyYAML's exact bytes, mostly without PyYAML.

A cassette is a small, fixed shape (mappings of short keys, lists, ints, booleans, nulls and
strings; the bodies as literal blocks), and recording writes one per case. PyYAML's representer
is pure Python and walks every node through several layers; for that shape it was most of the cost
of saving a cassette (~0.15 ms of ~0.23 ms). ``dump`` writes the same shape directly, following
libyaml's emitter rules (``yaml_emitter_analyze_scalar``, ``select_scalar_style``, the block
scalar hints) for the only styles it needs: plain, single-quoted and literal. Anything else —
a string that would be double-quoted (control characters, tabs, characters outside the BMP, a
trailing space before a line break), a float, a key too long or multi-line for a simple key, an
object shared by two places (PyYAML writes an anchor), a type that is not exactly dict, list,
str, int, bool or None — makes ``dump`` hand the whole document to PyYAML, so the bytes are PyYAML's
either way. No library writes YAML for a known shape without the representer's generic walk,
hence this hand-written emitter; tests/test_cassette_yaml.py compares it with PyYAML on every
shipped cassette and on generated hard cases.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _LiteralDumper(_Dumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_LiteralDumper.add_representer(str, _str_representer)


def pyyaml_dump(data: Any) -> str:
    """The reference: what every cassette was written with, and the fallback of ``dump``."""
    return yaml.dump(data, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True,
                     width=1 << 30, default_flow_style=False)


def _libyaml_version() -> tuple[int, ...]:
    try:
        from yaml import _yaml
    except ImportError:
        return ()
    return tuple(_yaml.get_version())


#: The rules below are libyaml's (0.2.5 on: how a kept final line break ends the stream). Without
#: it PyYAML's pure-Python emitter writes, whose rules differ in places: then always PyYAML.
DIRECT = _Dumper is getattr(yaml, "CSafeDumper", None) and _libyaml_version() >= (0, 2, 5)


def dump(data: Any) -> str:
    """``pyyaml_dump(data)``, byte for byte; the direct way when ``data`` has a cassette's shape."""
    fast = fast_dump(data) if DIRECT else None
    return fast if fast is not None else pyyaml_dump(data)


class _Unusual(Exception):
    """Something the direct writer does not do: PyYAML writes the whole document instead."""


# Characters libyaml writes as they are (its IS_PRINTABLE with allow_unicode, less the Unicode
# line and paragraph separators, which are line breaks to it) plus "\n". Anything else in a string
# makes libyaml double-quote it, which the direct writer leaves to PyYAML.
_UNUSUAL_CHAR = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
_FLOW_OR_BLOCK_FIRST = frozenset("#,[]{}&*!|>'\"%@`")
_STR_TAG = "tag:yaml.org,2002:str"
_MAX_SIMPLE_KEY_BYTES = 128


def _plain_allowed(text: str) -> bool:
    """libyaml's ``block_plain_allowed`` for a non-empty one-line string of ordinary characters."""
    first = text[0]
    if first == " " or text[-1] == " " or first in _FLOW_OR_BLOCK_FIRST:
        return False
    if first in "?:-" and (len(text) == 1 or text[1] == " "):
        return False
    if text.startswith(("---", "...")):
        return False
    # ':' followed by a space or the end, '#' after a space: both start YAML syntax.
    return text.find(": ", 1) < 0 and not (len(text) > 1 and text[-1] == ":") and " #" not in text


_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = _LiteralDumper.yaml_implicit_resolvers


def _reads_as_str(text: str) -> bool:
    """Whether a plain ``text`` would load back as a string (PyYAML's resolver: not 12, true,
    null, 2024-01-01, ...), the way the serializer decides that a string needs quotes."""
    for tag, regexp in _resolvers.get(text[0], []) + _resolvers.get(None, []):
        if regexp.match(text):
            return tag == _STR_TAG
    return True


def _one_line(text: str) -> str:
    """A one-line string as libyaml writes it: plain when it can, else single-quoted."""
    if text and _plain_allowed(text) and _reads_as_str(text):
        return text
    return "'" + text.replace("'", "''") + "'"


#: Keys and short values already written: a cassette's keys are a few dozen words, and its short
#: values (POST, stop, application/json, a status message) repeat in every cassette.
_written: dict[str, str] = {}
_MEMO_LEN = 32  # characters: at most 96 bytes, so a remembered value is also a simple key
_MEMO_SIZE = 4096


def _short(text: str) -> str:
    """``_one_line`` for a one-line string of ordinary characters, remembered when short."""
    found = _written.get(text)
    if found is None:
        found = _one_line(text)
        if len(text) <= _MEMO_LEN:
            if len(_written) >= _MEMO_SIZE:
                _written.clear()
            _written[text] = found
    return found


def _key(key: Any) -> str:
    if type(key) is not str:
        raise _Unusual
    found = _written.get(key)
    if found is not None:
        return found
    if "\n" in key or _UNUSUAL_CHAR.search(key) or len(key.encode("utf-8")) > _MAX_SIMPLE_KEY_BYTES:
        raise _Unusual
    return _short(key)


class _Writer:
    """Writes block mappings and sequences line by line, as libyaml's block emitter does with
    indent 2 and sequences inside mappings not indented."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.seen: set[int] = set()  # containers met: one met twice gets an anchor in PyYAML
        self.open_ended = False  # the last literal block kept its final line breaks ("|+")

    def container(self, value: Any) -> None:
        ident = id(value)
        if ident in self.seen:
            raise _Unusual
        self.seen.add(ident)

    def scalar(self, value: Any, indent: int) -> str:
        """The text after ``key:`` or ``-`` for a scalar (with its leading space)."""
        kind = type(value)
        if kind is str:
            if "\n" in value:
                return " " + self.literal(value, indent)
            found = _written.get(value)
            if found is not None:
                return " " + found
            if _UNUSUAL_CHAR.search(value):
                raise _Unusual
            return " " + _short(value)
        if kind is int:
            return f" {value}"
        if kind is bool:
            return " true" if value else " false"
        if value is None:
            return " null"
        raise _Unusual

    def literal(self, text: str, indent: int) -> str:
        """A literal block (``|``) indented by ``indent`` + 2, with libyaml's hints."""
        if _UNUSUAL_CHAR.search(text) or text[-1] == " " or " \n" in text:
            raise _Unusual  # libyaml would double-quote it
        head = "|2" if text[0] in " \n" else "|"
        if text[-1] != "\n":
            head += "-"
            self.open_ended = False
        elif len(text) == 1 or text[-2] == "\n":
            head += "+"
            self.open_ended = True
        else:
            self.open_ended = False
        pad = " " * (indent + 2)
        if "\n\n" in text or text[0] == "\n":  # empty lines carry no indentation
            body = "\n".join(pad + line if line else "" for line in text.split("\n"))
        else:
            body = pad + text.replace("\n", "\n" + pad)
            if text[-1] == "\n":
                body = body[:-len(pad)]
        return head + "\n" + body + ("" if text[-1] == "\n" else "\n")

    def mapping(self, value: dict[Any, Any], indent: int, first_prefix: str) -> None:
        """Each key on its own line at ``indent``; the first one after ``first_prefix`` (a
        sequence's dash) when given."""
        self.container(value)
        prefix = first_prefix
        for key, item in value.items():
            line = (prefix or " " * indent) + _key(key) + ":"
            prefix = ""
            self.value(line, item, indent, in_mapping=True)

    def sequence(self, value: list[Any], indent: int, first_prefix: str) -> None:
        self.container(value)
        prefix = first_prefix
        for item in value:
            line = (prefix or " " * indent) + "-"
            prefix = ""
            self.value(line, item, indent, in_mapping=False)

    def value(self, line: str, item: Any, indent: int, *, in_mapping: bool) -> None:
        """Write ``line`` (a key and its colon, or a dash) and then ``item``."""
        kind = type(item)
        if kind is dict:
            if not item:
                self.container(item)
                self.out.append(line + " {}\n")
            elif in_mapping:
                self.out.append(line + "\n")
                self.mapping(item, indent + 2, "")
            else:  # the first key goes on the dash's line
                self.mapping(item, indent + 2, line + " ")
        elif kind is list:
            if not item:
                self.container(item)
                self.out.append(line + " []\n")
            elif in_mapping:  # a list under a key is not indented
                self.out.append(line + "\n")
                self.sequence(item, indent, "")
            else:
                self.sequence(item, indent + 2, line + " ")
        else:
            text = self.scalar(item, indent)
            self.out.append(line + text + ("" if text.endswith("\n") else "\n"))


def fast_dump(data: Any) -> str | None:
    """The document written directly, or None when it holds something only PyYAML writes."""
    if type(data) is not dict or not data:
        return None
    writer = _Writer()
    try:
        writer.mapping(data, 0, "")
    except _Unusual:
        return None
    if writer.open_ended:  # libyaml ends such a stream with an explicit document end
        writer.out.append("...\n")
    return "".join(writer.out)
