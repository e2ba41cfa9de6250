"""The record modes (vcrpy's names) and other tools' names for them.

A module of its own so that the pytest plugin, imported in every pytest session, can declare its
``--record-mode`` option without importing the runner.
"""

from __future__ import annotations

RECORD_MODES = ("none", "once", "new_episodes", "all")
#: Other tools' names for the same modes: pytest-recording calls ``all`` ``rewrite``.
RECORD_MODE_ALIASES = {"rewrite": "all"}
