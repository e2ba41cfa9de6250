"""The wire APIs a case can be sent through: Chat Completions and the Responses API.

``get`` picks one by the name a suite writes (``api: chat``, ``api: responses``); ``for_path`` by a
recorded interaction's path, which is how replay parses an answer: a cassette always parses the
same way, whatever the suite says today.
"""

from __future__ import annotations

import re

from ..output import Output, parse_response
from .base import Translation, Untranslatable, WireApi, WireOptions
from .chat import CHAT
from .responses import RESPONSES

APIS: dict[str, WireApi] = {CHAT.name: CHAT, RESPONSES.name: RESPONSES}
NAMES = tuple(APIS)
DEFAULT = CHAT.name


def get(name: str) -> WireApi:
    return APIS[name]


def for_path(path: str) -> WireApi:
    """The API a recorded request's path belongs to (``.../responses``: the Responses API)."""
    return RESPONSES if RESPONSES.owns(path) else CHAT


#: The endpoints harness sends to, at the end of a recorded URL path, after whatever API root the
#: recording went through: ``/v1`` (OpenAI and most compatible servers), ``/openai`` (Azure, which
#: also names the deployment), or a gateway's own prefix.
_ENDPOINT = re.compile(r"(?:/deployments/[^/]+)?/chat/completions/?$|/responses/?$")


def api_relative(url_path: str) -> str:
    """A recorded URL path relative to the API root, as harness keys requests: a recording made by
    another tool (vcrpy, pytest-recording) stores the full path, ``/v1/chat/completions`` or
    ``/openai/deployments/x/chat/completions``, whatever host it went to. A path of another
    endpoint is kept as it is (no case of harness sends it, so nothing will match it anyway)."""
    found = _ENDPOINT.search(url_path)
    return found.group(0).rstrip("/") if found else url_path


def parse_answer(api: WireApi, status: int, headers: dict[str, str], text: str, *,
                 latency_ms: float | None = None, ttft_ms: float | None = None) -> Output:
    """An HTTP answer of ``api`` as an Output (never raises)."""
    return parse_response(status, headers, text, parser=api, latency_ms=latency_ms, ttft_ms=ttft_ms)


__all__ = ["APIS", "DEFAULT", "NAMES", "Translation", "Untranslatable", "WireApi", "WireOptions", "api_relative", "for_path",
           "get", "parse_answer"]
