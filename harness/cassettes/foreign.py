"""How vcrpy (and pytest-recording, which uses it) writes what harness writes differently.

cassettes/__init__.py owns the format; this is its reading of cassettes another tool recorded, kept apart
so the module stays one screenful. A vcrpy cassette holds the full URL (host, ``/v1`` prefix, any
query), the request body as the text or bytes sent, and the response body as the bytes received,
base64 and gzip-compressed unless the recording asked ``decode_compressed_response``. harness keys
a request by its path relative to the API root, its JSON body and its own query parameters only, so
the same request replays whichever way it was recorded, and nothing of the transport (a host, a
key in the URL) is kept.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlunsplit

from .. import apis


def decoded(body: Any, encoding: str | None) -> str:
    """A response body as text: vcrpy keeps the bytes a server sent, base64 (``!!binary``) and
    compressed unless it was told ``decode_compressed_response``."""
    if isinstance(body, bytes):
        if encoding not in (None, "identity", "gzip", "deflate"):
            raise ValueError(f"a response body compressed with {encoding!r}; record it with "
                             "decode_compressed_response=True")
        try:
            if encoding == "gzip" or body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body, zlib.MAX_WBITS | 32)  # zlib or gzip header
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"the response body does not decompress ({exc})") from None
        body = body.decode("utf-8")
    if not isinstance(body, str):
        raise TypeError("response body is not text")
    return body


#: The only query parameter a request of harness carries (Azure's); any other one in a recorded
#: URL belongs to the transport (a gateway's ``?api-key=``) and is neither matched nor kept.
_REQUEST_QUERY = ("api-version",)


def foreign_address(parts: SplitResult) -> tuple[str, dict[str, str], str]:
    """Path relative to the API root, query, and a URI fit to keep, of a request that another tool
    recorded: its host is no part of the request, its credentials (userinfo, key-like query
    parameters) never reach a file harness writes."""
    query = {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in _REQUEST_QUERY}
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    uri = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))
    return apis.api_relative(parts.path), query, uri


def foreign_body(raw: Any) -> Any:
    """vcrpy keeps a request body as the text (or bytes) sent: JSON for every call harness makes;
    anything else (a multipart upload) stays text, which no case's request will ever equal."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str) and raw.strip():
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw
