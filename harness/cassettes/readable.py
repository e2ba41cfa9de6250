"""What a cassette shows a reviewer, and what of an answer two calls can share.

Each interaction of a cassette carries a ``harness:`` block (the prompt and the answer as text, the
finish reason, timings) made for ``git diff``; and a re-recording that got the same answer leaves
its file untouched, which needs the answer without the ids and timestamps a server makes up for
every call. Both are views of one recorded exchange, apart from the file format (cassettes/__init__.py).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import apis
from ..apis.base import readable_text

if TYPE_CHECKING:
    from . import Interaction


def review_view(interaction: Interaction) -> dict[str, Any]:
    """The review view: who said what, and what came back."""
    view: dict[str, Any] = {"path": interaction.path}
    if interaction.query:
        view["query"] = dict(interaction.query)
    view.update(interaction.extra)
    api = apis.for_path(interaction.path)
    prompt = api.prompt(interaction.body)
    if prompt:
        view["prompt"] = prompt
    out = apis.parse_answer(api, interaction.status, interaction.response_headers, interaction.response_text)
    if out.error:
        view["error"] = out.error
    else:
        if out.content is not None:
            view["answer"] = readable_text(out.content)
        if out.tool_calls:
            view["tool_calls"] = [
                {c.name: c.arguments if c.arguments is not None else c.raw_arguments}
                for c in out.tool_calls]
        view["finish_reason"] = out.finish_reason
    if interaction.latency_ms is not None:
        view["latency_ms"] = round(interaction.latency_ms)
    if interaction.ttft_ms is not None:
        view["ttft_ms"] = round(interaction.ttft_ms)
    return view


#: Response fields a server makes up anew for every call, even for the very same answer
#: (``created_at`` and ``completed_at``: the Responses API's timestamps; ``previous_response_id``:
#: the Responses API's echo of the id of the step before, in a chained episode).
_VOLATILE_FIELDS = frozenset({"id", "created", "system_fingerprint", "created_at", "completed_at",
                              "previous_response_id"})


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items() if k not in _VOLATILE_FIELDS}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def answer_of(text: str) -> Any:
    """A response body without its per-call ids and timestamps (JSON, or each SSE event)."""
    try:
        return _strip_volatile(json.loads(text))
    except ValueError:
        pass
    events = []
    for line in text.splitlines():
        if line.startswith("data:"):
            payload = line[5:].strip()
            try:
                events.append(_strip_volatile(json.loads(payload)))
            except ValueError:
                events.append(payload)
    return events if events else text
