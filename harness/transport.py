"""Replay from a case's cassette, or call the API live through the openai SDK and capture it.

Interception is a transport bound to one SDK client per case, not vcrpy's global patching: two
cases recorded at the same time in two threads can never serve each other's answers, and replay
never constructs a client or opens a socket (it reads the cassette and hands back the body).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2

from . import cassettes
from .cassettes import Interaction
from .errors import UserError
from .output import Output, parse_response
from .request import Endpoint, Request, canonical_form, canonical_text

#: chat.completions.create keyword arguments; anything else in a body goes through extra_body.
_SDK_PARAMS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed",
    "stop", "tools", "tool_choice", "parallel_tool_calls", "response_format", "stream",
    "stream_options", "reasoning_effort", "n", "logprobs", "top_logprobs", "presence_penalty",
    "frequency_penalty", "logit_bias", "user", "metadata", "store", "modalities", "audio",
    "prediction", "service_tier", "verbosity", "web_search_options", "safety_identifier",
    "prompt_cache_key",
})
_HOP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _api_prefix(endpoint: Endpoint) -> str:
    if endpoint.type == "azure":
        return urlsplit(endpoint.azure_endpoint or "").path.rstrip("/") + "/openai"
    return urlsplit(endpoint.base_url or "").path.rstrip("/")


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

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        start = time.perf_counter()
        response = self.inner.handle_request(request)
        chunks: list[bytes] = []
        ttft = None
        try:
            # Iterating decoded bytes undoes gzip, so the cassette holds readable text.
            raw = httpx2.Response(response.status_code, headers=response.headers,
                                  stream=response.stream, request=request)
            for chunk in raw.iter_bytes():
                if ttft is None and chunk:
                    ttft = (time.perf_counter() - start) * 1000
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


@dataclass
class LiveResult:
    """A live call's outcome: the interaction to save (None on failure) and what to check."""

    interaction: Interaction | None
    output: Output
    attempts: int


class LiveSession:
    """Shared connection pool and settings for one recording run."""

    def __init__(self, *, timeout: float = 120.0, max_retries: int = 2, max_connections: int = 64) -> None:
        self.timeout = timeout
        self.max_retries = max_retries
        self.pool = httpx2.HTTPTransport(limits=httpx2.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections))

    def close(self) -> None:
        self.pool.close()

    def _client(self, endpoint: Endpoint, capture: _CaptureTransport) -> Any:
        import openai  # imported lazily: replay-only runs never pay for it

        key = os.environ.get(endpoint.key_env)
        http_client = httpx2.Client(transport=capture, timeout=self.timeout)
        if endpoint.type == "azure":
            if not endpoint.azure_endpoint:
                raise UserError("the azure provider needs an endpoint (suite 'endpoint' or "
                                "AZURE_OPENAI_ENDPOINT) to record")
            if not key:
                raise UserError(f"set {endpoint.key_env} to record against Azure OpenAI")
            return openai.AzureOpenAI(api_key=key, azure_endpoint=endpoint.azure_endpoint,
                                      azure_deployment=endpoint.deployment,
                                      api_version=endpoint.api_version, http_client=http_client,
                                      max_retries=self.max_retries, timeout=self.timeout)
        if not key:
            if endpoint.type == "openai" and "api.openai.com" in (endpoint.base_url or ""):
                raise UserError(f"set {endpoint.key_env} to record against the OpenAI API "
                                "(or pass --base-url for an OpenAI-compatible server)")
            key = "no-key"  # local OpenAI-compatible servers usually ignore it
        return openai.OpenAI(api_key=key, base_url=endpoint.base_url, http_client=http_client,
                             max_retries=self.max_retries, timeout=self.timeout,
                             organization=None, project=None)

    def send(self, request: Request, *, role: str | None = None) -> LiveResult:
        """Send through the SDK; return the last exchange it made, checked against the request."""
        import openai

        capture = _CaptureTransport(self.pool)
        client = self._client(request.endpoint, capture)
        body = request.body
        kwargs = {k: v for k, v in body.items() if k in _SDK_PARAMS}
        extra = {k: v for k, v in body.items() if k not in _SDK_PARAMS}
        failure = None
        try:
            result = client.chat.completions.create(**kwargs, extra_body=extra or None)
            if body.get("stream"):
                for _ in result:  # drain: the capture transport already holds every byte
                    pass
        except openai.APIStatusError:
            pass  # the captured exchange carries the status and the error body
        except openai.APIError as exc:  # connection errors, timeouts
            failure = f"{type(exc).__name__}: {exc}"
        finally:
            client.close()
        if not capture.captured:
            return LiveResult(None, Output(content=None, status=0, error=failure or "no response"), 0)
        last = capture.captured[-1]
        text = last.content.decode("utf-8", errors="replace")
        output = parse_response(last.status, last.headers, text, latency_ms=last.latency_ms,
                                ttft_ms=last.ttft_ms)
        if failure is not None or last.status >= 400:
            return LiveResult(None, output if output.error else Output(
                content=None, status=last.status, error=failure), len(capture.captured))
        parts = urlsplit(last.url)
        prefix = _api_prefix(request.endpoint)
        path = parts.path[len(prefix):] if prefix and parts.path.startswith(prefix) else parts.path
        sent = canonical_form(last.method, path, dict(parse_qsl(parts.query)), json.loads(last.body))
        if canonical_text(sent) != canonical_text(request.canonical()):
            raise RuntimeError("the SDK sent a different request than harness computed; "
                               f"sent {canonical_text(sent)[:300]} expected "
                               f"{canonical_text(request.canonical())[:300]}")
        interaction = Interaction(
            method=last.method, uri=last.url, path=request.path, query=dict(request.query),
            body=request.body, status=last.status,
            response_headers={k: v for k, v in last.headers.items() if k in cassettes.KEPT_HEADERS},
            response_text=text, latency_ms=last.latency_ms, ttft_ms=last.ttft_ms,
            extra={"role": role} if role else {})
        return LiveResult(interaction, output, len(capture.captured))


def replay_output(interaction: Interaction) -> Output:
    """The recorded answer, exactly as a live call would have produced it."""
    return parse_response(interaction.status, interaction.response_headers, interaction.response_text,
                          latency_ms=interaction.latency_ms, ttft_ms=interaction.ttft_ms)
