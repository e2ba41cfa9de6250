"""The projects the benchmark runs harness in: generated ones, and fresh copies of them per run.

Generated projects are kept in bench/out until bench/generate.py or harness's version changes (50,000
cases take minutes to write). A cold run is what every CI job does: a fresh checkout with no
``.harness/`` cache, so each cold repeat copies the project into a new folder on the same disk.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from procs import BENCH, OUT, measure, say

RUNS = OUT / "runs"  # fresh copies live here (same disk as a checkout would), each removed after use
NOT_COPIED = (".harness", ".pytest_cache", "__pycache__", ".generated")
REPO = BENCH.parent
SHIPPED = ("suites", "cassettes", "pyproject.toml", "harness.yaml")  # what the repo's own suites need

# kind -> generate.py's extra arguments: replay (suite + cassettes), live (no cassettes), rows (the
# cases come from a data file, which is how one suite holds 50,000 of them)
KINDS = {"replay": [], "live": ["--no-cassettes"], "rows": ["--rows"]}


def _generator_stamp() -> str:
    from harness import __version__

    digest = hashlib.sha256((BENCH / "generate.py").read_bytes()).hexdigest()[:16]
    return f"{digest} harness {__version__}"


def ensure_project(kind: str, n: int) -> Path:
    """bench/out/{kind}-{n}: a suite of n cases (``suites/bench{n}.yaml``), generated if missing."""
    root = OUT / f"{kind}-{n}"
    marker = root / ".generated"
    stamp = f"{n} {_generator_stamp()}"
    if marker.exists() and marker.read_text() == stamp:
        return root
    shutil.rmtree(root, ignore_errors=True)
    say(f"generating {root.relative_to(REPO)} ...")
    run = measure([sys.executable, BENCH / "generate.py", root, str(n), *KINDS[kind]], cwd=REPO,
                  timeout=120 + n * 0.1, log=f"generate-{kind}-{n}")
    if not run.ok:
        raise RuntimeError(f"generate.py {kind} {n} failed: {run.why()}")
    marker.write_text(stamp)
    return root


def suite_of(n: int) -> str:
    """The suite's path inside its project (harness is run from the project's root)."""
    return f"suites/bench{n}.yaml"


@contextmanager
def fresh_copy(root: Path, label: str) -> Iterator[Path]:
    """A new copy of ``root`` without harness's or pytest's caches, removed afterwards.

    The copy is not timed. The OS file cache is not dropped (that needs root), so "cold" means what
    a CI job starts from: no ``.harness/`` parse cache, files freshly written.
    """
    RUNS.mkdir(parents=True, exist_ok=True)
    where = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=RUNS))
    copy = where / root.name
    try:
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(*NOT_COPIED), symlinks=True)
        yield copy
    finally:
        shutil.rmtree(where, ignore_errors=True)


@contextmanager
def cache_cleared(root: Path) -> Iterator[Path]:
    """``root`` itself with harness's and pytest's caches removed before and after: cold as far as
    harness is concerned, without copying. For the 50,000-case suite, whose copy and removal take
    minutes of disk work on a shared machine."""
    for name in (".harness", ".pytest_cache"):
        shutil.rmtree(root / name, ignore_errors=True)
    try:
        yield root
    finally:
        for name in (".harness", ".pytest_cache"):
            shutil.rmtree(root / name, ignore_errors=True)


@contextmanager
def shipped_copy(label: str) -> Iterator[Path]:
    """A fresh copy of the repository's own example suites and cassettes (and the project files
    that configure them), as a CI job checking out this repository would have them."""
    RUNS.mkdir(parents=True, exist_ok=True)
    where = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=RUNS))
    copy = where / "shipped"
    copy.mkdir()
    try:
        for name in SHIPPED:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns(*NOT_COPIED), symlinks=True)
            elif source.exists():
                shutil.copy2(source, copy / name)
        yield copy
    finally:
        shutil.rmtree(where, ignore_errors=True)
