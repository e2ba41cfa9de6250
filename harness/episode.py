"""A case as a sequence of model calls: the turns of a conversation and the steps of a tool loop.

A case used to be one request and one answer. With ``turns:`` and tools that answer themselves
(``impl:`` / ``results:``) it becomes an episode: step 1 is the case's own request, and each later
step sends the conversation so far (earlier answers, tool results, the next user turn). Record and
replay both walk the same episode, one interaction per step in the case's cassette, so replay runs
the loop offline and a changed tool result or turn changes the next request (STALE at that step).

These are plain values shared by the runner (which builds them), the checks (which read them) and
the reports (which show them); nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: request/output do not import this module
    from .output import Output, Usage
    from .request import Request


@dataclass(frozen=True)
class Conversation:
    """What a later step adds to the case's rendered messages, in the chat format every wire API
    translates from: assistant answers (with their ``tool_calls``), ``tool`` results and the next
    user turns, in order.

    ``previous_response_id`` and ``sent`` let a wire API that keeps state on the server (the
    Responses API chained with ``previous_response_id``) send only what is new: the first ``sent``
    messages of the full list were already part of the previous response. The id is the one in the
    recorded answer, so replay never depends on the server.
    """

    messages: tuple[dict[str, Any], ...] = ()
    previous_response_id: str | None = None
    sent: int = 0


@dataclass(frozen=True)
class ToolResult:
    """How one tool call of a step was answered, as sent back to the model."""

    call_id: str
    name: str
    arguments: Any  # the parsed arguments (None when they were not valid JSON)
    content: str  # the text sent back in the ``tool`` message
    error: str | None = None  # the implementation raised, or no scripted result matched


@dataclass(frozen=True)
class Step:
    """One model call of an episode: what was sent, what came back, how its tool calls were answered."""

    index: int  # 0-based position in the episode
    turn: int  # 0-based user turn the step belongs to
    request: Request
    output: Output
    tool_results: tuple[ToolResult, ...] = ()
    cost_usd: float | None = None  # None when the model's price is unknown


@dataclass(frozen=True)
class Episode:
    """Every step of one case, in order; the last step's answer is the case's final answer."""

    steps: tuple[Step, ...]
    #: Why the loop ended before the model answered without a tool call (``max_steps`` reached),
    #: else None.
    stopped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> Output:
        return self.steps[-1].output

    @property
    def multi(self) -> bool:
        """More than one model call: reports show the trajectory only then."""
        return len(self.steps) > 1

    def usage(self) -> Usage | None:
        """Tokens summed over the steps; None when no step reported usage."""
        from .output import Usage

        found = [s.output.usage for s in self.steps if s.output.usage is not None]
        if not found:
            return None
        return Usage(*(sum(getattr(u, name) for u in found) for name in
                       ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens",
                        "reasoning_tokens")))

    def latency_ms(self) -> float | None:
        found = [s.output.latency_ms for s in self.steps if s.output.latency_ms is not None]
        return sum(found) if found else None

    def cost_usd(self) -> float | None:
        """Summed cost; unknown (None) as soon as one step's cost is unknown."""
        total = 0.0
        for step in self.steps:
            if step.cost_usd is None:
                return None
            total += step.cost_usd
        return total
