"""Schema files a suite names (``json-schema: {file: ...}``, ``response_format`` ``schema: {file: ...}``):
read only from inside the suite's folder, through safe_files, and parsed as JSON or YAML.

Errors name the file and where it breaks, never its content: the file may be a symlink to anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .. import safe_files
from ..errors import UserError


def is_file_ref(value: Any) -> bool:
    """``{file: name}`` and nothing else."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("file"), str)


def read_schema_file(name: Any, root: Path) -> Any:
    """The parsed content of schema file ``name`` (relative to ``root``); not yet judged as a schema."""
    if not isinstance(name, str) or not name:
        raise UserError("file must be a path to a .json or .yaml schema")
    text = safe_files.read_text(root / name, shown=name, what="schema file", root=root)
    try:
        return yaml.safe_load(text) if name.endswith((".yaml", ".yml")) else json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"schema file {name!r} does not parse as JSON (line {exc.lineno}, "
                        f"column {exc.colno})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise UserError(f"schema file {name!r} does not parse as YAML{where}") from None
