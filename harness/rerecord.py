"""The command that records some cases again, as the terminal report prints it under stale and
missing cassettes: one rule for ``harness run`` (from its cases) and ``harness merge`` (from the
shards' records, without loading the runner), so both print the same line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol


class Rerecordable(Protocol):
    """A case or a case's record: its suite file and node id are all the command needs."""

    @property
    def suite_path(self) -> Path | str: ...

    @property
    def node_id(self) -> str: ...


def rerecord_command(cases: Iterable[Rerecordable], mode: str = "new_episodes") -> str:
    """The command that records exactly these cases. ``once``/``new_episodes`` only touch cases
    that need it, so beyond a few cases naming the suite file is equivalent and shorter."""
    by_suite: dict[str, list[Rerecordable]] = {}
    for case in cases:
        by_suite.setdefault(Path(case.suite_path).as_posix(), []).append(case)
    targets = []
    for path, group in by_suite.items():
        if mode in ("once", "new_episodes") and len(group) > 3:
            targets.append(f"'{path}'")
        else:
            targets.extend(f"'{c.node_id}'" for c in group)
    return f"harness run {' '.join(targets)} --record-mode {mode}"
