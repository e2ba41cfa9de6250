"""Replay from a case's cassette, or call the API live through the openai SDK and capture it.

Interception is a transport bound to one SDK client per case, not vcrpy's global patching: two
cases recorded at the same time in two threads can never serve each other's answers, and replay
never constructs a client or opens a socket (it reads the cassette and hands back the body).

A base URL's own query parameters (a gateway's ``?api-key=``) go to the SDK as ``default_query``:
sent with every request, but left out of the comparison with the computed request and out of the
recorded URI, so such a recording is the same as one made without them.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx2

from . import apis, cassettes, redact
from .cassettes import Interaction
from .endpoint import Endpoint
from .errors import UserError
from .exchange import LiveResult, replay_output  # noqa: F401 - replay_output re-exported
from .limiter import AdaptiveLimiter
from .output import Output
from .proxy_env import proxy_for
from .record.parking import Parking
from .record.prepared import Prepared
from .record.stdlib_transport import StdlibTransport
from .request import Request, canonical_form, canonical_text

_HOP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _api_prefix(endpoint: Endpoint) -> str:
    if endpoint.type == "azure":
        return urlsplit(endpoint.azure_endpoint or "").path.rstrip("/") + "/openai"
    return urlsplit(endpoint.base_url or "").path.rstrip("/")


def _transport_params(request: Request) -> set[str]:
    """The base URL's query parameters that are not the request's own (Azure's api-version is)."""
    own = {name for name, _ in request.query}
    return {name for name, _ in request.endpoint.default_query if name not in own}


def _without_params(url: str, names: set[str]) -> str:
    """``url`` without the query parameters ``names`` (a recorded URI keeps no credential)."""
    parts = urlsplit(url)
    if not names or not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(kept)))


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing and sends nothing.

    Each case is its own request: a cookie one answer set (a CDN's bot-management cookie, say) must
    not ride along with the next case's request on the same thread, and the client's cookie jar
    would parse every answer's headers for nothing (a quarter of a millisecond of CPU each).
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass

    def add_cookie_header(self, request: Any) -> None:
        pass


@dataclass
class Captured:
    """The wire request and the decoded response the SDK saw, with timings."""

    method: str
    url: str
    body: bytes
    status: int
    headers: dict[str, str]
    content: bytes
    latency_ms: float
    ttft_ms: float | None


class _CaptureTransport(httpx2.BaseTransport):
    """Wraps the shared connection pool; records what one client sends and receives."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner
        self.captured: list[Captured] = []
        #: The wire API's first-token events (WireApi.first_token), set before each call.
        self.first_token: tuple[bytes, ...] = ()
        #: The last request sent, and what the SDK built for each (wire API, model) before.
        self.sent: httpx2.Request | None = None
        self.prepared: dict[tuple[str, Any], Prepared] = {}

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent = request
        body = request.read()
        start = time.perf_counter()
        response = self.inner.handle_request(request)
        chunks: list[bytes] = []
        ttft = None
        # In a stream of named events the first bytes are bookkeeping (``response.created``):
        # time to first token is when the first token event arrives. Other answers: first bytes.
        markers = self.first_token if "event-stream" in response.headers.get("content-type", "") else ()
        tail = b""
        try:
            # Iterating decoded bytes undoes gzip, so the cassette holds readable text.
            raw = httpx2.Response(response.status_code, headers=response.headers,
                                  stream=response.stream, request=request)
            for chunk in raw.iter_bytes():
                if ttft is None and chunk:
                    seen = tail + chunk  # an event name may straddle two chunks
                    if not markers or any(m in seen for m in markers):
                        ttft = (time.perf_counter() - start) * 1000
                    tail = seen[-64:]
                chunks.append(chunk)
        finally:
            response.close()
        latency = (time.perf_counter() - start) * 1000
        content = b"".join(chunks)
        headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS}
        self.captured.append(Captured(request.method, str(request.url), body, response.status_code,
                                      headers, content, latency, ttft))
        return httpx2.Response(response.status_code, headers=headers, content=content,
                               request=request)


RETRY_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 120.0


def _retry_after(headers: dict[str, str]) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms wins, as in the SDK)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return min(max(float(value) * scale, 0.0), MAX_RETRY_AFTER)
            except ValueError:
                continue
    return None


_PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
_USERINFO = re.compile(r"//[^/@\s]*@")


def _unreachable(exc: Any, endpoint: Endpoint, timeout: float, *, timed_out: bool) -> str:
    """Why no answer came, naming where the request went and what to check.

    The SDK's own text ("Connection error.") names neither. The URL is shown without its query
    and user info, where a gateway's ``api-key`` or a password would be; the proxy variables by
    name only, since their values may hold credentials too.
    """
    parts = urlsplit(str(exc.request.url))
    where = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    proxies = [name for name in _PROXY_VARS if os.environ.get(name)]
    proxy = (f"the proxy in {' / '.join(proxies)} (or exempt the host in NO_PROXY)" if proxies
             else "whether a proxy is needed to reach it (HTTPS_PROXY)")
    name = type(exc).__name__
    if timed_out:
        return (f"{name}: no answer from {where} within {timeout:g} s; check that the server is up "
                f"and not overloaded, raise --timeout for slow models, and check {proxy}")
    setting = ("the Azure endpoint (suite 'endpoint' or AZURE_OPENAI_ENDPOINT)" if endpoint.type == "azure"
               else "the base URL (--base-url, the provider's base_url or OPENAI_BASE_URL)")
    cause = _USERINFO.sub("//", str(exc.__cause__)) if exc.__cause__ is not None else ""
    return (f"{name}: could not connect to {where}{f' ({cause})' if cause else ''}; check that the "
            f"server is running, that {setting} has the right host and port, and {proxy}")


def _pool_for(target: str, tls: Callable[[], ssl.SSLContext]) -> httpx2.BaseTransport:
    """A recording thread's connections: ``http.client``'s keep-alive (record/stdlib_transport.py,
    cheaper per request; it asks for ``tls`` at its first HTTPS connection), or httpx's pool when
    a proxy applies (it tunnels HTTPS through one)."""
    proxy = proxy_for(target)
    if proxy is None:
        return StdlibTransport(tls)
    return httpx2.HTTPTransport(verify=tls(), proxy=proxy,
                                limits=httpx2.Limits(max_connections=2, max_keepalive_connections=2))


class LiveSession:
    """Shared connection pool, retry policy and in-flight limit for one recording run.

    The SDK's own retries are off (max_retries=0): this loop retries 408/409/429/5xx, timeouts
    and connection errors with exponential backoff and full jitter, honours Retry-After, and
    releases its in-flight slot while it sleeps; ``parking`` tells the run's pool when a thread
    wants no slot (waiting to retry, or done sending), so that it can start another case.
    """

    def __init__(self, *, timeout: float = 120.0, max_retries: int = 4, max_connections: int = 64,
                 limiter: AdaptiveLimiter | None = None, stop: threading.Event | None = None,
                 backoff: float = 0.5, backoff_max: float = 8.0, parking: Parking | None = None) -> None:
        self.timeout = timeout
        self.max_retries = max_retries
        self.limiter = limiter or AdaptiveLimiter(max_connections)
        self.stop = stop or threading.Event()
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.parking = parking or Parking()
        self._local = threading.local()
        self._pools: list[httpx2.BaseTransport] = []
        self._pools_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._tls_lock = threading.Lock()

    def close(self) -> None:
        with self._pools_lock:
            pools, self._pools = self._pools, []
        for pool in pools:
            pool.close()

    def _tls_context(self) -> ssl.SSLContext:
        """One TLS context for all pools, made when the first HTTPS connection needs it: building
        one (it loads the CA bundle) costs ~20 ms of CPU, as much as several requests; every
        thread would build its own, and a plain-HTTP server needs none."""
        with self._tls_lock:
            if self._tls is None:
                try:
                    self._tls = httpx2.create_ssl_context()
                except (OSError, ssl.SSLError) as exc:  # e.g. SSL_CERT_FILE naming a file that is gone
                    named = [f"{v}={os.environ[v]}" for v in ("SSL_CERT_FILE", "SSL_CERT_DIR") if os.environ.get(v)]
                    raise UserError("cannot load the CA certificates that HTTPS recording verifies servers with"
                                    + (f" ({', '.join(named)})" if named else "")
                                    + f": {exc.strerror or exc}") from None
            return self._tls

    def _client(self, endpoint: Endpoint, capture: _CaptureTransport) -> Any:
        import openai  # imported lazily: replay-only runs never pay for it

        key = os.environ.get(endpoint.key_env)
        http_client = httpx2.Client(transport=capture, timeout=self.timeout, cookies=_NoCookies())
        query = dict(endpoint.default_query) or None
        if endpoint.type == "azure":
            if not endpoint.azure_endpoint:
                raise UserError("the azure provider needs an endpoint (suite 'endpoint' or "
                                "AZURE_OPENAI_ENDPOINT) to record")
            if not key:
                raise UserError(f"set {endpoint.key_env} to record against Azure OpenAI")
            return openai.AzureOpenAI(api_key=key, azure_endpoint=endpoint.azure_endpoint,
                                      azure_deployment=endpoint.deployment,
                                      api_version=endpoint.api_version, http_client=http_client,
                                      max_retries=0, timeout=self.timeout, default_query=query)
        if not key:
            if endpoint.type == "openai" and "api.openai.com" in (endpoint.base_url or ""):
                raise UserError(f"set {endpoint.key_env} to record against the OpenAI API "
                                "(or pass --base-url for an OpenAI-compatible server)")
            key = "no-key"  # local OpenAI-compatible servers usually ignore it
        return openai.OpenAI(api_key=key, base_url=endpoint.base_url, http_client=http_client,
                             max_retries=0, timeout=self.timeout, organization=None, project=None,
                             default_query=query)

    def _attempt(self, request: Request) -> tuple[Captured | None, str | None]:
        """One try through the SDK: the exchange it made, or why it made none."""
        import openai

        client, capture = self._thread_client(request.endpoint)
        capture.captured.clear()
        api = apis.get(request.api)
        capture.first_token = api.first_token
        failure = None
        try:
            self._post(client, capture, api, request)
        except openai.APIStatusError:
            pass  # the captured exchange carries the status and the error body
        except openai.APIConnectionError as exc:  # refused, unreachable, timed out
            failure = _unreachable(exc, request.endpoint, self.timeout,
                                   timed_out=isinstance(exc, openai.APITimeoutError))
        except openai.APIError as exc:  # a broken stream, an answer the SDK cannot read
            failure = f"{type(exc).__name__}: {exc}"
        return (capture.captured[-1] if capture.captured else None), failure

    @staticmethod
    def _post(client: Any, capture: _CaptureTransport, api: apis.WireApi, request: Request) -> None:
        """Through the SDK the first time for a wire API and model on this thread, then with what
        the SDK built then (record/prepared.py)."""
        key = (request.api, request.wire.get("model"))
        prepared = capture.prepared.get(key)
        if prepared is not None:
            prepared.send(capture, request.wire)
            return
        capture.sent = None
        try:
            api.send(client, request.wire)
        finally:
            if capture.sent is not None:
                capture.prepared[key] = Prepared.of(capture.sent)

    def _thread_client(self, endpoint: Endpoint) -> tuple[Any, _CaptureTransport]:
        """One SDK client per worker thread and endpoint: building one per request costs more CPU
        than the request itself, and a capture transport must never be shared by two threads."""
        cache: dict[Endpoint, tuple[Any, _CaptureTransport]] = self._local.__dict__.setdefault("clients", {})
        if endpoint not in cache:
            # A small pool per thread, not one shared pool: with 32+ threads the shared pool's
            # lock became the bottleneck (half of all samples waited on it).
            with self._pools_lock:
                target = endpoint.azure_endpoint if endpoint.type == "azure" else endpoint.base_url
                if (target or "").lower().startswith("https:"):
                    self._tls_context()  # here, so that a CA bundle that cannot load says so plainly
                pool = _pool_for(target or "", self._tls_context)
                self._pools.append(pool)
            capture = _CaptureTransport(pool)
            cache[endpoint] = (self._client(endpoint, capture), capture)
        return cache[endpoint]

    def _sleep(self, attempt: int, hint: float | None) -> bool:
        """Wait before retry ``attempt``; False when the run is being stopped."""
        if hint is None:
            hint = random.uniform(0, min(self.backoff_max, self.backoff * (2 ** (attempt - 1))))
        with self.parking.parked():  # the pool may run another case on a thread meanwhile
            return not self.stop.wait(hint)

    def send(self, request: Request, *, role: str | None = None) -> LiveResult:
        """Send with retries; return the last exchange, checked against the request."""
        self.parking.sending()
        try:
            return self._send(request, role)
        finally:
            self.parking.done_sending()  # the pool may start another case while this one ends

    def _send(self, request: Request, role: str | None) -> LiveResult:
        # The last guard before the socket (planning refuses a case's own request earlier, with
        # its variable's name): a judge request, say, must not carry a secret either.
        source = redact.current().found_in(request.text)
        if source is not None:
            raise UserError(f"the request holds the value of a secret ({source}); secrets must not "
                            "be sent in prompts")
        attempts = 0
        while True:
            if not self.limiter.acquire(self.stop):
                return LiveResult(None, Output(content=None, status=0, error="not sent: the run was stopped"),
                                  attempts, interrupted=True)
            last: Captured | None = None
            failure: str | None = None
            try:
                last, failure = self._attempt(request)
            finally:
                status = last.status if last is not None else 0
                self.limiter.release(rate_limited=status == 429,
                                     success=failure is None and 0 < status < 400)
            attempts += 1
            retryable = failure is not None or status in RETRY_STATUSES or status >= 500
            if not retryable or attempts > self.max_retries:
                break
            hint = _retry_after(last.headers) if last is not None else None
            if not self._sleep(attempts, hint):
                break
        if last is None:
            suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
            return LiveResult(None, Output(content=None, status=0, error=(failure or "no response") + suffix),
                              attempts)
        text = last.content.decode("utf-8", errors="replace")
        api = apis.get(request.api)
        output = apis.parse_answer(api, last.status, last.headers, text, latency_ms=last.latency_ms,
                                   ttft_ms=last.ttft_ms)
        if failure is not None or last.status >= 400 or output.error:
            error = output.error or failure or f"HTTP {last.status}"
            suffix = f" after {attempts} attempts" if attempts > 1 else ""
            suffix += api.failure_hint(request.body, last.status, text)
            return LiveResult(None, Output(content=None, status=last.status, error=error + suffix), attempts)
        self._verify(request, last)
        interaction = Interaction(
            method=last.method, uri=_without_params(last.url, _transport_params(request)),
            path=request.path, query=dict(request.query), body=request.wire, status=last.status,
            response_headers={k: v for k, v in last.headers.items() if k in cassettes.KEPT_HEADERS},
            response_text=text, latency_ms=last.latency_ms, ttft_ms=last.ttft_ms,
            extra={"role": role} if role else {})
        return LiveResult(interaction, output, attempts)

    @staticmethod
    def _verify(request: Request, last: Captured) -> None:
        """The bytes on the wire must be the request harness hashed, or replay would miss."""
        parts = urlsplit(last.url)
        prefix = _api_prefix(request.endpoint)
        path = parts.path[len(prefix):] if prefix and parts.path.startswith(prefix) else parts.path
        transport = _transport_params(request)
        query = {k: v for k, v in parse_qsl(parts.query) if k not in transport}
        sent = canonical_form(last.method, path, query, json.loads(last.body))
        if canonical_text(sent) != request.text:
            raise RuntimeError("the SDK sent a different request than harness computed; "
                               f"sent {canonical_text(sent)[:300]} expected {request.text[:300]}")
