"""pytest door: suite files become pytest items (``suites/x.yaml::case-id``).

It collects with the same loader and runs each item through the same road as the CLI, so -k, --lf,
-x, --junitxml and pytest-xdist work on prompt cases like on any test. Only YAML files with a
top-level ``cases:`` key are collected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from .errors import HarnessError
from .runner import (
    RECORD_MODES,
    CaseResult,
    RunOptions,
    execute,
    plan,
    rerecord_command,
)
from .suite import load_suite, looks_like_suite


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "prompt suites (harness)")
    try:
        group.addoption("--record-mode", action="store", default=None, choices=RECORD_MODES + ("rewrite",),
                        help="harness/vcr record mode: none (default), once, new_episodes, all")
    except ValueError:
        pass  # pytest-recording already defines --record-mode with the same meaning; share it
    group.addoption("--harness-base-url", action="store", default=None,
                    help="record against this OpenAI-compatible server")
    group.addoption("--harness-concurrency", action="store", type=int, default=1,
                    help="not used per item; kept for symmetry with the CLI")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and "cassettes" not in file_path.parts \
            and looks_like_suite(file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class HarnessCaseFailure(Exception):
    """Carries a case's failure text to pytest's report without a Python traceback."""


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        suite = load_suite(self.path)
        for case in suite.cases:
            name = case.id if case.sample == 0 else f"{case.id}#{case.sample}"
            yield CaseItem.from_parent(self, name=name, case=case)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, HarnessError):
            return f"harness: {excinfo.value}"
        return super().repr_failure(excinfo, style)


class CaseItem(pytest.Item):
    def __init__(self, *, case: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        if case.skip:
            self.add_marker(pytest.mark.skip(reason=case.skip))

    def _mode(self) -> str:
        mode = self.config.getoption("--record-mode", default=None) or "none"
        return "all" if mode == "rewrite" else mode

    def runtest(self) -> None:
        config = Path("harness.yaml") if Path("harness.yaml").is_file() else None
        planned, errors = plan([self.case], base_url=self.config.getoption("--harness-base-url"),
                               check_limits=self._mode() != "none", config=config)
        if errors:
            raise errors[0]
        options = RunOptions(record_mode=self._mode(), concurrency=1,
                             base_url=self.config.getoption("--harness-base-url"))
        result = execute(planned, options)[0]
        self.user_properties.append(("harness_status", result.status))
        if result.status in ("passed", "skipped"):
            return
        raise HarnessCaseFailure(_describe(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (HarnessCaseFailure, HarnessError)):
            return str(excinfo.value)
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
    if result.status == "stale":
        lines.append(f"  re-record: {rerecord_command([result.case])}")
    if result.status == "missing":
        lines.append(f"  record: {rerecord_command([result.case], 'once')}")
    return "\n".join(lines)
