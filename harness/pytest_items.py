"""The pytest door's items: a suite file collects one item per case (``suites/x.yaml::case-id``),
and an item runs its case through the same planner and road as ``harness run``.

Kept apart from pytest_plugin.py, which pytest imports in every session of every project where
harness is installed: this module brings in most of harness (suites, planning, the runner), so it
is imported only when a session finds a suite to collect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from . import redact
from .collect import is_suite
from .errors import HarnessError
from .planning import Planner
from .record_modes import RECORD_MODE_ALIASES
from .runner import CaseResult, RunOptions, execute, rerecord_command
from .shard import Shard
from .suite import load_suite
from .trajectory import as_text, trajectory


class HarnessCaseFailure(Exception):
    """Carries a case's failure text to pytest's report without a Python traceback."""


class SuiteFile(pytest.File):
    def __init__(self, *, shard: Shard | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard = shard

    def collect(self) -> Iterator[pytest.Item]:
        is_suite(self.path)  # a suite that lost its ``cases:`` is told so, at the key's line
        suite = load_suite(self.path)
        gate = suite.options.get("min_pass_rate")
        shard = self.shard
        for case in suite.cases:
            if shard is not None and not shard.owns(case):
                continue  # another machine's case: the split of harness run --shard (shard.py)
            name = case.name
            # The node id is handed over as text so it is parsed exactly as pytest's cache parses
            # the ids it stored: built from name and parent, "lang[fr]" would be one name, while
            # the stored "…::lang[fr]" reads back as name "lang" with parameters "fr", and
            # --lf/--ff/--sw would find no failed case among the items.
            yield CaseItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", case=case,
                                       gate=None if gate is None else float(gate))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, HarnessError):
            return redact.clean(f"harness: {excinfo.value}")
        return super().repr_failure(excinfo)


@dataclass(frozen=True)
class DoorRun:
    """What every item of a session shares: one planner (each suite's price table and its bound
    checks are made once, as ``harness run`` makes them, not once per item) and the run options."""

    planner: Planner
    options: RunOptions

    @classmethod
    def from_config(cls, config: pytest.Config) -> DoorRun:
        mode = config.getoption("--record-mode", default=None) or "none"
        mode = RECORD_MODE_ALIASES.get(mode, mode)
        base_url = config.getoption("--harness-base-url")
        pricing = Path("harness.yaml") if Path("harness.yaml").is_file() else None
        # One item is one sample: an adaptive case's extra samples are those `harness run` recorded.
        return cls(Planner(base_url=base_url, check_limits=mode != "none", config=pricing),
                   RunOptions(record_mode=mode, concurrency=1, base_url=base_url, adaptive=False))


_DOOR = pytest.StashKey[DoorRun]()


def _door(config: pytest.Config) -> DoorRun:
    door = config.stash.get(_DOOR, None)
    if door is None:
        door = config.stash[_DOOR] = DoorRun.from_config(config)
    return door


class CaseItem(pytest.Item):
    def __init__(self, *, case: Any, gate: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.gate = gate
        if gate is not None:
            self.user_properties.append(("harness_gate", (str(case.suite_path), case.suite_name, gate,
                                                          case.node_id)))
        self.case_gated = case.min_pass_rate is not None or case.min_pass_hat_k is not None
        if self.case_gated:
            hat = case.min_pass_hat_k
            self.user_properties.append(("harness_case", (
                case.suite_path.as_posix(), case.suite_name, case.id, case.model, case.sample,
                case.min_pass_rate, None if hat is None else [hat[0], hat[1]])))
        if case.skip:
            self.add_marker(pytest.mark.skip(reason=case.skip))

    def runtest(self) -> None:
        door = _door(self.config)
        try:
            planned = door.planner.plan(self.case)
        except HarnessError:
            self.user_properties.append(("harness_status", "error"))
            raise
        result = execute([planned], door.options)[0]
        self.user_properties.append(("harness_status", result.status))
        if result.status == "passed":
            return
        if result.status == "skipped":
            pytest.skip(redact.clean(result.message or "skipped"))
        if self.case_gated and result.status == "failed":
            pytest.xfail(redact.clean("judged with its case's other samples by the case's gate (the "
                                      "session summary gives the verdict): " + _describe(result).replace("\n", " ")))
        if self.gate is not None and result.status == "failed":
            pytest.xfail(redact.clean(f"tolerated by the suite's min_pass_rate {self.gate:.0%}: "
                                      + _describe(result).replace("\n", " ")))
        raise HarnessCaseFailure(_describe(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        # A case's own outcome is told in harness's words: pytest's source traceback of this
        # method would say nothing about the prompt, and formatting one per expected failure
        # was most of the time a gated suite took.
        if isinstance(excinfo.value, pytest.xfail.Exception):
            return redact.clean(excinfo.value.msg or "xfail")
        if isinstance(excinfo.value, (HarnessCaseFailure, HarnessError)):
            return redact.clean(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.case.line or 1) - 1, f"case {self.case.id}"


def _describe(result: CaseResult) -> str:
    head = f"{result.status.upper()}: {result.case.node_id}"
    lines = [head]
    if result.message:
        lines.append(f"  {result.message}")
    for v in result.verdicts:
        if not v.passed:
            lines.append(f"  {v.name}: {v.reason}")
    if result.detail:
        lines.append(result.detail)
    steps = trajectory(result.episode)
    if steps:  # a multi-step case: where in its loop or conversation it went wrong
        lines.extend(f"  {line}" for line in as_text(steps, result.episode.stopped if result.episode else None)
                     .splitlines())
    if result.status == "stale":
        lines.append(f"  re-record: {rerecord_command([result.case])}")
    if result.status == "missing":
        lines.append(f"  record: {rerecord_command([result.case], 'once')}")
    return "\n".join(lines)
