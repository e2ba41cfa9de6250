"""One exception family for everything a user can cause.

The CLI and the pytest plugin print these without a traceback; each carries the file, the line and
the case so the message alone is enough to find the mistake. Their text never shows a secret: a
message may quote a server's answer or a URL, so ``str()`` hides every known one (redact.py).
"""

from __future__ import annotations

from pathlib import Path

from . import redact

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_CASSETTE = 3
EXIT_BUDGET = 4  # --max-cost stopped the run before every case was sent and judged
EXIT_NO_CASES = 5  # nothing selected: an empty folder, or -k matching no case (as pytest's 5)
EXIT_INTERRUPTED = 130


class HarnessError(Exception):
    """Base of every error a user can cause and fix; never shown with a traceback."""

    exit_code = EXIT_USER_ERROR

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        case: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.case = case

    def located(self, *, file: str | Path | None = None, line: int | None = None,
                case: str | None = None) -> HarnessError:
        """Fill in location details a lower layer could not know, keeping any it did."""
        if self.file is None and file is not None:
            self.file = str(file)
        if self.line is None and line is not None:
            self.line = line
        if self.case is None and case is not None:
            self.case = case
        return self

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        if self.case:
            where = f"{where} [case {self.case}]" if where else f"[case {self.case}]"
        return redact.clean(f"{where}: {self.message}" if where else self.message)


class NoCasesSelected(HarnessError):
    """The paths and ``-k`` selected no case: a gate that ran nothing must not pass (exit 5)."""

    exit_code = EXIT_NO_CASES

    @classmethod
    def for_selection(cls, paths: list[str], keyword: str | None) -> NoCasesSelected:
        why = f"no case id matches -k {keyword!r}" if keyword else "no suite with cases was found"
        return cls(f"no case selected in {' '.join(paths)}: {why} (exit {EXIT_NO_CASES})")


class UserError(HarnessError):
    """Bad suite, bad template, unknown check, bad option: exit status 2."""
