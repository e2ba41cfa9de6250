"""Find suites and pick cases: folders, ``file::case`` ids and pytest-style ``-k`` expressions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import UserError
from .suite import Case, Suite, load_suite, looks_like_suite


def _suite_files(target: Path) -> list[Path]:
    if target.is_dir():
        found = sorted(p for p in target.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")
                       and "cassettes" not in p.parts and looks_like_suite(p))
        return found
    if target.is_file():
        return [target]
    raise UserError(f"no such file or folder: {target}")


def collect(paths: Iterable[str], *, models: tuple[str, ...] = (),
            samples: int | None = None) -> tuple[list[Suite], dict[Path, set[str]]]:
    """Load suites from files/folders; ``file::case`` selects cases. Errors are UserErrors.
    ``models`` and ``samples`` replace every suite's own (suite.load_suite)."""
    suites: list[Suite] = []
    selected: dict[Path, set[str]] = {}
    seen: set[Path] = set()
    for raw in paths:
        target, _, case_id = raw.partition("::")
        for file in _suite_files(Path(target)):
            key = file.resolve()
            if case_id:
                selected.setdefault(key, set()).add(case_id)
            if key in seen:
                continue
            seen.add(key)
            suites.append(load_suite(file, models_override=models, samples_override=samples))
    return suites, selected


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
