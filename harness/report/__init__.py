"""Reports: one module per output format, each reading the same records (records.py).

``--report FORMAT=PATH`` (repeatable) on ``harness run`` and ``harness diff`` picks them:
json (json_report.py), junit (junit.py), markdown (markdown.py, also appended to
$GITHUB_STEP_SUMMARY when that is set), html (html.py). The terminal report (terminal.py) is
always printed. Format modules are imported only when asked for, so a replay-only run pays for
none of them. Every report leaves through ``_write``, which hides every secret (redact.py) in the
form the format needs: ``<redacted>``, or ``&lt;redacted&gt;`` where ``<`` is markup.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import redact
from ..errors import UserError
from ..written_reports import note

if TYPE_CHECKING:
    from ..runner import CaseResult
    from ..suite import Suite
    from .records import Comparison, RunRecord

#: format -> module in this package with ``render(run, comparison) -> str``
FORMATS = {"json": "json_report", "junit": "junit", "markdown": "markdown", "html": "html"}
_ALIASES = {"md": "markdown", "xml": "junit"}
#: Formats where a bare ``<redacted>`` would be read as markup (and break XML).
_MARKUP = frozenset({"junit", "markdown", "html"})


@dataclass(frozen=True)
class ReportSpec:
    format: str
    path: Path


def parse_specs(specs: Iterable[str] | None) -> list[ReportSpec]:
    """``FORMAT=PATH`` strings -> specs; a bad one is a UserError (exit 2) before anything runs."""
    out = []
    for raw in specs or ():
        fmt, sep, path = raw.partition("=")
        fmt = _ALIASES.get(fmt.strip().lower(), fmt.strip().lower())
        if not sep or not path.strip():
            raise UserError(f"--report {raw!r}: expected FORMAT=PATH, e.g. html=report.html "
                            f"(formats: {', '.join(FORMATS)})")
        if fmt not in FORMATS:
            raise UserError(f"--report {raw!r}: unknown format {fmt!r} (use {', '.join(FORMATS)})")
        target = Path(path.strip())
        if target.is_dir():
            raise UserError(f"--report {raw!r}: {target} is a folder; give a file name")
        out.append(ReportSpec(fmt, target))
    return out


def render(fmt: str, run: RunRecord, comparison: Comparison | None = None) -> str:
    module = importlib.import_module(f"{__name__}.{FORMATS[fmt]}")
    return module.render(run, comparison)


def _write(path: Path, text: str, fmt: str, *, append: bool = False) -> None:
    """The only way a report reaches a file: with every secret hidden."""
    text = redact.clean(text, redact.MARKUP_REDACTED if fmt in _MARKUP else redact.REDACTED)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if append else "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UserError(f"cannot write the report: {exc.strerror or exc}", file=path) from None


def write_reports(specs: Sequence[str] | Sequence[ReportSpec] | None,
                  results: Sequence[CaseResult] | RunRecord, suites: Iterable[Suite] = (), *,
                  extra: Comparison | None = None) -> list[Path]:
    """Write every requested report; return the files written.

    ``results`` is a run's CaseResults (with its ``suites``) or an already built RunRecord;
    ``extra`` is the Comparison of ``harness diff``, whose head run is then the one reported.
    """
    from .records import RunRecord, from_results

    parsed = [s if isinstance(s, ReportSpec) else parse_specs([s])[0] for s in specs or ()]
    if not parsed:
        return []
    run = results if isinstance(results, RunRecord) else from_results(results, suites)
    if extra is not None:
        run = extra.head
    written = []
    for spec in parsed:
        text = render(spec.format, run, extra)
        _write(spec.path, text, spec.format)
        note(spec.path)  # not a file cases are made from, though it may lie beside the suites (shard.py)
        written.append(spec.path)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if spec.format == "markdown" and summary:
            _write(Path(summary), text + "\n", spec.format, append=True)
    return written


__all__ = ["FORMATS", "ReportSpec", "parse_specs", "render", "write_reports"]
