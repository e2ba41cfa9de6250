"""``impl: module:function`` — load the function of a tool that answers itself.

The module is a file beside the suite (``tools_impl`` is ``<suite folder>/tools_impl.py``; a dotted
name is a path below the suite folder, ``agents.weather`` is ``agents/weather.py`` or
``agents/weather/__init__.py``). It is loaded by its path with importlib, never by putting the
suite's folder on ``sys.path``: two suites may each have a ``tools_impl.py``, and neither may shadow
the other, nor an installed package. A module file outside the project (a symlink leading out, a
file in ``.git``) is refused, as any file a suite names (safe_files.py).

Each module file is executed once per content: a run of many cases (and the pytest door, which
plans each case on its own) loads it once, while an edited file is loaded again, so a long-lived
process (a test session running harness in-process) never runs yesterday's code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import safe_files
from ..errors import UserError

_modules: dict[tuple[str, str], ModuleType] = {}
_lock = threading.Lock()


def _module_file(folder: Path, dotted: str, target: str) -> Path:
    parts = dotted.split(".")
    if not all(p.isidentifier() for p in parts):
        raise UserError(f"impl {target!r}: {dotted!r} is not a module name (letters, digits and _, "
                        "parts separated by dots)")
    base = folder.joinpath(*parts)
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if os.path.lexists(candidate):
            return candidate
    raise UserError(f"impl {target!r}: no module file {'/'.join(parts)}.py beside the suite "
                    f"(looked in {folder})")


def _load(path: Path, root: Path, shown: str) -> ModuleType:
    data = safe_files.read_bytes(path, shown=shown, what="tool module", root=root,
                                 where=f"the project ({root})")
    real = os.path.realpath(path)
    digest = hashlib.blake2b(data, digest_size=12).hexdigest()
    with _lock:
        found = _modules.get((real, digest))
        if found is not None:
            return found
        # A name of its own per file and content: registered in sys.modules (dataclasses and
        # pickle look a module up there), it can never be another suite's module.
        name = f"_harness_tool_{hashlib.blake2b(f'{real}:{digest}'.encode(), digest_size=8).hexdigest()}"
        spec = importlib.util.spec_from_file_location(name, real)
        if spec is None:
            raise UserError(f"tool module {shown!r} cannot be loaded")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            # The bytes read (and checked) above are what runs: the file cannot be swapped between
            # the check and the import.
            exec(compile(data, real, "exec"), module.__dict__)
        except Exception as exc:  # noqa: BLE001 - a broken module is the user's to fix
            del sys.modules[name]
            raise UserError(f"tool module {shown!r} failed to load: {type(exc).__name__}: {exc}") from None
        _modules[(real, digest)] = module
        return module


def load_impl(target: str, suite_file: Path) -> Callable[..., Any]:
    """The function ``target`` (``module:function``) names; a UserError saying what is wrong."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr or ":" in attr:
        raise UserError(f"impl {target!r}: expected 'module:function' (a module file beside the suite)")
    folder = Path(os.path.abspath(suite_file)).parent
    path = _module_file(folder, module_name, target)
    shown = os.path.relpath(path, folder)
    module = _load(path, safe_files.project_root(suite_file), shown)
    fn: Any = module
    for part in attr.split("."):
        if not hasattr(fn, part):
            raise UserError(f"impl {target!r}: module {shown!r} has no {attr!r}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise UserError(f"impl {target!r} is not a function (it is a {type(fn).__name__})")
    return fn
