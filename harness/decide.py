"""What one case needs: replay its cassette, record it, or be reported missing or stale.

A case that must be recorded is decided twice: once to know it must be sent, and again once its
cassette is locked, because another process (a second terminal, a pytest-xdist worker, a CI job
sharing the folder) may have recorded it meanwhile. Then it is replayed, so each request is sent
once however many processes record the suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import cassettes
from .cassettes import Interaction

if TYPE_CHECKING:  # the runner imports this module; the name is for annotations only
    from .planning import PlannedCase

Decision = tuple[str, list[Interaction] | None, Interaction | None]


def decide(planned: PlannedCase, mode: str) -> Decision:
    """'replay', 'record', 'missing' or 'stale', with the cassette's interactions."""
    stored = cassettes.load(planned.case.cassette_path, root=planned.case.cassette_root)
    if mode == "all":
        return "record", stored, None
    if stored is None:
        return ("missing" if mode == "none" else "record"), None, None
    hit = cassettes.find(stored, planned.request.key)
    if hit is not None:
        return "replay", stored, hit
    return ("record" if mode == "new_episodes" else "stale"), stored, None


def recheck(planned: PlannedCase, mode: str, before: list[Interaction] | None) -> Decision:
    """``decide`` again under the cassette's lock. A cassette that changed while this process
    waited and now answers its request was just recorded by another one: even ``all`` replays it,
    since its answer is as new as this one's would be."""
    action, stored, hit = decide(planned, mode)
    if action == "record" and stored is not None and stored != before:
        hit = cassettes.find(stored, planned.request.key)
        if hit is not None:
            return "replay", stored, hit
    return action, stored, hit


def records_step(status: str, mode: str) -> bool:
    """Whether ``mode`` records a later step the cassette lacks (``missing``) or holds another
    way (``stale``), once the first step replayed."""
    return (status == "missing" and mode != "none") or (status == "stale" and mode == "new_episodes")
