"""Checks: one registry (registry.py), one module per family of checks.

Importing a family module registers its checks; ``load_builtin_checks`` imports them all once.
"""

from __future__ import annotations

import importlib

_FAMILIES = ("text", "group", "json_checks", "tools", "auto", "usage", "custom", "rubric", "ifeval")
_loaded = False


def load_builtin_checks() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for family in _FAMILIES:
        importlib.import_module(f"{__name__}.{family}")
