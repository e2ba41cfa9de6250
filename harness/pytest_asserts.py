"""Keep pytest from rewriting the asserts of harness's own modules.

pytest rewrites the asserts of every module of a plugin's distribution as it imports them, and
caches the result only where it may write. harness's modules hold no test asserts, yet a fresh
environment (a CI job; a container with PYTHONDONTWRITEBYTECODE) would compile the whole package
from source again on every pytest run, where ``harness run`` loads the bytecode pip wrote at
install time: 0.15 to 0.4 s of CPU per run, measured on the shipped suites (bench/door.py).

pytest has no public way to leave a plugin's package alone (``PYTEST_DONT_REWRITE`` in a docstring
is read only after the source was parsed). So, while pytest imports the plugin module and before
that module imports the rest of harness, the package's mark is taken off pytest's import hook.
Should the hook change shape, nothing is done and harness is rewritten as before.
"""

from __future__ import annotations

import sys


def _unmark_harness() -> None:
    package = __name__.rpartition(".")[0]
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        if type(finder).__name__ == "AssertionRewritingHook" and isinstance(marked, set):
            marked.discard(package)


_unmark_harness()
