"""Time to first token is when the answer's first token arrives, not when the first bytes do: a
Responses stream opens with bookkeeping events (response.created, response.in_progress)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from harness import transport
from harness.apis import get


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _captured(monkeypatch: pytest.MonkeyPatch, api: str, events: list[tuple[float, bytes]],
              content_type: str = "text/event-stream") -> transport.Captured:
    clock = _Clock()
    monkeypatch.setattr(transport.time, "perf_counter", clock)

    def stream() -> Iterator[bytes]:
        for at, chunk in events:
            clock.now = at  # the chunk arrives at this second
            yield chunk

    class Inner(httpx2.BaseTransport):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, headers={"content-type": content_type}, content=stream())

    capture = transport._CaptureTransport(Inner())
    capture.first_token = get(api).first_token
    capture.handle_request(httpx2.Request("POST", "http://127.0.0.1/v1/x", content=b"{}"))
    return capture.captured[-1]


CREATED = b'event: response.created\ndata: {"type":"response.created"}\n\n'
DELTA = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n'
DONE = b'event: response.completed\ndata: {"type":"response.completed"}\n\n'


def test_a_responses_stream_times_its_first_text_delta(monkeypatch: pytest.MonkeyPatch) -> None:
    got = _captured(monkeypatch, "responses", [(1.0, CREATED), (4.0, DELTA), (6.0, DONE)])
    assert got.ttft_ms == 4000 and got.latency_ms == 6000


def test_an_event_name_split_across_chunks_is_still_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    got = _captured(monkeypatch, "responses", [(1.0, CREATED + DELTA[:20]), (3.0, DELTA[20:]), (5.0, DONE)])
    assert got.ttft_ms == 3000


def test_a_function_call_stream_times_its_first_arguments_delta(monkeypatch: pytest.MonkeyPatch) -> None:
    args = b'event: response.function_call_arguments.delta\ndata: {"delta":"{"}\n\n'
    got = _captured(monkeypatch, "responses", [(1.0, CREATED), (2.5, args), (3.0, DONE)])
    assert got.ttft_ms == 2500


def test_chat_streams_and_plain_answers_time_their_first_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
    assert _captured(monkeypatch, "chat", [(2.0, chunk), (3.0, b"data: [DONE]\n\n")]).ttft_ms == 2000
    body = b'{"object":"response"}'
    assert _captured(monkeypatch, "responses", [(1.5, body)], "application/json").ttft_ms == 1500
