"""A cassette's pretty-printed bodies are ``json.dumps(indent=2, ensure_ascii=False)``, byte for byte.

The bodies in a cassette are written by harness/cassettes/json_text.py's indented, not json.dumps; a cassette must
still read as it always did (reviews compare them as text, and vcrpy's body matcher parses them).
Each test compares the two, on every shipped cassette's request and answer and on generated values,
and checks that what json.dumps refuses is refused the same way.
"""

from __future__ import annotations

import json
import math
import random
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from harness import cassettes
from harness.cassettes.json_text import indented

ROOT = Path(__file__).resolve().parent.parent


def _same(value: Any) -> None:
    assert indented(value) == json.dumps(value, indent=2, ensure_ascii=False), value


def test_every_shipped_cassettes_bodies() -> None:
    paths = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert len(paths) > 100
    for path in paths:
        for interaction in cassettes.read(path):
            _same(interaction.body)
            try:
                answer = json.loads(interaction.response_text)
            except ValueError:
                continue  # server-sent events: stored as they came
            _same(answer)


def test_generated_values() -> None:
    rng = random.Random(20261130)
    texts = ["", "a", "é", "日本", "😀", "\n", "\t", "\"", "\\", "/", "\x00", "\u2028", "\ud800", "\x7f"]
    scalars = [None, True, False, 0, -1, 10**30, 1.5, -0.0, 1e-7, 2.5e-07, 1e300, 0.1 + 0.2]

    def value(depth: int) -> Any:
        kind = rng.randrange(6 if depth < 4 else 3)
        if kind == 0:
            return "".join(rng.choice(texts) for _ in range(rng.randrange(4)))
        if kind in (1, 2):
            return rng.choice(scalars)
        if kind in (3, 4):
            return {"".join(rng.choice(texts) for _ in range(rng.randrange(3))): value(depth + 1)
                    for _ in range(rng.randrange(4))}
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    for _ in range(3000):
        _same(value(0))


def test_what_json_dumps_writes_its_own_way_is_left_to_it() -> None:
    for odd in (math.nan, math.inf, -math.inf, {1: "int key"}, {None: 1}, OrderedDict(a=1), (1, 2),
                [float("nan")], {"a": [True, {2.5: "float key"}]}):
        _same(odd)
    with pytest.raises(TypeError):
        indented({"a": object()})
    with pytest.raises(TypeError):
        json.dumps({"a": object()})
