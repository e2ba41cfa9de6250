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

anyio (which the HTTP client needs) ships a pytest plugin too, so pytest rewrites the whole anyio
library, and that plugin imports anyio's asyncio backend as it loads: about 0.25 s of CPU in a
fresh environment. Taking anyio off the list the same way works when harness's plugin loads first,
but then a second pytest session in the same process (pytester's in-process runs, a second
``pytest.main``) finds anyio imported without rewriting and warns "Module already imported so
cannot be rewritten; anyio". So anyio is left as pytest has it.
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
