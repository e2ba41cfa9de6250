"""How many requests may be in flight: an adaptive limit, polite to rate limits.

On a 429 the limit is cut to three quarters (at most once per cooldown, so a burst of 429s from
one overload counts once) and the rate-limited request waits out the server's Retry-After before
it tries again; every success grows the limit back by one, up to the ceiling the user chose. A
request sleeping before a retry does not hold a slot, so one slow retry never idles the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class AdaptiveLimiter:
    def __init__(self, ceiling: int, *, cooldown: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ceiling < 1:
            raise ValueError("ceiling must be at least 1")
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.cooldown = cooldown
        self._clock = clock
        self._in_flight = 0
        self._last_cut = -1e9
        self._cond = threading.Condition()
        self.cuts = 0

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a slot; False when ``stop`` was set while waiting."""
        with self._cond:
            while True:
                if stop is not None and stop.is_set():
                    return False
                if self._in_flight < max(1, int(self.limit)):
                    self._in_flight += 1
                    return True
                self._cond.wait(0.25)

    def release(self, *, rate_limited: bool = False, success: bool = False) -> None:
        with self._cond:
            self._in_flight -= 1
            if rate_limited:
                now = self._clock()
                if now - self._last_cut >= self.cooldown:
                    self.limit = max(1.0, self.limit * 0.75)
                    self._last_cut = now
                    self.cuts += 1
            elif success:
                self.limit = min(float(self.ceiling), self.limit + 1.0)
            # Wake as many waiters as there are free slots (none after a cut): a woken thread that
            # finds no slot only takes the GIL from one that has work and goes back to sleep.
            free = max(1, int(self.limit)) - self._in_flight
            if free > 0:
                self._cond.notify(free)
