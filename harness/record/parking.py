"""Worker threads that hold no in-flight slot and want none now, so the pool can run another case.

A recording run keeps about one worker thread per request it may have in flight: every extra
case in progress costs CPU in GIL hand-offs on a small machine (64 cases in progress for 32 slots
cost ~1.5 ms of CPU per case more than 32). But a thread does not always hold a slot: it waits
out a 429's Retry-After before a retry, and after its answer came it checks it and writes the
cassette. With a pool of exactly one thread per slot, those moments would idle the slots. So a
thread says here when it parks (a retry wait) or is done sending (its answer came), and the pool
(record/adaptive.run_all) starts one more case for each such thread, up to twice the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Parking:
    """How many worker threads want no slot now; tells a listener when one more does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._listener: Callable[[], None] | None = None
        self._local = threading.local()

    @property
    def count(self) -> int:
        return self._count

    def listen(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener`` (from the thread concerned) each time one more thread wants no slot."""
        self._listener = listener

    def _add(self, n: int) -> None:
        with self._lock:
            self._count += n
        listener = self._listener
        if n > 0 and listener is not None:
            listener()

    @contextmanager
    def parked(self) -> Iterator[None]:
        """Around a wait before a retry."""
        self._add(1)
        try:
            yield
        finally:
            self._add(-1)

    def done_sending(self) -> None:
        """This thread's request got its answer; it works on the case until it sends again or
        its case ends (``sending`` or ``case_over``)."""
        if not getattr(self._local, "done", False):
            self._local.done = True
            self._add(1)

    def sending(self) -> None:
        """This thread is about to want a slot again (a later step, a judge call)."""
        if getattr(self._local, "done", False):
            self._local.done = False
            self._add(-1)

    def case_over(self) -> None:
        """The thread's case ended: the thread is the pool's again."""
        self.sending()
