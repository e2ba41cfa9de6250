"""Run-scoped services behind a case: the lazily opened live session, and the judge.

Replay never opens a connection pool (nor imports the SDK); the judge replays its own exchange from
the case's cassette, or records it when the run may record, or reports the case stale.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from . import cassettes
from .cassettes import Interaction
from .checks.registry import NeedsRecording
from .diff import request_diff
from .limiter import AdaptiveLimiter
from .output import Output
from .request import canonical_form, raw_request
from .transport import LiveSession, replay_output

if TYPE_CHECKING:  # runner imports this module; the names are for annotations only
    from .request import Request
    from .runner import PlannedCase, RunOptions


def stale_detail(new: Request, old: Interaction | None) -> str:
    """A short diff between the recorded request and the one the case sends now."""
    if old is None:
        return ""
    return request_diff(canonical_form(old.method, old.path, old.query, old.body), new.canonical())


class LazySession:
    """Opens the connection pool only when something is recorded: replay never imports openai."""

    def __init__(self, options: RunOptions, stop: threading.Event) -> None:
        self.options = options
        self.stop = stop
        self._session: LiveSession | None = None
        self._lock = threading.Lock()

    def get(self) -> LiveSession:
        with self._lock:
            if self._session is None:
                ceiling = max(self.options.concurrency, 1)
                self._session = LiveSession(timeout=self.options.timeout,
                                            max_retries=self.options.max_retries,
                                            max_connections=ceiling,
                                            limiter=AdaptiveLimiter(ceiling), stop=self.stop)
            return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


class Judge:
    """The ``judge`` service of one case: replays its judge exchanges, or records them."""

    def __init__(self, planned: PlannedCase, stored: list[Interaction] | None, may_record: bool,
                 session: LazySession) -> None:
        self.planned = planned
        self.stored = [i for i in stored or [] if i.extra.get("role") == "judge"]
        self.may_record = may_record
        self.session = session
        self.used: list[Interaction] = []
        self.recorded = False

    def __call__(self, body: dict) -> Output:
        request = raw_request(self.planned.request.endpoint, body)
        hit = cassettes.find(self.stored, request.key, role="judge")
        if hit is not None:
            self.used.append(hit)
            return replay_output(hit)
        if not self.may_record:
            old = self.stored[0] if self.stored else None
            raise NeedsRecording("stale", stale_detail(request, old))
        live = self.session.get().send(request, role="judge")
        if live.interaction is None:
            return live.output
        self.used.append(live.interaction)
        self.recorded = True
        return replay_output(live.interaction)
