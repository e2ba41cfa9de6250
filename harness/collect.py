"""Find suites and pick cases: folders, ``file::case`` ids and pytest-style ``-k`` expressions.

Which YAML files in a folder are suites: a suite is a YAML mapping with a top-level ``cases:``
list (or ``cases_from:``, its cases from data files), and it must be valid. A YAML file without
``cases:`` is still an error when it looks like a suite that lost its cases (a key such as
``case:`` or ``Cases:``, or suite keys such as ``prompt``, ``model``, ``checks``), because skipping
it would turn a typo into a green run of nothing. Any other YAML (data that templates include, schemas, config) is reported as "not a
suite" and skipped. A file named on the command line is always read as a suite. Folders named
``cassettes`` and hidden folders (``.git``, ``.harness``, ``.venv``) are not searched.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import UserError
from .suite import Case, Suite, load_suite, looks_like_suite
from .yamlio import line_of, load_yaml

#: Top-level keys that only a suite has: a YAML mapping with one of them but no ``cases:`` is a
#: suite with a mistake, not a data file. (``name``, ``description``, ``vars`` and ``pricing``
#: are left out: data files and harness.yaml use them too.)
SUITE_ONLY_KEYS = frozenset({
    "prompt", "messages", "model", "models", "system", "checks", "provider", "matrix", "samples",
    "min_pass_rate", "max_cost_usd", "auto_checks", "threshold", "cassette_dir",
})


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _key_line(path: Path, key: str, fallback: int | None) -> int | None:
    """The line of a top-level key itself (the YAML loader keeps its value's line); only on the
    error path, where reading the file again costs nothing that matters."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return fallback
    found = re.search(rf"^{re.escape(key)}\s*:", text, re.M)
    return text.count("\n", 0, found.start()) + 1 if found else fallback


def is_suite(path: Path, notify: Callable[[str], None] = lambda _text: None) -> bool:
    """True for a suite; False (with a note) for unrelated YAML; UserError for a broken suite."""
    if looks_like_suite(path):
        return True  # a top-level ``cases:`` line: load_suite reports anything wrong with it
    doc = load_yaml(path)  # a YAML syntax error is reported at its line
    if isinstance(doc, dict) and ("cases" in doc or "cases_from" in doc):
        return True
    if isinstance(doc, dict) and "interactions" in doc and "version" in doc:
        return False  # a cassette kept outside a cassettes/ folder (cassette_dir)
    keys = [str(k) for k in doc] if isinstance(doc, dict) else []
    near = [k for k in keys if difflib.get_close_matches(k.strip().lower(), ["cases"], n=1, cutoff=0.75)]
    if near:
        raise UserError(f"top-level key {near[0]!r} is not 'cases': did you mean 'cases'? (a suite "
                        "lists its cases under 'cases:')", file=_shown(path),
                        line=_key_line(path, near[0], line_of(doc, near[0])))
    own = [k for k in keys if k in SUITE_ONLY_KEYS]
    if own:
        raise UserError(f"this file has suite keys ({', '.join(own)}) but no 'cases:' list; a suite "
                        "lists its cases under 'cases:' or reads them from data with 'cases_from:' (a "
                        "data file should not use these keys)",
                        file=_shown(path), line=_key_line(path, own[0], line_of(doc, own[0])))
    notify(f"{_shown(path)}: not a suite (no top-level 'cases:' list); skipped")
    return False


def searched(path: Path, top: Path) -> bool:
    """Whether a folder walk looks at ``path``: YAML outside cassettes/ and hidden folders."""
    parts = path.relative_to(top).parts[:-1]
    return path.suffix in (".yaml", ".yml") and "cassettes" not in parts \
        and not any(p.startswith(".") for p in parts)


def _suite_files(target: Path, notify: Callable[[str], None]) -> list[Path]:
    if target.is_dir():
        found = sorted(p for p in target.rglob("*.y*ml") if searched(p, target) and p.is_file())
        return [p for p in found if is_suite(p, notify)]
    if target.is_file():
        return [target]
    raise UserError(f"no such file or folder: {target}")


def collect(paths: Iterable[str], notify: Callable[[str], None] = lambda _text: None, *,
            models: tuple[str, ...] = (), samples: int | str | dict[str, Any] | None = None,
            owns: Callable[[Path, str], bool] | None = None,
            ) -> tuple[list[Suite], dict[Path, set[str]]]:
    """Load suites from files/folders; ``file::case`` selects cases. Errors are UserErrors;
    ``notify`` hears of YAML files that are skipped as not suites; ``models`` and ``samples``
    replace every suite's own, and ``owns`` (a shard's) limits the schema check of cases to
    those it runs (suite.load_suite)."""
    suites: list[Suite] = []
    selected: dict[Path, set[str]] = {}
    seen: set[Path] = set()
    for raw in paths:
        target, _, case_id = raw.partition("::")
        for file in _suite_files(Path(target), notify):
            key = file.resolve()
            if case_id:
                selected.setdefault(key, set()).add(case_id)
            if key in seen:
                continue
            seen.add(key)
            suites.append(_load(file, models, samples, owns))
    return suites, selected


def _load(file: Path, models: tuple[str, ...], samples: int | str | dict[str, Any] | None,
          owns: Callable[[Path, str], bool] | None) -> Suite:
    try:
        return load_suite(file, models_override=models, samples_override=samples, owns=owns)
    except (UserError, TypeError, KeyError, ValueError, AttributeError, IndexError):
        if owns is None:
            raise
        # A case another shard owns, not checked against the schema here, may have broken its
        # making (matrix: 5) or failed with a message of its own: checked whole, the suite fails
        # with the message one unsharded job gives.
        return load_suite(file, models_override=models, samples_override=samples)


def _keyword_matcher(expr: str) -> Callable[[str], bool]:
    tokens = re.findall(r"\(|\)|[^\s()]+", expr)
    words: list[str] = []
    py = []
    for tok in tokens:
        if tok in ("and", "or", "not", "(", ")"):
            py.append(tok)
        else:
            words.append(tok.lower())
            py.append(f"_m({len(words) - 1})")
    code = " ".join(py)
    try:
        compiled = compile(code or "True", "<-k>", "eval")
    except SyntaxError:
        raise UserError(f"bad -k expression: {expr!r}") from None

    def match(name: str) -> bool:
        low = name.lower()
        return bool(eval(compiled, {"__builtins__": {}}, {"_m": lambda i: words[i] in low}))

    return match


def select_cases(suites: list[Suite], selected: dict[Path, set[str]], keyword: str | None) -> list[Case]:
    match = _keyword_matcher(keyword) if keyword else None
    out = []
    for suite in suites:
        wanted = selected.get(suite.path.resolve())
        ids = {c.id for c in suite.cases} | {c.base_id for c in suite.cases}
        for name in wanted or ():
            if name not in ids:
                raise UserError(f"no case {name!r} in this suite", file=suite.path)
        for case in suite.cases:
            if wanted and case.id not in wanted and case.base_id not in wanted:
                continue
            if match and not match(case.node_id):
                continue
            out.append(case)
    return out
