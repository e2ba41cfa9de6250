"""harness: offline prompt testing and regression for OpenAI-style chat APIs.

The public Python API (api.py): ``harness.run``, ``harness.load_suite``, ``@harness.check`` and the
typed values they take and give. Its names are imported on first use, so ``import harness.x`` of
one module (the CLI, the pytest plugin) does not load the whole road.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "run": "api", "load_suite": "api", "check": "api", "RunResult": "api", "Progress": "api",
    "RecordMode": "api", "FailOn": "api",
    "Suite": "suite", "Case": "suite",
    "Output": "output", "ToolCall": "output", "Usage": "output",
    "Result": "checks.registry", "CheckContext": "checks.registry", "Verdict": "checks.registry",
    "CaseRecord": "report.records", "CheckRecord": "report.records", "Gate": "report.records",
    "Totals": "report.records",
    "HarnessError": "errors", "UserError": "errors",
}

__all__ = [
    "Case", "CaseRecord", "CheckContext", "CheckRecord", "FailOn", "Gate", "HarnessError", "Output",
    "Progress", "RecordMode", "Result", "RunResult", "Suite", "ToolCall", "Totals", "Usage", "UserError",
    "Verdict", "__version__", "check", "load_suite", "run",
]

if TYPE_CHECKING:
    from .api import FailOn, Progress, RecordMode, RunResult, check, load_suite, run
    from .checks.registry import CheckContext, Result, Verdict
    from .errors import HarnessError, UserError
    from .output import Output, ToolCall, Usage
    from .report.records import CaseRecord, CheckRecord, Gate, Totals
    from .suite import Case, Suite
else:  # a module __getattr__ seen by a type checker would make every misspelt name Any

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'harness' has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_EXPORTS})
