"""YAML text of a cassette to Python values: PyYAML's answer, fast where that is provable.

A replay parses every cassette of every case, and on a fresh checkout (CI) nothing is cached, so
parsing is most of what a cold replay costs. PyYAML (libyaml's ``CSafeLoader``) stays the
reference: the answer :func:`parse` returns is always the one ``yaml.load(text, CSafeLoader)``
returns (or its error). It is only computed faster when that can be shown.

The fast loader is ``yaml_rs`` (a Rust YAML parser built on saphyr), chosen by measurement over
5,000 harness cassettes on the same machine in the same minute (median of 5): CSafeLoader 1.55 s,
ryaml 0.41 s, fastyaml-rs 0.28 s, yaml_rs 0.19 s, the same data as JSON 0.08 s. It also has the
widest set of wheels (manylinux2014 and musllinux for x86_64 and aarch64, macOS, Windows, CPython
3.10 to 3.14 and free-threaded), so pyproject's marker can keep a Rust compiler out of every
install; ryaml has no musl wheels, py-yaml12 did not return from an alias bomb in 30 s,
fastyaml-rs silently drops a second document, and rapidyaml hands back a tree that would have to
be turned into Python values by hand. With the checks below, the 5,000 cassettes take about 0.15 s of
CPU (half of it yaml_rs's own parse) against 0.72 s with CSafeLoader. Where yaml_rs is not installed,
everything goes through PyYAML, as before.

yaml_rs reads YAML 1.2 with a schema of its own, PyYAML YAML 1.1, so the two disagree on plain
scalars (``yes``, ``2024-10-21``, ``1:20``, ``017``, ``0o17``, ``1e3``, ``=``, ``<<``), tags
(``!!binary``, which vcrpy writes for gzip bodies), anchors, duplicate keys, extra documents, line
breaks (U+2028) and characters PyYAML refuses. A file goes the fast way only when none of that can
matter, and PyYAML reads it otherwise (a slower file, never a different answer):

- the text has no tag, anchor, directive, number with a leading zero, YAML 1.1 line break, byte
  order mark or character PyYAML refuses at any place a node may start (a few searches, each
  jumping from one literal character to the next, and one byte test; text inside a block scalar
  can match too, which only sends that file to PyYAML);
- yaml_rs parses it without error, duplicate keys and aliases being errors;
- the result is one mapping whose keys are strings, no deeper than ``_MAX_DEPTH``, and every leaf
  is a string that PyYAML's own implicit resolvers would leave a string even if it were written
  plain, a bool, None or an int (no leading zero left, so both read the same number). A float, a
  date, bytes or anything else goes to PyYAML.

tests/test_cassette_parse.py proves it on a corpus of tricky scalars in every field of a cassette,
quoted and plain, hand-written and written by cassettes/__init__.py: for every file the fast answer equals
PyYAML's exactly (types and key order included), or the file went to PyYAML.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.reader import Reader
from yaml.resolver import Resolver

try:
    import yaml_rs
except ImportError:  # a platform without a wheel (pyproject's marker): PyYAML reads everything
    yaml_rs = None  # type: ignore[assignment]

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Deeper than any cassette harness or vcrpy writes (about 6); a deeper file goes to PyYAML, which
#: has nesting limits of its own that must stay the ones a user sees.
_MAX_DEPTH = 48

#: Where a node may start (after white space or a flow indicator): a number with a leading zero,
#: octal to YAML 1.1 and decimal (or ``0o`` octal) to 1.2. Written to begin with the literal ``0`` so
#: that the search jumps from zero to zero (a class of separators first is ten times slower).
_LEADING_ZERO = re.compile(r"0(?:(?<=[\s\[{,:]0)|(?<=[\s\[{,:][-+]0))[0-9A-Za-z_]")
#: A tag (``!``) or an anchor (``&``) where a node may start (or at the very start, or a directive
#: at a line's start: see _may_differ); each searched only when its character is there at all.
_TAG = re.compile(r"!(?<=[\s\[{,:]!)")
_ANCHOR = re.compile(r"&(?<=[\s\[{,:]&)")
#: What PyYAML's reader refuses (its own pattern), the line breaks YAML 1.1 has and 1.2 has not,
#: and the byte order mark; for text that is all ASCII, the control characters are all of it.
_UNSAFE_CHARS = re.compile(r"[\x85\u2028\u2029\ufeff]|" + Reader.NON_PRINTABLE.pattern)
#: For text that is all ASCII, what PyYAML refuses is the control characters but tab, LF and CR:
#: deleting every other byte (``bytes.translate``, one C pass) leaves nothing in a readable file.
#: A regular expression's character class costs five times more on a 2 KB cassette.
_SAFE_ASCII = bytes(c for c in range(128) if c in (9, 10, 13) or 0x20 <= c < 0x7f)
#: Flow collections are where yaml_rs is more lenient than YAML allows and PyYAML reads (it reads
#: ``[| x]``, ``[?]``, ``{: a}``, a key whose ``:`` is on the next line, or a first key broken
#: across lines): a line starting with ``:``, or a flow mapping whose first key runs onto the next
#: line, goes to PyYAML; the strings such files give are refused below (_RISKY_FIRST). Not caught:
#: a later key of a flow mapping broken across lines (``{x: 1, a\nb: c}``), a file PyYAML refuses
#: and yaml_rs reads; neither harness's writer nor vcrpy's writes a non-empty flow collection.
#: Two patterns, not one alternation: each then starts with a literal the search jumps to, which
#: makes the pair ten times cheaper than ``a|b`` (tried at every character of the file).
_COLON_LINE = re.compile(r"\n[ \t]*:")
_FLOW_KEY_ACROSS = re.compile(r"\{[ \t]*[^\s\"'{}\[\],:#\\][^\n{}\[\],:]*\n")

#: PyYAML's implicit resolvers by a plain scalar's first character (bool, int, float, null,
#: timestamp, merge, value): a string they match might not be a string to PyYAML.
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = Resolver.yaml_implicit_resolvers

#: Block scalar and complex key indicators: YAML does not let a plain scalar start with them, nor
#: PyYAML, but yaml_rs does in a flow collection (``[| x]`` is ``['| x']``, ``[?]`` is ``['?']``
#: where PyYAML reads ``[{None: None}]``). Quoted, they are ordinary strings: a slower file.
_RISKY_FIRST = frozenset("|>?:")
#: The first characters (and the empty string) for which ``_stays_str`` can say False; a string
#: starting with any other one stays a string to PyYAML.
_ROUTED = frozenset(_RESOLVERS) | _RISKY_FIRST

_ALIASES_REFUSED = (yaml_rs.AliasLimits(max_total_replayed_events=0, max_alias_expansions_per_anchor=0)
                    if yaml_rs is not None else None)


def parse(text: str) -> Any:
    """What ``yaml.load(text, Loader=CSafeLoader)`` returns, or raises."""
    fast = fast_parse(text)
    if fast is not None:
        return fast
    return yaml.load(text, Loader=_Loader)


def fast_parse(text: str) -> dict[str, Any] | None:
    """The document as PyYAML would read it, or None when that is not certain (or yaml_rs is
    missing): the caller then asks PyYAML."""
    if yaml_rs is None or _may_differ(text):
        return None
    try:
        value = yaml_rs.loads(text, parse_datetime=False, alias_limits=_ALIASES_REFUSED,
                              duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error)
    except (ValueError, TypeError, RecursionError, OverflowError):  # YAMLDecodeError is a ValueError
        return None
    if type(value) is not dict or not _same_to_pyyaml(value):
        return None
    return value


def _may_differ(text: str) -> bool:
    """Whether the text holds anything the two loaders may read differently, before the result."""
    # ("%" first: a one-character search is a memchr; "\n%" alone costs 2-3 us on a 2 KB file.)
    if text[:1] in ("!", "&", "%") or ("%" in text and "\n%" in text):
        return True
    if ("!" in text and _TAG.search(text)) or ("&" in text and _ANCHOR.search(text)):
        return True
    if _LEADING_ZERO.search(text) or _COLON_LINE.search(text) or _FLOW_KEY_ACROSS.search(text):
        return True
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _SAFE_ASCII))
    return _UNSAFE_CHARS.search(text) is not None


def _same_to_pyyaml(root: dict[str, Any]) -> bool:
    """Whether PyYAML reads every key and leaf of ``root`` as yaml_rs did: one walk with a stack
    (no call per container), and a string looked at closer only when its first character is one
    of ``_ROUTED``; most strings of a cassette (a body, a prompt, a URI) are judged by that one
    set lookup, without hashing them whole for ``_JUDGED`` (a body is kilobytes)."""
    routed = _ROUTED
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        value, depth = stack.pop()
        if depth >= _MAX_DEPTH:
            return False
        if type(value) is dict:
            if not value.keys() <= _GOOD_KEYS:  # one C-level test for the keys seen before
                for key in value:
                    if type(key) is not str or not _stays_str(key):
                        return False
                    if len(key) <= 64 and len(_GOOD_KEYS) < _JUDGED_MAX:
                        _GOOD_KEYS.add(key)
            items = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str:
                if item[:1] in routed and not _stays_str(item):
                    return False
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif not (kind is int or kind is bool or item is None):
                return False
    return True


#: Short strings already judged: a cassette's keys and most of its short values (methods, header
#: names and values, roles) repeat in every file, and each would be matched against the resolvers.
_JUDGED: dict[str, bool] = {}
_JUDGED_MAX = 4096
#: Mapping keys judged to stay strings: a cassette's keys are the same few dozen in every file.
_GOOD_KEYS: set[str] = set()


def _stays_str(text: str) -> bool:
    """False when PyYAML would read ``text``, written plain, as something other than a string, or
    when it starts as only a string from yaml_rs's leniency in flow collections can."""
    known = _JUDGED.get(text)
    if known is not None:
        return known
    first = text[:1]
    if first in _RISKY_FIRST:
        return False
    resolvers = _RESOLVERS.get(first)
    stays = resolvers is None or not any(regexp.match(text) for _tag, regexp in resolvers)
    if len(text) <= 64 and len(_JUDGED) < _JUDGED_MAX:
        _JUDGED[text] = stays
    return stays
