"""Keep pytest from rewriting the asserts of library code that holds no test asserts.

pytest rewrites the asserts of every module of a plugin's distribution as it imports them, and
caches the result only where it may write. A fresh environment (a CI job; a container with
PYTHONDONTWRITEBYTECODE) therefore compiles those modules from source again on every pytest run,
where ``harness run`` loads the bytecode pip wrote at install time. Two distributions concern a
harness session:

- harness itself (its modules hold no test asserts): 0.15 to 0.4 s of CPU per run, measured on
  the shipped suites (bench/door.py). Its package is taken off the hook's list.
- anyio, which harness's HTTP client depends on. anyio ships a pytest plugin, so pytest rewrites
  the whole anyio library, and that plugin imports anyio's asyncio backend as it loads: about
  0.25 s of CPU per run, more than harness's whole replay of 200 cases. Its package stays on the
  list (a second pytest session in the same process, as pytester runs them, checks that the
  already imported ``anyio`` went through the hook, and warns otherwise), and so does its plugin
  module, where its fixtures are; the hook is told that anyio's other modules are not rewritten.

pytest has no public way to leave a module alone (``PYTEST_DONT_REWRITE`` in a docstring is read
only after the source was parsed). So, while pytest imports the plugin module and before that
module imports the rest of harness, the marks are changed on pytest's import hook. pytest loads
the plugins of installed distributions in the order the environment lists them: if anyio's plugin
was loaded first, anyio was rewritten already and nothing changes for it. Should the hook change
shape, nothing is done and everything is rewritten as before.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys

#: A library package whose distribution also carries a pytest plugin module: what stays rewritten.
_PLUGIN_ONLY = {"anyio": ("anyio", "anyio.pytest_plugin")}


def _library_modules(package: str) -> list[str]:
    """The names of ``package``'s modules, from its folder (nothing is imported)."""
    spec = importlib.machinery.PathFinder.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    names = []
    for folder in spec.submodule_search_locations:
        # os.walk over plain strings: Path.rglob built a Path per file, ~7 ms of every pytest
        # session wherever harness is installed beside anyio.
        for here, _dirs, files in os.walk(folder):
            inner = os.path.relpath(here, folder)
            prefix = (package,) if inner == "." else (package, *inner.split(os.sep))
            for name in files:
                if name.endswith(".py"):
                    stem = name[:-3]
                    names.append(".".join(prefix if stem == "__init__" else (*prefix, stem)))
    return names


def _unmark() -> None:
    package = __name__.rpartition(".")[0]
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        decided = getattr(finder, "_marked_for_rewrite_cache", None)
        if type(finder).__name__ != "AssertionRewritingHook" or not isinstance(marked, set):
            continue
        marked.discard(package)
        if not isinstance(decided, dict):
            continue
        for library, kept in _PLUGIN_ONLY.items():
            if library in marked and kept[-1] not in sys.modules:
                decided.update(dict.fromkeys((m for m in _library_modules(library) if m not in kept), False))


_unmark()
