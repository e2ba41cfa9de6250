"""What one exchange with a model yields: the answer a stored interaction holds, and a live call's
outcome.

Kept apart from transport.py, which imports the HTTP client: replay reads cassettes and parses
their answers, and must not pay for (nor depend on) the live network stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import apis
from .cassettes import Interaction
from .output import Output


@dataclass
class LiveResult:
    """A live call's outcome: the interaction to save (None on failure) and what to check."""

    interaction: Interaction | None
    output: Output
    attempts: int
    interrupted: bool = False


def replay_output(interaction: Interaction) -> Output:
    """The recorded answer, exactly as a live call would have produced it; read as the API its
    path belongs to, whatever the suite says now."""
    return apis.parse_answer(apis.for_path(interaction.path), interaction.status,
                             interaction.response_headers, interaction.response_text,
                             latency_ms=interaction.latency_ms, ttft_ms=interaction.ttft_ms)
