"""YAML loading that remembers where each value came from.

Error messages must name the line of the offending value, and plain ``yaml.safe_load`` forgets
positions. The constructor below records the start line of every mapping, of every mapping value and
of every list item, at a cost of one small dict per container (libyaml still does the parsing).

It also refuses numbers no request can carry, at their line: NaN and infinities (JSON has no such
numbers, and NaN slips through every range check because it compares false), and integers longer
than Python will print (PyYAML would fail deep inside with a bare ValueError).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from . import safe_files
from .errors import UserError

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Python's own limit for int <-> str conversion (sys.int_info.default_max_str_digits).
MAX_INT_DIGITS = 4300


class _BadValue(yaml.constructor.ConstructorError):
    """A well-formed scalar whose value harness refuses; reported as it is, not as a syntax error."""


class LineDict(dict):
    """A mapping that knows its own line and the line of each of its values (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


_STR_TAG = "tag:yaml.org,2002:str"


class _LineLoader(_BaseLoader):
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # A text scalar is its own value (what construct_yaml_str returns, and immutable, so an
        # alias to it may share it): skip the constructor's dispatch, most of a suite's nodes.
        if node.__class__ is yaml.ScalarNode and node.tag == _STR_TAG:
            return node.value
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        self.flatten_mapping(node)
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping keys must be plain scalars", key_node.start_mark)
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            out[key] = self.construct_object(value_node, deep=True)
            out.key_lines[key] = value_node.start_mark.line + 1
        return out

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = len(str(node.value).lstrip("+-").replace("_", ""))
        try:
            value = super().construct_yaml_int(node)
        except ValueError:  # over Python's digit limit
            value = None
        if value is None or abs(value).bit_length() > MAX_INT_DIGITS * math.log2(10):
            raise _BadValue(None, None, f"integer with {digits} digits is too large "
                            f"(at most {MAX_INT_DIGITS} digits)", node.start_mark)
        return int(value)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = float(super().construct_yaml_float(node))
        if not math.isfinite(value):
            raise _BadValue(None, None, f"{str(node.value)[:40]!r} is not a finite number (NaN and "
                            "infinities cannot be sent as JSON)", node.start_mark)
        return value

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        out = LineList(self.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _LineLoader.construct_yaml_int)
_LineLoader.add_constructor("tag:yaml.org,2002:float", _LineLoader.construct_yaml_float)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file with positions; syntax errors become a UserError at file:line."""
    try:
        text = safe_files.read_text(path, shown=path.name, what="file")  # no FIFO, capped
    except UserError as exc:
        raise exc.located(file=path) from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path) -> Any:
    """``load_yaml`` for text already read (a data file, read under its own rules); errors name
    ``path``."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)
        if "&" in text:  # no anchor, no alias: the walk is skipped (it costs 15 µs a case)
            _check_aliases(doc, path)
        return doc
    except RecursionError:
        raise UserError("YAML nested too deeply", file=path) from None
    except _BadValue as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise UserError(str(exc.problem), file=path, line=line,
                        case=_case_at(text, line) if line else None) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise UserError(f"YAML syntax error: {problem}", file=path, line=line) from None
    except yaml.YAMLError as exc:
        raise UserError(f"YAML error: {exc}", file=path) from None


def _case_at(text: str, line: int) -> str | None:
    """The id of the suite case written around ``line``, for an error raised while loading (when
    values are being built, no case is known yet). Composes the nodes again, on the error path only."""
    try:
        root = yaml.compose(text, Loader=_BaseLoader)
    except yaml.YAMLError:
        return None
    cases = next((v for k, v in getattr(root, "value", []) if isinstance(root, yaml.MappingNode)
                  and getattr(k, "value", None) == "cases" and isinstance(v, yaml.SequenceNode)), None)
    if cases is None or not cases.start_mark.line < line <= cases.end_mark.line + 1:
        return None
    items = [item for item in cases.value if item.start_mark.line < line]
    if not items or not isinstance(items[-1], yaml.MappingNode):
        return None
    return next((str(v.value) for k, v in items[-1].value
                 if getattr(k, "value", None) == "id" and isinstance(v, yaml.ScalarNode)), None)


#: How much anchors and aliases (``*name``) may add to a document once expanded, counting each
#: value once and each text by its length. A few nested aliases can stand for billions of values
#: (the "billion laughs"), which every later step (schema validation, copying, the request's JSON)
#: would expand in full.
MAX_ALIAS_EXPANSION = 10_000_000


def _weight(node: Any) -> int:
    return 1 + len(node) if isinstance(node, str) else 1


def _check_aliases(doc: Any, path: Path) -> None:
    """Refuse a document whose aliases expand it by more than MAX_ALIAS_EXPANSION."""
    expanded: dict[int, int] = {}
    active: set[int] = set()
    scalars: set[int] = set()
    written = 0  # the document as written: each container and each scalar object once

    def size(node: Any) -> int:
        nonlocal written
        if not isinstance(node, (list, dict)):
            return _weight(node)
        key = id(node)
        if key in expanded:
            return expanded[key]
        if key in active:
            raise UserError("a YAML alias refers to the value that contains it", file=path)
        active.add(key)
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        for child in children:
            if not isinstance(child, (list, dict)) and id(child) not in scalars:
                scalars.add(id(child))
                written += _weight(child)
        written += 1
        total = 1 + sum(size(c) for c in children)
        active.discard(key)
        expanded[key] = total
        return total

    if size(doc) - written > MAX_ALIAS_EXPANSION:
        raise UserError(f"YAML anchors and aliases expand this file by more than "
                        f"{MAX_ALIAS_EXPANSION:,} values and characters", file=path)


def line_of(container: Any, key: Any = None) -> int | None:
    """The line of ``container[key]`` (or of the container itself), when it was recorded."""
    if key is not None:
        if isinstance(container, LineDict):
            return container.key_lines.get(key, container.line) or None
        if isinstance(container, LineList) and isinstance(key, int) and key < len(container.item_lines):
            return container.item_lines[key]
    return getattr(container, "line", None) or None


def plain(value: Any) -> Any:
    """Plain dicts and lists, without the line-tracking subclasses: values that compare, serialise
    and dump as plain data (tuples become lists, mapping keys text)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
