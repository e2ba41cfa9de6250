"""Echoing the caller's key back, the way leaky proxies and gateways do, in every wire form.

A :class:`~harness.testing.fake_answers.Rule` with ``echo_key`` answers with the key the client
presented (``Authorization: Bearer``, ``api-key`` header, or an ``api-key``/``key`` query
parameter): an error rule says ``Incorrect API key provided: Bearer <key>``; a content rule puts
the key where its content says ``{api_key}``. The answer is built with a placeholder and the key
is written into the serialised bytes, so the JSON or SSE body carries it exactly in the chosen
form: ``plain``, ``escaped`` (every character ``\\uXXXX``, hex case mixed), ``partial`` (every
other character escaped) or ``url`` (every byte ``%XX``). Tests use it to prove no form of a key
survives into anything harness writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

PLACEHOLDER = "{api_key}"
FORMS = ("plain", "escaped", "partial", "url")
QUERY_KEY_NAMES = ("api-key", "api_key", "key")
ERROR_MESSAGE = "Incorrect API key provided: Bearer " + PLACEHOLDER


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The key the client sent, wherever it put it ('' when none)."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:]
    if headers.get("api-key"):
        return headers["api-key"]
    return next((query[n] for n in QUERY_KEY_NAMES if query.get(n)), "")


def encode(key: str, form: str) -> str:
    """``key`` as it appears inside a JSON string on the wire, in ``form``."""
    def escaped(i: int, ch: str) -> str:
        return f"\\u{ord(ch):04x}" if i % 2 else f"\\u{ord(ch):04X}"

    if form == "plain":
        return json.dumps(key)[1:-1]
    if form == "escaped":
        return "".join(escaped(i, c) for i, c in enumerate(key))
    if form == "partial":
        return "".join(escaped(i, c) if i % 2 else json.dumps(c)[1:-1] for i, c in enumerate(key))
    if form == "url":
        return "".join(f"%{b:02x}" if i % 2 else f"%{b:02X}" for i, b in enumerate(key.encode()))
    raise ValueError(f"unknown echo_key form {form!r} (use {', '.join(FORMS)})")


def rewriter(key: str, form: str) -> Callable[[bytes], bytes]:
    """Replace the placeholder in serialised bytes by the key in ``form``."""
    wire = encode(key, form).encode()
    placeholder = PLACEHOLDER.encode()
    return lambda data: data.replace(placeholder, wire)
