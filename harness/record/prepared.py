"""A request the SDK built once, sent again with another body without going through the SDK.

Every request of one endpoint, wire API and model goes to the same URL with the same headers
(auth, user agent, the SDK's platform headers, a retry count of 0 since harness retries itself);
only the body differs. The SDK's request path works all of that out again for each request
(options model, header merging and validation, URL joining, httpx's client wrappers): about a
third of a recording thread's CPU, spent behind the GIL the other threads need. So the first
request of a thread for a (wire API, model) goes through ``client.post`` as always, the capture
transport keeps the request the SDK built, and the later ones reuse its URL, headers and timeout
with their own body, straight into the same capture transport and connection pool.

The model is part of the key because Azure routes a request by the body's model when no
deployment is given (``/deployments/{model}/...``). Failures are raised as the SDK raises them
(``APITimeoutError``, ``APIConnectionError`` from the httpx error), so a failed request reads the
same whichever way it went; an HTTP error status raises nothing: the capture keeps the exchange.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

import httpx2

#: Headers that belong to one body, recomputed for each request.
_PER_BODY = frozenset({"content-length", "transfer-encoding"})


@dataclass(frozen=True)
class Prepared:
    """What the SDK put on a request of an endpoint, besides the body."""

    method: str
    url: httpx2.URL
    #: httpx's own header list (with the Host header httpx gives every request), copied for each
    #: request: a request built from it and a body stream skips httpx's per-request header
    #: normalisation and defaults, most of the cost of a request object.
    headers: httpx2.Headers
    timeout: Any  # httpx's per-request timeout extension (a dict of connect/read/write/pool)

    @classmethod
    def of(cls, request: httpx2.Request) -> Prepared:
        headers = httpx2.Headers([(k, v) for k, v in request.headers.multi_items() if k not in _PER_BODY])
        return cls(request.method, request.url, headers, request.extensions.get("timeout"))

    def send(self, transport: httpx2.BaseTransport, wire: dict[str, Any]) -> httpx2.Response:
        """Send ``wire`` as the SDK would have: the same JSON encoding (``openapi_dumps`` on a
        JSON-ready dict), URL, headers and timeout, and the SDK's exceptions on failure."""
        import openai  # the live path has it loaded already

        # ensure_ascii=False and compact separators: the bytes the SDK itself sends for this body.
        body = json.dumps(wire, ensure_ascii=False, separators=(",", ":")).encode()
        extensions = {"timeout": self.timeout} if self.timeout is not None else {}
        headers = httpx2.Headers(self.headers)
        headers["Content-Length"] = str(len(body))  # where httpx puts it: after the SDK's headers
        request = httpx2.Request(self.method, self.url, headers=headers, stream=httpx2.ByteStream(body),
                                 extensions=extensions)
        try:
            return transport.handle_request(request)
        except httpx2.TimeoutException as err:
            raise openai.APITimeoutError(request=request) from err
        except (httpx2.RequestError, ssl.SSLError) as err:
            raise openai.APIConnectionError(request=request) from err
