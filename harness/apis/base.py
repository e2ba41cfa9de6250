"""The one small protocol a wire API implements, and the typed values it trades in.

A suite describes a request once, in the chat format (messages, tools, response_format, ...). A wire
API owns everything that differs between the APIs that can send it: the endpoint path, the body on
the wire, the SDK call, reading the answer (JSON and event stream), the readable prompt in a
cassette's ``harness:`` block and the Batch API url. Everything else on the road (checks, reports,
cassettes, the runner) stays API-neutral, so a second API is one module, not an ``if api == ...``
in every room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..endpoint import Endpoint
from ..episode import Conversation
from ..errors import UserError
from ..output import Output

Query = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WireOptions:
    """What a translation needs besides the body: where it goes and what came before it."""

    endpoint: Endpoint
    #: What a later step of an episode adds after the case's own messages (None: the first step).
    conversation: Conversation | None = None
    #: ``history: chained``: a later step sends only what is new, with the previous answer's id
    #: (APIs that keep no state on the server ignore it and send the whole conversation).
    chained: bool = False
    json_schema_mode: str = "native"


@dataclass(frozen=True)
class Translation:
    """A request as one wire API sends it."""

    path: str  # relative to the API root (``/chat/completions``, ``/responses``)
    query: Query
    #: The chat-format body checks read (tools, response_format, messages).
    body: dict[str, Any]
    #: The body on the wire, when it is not ``body`` itself.
    wire: dict[str, Any] | None = None


class Untranslatable(UserError):
    """A suite key the chosen wire API has no equivalent for: refused when the case is planned
    (``harness validate`` reports it), never silently dropped. ``key`` names the suite key, so the
    error can point at the line that set it."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class WireApi(Protocol):
    """One wire API (apis/chat.py, apis/responses.py)."""

    name: str
    #: The ``url`` of a Batch API line and the batch's ``endpoint``.
    batch_url: str
    #: Event names whose first arrival in a stream is the first token (time to first token);
    #: empty: the stream's first bytes are.
    first_token: tuple[bytes, ...]

    def owns(self, path: str) -> bool:
        """Whether a recorded interaction's path is this API's: replay parses by the path, so a
        cassette always parses the same way whatever the suite says now."""
        ...

    def translate(self, body: dict[str, Any], extra: dict[str, Any], options: WireOptions) -> Translation:
        """The request for ``body`` (chat format: model, messages and the suite's request keys)
        and ``extra`` (the suite's ``extra_body``, raw fields of this API, merged last)."""
        ...

    def route(self, endpoint: Endpoint) -> tuple[str, Query]:
        """The path (relative to the API root) and query a request goes to."""
        ...

    def send(self, client: Any, wire: dict[str, Any]) -> None:
        """Send ``wire`` through the SDK client (``sdk_post``; the capture transport keeps the
        exchange, and harness parses the bytes itself)."""
        ...

    def from_json(self, data: dict[str, Any]) -> Output:
        ...

    def from_sse(self, text: str) -> Output:
        ...

    def prompt(self, body: Any) -> list[Any]:
        """The readable prompt of a recorded request body, for a cassette's ``harness:`` block."""
        ...

    def failure_hint(self, body: dict[str, Any], status: int, text: str) -> str:
        """What to add to a failed request's error when this API knows a likely cause, else ''."""
        ...


# ---------------------------------------------------------------- readable views (cassettes)

def readable_text(text: str) -> str:
    # Trailing spaces forbid YAML literal blocks; this copy is for reading, the body is the truth.
    return "\n".join(line.rstrip() for line in text.splitlines())


def readable_image(url: str) -> dict[str, str]:
    """An image part for reading: a data: URL is shortened to its media type and length."""
    if url.startswith("data:"):
        url = f"{url.split(',', 1)[0]},... ({len(url)} chars)"
    return {"image": url}


def sdk_post(client: Any, path: str, wire: dict[str, Any]) -> None:
    """POST ``wire`` as it is through the SDK client's own request path.

    ``client.post`` (the SDK's documented way to call any endpoint) keeps everything the client
    owns: base URL and Azure deployment routing, auth headers (``Authorization`` or ``api-key``),
    default query, timeout and retry settings. It skips what ``create`` adds on top and harness does
    not need: the keyword-by-keyword transform of the body into the SDK's typed params (harness
    sends a JSON-ready dict) and the SDK's response model (the capture transport keeps the bytes
    and harness parses them). That is a third of the SDK's CPU per request, spent behind the GIL
    the other requests' threads need.
    """
    import httpx2  # the SDK's own HTTP stack: the raw response type it hands back untouched

    client.post(path, body=wire, options={"security": {"bearer_auth": True}}, cast_to=httpx2.Response)
