"""Worker threads parked in a retry wait, so that the pool can run another case meanwhile.

A recording run keeps one worker thread per request it may have in flight: every extra thread
costs CPU in GIL hand-offs on a small machine (64 threads for 32 slots cost ~1.5 ms of CPU per
case more than 32). But a request that waits out a 429's Retry-After holds its thread for that
long without holding an in-flight slot; with a fixed pool those waits would idle the slots. So a
thread that parks says so here, and the pool (record/adaptive.run_all) starts one more case for
each parked thread, up to twice the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Parking:
    """How many worker threads are waiting before a retry; tells a listener when one parks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._listener: Callable[[], None] | None = None

    @property
    def count(self) -> int:
        return self._count

    def listen(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener`` (from the parking thread) each time a thread parks."""
        self._listener = listener

    @contextmanager
    def parked(self) -> Iterator[None]:
        with self._lock:
            self._count += 1
        listener = self._listener
        if listener is not None:
            listener()
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
